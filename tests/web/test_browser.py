"""A real browser (Debian's Chromium through Playwright, no browser download) against `medcom-bridge serve`
with TLS: sign in with a token made by `medcom-bridge token create`, browse, sign out. Chromium is a test
requirement (README install step, CI): a missing one fails this test, it is never skipped."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import Page, sync_playwright

from medcom_bridge import demo
from medcom_bridge.directory import Party
from tests.web.conftest import (
    EDI,
    FHIR_SENDER,
    MASKED_TEXT,
    OIOXML_RECEIVER,
    REFUSE_CODE,
    SOR,
    envelope,
    refusals,
)
from tests.web.test_serve import REPO, cli_token, free_port, stop_gracefully, wait_for

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
    yield from serve(tmp_path, SOR)


def serve(tmp_path: Path, sor: Path) -> Iterator[tuple[str, str]]:
    """Run `serve` over `tmp_path/spool` with the register `sor` until the caller is done."""
    edi = tmp_path / "edi.csv"
    edi.write_text(EDI)
    spool = tmp_path / "spool"
    token = cli_token(spool, "operator")
    certfile, keyfile = self_signed(tmp_path)
    port = free_port()
    command = [sys.executable, "-m", "medcom_bridge", "serve", "--spool", str(spool), "--sor", str(sor)]
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
        text = stop_gracefully(process)
    assert "Traceback" not in text


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


# -- the operator's walk (issue 12) ----------------------------------------------------------------------------
SENDER_NAME = "Kommune FHIR Testcenter"
RECEIVER_NAME = "Sygehus OIOXML Afdeling"
CPR = "2512489996"  # the patient of MedCom's flow 3


@pytest.fixture
def operations(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """`serve` with a register that names flow 3's parties; base URL, operator token, spool folder."""
    sor = tmp_path / "named-sor.xml"
    sor.write_bytes(
        demo.sor_xml(
            [
                Party(FHIR_SENDER, "359001000016000", SENDER_NAME, "65432030"),
                Party(OIOXML_RECEIVER, "328051000016008", RECEIVER_NAME, "66131372"),
            ]
        )
    )
    for base, token in serve(tmp_path, sor):
        yield base, token, tmp_path / "spool"


def refused_letter(base: str, token: str, spool: Path) -> str:
    """A letter POSTed, delivered as XDIS91 + XBIN01, and refused by the receiver's system: one XCTL02 each,
    dropped in its out/ folder for the running hub. Returns the flow id once its outcome is negative."""
    auth = {"Authorization": f"Bearer {token}"}
    posted = httpx.post(
        f"{base}/envelopes",
        content=envelope(),
        headers={"content-type": "application/xml", **auth},
        verify=False,
    )
    assert posted.status_code == 202, posted.text
    flow_id: str = posted.json()["flow_id"]
    inbox = spool / OIOXML_RECEIVER / "in"
    wait_for(lambda: inbox.is_dir() and len(list(inbox.glob("*.xml"))) == 2)
    for n, answer in enumerate(refusals(spool)):
        demo.drop(spool, OIOXML_RECEIVER, f"xctl02-{n}", answer)

    def refused() -> bool:  # both XCTL02 taken (out/ empty) and the outcome negative
        if list((spool / OIOXML_RECEIVER / "out").glob("*.xml")):
            return False
        flow = httpx.get(f"{base}/flows/{flow_id}", headers=auth, verify=False).json()
        return bool(flow["receipt"]["outcome"] == "negative")

    wait_for(refused)
    return flow_id


def sign_in(page: Page, base: str, token: str) -> None:
    page.goto(f"{base}/ui")
    page.fill("input[name=token]", token)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == f"{base}/ui", page.url


def screenshot_folder(tmp_path: Path) -> Path:
    """`MEDCOM_BRIDGE_SCREENSHOTS` (e.g. docs/images, for the README) or the test's own folder."""
    folder = Path(os.environ.get("MEDCOM_BRIDGE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def see_overview(page: Page, shots: Path) -> None:
    """The overview: whose problem is it? A receiver's refusal counts on the receiver's side, in local time."""
    content = page.content()
    assert "Copenhagen time" in content
    page.screenshot(path=str(shots / "overview.png"), full_page=True)


def open_negative_flow(page: Page, base: str, flow_id: str) -> None:
    """From the overview's receiver count to the flow list, then the flow: its receipt is negative, with the
    receiver's refuse code and text, and the parties by name."""
    page.click("a.n[href*='failure=receiver']")
    page.wait_for_url(re.compile(r".*/ui/flows\?failure=receiver.*"))
    row = page.locator("tr", has=page.locator(f"a[href='/ui/flows/{flow_id}']"))
    assert "negative" in row.inner_text() and REFUSE_CODE in row.inner_text()
    assert SENDER_NAME in row.inner_text() and RECEIVER_NAME in row.inner_text()
    page.click(f"a[href='/ui/flows/{flow_id}']")
    page.wait_for_url(f"{base}/ui/flows/{flow_id}")
    status = page.locator("p.status").inner_text()
    assert "completed" in status and "negative" in status and REFUSE_CODE in status
    assert page.locator("p.status .state").get_attribute("class") == "state state-negative"  # not green
    said = page.locator(".said").all_inner_texts()
    assert len(said) == 2 and all(RECEIVER_NAME in s for s in said)  # both XCTL02, from whom
    assert MASKED_TEXT in page.content().replace("&#39;", "'") and CPR not in page.content()
    assert "Copenhagen time" in page.content()


def read_letter_and_go_back(page: Page, base: str, flow_id: str) -> None:
    """The letter as sent, with its CPR number masked and a way back to the flow."""
    page.click("text=show letter")
    page.wait_for_url(re.compile(rf".*/ui/flows/{flow_id}/messages/.*/render"))
    content = page.content()
    assert CPR not in content and "CPR 25xxxxxxxx" in content
    assert " UTC" not in content
    page.click("text=back to flow")
    page.wait_for_url(f"{base}/ui/flows/{flow_id}")


def see_monthly_chart(page: Page, base: str, flow_id: str, shots: Path) -> None:
    """Statistics: the receiver's refusal counted by its own refuse code, the parties by name, a 13-month chart
    with its numbers beside it; the count leads to exactly the refused flow."""
    page.goto(f"{base}/ui/stats")
    table = page.locator("h2:has-text('Negative receipts from receivers') + table")
    assert REFUSE_CODE in table.inner_text() and RECEIVER_NAME in table.inner_text()
    chart = page.locator("#monthly-chart")
    assert chart.locator("svg").count() >= 4 and chart.locator("svg a").count() >= 13
    assert chart.locator("table.trend").count() == chart.locator("svg").count()  # numbers beside each chart
    chart.screenshot(path=str(shots / "monthly-chart.png"))
    with page.expect_navigation():
        table.locator("a.n").first.click()
    assert "figure=receiver_negative" in page.url
    assert page.locator(f"a[href='/ui/flows/{flow_id}']").count() == 1


def reprocess_quarantined_file(page: Page, base: str, spool: Path) -> None:
    """A letter caught half-written lands in quarantine; once the complete file is put in its place, the
    operator reprocesses it from the overview: one click makes one new flow, with its lineage."""
    whole = envelope(envelope_id=str(uuid.uuid4()))
    demo.drop(spool, FHIR_SENDER, "half-written", whole[: len(whole) // 2])
    quarantine = spool / "quarantine"

    def quarantined() -> list[Path]:
        return [f for f in quarantine.glob("*") if f.is_file() and not f.name.endswith(".reason.txt")]

    wait_for(lambda: quarantine.is_dir() and len(quarantined()) == 1)
    [held] = quarantined()
    held.write_bytes(whole)  # the operator fetched the complete file from the sender
    page.goto(f"{base}/ui")
    form = page.locator(f"form[action='/ui/quarantine/{held.name}/reprocess']")
    with page.expect_navigation():
        form.locator("button").click()
    assert re.fullmatch(rf"{re.escape(base)}/ui/flows/[0-9a-f-]+", page.url), page.url
    lineage = page.locator("p.muted", has_text="Reprocess of").inner_text()
    assert f"quarantined file {held.name}" in lineage and "new envelope id" in lineage
    page.goto(f"{base}/ui")
    assert page.locator(f"form[action='/ui/quarantine/{held.name}/reprocess']").count() == 0  # done, once


def test_operator_walk(operations: tuple[str, str, Path], tmp_path: Path) -> None:
    """Issue 12's walk: overview -> a flow with a negative receipt -> its letter -> back -> statistics with
    a chart -> reprocess of a quarantined file. Screenshots (overview, monthly chart) go to
    `MEDCOM_BRIDGE_SCREENSHOTS` when set (the README's images are made so)."""
    assert CHROMIUM.exists(), "install Debian's chromium (README, step 1): this test needs a real browser"
    base, token, spool = operations
    flow_id = refused_letter(base, token, spool)
    shots = screenshot_folder(tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_context(ignore_https_errors=True).new_page()
            page.set_default_timeout(60_000)  # a loaded CI machine, not a slow page: no timing is asserted
            sign_in(page, base, token)
            see_overview(page, shots)
            open_negative_flow(page, base, flow_id)
            read_letter_and_go_back(page, base, flow_id)
            see_monthly_chart(page, base, flow_id, shots)
            reprocess_quarantined_file(page, base, spool)
        finally:
            browser.close()
    assert (shots / "overview.png").stat().st_size > 0
    assert (shots / "monthly-chart.png").stat().st_size > 0
