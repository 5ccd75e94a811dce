"""EDIFACT through the command line: validate kinds, convert --to edifact / oioxml / xdis91 /
carecommunication, render a DIS91, and VANSEnvelopes with Format EDIFACT (architecture.md §3.1)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from medcom_bridge.cli import app
from medcom_bridge.documents import detect_kind, validate_document
from medcom_bridge.edifact import ENVELOPE_DOCUMENT, oioxml_twin, read_facts
from medcom_bridge.envelope.vans import unwrap, wrap
from medcom_bridge.oioxml.codec import serialize
from tests.convert.helpers import FLOWS, MEDCOM_TESTCENTER, ODENSE, sor_xml
from tests.edifact.test_pairs import EDIFACT, OIOXML

runner = CliRunner()
DIS91 = EDIFACT / "DIS91_2_edifactconv_pair.edi"


def convert(*args: str) -> tuple[int, list[dict[str, str]], str]:
    result = runner.invoke(app, ["convert", *args])
    return (
        result.exit_code,
        [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")],
        result.stderr,
    )


def test_validate_knows_the_edifact_kinds() -> None:
    result = runner.invoke(
        app, ["validate", "--json", *map(str, sorted(EDIFACT.glob("[BC]*.edi"))), str(DIS91)]
    )
    kinds = [json.loads(line)["kind"] for line in result.stdout.splitlines()]
    assert kinds == ["bin01", "bin01", "ctl01", "ctl02", "ctl03", "dis91"] and result.exit_code == 0


def test_validate_exit_codes_for_a_broken_interchange(tmp_path: Path) -> None:
    bad = tmp_path / "bad.edi"
    bad.write_bytes(DIS91.read_bytes().replace(b"UNT+29+", b"UNT+3+"))
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1 and "edifact-unt-count UNT/0074" in result.stdout


def test_convert_edifact_to_oioxml_and_back(tmp_path: Path) -> None:
    code, lines, err = convert("--to", "oioxml", "--out-dir", str(tmp_path / "x"), str(DIS91))
    assert code == 0, err
    assert [x["kind"] for x in lines] == ["xdis91"] and lines[0]["letter_id"] == "12152000000203"
    xdis91 = unwrap(Path(lines[0]["file"]).read_bytes()).message
    assert xdis91 is not None and detect_kind(xdis91.data) == "xdis91"
    source = tmp_path / "x.xml"
    source.write_bytes(xdis91.data)
    code, lines, err = convert("--to", "edifact", "--out-dir", str(tmp_path / "e"), str(source))
    assert code == 0, err
    envelope = unwrap(Path(lines[0]["file"]).read_bytes())
    assert envelope.message is not None
    document = envelope.message.meta.document
    assert (document.format, document.name, document.version) == ("EDIFACT", "MCM:DIS91", "D9134L")
    assert envelope.message.data == DIS91.read_bytes().replace(b"\n", b"")


def test_convert_to_xdis91_accepts_edifact(tmp_path: Path) -> None:
    code, lines, err = convert("--to", "xdis91", "--out-dir", str(tmp_path), str(DIS91))
    assert code == 0, err
    assert [x["kind"] for x in lines] == ["xdis91"]


def test_convert_refusal_names_the_limit(tmp_path: Path) -> None:
    code, lines, err = convert(
        "--to", "edifact", "--out-dir", str(tmp_path), str(OIOXML / "XDIS91_os2korr_formatted_text.xml")
    )
    assert code == 1 and lines == []
    assert "edifact-ftx-limit" in err and "at most 8" in err


def test_carecommunication_to_edifact_and_dis91_to_carecommunication(tmp_path: Path) -> None:
    code, lines, err = convert(
        "--to", "edifact", "--out-dir", str(tmp_path / "e"), str(FLOWS / "CareCommunication_medcom_flow3_to_OIOXML.xml")
    )  # fmt: skip
    assert code == 0, err
    assert [x["kind"] for x in lines] == ["dis91", "bin01"]
    payloads = []
    for line in lines:
        message = unwrap(Path(line["file"]).read_bytes()).message
        assert message is not None and validate_document(message.data).valid
        path = tmp_path / f"{line['kind']}.edi"
        path.write_bytes(message.data)
        payloads.append(str(path))
    dis91, bin01 = (read_facts(Path(p).read_bytes()) for p in payloads)
    assert dis91.referenced_objects == bin01.contained_objects
    sor = tmp_path / "sor.xml"
    sor.write_bytes(sor_xml([MEDCOM_TESTCENTER, ODENSE]))
    code, lines, err = convert(
        "--to", "carecommunication", "--sor", str(sor), "--out-dir", str(tmp_path / "f"), *payloads
    )
    assert code == 0, err
    assert [x["kind"] for x in lines] == ["carecommunication"]


def test_envelope_with_edifact_payload_validates_name_and_format() -> None:
    data = DIS91.read_bytes()
    facts = read_facts(data)
    wrapped = wrap(
        data,
        sender_ean="5790000121526",
        receiver_ean="5790000120314",
        envelope_id="3c7f1d7e-0a1b-4c2d-8e3f-1234567890ab",
        message_id="4c7f1d7e-0a1b-4c2d-8e3f-1234567890ab",
        sent=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
    report = validate_document(wrapped)
    assert report.valid, report.findings
    assert "payload: dis91 D9134L, valid" in report.findings[0].message
    assert ENVELOPE_DOCUMENT["ctl03"] == ("MCM:CTL03", "C0330Q") and facts.kind == "dis91"
    wrong = wrapped.replace(b"<Format>EDIFACT</Format>", b"<Format>XML</Format>")
    assert any(f.rule == "vans-document-format" for f in validate_document(wrong).findings)


def test_render_shows_a_dis91_like_its_xdis91(tmp_path: Path) -> None:
    result = runner.invoke(app, ["render", str(DIS91)])
    twin = tmp_path / "twin.xml"
    twin.write_bytes(serialize(oioxml_twin(DIS91.read_bytes())))
    assert result.exit_code == 0 and result.stdout == runner.invoke(app, ["render", str(twin)]).stdout
