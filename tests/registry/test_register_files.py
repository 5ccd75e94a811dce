"""Issue 14: a register file that is not CSV text gets one line naming the file, the line and what is expected,
and exit 2 — from every command that reads it (sor report, convert, process); never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from medcom_bridge.cli import app
from medcom_bridge.registry.eer import read_eer
from medcom_bridge.registry.model import RegisterInputError
from medcom_bridge.registry.sor_edi import read_sor_edi_csv
from tests.convert.helpers import FLOWS, MEDCOM_TESTCENTER, ODENSE, sor_xml

runner = CliRunner()
STRAY_CR = b"ean,type,direction\n5790000121441,FDIS91,receive\n5790001382445,XDIS91\r,both\n"
# A few bytes of a PNG: what lands in --edi when the wrong file is picked.
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"


@pytest.mark.parametrize(
    ("data", "line", "expected"),
    [(STRAY_CR, 3, "stray carriage return"), (BINARY, 2, "binary file, not a CSV")],
)
def test_readers_name_line_and_expectation(data: bytes, line: int, expected: str) -> None:
    with pytest.raises(RegisterInputError) as edi:
        read_sor_edi_csv(data)
    assert edi.value.line == line and expected in edi.value.message
    assert "'ean,type,direction'" in edi.value.message
    eer_data = data.replace(b"ean,type,direction", b"gln,payload_types,status")
    with pytest.raises(RegisterInputError) as eer:
        read_eer(eer_data)
    assert eer.value.line == line and expected in eer.value.message


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "sor": tmp_path / "sor.xml",
        "stray": tmp_path / "stray-cr.csv",
        "binary": tmp_path / "picture.csv",
        "spool": tmp_path / "spool",
    }
    paths["sor"].write_bytes(sor_xml([MEDCOM_TESTCENTER, ODENSE]))
    paths["stray"].write_bytes(STRAY_CR)
    paths["binary"].write_bytes(BINARY)
    return paths


@pytest.mark.parametrize(("which", "line"), [("stray", 3), ("binary", 2)])
@pytest.mark.parametrize("command", ["sor report", "convert", "process"])
def test_commands_print_one_line_and_exit_2(
    files: dict[str, Path], tmp_path: Path, command: str, which: str, line: int
) -> None:
    edi = files[which]
    register = ["--sor", str(files["sor"]), "--edi", str(edi)]
    args = {
        "sor report": ["sor", "report", *register, "--json"],
        "convert": [
            "convert", "--to", "xdis91", *register, "--out-dir", str(tmp_path / "out"),
            str(FLOWS / "CareCommunication_medcom_flow3_to_OIOXML.xml"),
        ],
        "process": ["process", "--spool", str(files["spool"]), *register],
    }[command]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    (message,) = result.stderr.splitlines()
    assert f"{edi}: line {line}: " in message and "expected" in message
    assert "store" not in message and "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
