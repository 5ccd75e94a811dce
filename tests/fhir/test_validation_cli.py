"""`medcom-bridge validate --json` on FHIR examples: the contract's JSON shape and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medcom_bridge.cli import app
from tests.fhir.validation_data import SEND_V4, SEND_V5

GOOD = SEND_V5 / "Bundle-S-A-new-1932711d-49d0-4ad7-b1ee-61de711892d2.json"
GOOD_XML = SEND_V5 / "Bundle-S-B-new-720f68cf-21bf-4c40-a90c-a113e00e88a8.xml"
TEXT_ROLE = SEND_V4 / "CareCommunication_Ex_send-E-new.json"
runner = CliRunner()


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """Example E without its author's job title: 4.0 then has neither code.coding.code nor code.text."""
    bundle = json.loads(TEXT_ROLE.read_bytes())
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "PractitionerRole":
            entry["resource"]["code"] = [{"id": "no-role"}]
    path = tmp_path / "no-role.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_valid_files_exit_0() -> None:
    result = runner.invoke(app, ["validate", "--json", str(GOOD), str(GOOD_XML)])
    assert result.exit_code == 0, result.output
    first, second = _lines(result.stdout)
    assert first == {
        "file": str(GOOD),
        "kind": "carecommunication",
        "version": "5.0",
        "valid": True,
        "issues": [],
    }
    assert second["valid"] is True and second["version"] == "5.0"


def test_invalid_file_exit_1_with_issues(broken: Path) -> None:
    result = runner.invoke(app, ["validate", "--json", str(GOOD), str(broken)])
    assert result.exit_code == 1
    _, broken = _lines(result.stdout)
    assert broken["valid"] is False and broken["version"] == "4.0"
    issues = broken["issues"]
    assert isinstance(issues, list)
    assert {"severity", "rule", "path", "message"} == set(issues[0])
    assert "medcom-careCommunication-7" in {i["rule"] for i in issues}


def test_unreadable_file_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--json", str(tmp_path / "missing.json"), str(GOOD)])
    assert result.exit_code == 2


def test_garbage_file_is_invalid_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "garbage.json"
    path.write_bytes(b'{"resourceType": "Bundle", "type": "message", "entry": [{"resource": 3}]}')
    result = runner.invoke(app, ["validate", "--json", str(path)])
    assert result.exit_code == 1
    (line,) = _lines(result.stdout)
    assert line["valid"] is False and line["kind"] == "carecommunication"


def test_human_output_names_rules(broken: Path) -> None:
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 1
    assert "medcom-careCommunication-7" in result.stdout


def test_free_text_role_in_4_0_is_accepted_with_a_warning() -> None:
    result = runner.invoke(app, ["validate", "--json", str(TEXT_ROLE)])
    assert result.exit_code == 0, result.output
    (line,) = _lines(result.stdout)
    (issue,) = line["issues"]  # type: ignore[misc]
    assert issue["severity"] == "warning" and issue["rule"] == "medcom-careCommunication-7"
    assert "4.0.3 asks for code.coding.code" in issue["message"]
