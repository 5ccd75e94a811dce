"""Other MedCom FHIR messages (issue 14): each gets its own kind from its MessageHeader event code, is refused
as not supported (validate exit 1), and `render` refuses it (exit 2) instead of drawing a CareCommunication."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medcom_bridge.cli import app
from medcom_bridge.documents import NotRenderable, detect_kind, render_document, validate_document
from medcom_bridge.fhir.codec import parse, to_xml
from tests.conftest import DATA

LETTER = DATA / "fhir" / "examples" / "send-v5" / "Bundle-S-A-new-1932711d-49d0-4ad7-b1ee-61de711892d2.json"
EVENTS = [
    ("hospital-notification-message", "hospitalnotification", "HospitalNotification"),
    ("empty-message", "emptymessage", "empty-message"),
    ("homecareobservation-message", "homecareobservation", "HomeCareObservation"),
]
runner = CliRunner()


def message_with_event(event: str, fmt: str) -> bytes:
    """A CareCommunication whose MessageHeader announces another MedCom message (the rest may stay)."""
    bundle = json.loads(LETTER.read_bytes())
    header = bundle["entry"][0]["resource"]
    assert header["resourceType"] == "MessageHeader"
    header["eventCoding"]["code"] = event
    if fmt == "xml":
        parsed, _ = parse(json.dumps(bundle).encode())
        return to_xml(parsed)
    return json.dumps(bundle, indent=2).encode()


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(("event", "kind", "name"), EVENTS)
def test_each_message_has_its_own_kind_and_is_not_supported(
    event: str, kind: str, name: str, fmt: str
) -> None:
    data = message_with_event(event, fmt)
    assert detect_kind(data) == kind
    report = validate_document(data)
    assert report.kind == kind and not report.valid
    (finding,) = report.findings
    assert finding.rule == "kind-unsupported"
    assert name in finding.message and "is not supported" in finding.message
    with pytest.raises(NotRenderable, match="not supported"):
        render_document(data)


def test_validate_and_render_exit_codes(tmp_path: Path) -> None:
    path = tmp_path / "notification.json"
    path.write_bytes(message_with_event("hospital-notification-message", "json"))
    result = runner.invoke(app, ["validate", "--json", str(path)])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["kind"] == "hospitalnotification"
    result = runner.invoke(app, ["render", str(path), "-o", str(tmp_path / "page.html")])
    assert result.exit_code == 2
    assert "HospitalNotification" in result.stderr and "not supported" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "page.html").exists()


def test_activity_codes_do_not_fool_detection() -> None:
    """'new-message' and friends are Provenance activity codes, not event codes."""
    assert detect_kind(LETTER.read_bytes()) == "carecommunication"
