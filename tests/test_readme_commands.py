"""Every `medcom-bridge validate/render/convert/sor` command shown in README.md, run as written, exits 0 (issue 14).

Run in a scratch folder beside a link to the reference data (so `../shared/data` resolves as in a checkout);
`/tmp/medcom-demo` is the demo's register, written by the demo's own builder into the scratch folder (the
demo itself, `process`, `serve` and `flow show` are hub commands, tested with the hub)."""

from __future__ import annotations

import glob
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medcom_bridge import demo
from medcom_bridge.cli import app
from tests.conftest import REPO, SHARED

PROGRAM = ".venv/bin/medcom-bridge "
CHECKED = ("validate", "render", "convert", "sor")


def readme_commands() -> list[str]:
    """The commands of README's shell blocks, in order (each block line that starts with the program)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(PROGRAM) and line.split()[1] in CHECKED]


COMMANDS = readme_commands()


def test_the_readme_shows_each_command() -> None:
    assert {c.split()[1] for c in COMMANDS} == set(CHECKED)
    assert any("validate --json out/" in c for c in COMMANDS)  # the envelopes convert wrote


def _argv(command: str, demo_root: Path) -> list[str]:
    words = shlex.split(command.replace("/tmp/medcom-demo", str(demo_root)))[1:]
    argv: list[str] = []
    for word in words:  # the shell's globbing, relative to the current folder
        matches = sorted(glob.glob(word)) if any(c in word for c in "*?[") else [word]
        assert matches, f"{word!r} matches no file"
        argv += matches
    return argv


def test_readme_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "checkout"
    work.mkdir()
    (tmp_path / "shared").symlink_to(SHARED)
    demo_root = tmp_path / "medcom-demo"
    demo.build(demo_root)
    monkeypatch.chdir(work)
    runner = CliRunner()
    for command in COMMANDS:
        result = runner.invoke(app, _argv(command, demo_root))
        assert result.exit_code == 0, f"{command}\n{result.output[-2000:]}"
    assert (work / "thread.html").stat().st_size > 0 and (work / "sor-report.html").stat().st_size > 0
    # XDIS91 + XBIN01, CareCommunication, and the EDIFACT examples: a DIS91 and an XDIS91 twin
    assert len(list((work / "out").iterdir())) == 5


@pytest.mark.parametrize("command", ["validate", "render", "convert"])
def test_help_states_the_contract_exit_codes(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())
    assert result.exit_code == 0
    assert re.search(r"[eE]xit 0 .*, 1 .*, 2 usage error", text), text
