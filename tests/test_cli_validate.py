"""The `medcom-bridge validate` contract (architecture.md §3.1), end to end for every kind.

Exit 0 when every file is valid, 1 when at least one is invalid, 2 on usage errors or unreadable files.
`--json`: one object per input file, one per line, with exactly the keys file, kind, version, valid, issues.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medcom_bridge.cli import app
from medcom_bridge.envelope import wrap
from tests.conftest import DATA, REPO

OIOXML = DATA / "oioxml" / "samples"
FLOWS = DATA / "conversion" / "flows"
FHIR = DATA / "fhir" / "examples"

SAMPLES = {
    "xdis91": OIOXML / "XDIS91_1_edifactconv_pair.xml",
    "xbin01": OIOXML / "XBIN01_medcom_flow1_to_fhir.xml",
    "xctl01": OIOXML / "XCTL01_1_edifactconv_pair.xml",
    "xctl02": OIOXML / "XCTL02_os2korr_negative_receipt.xml",
    "xctl03": OIOXML / "XCTL03_medcom_flow4_to_fhir_for_XDIS91.xml",
    "carecommunication": FHIR / "send-v5" / "Bundle-S-C-new-aca3d03a-febd-4b88-ad53-ac1bc36da615.json",
    "acknowledgement": FLOWS / "Acknowledgement_medcom_flow2_to_OIOXML.xml",
    "vansenvelope": OIOXML / "vansenvelope" / "VANSEnvelope_1.0.4_wrapping_XDIS22_sample.xml",
}
ISSUE_KEYS = {"severity", "rule", "path", "message"}

runner = CliRunner()


def run(*args: str) -> tuple[int, list[dict[str, object]], str]:
    result = runner.invoke(app, ["validate", "--json", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr


def assert_contract(line: dict[str, object]) -> None:
    assert set(line) == {"file", "kind", "version", "valid", "issues"}
    assert isinstance(line["file"], str)
    assert line["kind"] in (
        "carecommunication",
        "acknowledgement",
        "xdis91",
        "xbin01",
        "xctl01",
        "xctl02",
        "xctl03",
        "vansenvelope",
        "unknown",
    )
    assert line["version"] is None or isinstance(line["version"], str)
    assert isinstance(line["valid"], bool)
    issues = line["issues"]
    assert isinstance(issues, list)
    for issue in issues:
        assert set(issue) == ISSUE_KEYS
        assert issue["severity"] in ("error", "warning", "information")
        assert all(isinstance(issue[k], str) and issue[k] for k in ("rule", "path", "message"))
    assert line["valid"] == (not any(i["severity"] == "error" for i in issues))


def wrapped(tmp_path: Path, sample: Path) -> Path:
    out = tmp_path / f"envelope-{sample.stem}.xml"
    out.write_bytes(
        wrap(
            sample.read_bytes(),
            sender_ean="5790001659592",
            receiver_ean="5790000121526",
            envelope_id="3f2b8c1e-9d4a-4e6b-8f1c-2a7d5e9b0c41",
            message_id="a1c5e7f9-2b4d-4f6a-8c0e-1d3f5a7b9c2e",
            sent=datetime(2026, 1, 20, 9, 30, 15),
        )
    )
    return out


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_every_kind_gives_one_json_line(kind: str) -> None:
    code, lines, _ = run(str(SAMPLES[kind]))
    assert len(lines) == 1
    (line,) = lines
    assert_contract(line)
    assert line["file"] == str(SAMPLES[kind])
    assert line["kind"] == kind
    assert code == (0 if line["valid"] else 1)


@pytest.mark.parametrize("kind", [k for k in SAMPLES if k != "vansenvelope"])
def test_envelope_of_every_kind_is_validated_with_its_payload(kind: str, tmp_path: Path) -> None:
    code, (line,), _ = run(str(wrapped(tmp_path, SAMPLES[kind])))
    assert_contract(line)
    assert (line["kind"], line["version"]) == ("vansenvelope", "1.0.4")
    issues = line["issues"]
    assert isinstance(issues, list)
    summary = [i for i in issues if i["rule"] == "vans-payload"]
    assert len(summary) == 1 and summary[0]["message"].startswith(f"payload: {kind}")
    # Everything else comes from the payload's own validator, shown under the envelope's Data element.
    assert all(i["path"].startswith("VANSEnvelope/Message/Data") for i in issues)
    # The payload alone gets the same verdict as inside the envelope.
    _, (bare,), _ = run(str(SAMPLES[kind]))
    assert line["valid"] == bare["valid"]
    assert code == (0 if line["valid"] else 1)


def test_xdis22_is_invalid_with_a_clear_reason() -> None:
    code, (line,), _ = run(str(OIOXML / "XDIS22_decoded_from_vansenvelope_sample.xml"))
    assert code == 1
    assert_contract(line)
    assert line["kind"] == "unknown" and line["valid"] is False
    (issue,) = line["issues"]  # type: ignore[misc]
    assert issue["rule"] == "kind-unknown"
    assert "EmergencyMunicipalityLetter" in issue["message"] and "XDIS91" in issue["message"]


def test_official_envelope_sample_is_invalid_because_its_payload_is_not_ours() -> None:
    code, (line,), _ = run(str(SAMPLES["vansenvelope"]))
    assert code == 1
    assert [i["rule"] for i in line["issues"]] == ["vans-payload-unsupported"]  # type: ignore[union-attr]


def test_broken_envelope_is_invalid(tmp_path: Path) -> None:
    envelope = wrapped(tmp_path, SAMPLES["xdis91"])
    envelope.write_bytes(envelope.read_bytes().replace(b"<SizeInBytes>", b"<SizeInBytes>1"))
    code, (line,), _ = run(str(envelope))
    assert code == 1
    assert "vans-size" in {i["rule"] for i in line["issues"]}  # type: ignore[union-attr]


def test_several_files_one_line_each_in_order(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<Emessage><Envelope>")
    files = [str(SAMPLES["xdis91"]), str(broken), str(SAMPLES["carecommunication"])]
    code, lines, _ = run(*files)
    assert [line["file"] for line in lines] == files
    for line in lines:
        assert_contract(line)
    assert lines[1]["valid"] is False and lines[1]["issues"][0]["rule"] == "xml-syntax"  # type: ignore[index]
    assert code == 1


def test_unreadable_file_exits_2_and_the_others_are_still_reported(tmp_path: Path) -> None:
    missing = tmp_path / "missing.xml"
    code, lines, stderr = run(str(SAMPLES["xctl03"]), str(missing))
    assert code == 2
    assert [line["file"] for line in lines] == [str(SAMPLES["xctl03"])]
    assert str(missing) in stderr and "cannot read" in stderr


def test_directory_exits_2(tmp_path: Path) -> None:
    code, lines, stderr = run(str(tmp_path))
    assert code == 2 and lines == [] and "cannot read" in stderr


def test_unreadable_beats_invalid(tmp_path: Path) -> None:
    code, _, _ = run(str(OIOXML / "XDIS22_decoded_from_vansenvelope_sample.xml"), str(tmp_path / "nope.xml"))
    assert code == 2


@pytest.mark.parametrize("content", [b"", b"\x00\x01binary", b"{not json", b"<a"])
def test_garbage_is_invalid_not_a_crash(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "garbage"
    path.write_bytes(content)
    code, (line,), _ = run(str(path))
    assert code == 1
    assert_contract(line)
    assert line["valid"] is False


def test_no_arguments_is_a_usage_error() -> None:
    assert runner.invoke(app, ["validate"]).exit_code == 2
    assert runner.invoke(app, ["validate", "--no-such-option", str(SAMPLES["xdis91"])]).exit_code == 2


def test_text_output_names_kind_and_verdict() -> None:
    result = runner.invoke(app, ["validate", str(SAMPLES["vansenvelope"])])
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"{SAMPLES['vansenvelope']}: vansenvelope 1.0.4: INVALID")
    assert "vans-payload-unsupported" in result.stdout


def test_the_installed_command_keeps_the_contract(tmp_path: Path) -> None:
    """One real process: the console entry point, stdout lines and the exit code as a shell sees them."""
    envelope = wrapped(tmp_path, SAMPLES["xctl03"])
    result = subprocess.run(
        [sys.executable, "-m", "medcom_bridge", "validate", "--json", str(envelope), str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 2
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert_contract(line)
    assert line["kind"] == "vansenvelope"
