"""Progress bars: drawn on stderr when it is a terminal, never into piped output or `--json` on stdout."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from medcom_bridge import demo
from medcom_bridge.cli import app
from medcom_bridge.cli.hub import LARGE_SPOOL
from medcom_bridge.cli.progress import bar

REPO = Path(__file__).resolve().parents[2]


def test_a_bar_draws_on_a_terminal_console_and_stays_silent_elsewhere() -> None:
    screen = io.StringIO()
    with bar("spool files taken", 3, console=Console(file=screen, force_terminal=True, width=100)) as shown:
        assert shown.shown
        shown.advance(2)
        shown.stage("checking rules", total=5)
        shown.advance()
    assert "spool files taken" in screen.getvalue() or "checking rules" in screen.getvalue()
    with bar("not shown", 3) as silent:  # pytest's stderr is no terminal
        assert not silent.shown
        silent.advance()
        silent.stage("nothing")


def _large_spool(tmp_path: Path) -> demo.DemoFiles:
    files = demo.build(tmp_path / "d")
    for i in range(LARGE_SPOOL + 5):  # unreadable input: quickly quarantined, still one file taken each
        demo.drop(files.spool, demo.MUNICIPALITY.ean, f"junk-{i}", f"not a message {i}".encode())
    return files


def on_a_terminal(*args: str) -> tuple[subprocess.CompletedProcess[bytes], bytes]:
    """`medcom-bridge ARGS` with stderr on a pseudo-terminal (stdout a pipe); the run and the screen."""
    command = [sys.executable, "-m", "medcom_bridge", *args]
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=follower, timeout=300, check=False
        )
    finally:
        os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other end is closed: everything was read
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    return done, screen


def test_process_of_a_large_spool_shows_files_taken_on_a_terminal_only(tmp_path: Path) -> None:
    files = _large_spool(tmp_path)
    done, screen = on_a_terminal(
        "process", "--spool", str(files.spool), "--sor", str(files.sor), "--edi", str(files.edi), "--json"
    )
    assert done.returncode == 0, screen.decode(errors="replace")
    assert b"spool files taken" in screen and f"/{LARGE_SPOOL + 6}".encode() in screen
    summary = json.loads(done.stdout)  # stdout is the one JSON object, nothing else
    assert summary["taken"] + summary["quarantined"] + summary["already_taken"] >= LARGE_SPOOL


def test_piped_stderr_carries_no_bar(tmp_path: Path) -> None:
    files = _large_spool(tmp_path)
    args = ["process", "--spool", str(files.spool), "--sor", str(files.sor), "--edi", str(files.edi)]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    assert "spool files taken" not in result.stderr and "\x1b[" not in result.stderr


def test_sor_report_shows_its_stages_on_a_terminal_and_keeps_json_on_stdout(tmp_path: Path) -> None:
    files = demo.build(tmp_path)
    done, screen = on_a_terminal("sor", "report", "--sor", str(files.sor), "--edi", str(files.edi), "--json")
    assert done.returncode == 0, screen.decode(errors="replace")
    assert b"reading the SOR export" in screen or b"checking rules" in screen
    assert b"SOR-EDI quality report: 2 SOR units" in screen  # the summary line stays after the bar
    assert set(json.loads(done.stdout)) == {"generated", "counts", "findings"}
