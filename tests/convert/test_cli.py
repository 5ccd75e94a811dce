"""`medcom-bridge convert` per architecture.md §3.1: options, VANSEnvelope outputs, JSON lines, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from medcom_bridge.cli import app
from medcom_bridge.documents import validate_document
from medcom_bridge.envelope.vans import unwrap
from tests.convert.helpers import FLOWS, MEDCOM_TESTCENTER, ODENSE, sor_xml

runner = CliRunner()


def run(*args: str) -> tuple[int, list[dict[str, str]], str]:
    result = runner.invoke(app, ["convert", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, lines, result.stderr


def check_outputs(lines: list[dict[str, str]], kinds: list[str]) -> None:
    assert [line["kind"] for line in lines] == kinds
    for line in lines:
        data = Path(line["file"]).read_bytes()
        report = validate_document(data)
        assert report.kind == "vansenvelope" and report.valid, report.findings
        envelope = unwrap(data)
        assert envelope.message is not None
        assert line["letter_id"] and line["envelope_id"]


def test_xdis91_and_xbin01_to_carecommunication(tmp_path: Path) -> None:
    sor = tmp_path / "sor.xml"
    sor.write_bytes(sor_xml([MEDCOM_TESTCENTER, ODENSE]))
    for fmt in ("json", "xml"):
        out = tmp_path / fmt
        code, lines, err = run(
            "--to", "carecommunication", "--fhir-format", fmt, "--sor", str(sor), "--out-dir", str(out),
            str(FLOWS / "XDIS91_medcom_flow1_to_fhir.xml"), str(FLOWS / "XBIN01_medcom_flow1_to_fhir.xml"),
        )  # fmt: skip
        assert code == 0, err
        check_outputs(lines, ["carecommunication"])
        payload = unwrap(Path(lines[0]["file"]).read_bytes()).message
        assert payload is not None
        assert payload.data.lstrip().startswith(b"{" if fmt == "json" else b"<")


def test_without_register_the_carecommunication_is_not_written(tmp_path: Path) -> None:
    code, lines, err = run(
        "--to", "carecommunication", "--out-dir", str(tmp_path),
        str(FLOWS / "XDIS91_medcom_flow1_to_fhir.xml"), str(FLOWS / "XBIN01_medcom_flow1_to_fhir.xml"),
    )  # fmt: skip
    assert code == 1 and lines == []
    assert "identifier-sor" in err and not list(tmp_path.iterdir())
    # ... and the reason a user can act on comes first: which EAN the register lacks.
    assert "convert-sor-unknown ClinicalEmail/Sender/EANIdentifier: location number 5790001382445" in err
    assert "convert-sor-unknown ClinicalEmail/Receiver/EANIdentifier: location number 5790000121441" in err
    assert err.index("convert-sor-unknown") < err.index("identifier-sor")


def test_carecommunication_to_xdis91_and_xbin01(tmp_path: Path) -> None:
    code, lines, err = run(
        "--to", "xdis91", "--out-dir", str(tmp_path), str(FLOWS / "CareCommunication_medcom_flow3_to_OIOXML.xml")
    )  # fmt: skip
    assert code == 0, err
    check_outputs(lines, ["xdis91", "xbin01"])


def test_receipts_both_ways(tmp_path: Path) -> None:
    code, lines, err = run(
        "--to", "acknowledgement", "--fhir-format", "xml", "--out-dir", str(tmp_path / "ack"),
        str(FLOWS / "CareCommunication_medcom_flow3_to_OIOXML.xml"),
        str(FLOWS / "XCTL03_medcom_flow4_to_fhir_for_XDIS91.xml"), str(FLOWS / "XCTL03_medcom_flow4_to_fhir_for_XBIN01.xml"),
    )  # fmt: skip
    assert code == 0, err
    check_outputs(lines, ["acknowledgement"])
    code, lines, err = run(
        "--to", "xctl", "--out-dir", str(tmp_path / "xctl"), str(FLOWS / "Acknowledgement_medcom_flow2_to_OIOXML.xml"),
        str(FLOWS / "XDIS91_medcom_flow1_to_fhir.xml"), str(FLOWS / "XBIN01_medcom_flow1_to_fhir.xml"),
    )  # fmt: skip
    assert code == 0, err
    check_outputs(lines, ["xctl03", "xctl03"])


def test_a_missing_receipt_sends_nothing(tmp_path: Path) -> None:
    code, lines, err = run(
        "--to", "acknowledgement", "--out-dir", str(tmp_path),
        str(FLOWS / "CareCommunication_medcom_flow3_to_OIOXML.xml"), str(FLOWS / "XCTL03_medcom_flow4_to_fhir_for_XDIS91.xml"),
    )  # fmt: skip
    assert code == 1 and lines == [] and "table 4" in err


def test_envelope_input_and_usage_errors(tmp_path: Path) -> None:
    code, lines, _ = run(
        "--to",
        "xdis91",
        "--out-dir",
        str(tmp_path / "a"),
        str(FLOWS / "CareCommunication_medcom_flow3_to_OIOXML.xml"),
    )
    wrapped = Path(lines[0]["file"])  # a VANSEnvelope holding an XDIS91: convert it back
    assert code == 0
    code, _, err = run("--to", "xdis91", "--out-dir", str(tmp_path / "b"), str(wrapped))
    assert code == 1 and "cannot be converted --to xdis91" in err
    code, _, _ = run("--to", "nonsense", "--out-dir", str(tmp_path), str(wrapped))
    assert code == 2
    code, _, _ = run("--to", "xdis91", "--out-dir", str(tmp_path), str(tmp_path / "missing.xml"))
    assert code == 2
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<Emessage><unclosed>")
    code, _, err = run("--to", "carecommunication", "--out-dir", str(tmp_path), str(broken))
    assert code == 1 and "broken.xml" in err


def test_wrapped_inputs_round_trip_through_the_cli(tmp_path: Path) -> None:
    """CareCommunication -> (XDIS91 + XBIN01 in VANSEnvelopes) -> CareCommunication, all through the command."""
    code, lines, err = run(
        "--to", "xdis91", "--out-dir", str(tmp_path / "oio"), str(FLOWS / "CareCommunication_medcom_flow3_to_OIOXML.xml")
    )  # fmt: skip
    assert code == 0, err
    sor = tmp_path / "sor.xml"
    sor.write_bytes(sor_xml([MEDCOM_TESTCENTER, ODENSE]))
    code, back, err = run(
        "--to", "carecommunication", "--sor", str(sor), "--out-dir", str(tmp_path / "fhir"),
        *[line["file"] for line in lines],
    )  # fmt: skip
    assert code == 0, err
    check_outputs(back, ["carecommunication"])


def test_a_letter_without_its_xbin01_is_refused(tmp_path: Path) -> None:
    """Issue 14: the XDIS91 refers to an XBIN01 object that is not given; the stateless command has no pairing
    timer, so it refuses (the result would fail our own validator) and names the missing object."""
    sor = tmp_path / "sor.xml"
    sor.write_bytes(sor_xml([MEDCOM_TESTCENTER, ODENSE]))
    out = tmp_path / "out"
    letter = str(FLOWS / "XDIS91_medcom_flow1_to_fhir.xml")
    unrelated = str(FLOWS.parent.parent / "oioxml" / "samples" / "XBIN01_edifactconv_hello_world.xml")
    for given in ([letter], [letter, unrelated]):
        code, lines, err = run("--to", "carecommunication", "--sor", str(sor), "--out-dir", str(out), *given)
        assert code == 1 and lines == [], err
        assert "XDIS91 letter Brevt23400929 refers to object c39ea6b2605245e4a207415e0205ab6f" in err
        assert "XBIN01 that was not given" in err
        assert not out.exists() or not list(out.iterdir())


def test_convert_without_a_register_says_to_give_sor_in_one_short_line(tmp_path: Path) -> None:
    """Issue 12: `convert --to carecommunication` without --sor printed one 900-character line."""
    flows = FLOWS
    result = CliRunner().invoke(
        app,
        [
            "convert",
            "--to",
            "carecommunication",
            "--out-dir",
            str(tmp_path),
            str(flows / "XDIS91_medcom_flow1_to_fhir.xml"),
            str(flows / "XBIN01_medcom_flow1_to_fhir.xml"),
        ],
    )
    assert result.exit_code == 1
    first = result.output.strip().splitlines()[0]
    assert "give --sor FILE" in first and len(first) < 250
    assert all(len(line) < 400 for line in result.output.splitlines())
