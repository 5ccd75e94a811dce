"""`medcom-bridge sor report`: one summary line when it worked, one clear line when the register is unusable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medcom_bridge.cli import app
from medcom_bridge.cli.sor import counted_noun
from tests.registry.conftest import EER_BUNDLE, PRAKSIS

runner = CliRunner()


def test_writing_the_report_ends_with_a_summary_line(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = runner.invoke(
        app, ["sor", "report", "--sor", str(PRAKSIS), "--eer", str(EER_BUNDLE), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and out.stat().st_size > 0
    [line] = result.stderr.splitlines()
    assert line.startswith(f"wrote {out}: ") and "SOR unit" in line and "finding" in line


def test_json_stays_alone_on_stdout(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sor", "report", "--sor", str(PRAKSIS), "--json"])
    assert result.exit_code == 0
    json.loads(result.stdout)
    assert result.stderr.startswith("SOR-EDI quality report: ")


@pytest.mark.parametrize("content", [b"", b"{}", b"<Other/>", b"<SorTree xmlns='urn:x'/>"])
def test_an_unusable_sor_file_is_one_line_that_says_what_was_expected_once(
    tmp_path: Path, content: bytes
) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(content)
    result = runner.invoke(app, ["sor", "report", "--sor", str(empty)])
    assert result.exit_code == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(str(empty)) and line.count("SorTree") == 1, line  # said once


def test_an_empty_eer_file_says_it_is_empty(tmp_path: Path) -> None:
    empty = tmp_path / "eer.json"
    empty.write_bytes(b"")
    result = runner.invoke(app, ["sor", "report", "--sor", str(PRAKSIS), "--eer", str(empty)])
    assert result.exit_code == 2 and "the file is empty" in result.stderr


def test_counted_nouns() -> None:
    assert counted_noun(1, "finding") == "1 finding"
    assert counted_noun(1234, "SOR unit") == "1,234 SOR units"
    assert counted_noun(2, "information") == "2 information"
