from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys

import pytest

from medcom_bridge.documents import validate_document
from medcom_bridge.findings import Report
from medcom_bridge.oioxml.codec import parse, parse_xbin01, parse_xdis91, serialize
from medcom_bridge.oioxml.model import CCReceiver, ClinicalInformation, Emessage
from medcom_bridge.oioxml.text import from_plain_text
from medcom_bridge.oioxml.validation import (
    TEXT_LIMIT,
    is_semantic,
    validate_bytes,
    validate_message,
    validate_pair,
)
from tests.conftest import REPO
from tests.oioxml.mutations import SAMPLES, mutations, sample_files
from tests.oioxml.test_codec import xbin01, xdis91
from tests.oioxml.xsd import xsd_errors, xsd_verdicts

SAMPLE_IDS = [p.name for p in sample_files()]


def schema_valid(report: Report) -> bool:
    return not any(f.severity == "error" and not is_semantic(f.rule) for f in report.findings)


@pytest.mark.parametrize("name", SAMPLE_IDS)
def test_samples_are_valid_for_us_and_for_the_xsds(name: str) -> None:
    data = (SAMPLES / name).read_bytes()
    report = validate_bytes(data)
    assert report.valid, [str(f) for f in report.findings]
    assert report.kind == name[:6].lower()
    verdicts = xsd_verdicts(data)
    assert verdicts and all(verdicts.values()), xsd_errors(data)


@pytest.mark.parametrize("name", SAMPLE_IDS)
def test_what_we_write_is_valid_for_us_and_for_the_xsds(name: str) -> None:
    out = serialize(parse((SAMPLES / name).read_bytes()))
    assert validate_bytes(out).valid
    verdicts = xsd_verdicts(out)
    assert all(verdicts.values()), xsd_errors(out)


def test_built_messages_are_valid() -> None:
    for message in (xdis91("Æble & pære\nlinje 2 — 😀"), xbin01()):
        assert validate_message(message).valid, validate_message(message).findings  # type: ignore[arg-type]
        out = serialize(message)  # type: ignore[arg-type]
        assert validate_bytes(out).valid
        assert all(xsd_verdicts(out).values()), xsd_errors(out)


def test_version_and_kind_reach_the_cli_contract() -> None:
    report = validate_document((SAMPLES / "XDIS91_medcom_flow1_to_fhir.xml").read_bytes())
    assert (report.kind, report.version, report.valid) == ("xdis91", "XD9134L", True)
    report = validate_document((SAMPLES / "XCTL01_1_edifactconv_pair.xml").read_bytes())
    assert (report.kind, report.version) == ("xctl01", "XC0130Q")


def test_findings_are_actionable() -> None:
    data = serialize(xdis91()).replace("høj_prioritet".encode("latin-1"), b"superhurtig")
    report = validate_bytes(data)
    assert [str(f) for f in report.errors] == [
        "error xdis91-priority ClinicalEmail/AdditionalInformation/Priority: 'superhurtig' is not an allowed "
        "priority; use 'høj_prioritet' or 'rutine'"
    ]
    missing = serialize(xdis91()).replace(b"<EpisodeOfCareStatusCode>inaktiv</EpisodeOfCareStatusCode>", b"")
    (finding,) = validate_bytes(missing).errors
    assert finding.rule == "xdis91-structure" and finding.path == "ClinicalEmail/Patient"
    assert "missing required element EpisodeOfCareStatusCode" in finding.message
    tz = serialize(xdis91()).replace(b"<Date>2024-09-23</Date>", b"<Date>2024-09-23+02:00</Date>", 1)
    report = validate_bytes(tz)
    assert report.valid  # the older schema edition allows a timezone ...
    assert any("timezone" in f.message and f.severity == "warning" for f in report.findings)  # ... we warn


def test_ccreceiver_is_rejected_with_a_reason() -> None:
    cc = b"<CCReceiver><Identifier>1</Identifier><IdentifierCode>ydernummer</IdentifierCode></CCReceiver>"
    data = serialize(xdis91()).replace(b"</Receiver>", b"</Receiver>" + cc)
    report = validate_bytes(data)
    assert not report.valid and any("CCReceiver" in f.message for f in report.errors)
    model = dataclasses.replace(xdis91().body, cc_receiver=CCReceiver("1", "ydernummer"))
    assert "xdis91-ccreceiver" in validate_message(Emessage(xdis91().envelope, model)).rules("error")


def test_semantic_rules() -> None:
    long = xdis91("x" * (TEXT_LIMIT + 1))
    report = validate_message(long)
    assert report.valid and "xdis91-text-length" in report.rules("warning")
    assert "xdis91-text-length" not in validate_message(xdis91("x" * TEXT_LIMIT)).rules()
    dashed = xdis91(episode="6fb927da-3be1-4b9f-8875-a6326617d20b")
    assert "xdis91-structure" not in validate_message(dashed).rules()
    assert "xdis91-episode-of-care-identifier" in validate_message(dashed).rules("error")  # 36 > 35 chars
    b = xbin01()
    wrong_size = dataclasses.replace(b.body.binary_object[0], original_object_size=6)
    bad = Emessage(b.envelope, dataclasses.replace(b.body, binary_object=(wrong_size,)))
    assert "xbin01-object-size" in validate_message(bad).rules("error")
    broken = dataclasses.replace(b.body.binary_object[0], object_base64_encoded="%%%")
    bad = Emessage(b.envelope, dataclasses.replace(b.body, binary_object=(broken,)))
    assert "xbin01-base64" in validate_message(bad).rules("error")


def test_xdis91_and_xbin01_pair() -> None:
    assert validate_pair(xdis91(), xbin01()).valid
    flow_dis = parse_xdis91((SAMPLES / "XDIS91_medcom_flow1_to_fhir.xml").read_bytes())
    flow_bin = parse_xbin01((SAMPLES / "XBIN01_medcom_flow1_to_fhir.xml").read_bytes())
    report = validate_pair(flow_dis, flow_bin)
    assert report.valid, report.findings
    assert "xdis91-xbin01-pair" in validate_pair(xdis91(), flow_bin).rules("warning")  # sizes differ
    b = xbin01()
    other = dataclasses.replace(
        b.body.binary_object[0], object_identifier="00000000-0000-0000-0000-000000000000"
    )
    unpaired = validate_pair(
        xdis91(), Emessage(b.envelope, dataclasses.replace(b.body, binary_object=(other,)))
    )
    assert len(unpaired.errors) == 2  # the reference has no object, the object has no reference


def test_encoding_mismatch_warning() -> None:
    report = validate_bytes((SAMPLES / "XDIS91_medcom_flow3_from_fhir.xml").read_bytes())
    assert report.valid and "encoding-mismatch" in report.rules("warning")


def test_one_letter_per_emessage() -> None:
    text = serialize(xdis91())
    start, end = text.index(b"<ClinicalEmail>"), text.index(b"</ClinicalEmail>") + len(b"</ClinicalEmail>")
    doubled = text[:end] + text[start:end] + text[end:]
    assert all(xsd_verdicts(doubled).values())  # the schema allows it ...
    assert "oioxml-one-letter" in validate_bytes(doubled).rules("error")  # ... MedCom and we do not


def test_long_text_is_still_schema_valid() -> None:
    m = xdis91()
    body = dataclasses.replace(
        m.body, clinical_information=(ClinicalInformation(from_plain_text("y" * 40_000)),)
    )
    data = serialize(Emessage(m.envelope, body))
    assert all(xsd_verdicts(data).values())
    assert validate_bytes(data).valid


def test_mutation_corpus_agrees_with_the_xsds() -> None:
    """Mutated samples: our schema verdict equals lxml XMLSchema's (valid under any edition)."""
    total = agree = 0
    disagreements = []
    for path in sample_files():
        for n, (desc, doc) in enumerate(mutations(path.read_bytes())):
            if n % 3:  # a fixed third of the corpus keeps the suite fast (bench/ runs all of it)
                continue
            xsd_ok = any(xsd_verdicts(doc).values())
            ours = schema_valid(validate_bytes(doc))
            total += 1
            if xsd_ok == ours:
                agree += 1
            else:
                disagreements.append((path.name, desc, xsd_ok))
    print(f"\nmutation corpus: {agree}/{total} agree ({agree / total:.2%})")
    assert total > 10_000
    assert not disagreements, disagreements[:10]


def test_generated_code_lists_are_current() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_oioxml_codes.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_unreadable_and_unsupported_input() -> None:
    assert validate_bytes(b"<Emessage").findings[0].rule == "xml-syntax"
    report = validate_bytes((SAMPLES / "XDIS22_decoded_from_vansenvelope_sample.xml").read_bytes())
    assert not report.valid and "oioxml-unsupported" in report.rules()
    # XD9134L in the 2005 namespace: that namespace's edition (XD9133L) is checked and its schema speaks.
    old = serialize(xdis91()).replace(b"2006/07/01", b"2005/08/07")
    assert validate_bytes(old).rules() == {"oioxml-older-edition", "xdis91-version-code", "xdis91-structure"}
    assert not any(xsd_verdicts(old).values())
    assert dt.datetime  # keep import used for readers of the fixtures


def test_local_elements_are_kept() -> None:
    data = serialize(xdis91()).replace(
        b"</ClinicalEmail>", b"</ClinicalEmail><Local_Elements><Egen>x</Egen></Local_Elements>"
    )
    assert validate_bytes(data).valid and all(xsd_verdicts(data).values())
    message = parse(data)
    assert message.local_elements is not None and b"Egen" in message.local_elements
    again = serialize(message)
    assert parse(again) == message and all(xsd_verdicts(again).values())


def test_system_information_instead_of_patient() -> None:
    b = xbin01()
    body = dataclasses.replace(b.body, patient=None, system_information=True, contents="Systemdata")
    message = Emessage(b.envelope, body)
    data = serialize(message)
    assert parse(data) == message
    assert validate_bytes(data).valid and all(xsd_verdicts(data).values())


def test_receipts_in_the_2020_namespace_follow_the_schema() -> None:
    """The 2020/05/06 receipt schemas restrict a VersionCode list without the receipt codes: nothing in
    that namespace is schema-valid. We say so rather than guess."""
    data = (SAMPLES / "XCTL03_medcom_flow2_from_fhir_for_XDIS91.xml").read_bytes()
    moved = data.replace(
        b"sundcom.dk/medcom.dk/xml/schemas/2005/08/07/", b"medcom.dk/xml/schemas/2020/05/06/"
    )
    assert not any(xsd_verdicts(moved).values())
    report = validate_bytes(moved)
    assert not report.valid and report.kind == "xctl03"
    assert "no document of this namespace can be valid" in report.errors[0].message
