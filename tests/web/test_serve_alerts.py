"""`serve --config` with `[alerts]`: the alert thread runs beside the hub loop and notifies a real webhook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.hub.alerts.servers import webhook_server
from tests.web.conftest import SOR
from tests.web.test_serve import REPO, free_port, stop_gracefully, wait_for

MAILBOX = "5790000123456"


def test_serve_opens_an_incident_when_quarantine_grows(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with webhook_server() as hook:
        config = tmp_path / "hub.toml"
        config.write_text(
            '[alerts]\ninterval = "1s"\n'
            "[alerts.rules]\nquarantine_growth = { above = 0 }\n"
            f'[[alerts.webhook]]\nurl = "{hook.url}"\n'
        )
        command = [sys.executable, "-m", "medcom_bridge", "serve", "--spool", str(spool), "--sor", str(SOR)]
        command += ["--port", str(free_port()), "--config", str(config)]
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            out = spool / MAILBOX / "out"
            out.mkdir(parents=True)
            (out / "garbage.xml").write_bytes(b"not xml at all")
            wait_for(lambda: hook.received, timeout=60)
        finally:
            text = stop_gracefully(process)
    assert process.returncode == 0, text
    [(_, body)] = hook.received
    assert body["event"] == "opened" and body["key"] == "quarantine_growth:quarantine"
    assert "incident opened quarantine_growth:quarantine" in text and "Traceback" not in text
