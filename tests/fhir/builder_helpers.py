"""Shared inputs and checks for the builder and renderer tests."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from medcom_bridge.fhir import codec
from medcom_bridge.fhir.content import Classification, TextSegment
from medcom_bridge.fhir.parties import Author, Organization, Patient
from tests.conftest import DATA

SEND_V5 = DATA / "fhir" / "examples" / "send-v5"
CC_PACKAGE = DATA / "fhir" / "packages" / "medcom.fhir.dk.carecommunication-5.0.2.tgz"
ACK_PACKAGE = DATA / "fhir" / "packages" / "medcom.fhir.dk.acknowledgement-2.0.3.tgz"

CET = timezone(timedelta(hours=1))
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=CET)

CLINIC = Organization(sor="441211000016000", ean="5790001987244", name="Klinik for Ældresygdomme")
MUNICIPALITY = Organization(sor="330461000016004", ean="5790001353308", name="Sundhedsplejen, Aabenraa")
GP = Organization(sor="1017421000016003", ean="5790002408496", name="2100 Lægehuset Østerbro")
PATIENT = Patient(cpr="2509479989", family="Elmer", given=("Bruno",))
NURSE = Author(family="Burns", given=("Michael",), role_code="sygeplejerske", phone="38683868")
VISITATOR = Author(family="Berggren", given=("Birgit",), role_text="Visitator", phone="+4512345678")
RESULTS = Classification(category="examination-results", topic="Blodprøver")


def id_factory() -> Callable[[], str]:
    """Deterministic lower-case UUID v4 shaped ids (the builder takes ids from the caller)."""
    counter = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(counter):012x}"


def text(value: str = "Hej.\nVenlig hilsen", author: Author = NURSE) -> TextSegment:
    return TextSegment(text=value, author=author)


def load(path: Path) -> dict[str, Any]:
    bundle, _ = codec.parse(path.read_bytes())
    return bundle


def package_examples(package: Path) -> dict[str, dict[str, Any]]:
    import tarfile

    out: dict[str, dict[str, Any]] = {}
    with tarfile.open(package) as tar:
        for member in tar.getmembers():
            name = member.name.rsplit("/", 1)[-1]
            if "/example/" in member.name and name.startswith("Bundle-") and name.endswith(".json"):
                handle = tar.extractfile(member)
                assert handle is not None
                out[name] = json.loads(handle.read())
    return out


def resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def resolve(bundle: dict[str, Any], reference: str) -> dict[str, Any] | None:
    for entry in bundle["entry"]:
        res: dict[str, Any] = entry["resource"]
        if f"{res['resourceType']}/{res['id']}" == reference or entry.get("fullUrl") == reference:
            return res
    return None


def activity(prov: dict[str, Any]) -> str:
    return str(prov["activity"]["coding"][0]["code"])


def header(bundle: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = bundle["entry"][0]["resource"]
    assert first["resourceType"] == "MessageHeader"
    return first


def communication(bundle: dict[str, Any]) -> dict[str, Any]:
    ref = header(bundle)["focus"][0]["reference"]
    comm = resolve(bundle, ref)
    assert comm is not None
    return comm


def segment_id(payload: dict[str, Any]) -> str:
    for ext in payload["extension"]:
        if ext["url"].endswith("medcom-core-identifier-extension"):
            return str(ext["valueIdentifier"]["value"])
    raise AssertionError("payload without identifier")


def assert_valid(bundle: dict[str, Any]) -> None:
    """Our validator accepts the bundle (no error findings) and it round-trips through JSON and XML."""
    from medcom_bridge.fhir.validation import validate_resource

    report = validate_resource(bundle)
    assert report.valid, "\n".join(str(f) for f in report.errors)
    assert codec.parse(codec.to_json(bundle))[0] == bundle
    assert codec.parse(codec.to_xml(bundle))[0] == bundle


def assert_well_formed(bundle: dict[str, Any]) -> None:
    """Rule-book checks the builder guarantees for every message it makes (independent of the validator)."""
    assert bundle["type"] == "message" and bundle["meta"]["profile"]
    header(bundle)
    for entry in bundle["entry"]:
        res = entry["resource"]
        assert entry["fullUrl"].endswith(f"/{res['resourceType']}/{res['id']}")
        assert res["meta"]["profile"], res["resourceType"]
        assert res["text"]["status"] and res["text"]["div"].startswith("<div"), res["resourceType"]
    historic = {p["target"][0]["reference"] for p in resources(bundle, "Provenance")}
    for entry in bundle["entry"]:
        for ref in _refs(entry["resource"]):
            # Historic Provenance targets and revisions point at earlier MessageHeaders (tolerated, §5).
            if ref.startswith("MessageHeader/") and (ref in historic or resolve(bundle, ref) is None):
                continue
            assert resolve(bundle, ref) is not None, f"dangling reference {ref}"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = [node["reference"]] if isinstance(node.get("reference"), str) else []
        for key, value in node.items():
            if key != "reference":
                out += _refs(value)
        return out
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []
