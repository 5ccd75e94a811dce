"""A real browser (Debian's Chromium through Playwright, no browser download) against `medcom-bridge serve`
with TLS: sign in with a token made by `medcom-bridge token create`, browse, sign out. Chromium is a test
requirement (README install step, CI): a missing one fails this test, it is never skipped."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import sync_playwright

from tests.web.conftest import EDI, SOR, envelope
from tests.web.test_serve import REPO, cli_token, free_port, wait_for

CHROMIUM = Path("/usr/bin/chromium")


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return certfile, keyfile


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`serve` with --certfile/--keyfile on a free port; its base URL and an operator token."""
    edi = tmp_path / "edi.csv"
    edi.write_text(EDI)
    spool = tmp_path / "spool"
    token = cli_token(spool, "operator")
    certfile, keyfile = self_signed(tmp_path)
    port = free_port()
    command = [sys.executable, "-m", "medcom_bridge", "serve", "--spool", str(spool), "--sor", str(SOR)]
    command += [
        "--edi",
        str(edi),
        "--port",
        str(port),
        "--certfile",
        str(certfile),
        "--keyfile",
        str(keyfile),
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"https://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/health", verify=False).json()["loop"]["running"])
        yield base, token
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert "Traceback" not in output.decode("utf-8", "replace")


def test_sign_in_browse_sign_out(served: tuple[str, str]) -> None:
    assert CHROMIUM.exists(), "install Debian's chromium (README, step 1): this test needs a real browser"
    base, token = served
    health = httpx.get(f"{base}/health", verify=False)
    assert health.headers["strict-transport-security"].startswith("max-age=")  # TLS on: HSTS on
    posted = httpx.post(
        f"{base}/envelopes",
        content=envelope(),
        headers={"content-type": "application/xml", "Authorization": f"Bearer {token}"},
        verify=False,
    )
    assert posted.status_code == 202, posted.text
    flow_id = posted.json()["flow_id"]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = browser.new_context(ignore_https_errors=True)
            page = context.new_page()
            answer = page.goto(f"{base}/ui")
            assert answer is not None and answer.status == 401  # the login form, not the overview
            page.fill("input[name=token]", token)
            with page.expect_navigation():
                page.click("button[type=submit]")
            assert page.url == f"{base}/ui", (page.url, page.content()[-1500:])
            assert "Sign out" in page.content() and "operator" in page.content()
            cookie = next(c for c in context.cookies() if c["name"] == "mcb_session")
            assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"

            page.click("nav >> text=Flows")
            page.wait_for_url(f"{base}/ui/flows")
            page.goto(f"{base}/ui/flows/{flow_id}")
            assert flow_id in page.content()

            page.click("text=Sign out")
            page.wait_for_url(f"{base}/login")
            assert not any(c["name"] == "mcb_session" for c in context.cookies())
            again = page.goto(f"{base}/ui/flows/{flow_id}")
            assert again is not None and again.status == 401 and flow_id not in page.content()
        finally:
            browser.close()
