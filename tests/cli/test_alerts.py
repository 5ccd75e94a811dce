"""`medcom-bridge alerts check`: evaluate once, notify, print the open incidents; documented exit codes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from typer.testing import CliRunner

from medcom_bridge.cli import app
from tests.hub.alerts.servers import free_port, webhook_server

MAILBOX = "5790000123456"


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(text)
    return path


def old_file(spool: Path, minutes: int) -> Path:
    out = spool / MAILBOX / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "letter.xml"
    path.write_bytes(b"<x/>")
    when = time.time() - minutes * 60
    os.utime(path, (when, when))
    return path


def test_check_opens_notifies_prints_and_resolves(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    waiting = old_file(spool, 20)
    runner = CliRunner()
    with webhook_server() as hook:
        config = write_config(
            tmp_path,
            f'[alerts]\n[alerts.rules]\nheartbeat = "15m"\n[[alerts.webhook]]\nurl = "{hook.url}"\n',
        )
        args = ["alerts", "check", "--spool", str(spool), "--config", str(config)]
        first = runner.invoke(app, [*args, "--json"])
        assert first.exit_code == 1, first.output
        [line] = [json.loads(x) for x in first.stdout.splitlines()]
        assert line["key"] == "heartbeat:files" and "20 min" in line["summary"]
        again = runner.invoke(app, args)
        assert again.exit_code == 1 and "heartbeat:files" in again.stdout
        assert "no changes; 0 notice(s) sent" in again.stderr
        waiting.unlink()
        done = runner.invoke(app, args)
        assert done.exit_code == 0 and done.stdout == "" and "resolved heartbeat:files" in done.stderr
    assert [b["event"] for _, b in hook.received] == ["opened", "resolved"]


def test_check_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    spool = tmp_path / "spool"
    spool.mkdir()
    no_alerts = write_config(tmp_path, '[retention]\npayloads = "13m"\n')
    result = runner.invoke(app, ["alerts", "check", "--spool", str(spool), "--config", str(no_alerts)])
    assert result.exit_code == 2 and "no [alerts] section" in result.stderr
    bad = write_config(tmp_path, "[alerts.rules]\nstuck = 'soon'\n")
    result = runner.invoke(app, ["alerts", "check", "--spool", str(spool), "--config", str(bad)])
    assert (
        result.exit_code == 2 and "alerts.rules.stuck" in result.stderr and "Traceback" not in result.output
    )
    result = runner.invoke(app, ["alerts", "check", "--config", str(bad)])
    assert result.exit_code == 2 and "exactly one of --spool DIR or --db URL" in result.stderr


def test_check_with_the_database_down_still_reports_it_and_exits_3(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[alerts]\n")
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"
    result = CliRunner().invoke(app, ["alerts", "check", "--db", url, "--config", str(config), "--json"])
    assert result.exit_code == 3, result.output
    assert [json.loads(x)["key"] for x in result.stdout.splitlines()] == ["database:hub"]
