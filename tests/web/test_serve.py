"""`medcom-bridge serve` as a real process on a free localhost port: start, take a POSTed envelope, run the
hub loop (conversion and delivery without any further request), answer for the flow, stop cleanly on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.web.conftest import EDI, OIOXML_RECEIVER, SOR, envelope

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_token(spool: Path, role: str = "admin", *orgs: str) -> str:
    """A token made the way the README says: `medcom-bridge token create ... --spool SPOOL` (last line)."""
    spool.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "medcom_bridge",
        "token",
        "create",
        "--name",
        f"test-{role}",
        "--role",
        role,
    ]
    command += [arg for org in orgs for arg in ("--org", org)] + ["--spool", str(spool)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip().splitlines()[-1]


def stop_gracefully(process: subprocess.Popen[bytes], timeout: float = 30) -> str:
    """SIGTERM, then the process's whole output; a process that does not stop in time is killed and fails."""
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"still running {timeout} s after SIGTERM: {output.decode()[-2000:]}") from None
    return output.decode("utf-8", "replace")


def wait_for(check: object, timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()  # type: ignore[operator]
        except httpx.TransportError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s")


def test_serve_takes_an_envelope_delivers_it_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    edi = tmp_path / "edi.csv"
    edi.write_text(EDI)
    spool = tmp_path / "spool"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {cli_token(spool)}"}
    command = [sys.executable, "-m", "medcom_bridge", "serve", "--spool", str(spool), "--sor", str(SOR)]
    command += ["--edi", str(edi), "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: httpx.get(f"{base}/health").json()["loop"]["running"])
        assert httpx.get(f"{base}/flows").status_code == 401
        # uvicorn's access line quotes the query string: masked like every other log line
        assert httpx.get(f"{base}/flows", params={"letter_id": "2512489996"}).status_code == 401
        posted = httpx.post(
            f"{base}/envelopes", content=envelope(), headers={"content-type": "application/xml", **auth}
        )
        assert posted.status_code == 202, posted.text
        flow_id = posted.json()["flow_id"]
        # No further request: the loop converts and delivers by itself.
        flow = wait_for(
            lambda: (
                (f := httpx.get(f"{base}/flows/{flow_id}", headers=auth).json())["state"]
                == "awaiting_receipts"
                and f
            )
        )
        assert flow["route"] == "fhir_to_oioxml"  # type: ignore[index]
        assert len(list((spool / OIOXML_RECEIVER / "in").glob("*.xml"))) == 2
        assert httpx.get(f"{base}/ui", headers=auth).status_code == 200
        assert httpx.get(f"{base}/ui").status_code == 401
    finally:
        text = stop_gracefully(process)
    assert process.returncode == 0, text
    assert "stopping the hub loop" in text
    assert "Traceback" not in text
    assert "2512489996" not in text  # the patient's CPR never reaches the log


def test_serve_with_an_unreadable_register_exits_2(tmp_path: Path) -> None:
    sor = tmp_path / "sor.xml"
    sor.write_text("<notsor/>")
    result = subprocess.run(
        [sys.executable, "-m", "medcom_bridge", "serve", "--spool", str(tmp_path), "--sor", str(sor)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot load the register" in result.stderr and "Traceback" not in result.stderr


def test_serve_on_a_busy_port_fails_with_one_line_before_announcing_anything(tmp_path: Path) -> None:
    """Issue 12: it printed the page URL, then a uvicorn error; now one line and exit 2, nothing on stdout."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        command = [sys.executable, "-m", "medcom_bridge", "serve", "--spool", str(tmp_path / "spool")]
        command += ["--sor", str(SOR), "--port", str(port)]
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""  # no "pages http://..." for a server that never ran
    assert result.stderr.splitlines() == [
        f"port {port} on 127.0.0.1 is in use by another program (another serve?); stop it or give --port"
    ]
    assert not (tmp_path / "spool").exists()  # refused before the hub (and its database) was made
