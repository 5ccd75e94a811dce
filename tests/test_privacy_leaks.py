"""No finding message, `validate --json` line or `convert` output quotes planted patient data.

Each case takes an official example from ../shared/data, plants a CPR number, a name, an address or letter
text where the message becomes invalid (a bad CPR, an over-long name, a malformed date...), and checks that
the findings still say which rule failed (so the test cannot pass by saying nothing) while no message
carries a planted value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medcom_bridge.cli import app
from medcom_bridge.documents import validate_document
from medcom_bridge.envelope import wrap
from medcom_bridge.fhir.codec import parse_json, to_xml
from tests.conftest import DATA

# Planted values: a CPR with a valid date and check digit shape, the same with a dash, names and an address
# no example uses, and a phrase of letter text.
CPR = "0707614285"
CPR_DASHED = "070761-4285"
SURNAME = "Zyxwvutsen"
GIVEN = "Qwertrud"
STREET = "Plumbumvej"
TEXT = "Hjertestop efter Zyxwvutsens fald"
PLANTED = (CPR, CPR_DASHED, CPR[:6] + CPR[6:], SURNAME, GIVEN, STREET, TEXT, "4285")

OIOXML = DATA / "oioxml" / "samples"
XDIS91 = OIOXML / "XDIS91_medcom_flow1_to_fhir.xml"
XBIN01 = OIOXML / "XBIN01_medcom_flow1_to_fhir.xml"
XCTL02 = OIOXML / "XCTL02_os2korr_negative_receipt.xml"
XCTL03 = OIOXML / "XCTL03_medcom_flow4_to_fhir_for_XDIS91.xml"
FHIR_JSON = (
    DATA / "fhir" / "examples" / "send-v5" / "Bundle-S-A-new-1932711d-49d0-4ad7-b1ee-61de711892d2.json"
)

LONG = 10  # repeats that push a planted name over every OIOXML length limit


def _sub(path: Path, old: str, new: str, count: int = 1) -> bytes:
    text = path.read_text(encoding="iso-8859-1" if b"ISO-8859-1" in path.read_bytes()[:100] else "utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    out = text.replace(old, new, count)
    encoding = "iso-8859-1" if "ISO-8859-1" in text[:100] else "utf-8"
    return out.encode(encoding, "xmlcharrefreplace")


def _el(name: str, value: str) -> tuple[str, str]:
    return f"<{name}>", f"<{name}>{value}"


# ------------------------------------------------------------------------------------------------- OIOXML
def _xdis91_cases() -> dict[str, bytes]:
    s = XDIS91
    return {
        "cpr-dashed": _sub(
            s, "<CivilRegistrationNumber>2512489996", f"<CivilRegistrationNumber>{CPR_DASHED}"
        ),
        "cpr-long": _sub(
            s, "<CivilRegistrationNumber>2512489996", f"<CivilRegistrationNumber>{CPR}{SURNAME}"
        ),
        "cpr-spaced": _sub(s, "<CivilRegistrationNumber>2512489996", f"<CivilRegistrationNumber> {CPR} "),
        "surname-long": _sub(s, "<PersonSurnameName>Ann Berggren", "<PersonSurnameName>" + SURNAME * LONG),
        "given-long": _sub(s, "<PersonGivenName>Nancy", "<PersonGivenName>" + GIVEN * LONG),
        "street-long": _sub(s, "<StreetName>Hindbærvej 23", "<StreetName>" + STREET * LONG),
        "district-long": _sub(s, "<DistrictName>Odense S", "<DistrictName>" + STREET * LONG),
        "postcode-long": _sub(
            s,
            "<PostCodeIdentifier>5260</PostCodeIdentifier>\n<Episode",
            f"<PostCodeIdentifier>{CPR}</PostCodeIdentifier>\n<Episode",
        ),
        "patient-stray-text": _sub(s, "<Patient>", f"<Patient>{SURNAME} {CPR}"),
        "patient-unknown-element": _sub(s, "<Patient>", f"<Patient><Navn>{SURNAME} {CPR}</Navn>"),
        "patient-nested": _sub(s, "<PersonGivenName>Nancy", f"<PersonGivenName><b>{GIVEN}</b>"),
        "alternative-id": _sub(
            s,
            "<CivilRegistrationNumber>2512489996</CivilRegistrationNumber>",
            f"<AlternativeIdentifier>{CPR}{GIVEN}</AlternativeIdentifier>",
        ),
        "text-unknown-element": _sub(s, "<Text01>", f"<Text01><Tekst>{TEXT}</Tekst>"),
        "text-nested-style": _sub(s, "<Text01>", f"<Text01><Bold><Italic>{TEXT} {CPR}</Italic></Bold>"),
        "refdescription-long": _sub(s, "<RefDescription>BIN", "<RefDescription>" + (TEXT + " ") * 4),
        "episode-of-care": _sub(s, "<Patient>", "<Patient>", 1).replace(
            b"</StatusCode>",
            f"</StatusCode><EpisodeOfCareIdentifier>{CPR}-{CPR}-{CPR}-{CPR}</EpisodeOfCareIdentifier>".encode(),
        ),
        "letter-identifier": _sub(s, "<Identifier>", f"<Identifier>{CPR_DASHED}X{CPR}", 1),
    }


def _xbin01_cases() -> dict[str, bytes]:
    s = XBIN01
    return {
        "cpr-dashed": _sub(
            s, "<CivilRegistrationNumber>2512489996", f"<CivilRegistrationNumber>{CPR_DASHED}"
        ),
        "surname-long": _sub(s, "<PersonSurnameName>Ann Berggren", "<PersonSurnameName>" + SURNAME * LONG),
        "given-long": _sub(s, "<PersonGivenName>Nancy", "<PersonGivenName>" + GIVEN * LONG),
        "patient-stray-text": _sub(s, "<Patient>", f"<Patient>{TEXT}"),
        "object-identifier": _sub(s, "<ObjectIdentifier>", f"<ObjectIdentifier>{CPR_DASHED}/{CPR}/"),
    }


def _xctl_cases() -> dict[str, bytes]:
    return {
        "xctl02-refusetext-markup": _sub(
            XCTL02, "<RefuseText>", f"<RefuseText><Bold>{TEXT} {CPR_DASHED}</Bold>"
        ),
        "xctl02-stray-text": _sub(XCTL02, "<OriginalLetter>", f"<OriginalLetter>{CPR} {CPR_DASHED}"),
        "xctl03-letter-identifier": _sub(XCTL03, "<Identifier>", f"<Identifier>{CPR_DASHED}X{CPR}", 1),
    }


# --------------------------------------------------------------------------------------------------- FHIR
def _fhir() -> dict[str, Any]:
    return json.loads(FHIR_JSON.read_bytes())  # type: ignore[no-any-return]


def _resource(bundle: dict[str, Any], rtype: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype)


def _patient(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    bundle = _fhir()
    change(_resource(bundle, "Patient"))
    return bundle


def _communication(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    bundle = _fhir()
    change(_resource(bundle, "Communication"))
    return bundle


def _fhir_cases() -> dict[str, dict[str, Any]]:
    return {
        "cpr-dashed": _patient(lambda p: p["identifier"][0].update(value=CPR_DASHED)),
        "cpr-letters": _patient(lambda p: p["identifier"][0].update(value=f"{CPR}{SURNAME}")),
        "cpr-spaced": _patient(lambda p: p["identifier"][0].update(value=f" {CPR} ")),
        "cpr-unknown-system": _patient(
            lambda p: p["identifier"][0].update(system=f" urn:oid:{CPR} {SURNAME}", value=f"{CPR} {SURNAME}")
        ),
        "cpr-as-number": _patient(lambda p: p["identifier"][0].update(value=int(CPR))),
        "family-number": _patient(lambda p: p["name"][0].update(family=int(CPR), given=[f"{GIVEN} {CPR}"])),
        "name-use": _patient(lambda p: p["name"][0].update(use=SURNAME)),
        "narrative": _patient(lambda p: p.update(text={"status": SURNAME, "div": f"<p>{SURNAME} {CPR}</p>"})),
        "birthdate": _patient(lambda p: p.update(birthDate=f"{CPR[:6]} {SURNAME}")),
        "gender": _patient(lambda p: p.update(gender=SURNAME)),
        "address": _patient(
            lambda p: p.update(
                address=[{"line": [f"{STREET} 1"], "city": SURNAME, "use": STREET, "postalCode": CPR}]
            )
        ),
        "telecom": _patient(lambda p: p.update(telecom=[{"system": SURNAME, "value": f"{CPR} {STREET}"}])),
        "unknown-element": _patient(lambda p: p.update(navn=f"{SURNAME} {CPR}")),
        "patient-id": _patient(lambda p: p.update(id=f"{CPR_DASHED} {SURNAME}")),
        "deceased": _patient(lambda p: p.update(deceasedDateTime=f"{CPR}T{SURNAME}")),
        "extension": _patient(
            lambda p: p.update(extension=[{"url": f"{SURNAME} {CPR}", "valueString": TEXT}])
        ),
        "payload-text-number": _communication(
            lambda c: c["payload"][0].update(contentString=12345, extension=[{"url": TEXT}])
        ),
        "payload-text-attachment": _communication(
            lambda c: c["payload"][0].update(
                contentAttachment={"contentType": TEXT, "title": TEXT, "data": TEXT}
            )
        ),
        "payload-unknown-element": _communication(lambda c: c["payload"][0].update(tekst=TEXT)),
    }


# ------------------------------------------------------------------------------------------- the checks
def _messages(data: bytes) -> list[str]:
    report = validate_document(data)
    return [f"{f.rule} {f.path} {f.message}" for f in report.findings]


def _assert_clean(texts: list[str], where: str) -> None:
    for text in texts:
        for value in PLANTED:
            assert value not in text, f"{where}: planted {value!r} leaks in: {text}"
        # A CPR in any other spelling (digits split by a dash or space) is found by its digits.
        assert re.search(r"0707\D?61\D?4285", text) is None, f"{where}: CPR digits leak in: {text}"


CASES: dict[str, bytes] = {}
CASES.update({f"xdis91-{k}": v for k, v in _xdis91_cases().items()})
CASES.update({f"xbin01-{k}": v for k, v in _xbin01_cases().items()})
CASES.update(_xctl_cases())
for _name, _bundle in _fhir_cases().items():
    CASES[f"fhir-json-{_name}"] = json.dumps(_bundle, ensure_ascii=False).encode()


def _fhir_xml(bundle: dict[str, Any]) -> bytes | None:
    try:
        return to_xml(parse_json(json.dumps(bundle).encode()))
    except Exception:  # a mutation XML cannot express (a number where a string goes) has no XML case
        return None


# Mutations XML cannot express: in XML every primitive is a string attribute.
JSON_ONLY = {"cpr-as-number", "family-number"}
for _name, _bundle in _fhir_cases().items():
    if _name in JSON_ONLY:
        continue
    _xml = _fhir_xml(_bundle)
    if _xml is not None:
        CASES[f"fhir-xml-{_name}"] = _xml


def _envelope(payload: bytes, kind: str) -> bytes:
    return wrap(
        payload,
        sender_ean="5790001659592",
        receiver_ean="5790000121526",
        envelope_id="3f2b8c1e-9d4a-4e6b-8f1c-2a7d5e9b0c41",
        message_id="a1c5e7f9-2b4d-4f6a-8c0e-1d3f5a7b9c2e",
        sent=datetime(2026, 1, 20, 9, 30, 15),
        kind=kind,
    )


for _name in (
    "xdis91-cpr-dashed",
    "xdis91-surname-long",
    "xdis91-patient-stray-text",
    "fhir-json-cpr-dashed",
):
    CASES[f"vans-{_name}"] = _envelope(CASES[_name], "carecommunication" if "fhir" in _name else "xdis91")
_good = _envelope(XDIS91.read_bytes(), "xdis91").decode()
CASES["vans-bad-identifier"] = _good.replace(
    "3f2b8c1e-9d4a-4e6b-8f1c-2a7d5e9b0c41", f"{CPR_DASHED}-x", 1
).encode()


@pytest.mark.parametrize("name", sorted(CASES))
def test_findings_never_quote_planted_patient_data(name: str) -> None:
    data = CASES[name]
    texts = _messages(data)
    assert any(not t.startswith("vans-payload ") for t in texts), f"{name}: the mutation found nothing"
    _assert_clean(texts, name)


def test_validate_json_output_is_clean(tmp_path: Path) -> None:
    files = []
    for name, data in CASES.items():
        path = tmp_path / f"{name}.xml"
        path.write_bytes(data)
        files.append(str(path))
    result = CliRunner().invoke(app, ["validate", "--json", *files])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(files) and not any(line["valid"] for line in lines)
    _assert_clean([result.stdout, result.stderr or ""], "validate --json")
    text = CliRunner().invoke(app, ["validate", *files])
    _assert_clean([text.stdout], "validate")


CONVERT_CASES = {
    "xdis91-cpr-dashed": ("carecommunication", [CASES["xdis91-cpr-dashed"], XBIN01.read_bytes()]),
    "xdis91-surname-long": ("carecommunication", [CASES["xdis91-surname-long"], XBIN01.read_bytes()]),
    "xdis91-pair-patient": ("carecommunication", [XDIS91.read_bytes(), CASES["xbin01-cpr-dashed"]]),
    "fhir-cpr-dashed": ("xdis91", [CASES["fhir-json-cpr-dashed"]]),
    "fhir-cpr-letters": ("xdis91", [CASES["fhir-json-cpr-letters"]]),
}


@pytest.mark.parametrize("name", sorted(CONVERT_CASES))
def test_convert_output_is_clean(name: str, tmp_path: Path) -> None:
    target, payloads = CONVERT_CASES[name]
    files = []
    for i, data in enumerate(payloads):
        path = tmp_path / f"in{i}.xml"
        path.write_bytes(data)
        files.append(str(path))
    result = CliRunner().invoke(app, ["convert", "--to", target, "--out-dir", str(tmp_path / "out"), *files])
    assert result.exit_code == 1, result.output
    assert result.output.strip()
    _assert_clean([result.output, result.stderr or ""], f"convert {name}")
