"""Every command in README.md's `sh` blocks runs as written and succeeds (issues 14 and 12).

The blocks run in README order in a scratch folder beside a link to the reference data (so `../shared/data`
resolves as in a checkout); `/tmp/medcom-demo` becomes a scratch folder. `medcom-bridge` lines run in-process
(CliRunner); the service block (a token, `serve` in the background, `curl`) runs in bash as written, on a free
port instead of 8000. Blocks fenced `shell` are templates with placeholders (a password, /srv paths) and are
only checked to be marked as such. The set-up and test-suite blocks are not run here.
"""

from __future__ import annotations

import glob
import json
import re
import shlex
import socket
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medcom_bridge.cli import app
from tests.conftest import REPO, SHARED

PROGRAM = ".venv/bin/medcom-bridge "
SET_UP = ("apt-get ", "python3 -m venv ", ".venv/bin/python -m pytest")
README = (REPO / "README.md").read_text(encoding="utf-8")


def blocks(fence: str) -> list[list[str]]:
    """The lines of README's blocks fenced with `fence`, comments and blank lines left out."""
    found = re.findall(rf"```{fence}\n(.*?)```", README, flags=re.DOTALL)
    return [
        [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
        for block in found
    ]


RUNNABLE = [b for b in blocks("sh") if not all(line.startswith(SET_UP) for line in b)]


def is_service(block: list[str]) -> bool:
    return any(line.startswith(("TOKEN=", "curl ")) or " serve " in f" {line} " for line in block)


def test_the_readme_shows_each_command() -> None:
    commands = {line.split()[1] for b in RUNNABLE for line in b if line.startswith(PROGRAM)}
    assert {"validate", "render", "convert", "sor", "demo", "process", "flow", "token", "prune"} <= commands
    flows = [line for b in RUNNABLE for line in b if line.startswith(PROGRAM + "flow ")]
    assert {line.split()[2] for line in flows} == {"list", "show"}
    assert any("validate --json out/" in line for b in RUNNABLE for line in b)  # the envelopes convert wrote
    assert sum(1 for b in RUNNABLE if is_service(b)) == 1
    # every other line of a runnable block is a medcom-bridge command: nothing is left unchecked
    assert all(line.startswith(PROGRAM) for b in RUNNABLE if not is_service(b) for line in b)


def test_template_blocks_are_marked_as_templates() -> None:
    templates = blocks("shell")
    assert templates and all(any("SECRET" in line for line in b) for b in templates)


def _argv(command: str, demo_root: Path) -> list[str]:
    words = shlex.split(command.replace("/tmp/medcom-demo", str(demo_root)))[1:]
    argv: list[str] = []
    for word in words:  # the shell's globbing, relative to the current folder
        matches = sorted(glob.glob(word)) if any(c in word for c in "*?[") else [word]
        assert matches, f"{word!r} matches no file"
        argv += matches
    return argv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_service_block(block: list[str], demo_root: Path, work: Path) -> tuple[str, str]:
    """The block in bash, as written, with the scratch demo folder and a free port; stdout and stderr."""
    port = free_port()
    script = "\n".join(block)
    script = script.replace("/tmp/medcom-demo", str(demo_root)).replace(".venv/bin/", f"{REPO}/.venv/bin/")
    script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace(
        " serve ", f" serve --port {port} "
    )
    # whatever happens, the background serve ends with the script
    script = "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\nset -e\n" + script + "\nwait || true\n"
    done = subprocess.run(
        ["bash", "-c", script], cwd=work, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, done.stderr


def test_readme_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "checkout"
    work.mkdir()
    (tmp_path / "shared").symlink_to(SHARED)
    demo_root = tmp_path / "medcom-demo"
    monkeypatch.chdir(work)
    runner = CliRunner()
    outputs: dict[str, str] = {}
    for block in RUNNABLE:
        if is_service(block):
            outputs["service"], outputs["service log"] = run_service_block(block, demo_root, work)
            continue
        for command in block:
            result = runner.invoke(app, _argv(command, demo_root))
            assert result.exit_code == 0, f"{command}\n{result.output[-2000:]}"
            outputs[" ".join(command.split()[1:3])] = result.output
    assert "municipality received  acknowledgement" in outputs["demo /tmp/medcom-demo"]
    assert "closed" in outputs["flow list"] and "receipt_aggregated" in outputs["flow show"]
    answers = [line for line in outputs["service"].splitlines() if line.startswith("{")]  # serve says hello
    posted, flows, audit = (json.loads(line) for line in answers)
    assert posted["outcome"] == "accepted" and posted["flow_id"]  # the sample envelope was taken (202)
    assert posted["flow_id"] in {f["id"] for f in flows["flows"]} and audit
    log = outputs["service log"]
    assert "alembic" not in log and "Traceback" not in log  # issue 12: no migration chatter at start
    assert (work / "thread.html").stat().st_size > 0 and (work / "sor-report.html").stat().st_size > 0
    # XDIS91 + XBIN01, CareCommunication, and the EDIFACT examples: a DIS91 and an XDIS91 twin
    assert len(list((work / "out").iterdir())) == 5


@pytest.mark.parametrize("command", ["validate", "render", "convert"])
def test_help_states_the_contract_exit_codes(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())
    assert result.exit_code == 0
    assert re.search(r"[eE]xit 0 .*, 1 .*, 2 usage error", text), text
