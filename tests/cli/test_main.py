"""The top-level commands' summary lines (issue 12): what was written, to stderr, stdout untouched."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from medcom_bridge.cli import app
from tests.conftest import SHARED

THREAD = SHARED / "data/fhir/examples/send-v5/Bundle-S-E-forward-77c771ca-05d6-4efb-9a74-2fc513787f3a.json"


def test_render_to_a_file_says_what_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "thread.html"
    result = CliRunner().invoke(app, ["render", str(THREAD), "-o", str(out)])
    assert result.exit_code == 0 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"wrote {out}: {THREAD.name} (carecommunication), ") and line.endswith(
        "bytes of HTML"
    )
    assert f"{out.stat().st_size:,} bytes" in line


def test_render_to_stdout_keeps_stdout_the_page() -> None:
    result = CliRunner().invoke(app, ["render", str(THREAD)])
    assert result.exit_code == 0 and result.stdout.startswith("<!DOCTYPE html>")
    assert result.stderr.startswith("rendered: ")
