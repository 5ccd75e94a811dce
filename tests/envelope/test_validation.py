from __future__ import annotations

import base64
from pathlib import Path

import pytest

from medcom_bridge.documents import validate_document
from medcom_bridge.envelope import validation
from medcom_bridge.envelope.validation import DATA_PATH, validate_bytes
from medcom_bridge.findings import Report, error, information, warning
from tests.envelope.helpers import PAYLOADS, SAMPLE, fhir_json, wrapped, xdis91
from tests.envelope.test_vans import edit


@pytest.mark.parametrize(
    ("path", "kind", "name", "version"), PAYLOADS, ids=lambda v: getattr(v, "name", None)
)
def test_envelope_of_every_kind_is_validated_with_its_payload(
    path: Path, kind: str, name: str, version: str
) -> None:
    report = validate_document(wrapped(path.read_bytes()))
    assert (report.kind, report.version) == ("vansenvelope", "1.0.4")
    envelope_findings = [f for f in report.findings if not f.path.startswith(DATA_PATH)]
    assert envelope_findings == []  # everything we write is clean on the envelope side
    payload_rules = report.rules()
    # Either the payload's validator ran (summary names the kind) or its absence is an error, never silence.
    summary = [f for f in report.findings if f.rule == "vans-payload"]
    if summary:
        assert summary[0].message.startswith(f"payload: {kind}")
        assert summary[0].severity == "information"
    else:
        assert "vans-payload-unvalidated" in payload_rules
        assert not report.valid


def test_payload_findings_are_moved_under_data(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_validate_as(kind: str, data: bytes) -> Report:
        assert kind == "xdis91" and data == xdis91()
        return Report(
            "xdis91",
            "XD9134L",
            (
                error("xdis91-priority", "ClinicalEmail/AdditionalInformation/Priority", "bad priority"),
                warning("encoding-mismatch", "/", "declared Latin-1, found UTF-8"),
                information("note", "line 7", "fyi"),
            ),
        )

    monkeypatch.setattr(validation, "validate_as", fake_validate_as)
    report = validate_bytes(wrapped(xdis91()))
    assert report.kind == "vansenvelope" and report.version == "1.0.4"
    assert not report.valid
    assert [(f.severity, f.rule, f.path) for f in report.findings] == [
        ("information", "vans-payload", DATA_PATH),
        ("error", "xdis91-priority", f"{DATA_PATH}/ClinicalEmail/AdditionalInformation/Priority"),
        ("warning", "encoding-mismatch", DATA_PATH),
        ("information", "note", f"{DATA_PATH} (line 7 of the payload)"),
    ]
    assert report.findings[0].message == "payload: xdis91 XD9134L, invalid (1 errors, 1 warnings)"


def test_a_failing_payload_validator_is_an_error_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(kind: str, data: bytes) -> Report:
        raise KeyError("bug")

    monkeypatch.setattr(validation, "validate_as", broken)
    report = validate_bytes(wrapped(xdis91()))
    assert report.rules("error") == {"vans-payload-unvalidated"}
    assert "KeyError" in report.findings[0].message


def test_official_sample_is_an_unsupported_payload() -> None:
    report = validate_bytes(SAMPLE.read_bytes())
    assert (report.kind, report.version, report.valid) == ("vansenvelope", "1.0.4", False)
    assert report.rules() == {"vans-payload-unsupported"}
    assert "EmergencyMunicipalityLetter" in report.findings[0].message
    assert report.findings[0].message.count("supported") == 1  # issue 14: the list once


@pytest.mark.parametrize(
    "payload",
    [
        b'<?xml version="1.0"?><Emessage xmlns="urn:x"><Envelope/><Referral/></Emessage>',
        b'<?xml version="1.0"?><Letter xmlns="urn:x"/>',
        b'{"resourceType": "Patient"}',
    ],
)
def test_unsupported_payloads_are_listed_once(payload: bytes) -> None:
    envelope = edit(wrapped(xdis91()), "//v:Data", base64.b64encode(payload).decode())
    findings = [f for f in validate_bytes(envelope).findings if f.rule == "vans-payload-unsupported"]
    assert len(findings) == 1, validate_bytes(envelope).findings
    (finding,) = findings
    assert finding.message.count("supported") == 1, finding.message
    assert "XDIS91" in finding.message or "xdis91" in finding.message


def test_every_envelope_problem_is_reported_not_just_the_first() -> None:
    data = edit(wrapped(fhir_json()), "//v:ServiceTag[@name='MCM:MIME']", remove=True)
    data = edit(data, "//v:SenderID", "5790001659591")
    data = edit(data, "//v:Document/v:Version", "3.0.0")
    data = edit(data, "//v:Document/v:Name", "MCM:FDIS91#other")
    report = validate_bytes(data)
    envelope = {(f.severity, f.rule) for f in report.findings if not f.path.startswith(DATA_PATH)}
    assert envelope == {
        ("error", "vans-endpoint-ean"),
        ("error", "vans-mime"),
        ("error", "vans-document-name"),
        ("warning", "vans-document-version"),
    }


def test_assessment_is_information() -> None:
    data = edit(wrapped(fhir_json()), "//v:Document/v:Name", "MCM:FDIS91#assessment")
    report = validate_bytes(data)
    (finding,) = [f for f in report.findings if f.rule == "vans-document-name"]
    assert finding.severity == "information"
    assert "MCM:FDIS91#acute-ambulant" in finding.message


def test_missing_oioxml_version_is_a_warning() -> None:
    report = validate_bytes(edit(wrapped(xdis91()), "//v:Document/v:Version", remove=True))
    (finding,) = [f for f in report.findings if f.rule == "vans-document-version"]
    assert finding.severity == "warning" and "XD9134L" in finding.message


@pytest.mark.parametrize(
    ("xpath", "value", "rule"),
    [("//v:EnvelopeIdentifier", "nope", "vans-uuid"), ("//v:Document/v:SizeInBytes", "many", "vans-size")],
)
def test_payload_is_validated_even_when_the_envelope_is_broken(
    xpath: str, value: str, rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def record(kind: str, data: bytes) -> Report:
        seen.append(kind)
        return Report(kind, None, ())

    monkeypatch.setattr(validation, "validate_as", record)
    report = validate_bytes(edit(wrapped(xdis91()), xpath, value))
    assert seen == ["xdis91"]
    assert report.rules("error") == {rule}


@pytest.mark.parametrize("data", [b"", b"<VANSEnvelope", b"<x/>", b"\xff\xfe<\x00"])
def test_garbage(data: bytes) -> None:
    report = validate_bytes(data)
    assert report.kind == "vansenvelope" and not report.valid and report.version is None
