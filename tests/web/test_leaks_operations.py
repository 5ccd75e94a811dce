"""Planted patient data never reaches issue 12's operator surfaces: `/metrics`, the probes, alert notices (a
real webhook server and aiosmtpd), stored incidents, `GET /incidents`, the overview, `alerts check --json`,
the statistics (page, JSON, CSV), receipt outcomes in every flow list (API, pages, `flow list` plain and
--json, the flow page's timeline), reprocess answers, their audit entries and lineage rows, and the logs.

The planted data: MedCom's flow-3 letter itself (its patient Nancy Ann Berggren, CPR 251248-9996, its text),
a receiver's refusal that quotes that patient's name and CPR number (receivers write free text), and a
sender's file named after a CPR number with garbage that names a patient (`tests.test_privacy_leaks`).
Runs on SQLite and PostgreSQL (the `hub` fixture)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from medcom_bridge.cli import app as cli
from medcom_bridge.hub import schema as t
from medcom_bridge.hub.adapters import RegisterRouter
from medcom_bridge.hub.alerts.config import (
    AlertConfig,
    NegativeRate,
    QuarantineGrowth,
    Rules,
    Smtp,
    Webhook,
)
from medcom_bridge.hub.alerts.delivery import send
from medcom_bridge.hub.alerts.notice import Notice
from medcom_bridge.hub.alerts.watch import Alerter
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.metrics import HubMetrics
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.service import HubService
from medcom_bridge.shell.register import load_register
from medcom_bridge.web import create_app
from tests.hub.alerts.servers import smtp_server, webhook_server
from tests.test_privacy_leaks import CPR, CPR_DASHED
from tests.web.conftest import (
    EDI,
    FHIR_SENDER,
    PG_URL,
    SOR,
    UNKNOWN_RECEIVER,
    admin_client,
    api_client,
    envelope,
    letter,
    refusals,
    token_for,
)
from tests.web.test_leaks import GARBAGE, SECRETS, stored_text
from tests.web.test_reprocess import BROKEN_EDI
from tests.web.test_serve import REPO, cli_token, free_port, stop_gracefully, wait_for

# Flow 3's patient and a phrase of its letter text; with the planted values of tests.test_privacy_leaks.
PATIENT_CPR = "2512489996"
PATIENT_CPR_DASHED = "251248-9996"
PATIENT_GIVEN = "Nancy"
PATIENT_SURNAME = "Berggren"
LETTER_TEXT = "Afdeling A har modtaget en henvisning"
PLANTED = (PATIENT_CPR, PATIENT_CPR_DASHED, PATIENT_GIVEN, PATIENT_SURNAME, LETTER_TEXT, *SECRETS)

# What the receiver wrote: its patient by name and CPR number, and why it refused.
REFUSE_TEXT = f"Brev om {PATIENT_GIVEN} Ann {PATIENT_SURNAME} ({PATIENT_CPR_DASHED}) kunne ikke læses"
# A sender's file named after a CPR number (a file name is whatever the sender chose).
CPR_FILE = f"brev-{CPR_DASHED}.xml"
CPR_FILE_2 = f"{CPR}.xml"


def found_in(where: str, text: str) -> list[str]:
    return [f"{where}: {value!r}" for value in PLANTED if value in text]


def db_url(hub: Hub, request: pytest.FixtureRequest) -> str:
    if hub.store.engine.dialect.name == "sqlite":
        return str(hub.store.engine.url)
    return f"{PG_URL}?options=-csearch_path%3D{request.getfixturevalue('pg_schema')}"


def quick(config: AlertConfig, channel: str, notice: Notice) -> str | None:
    return send(config, channel, notice, sleep=lambda _s: None)


def post(client: TestClient, body: bytes) -> dict[str, str]:
    answer = client.post("/envelopes", content=body, headers={"content-type": "application/xml"})
    assert answer.status_code in (202, 422), answer.text
    return answer.json()  # type: ignore[no-any-return]


@pytest.mark.slow
def test_operator_surfaces_of_issue_12_carry_no_patient_data(
    hub: Hub,
    clock: ManualClock,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    metrics = HubMetrics()
    hub.observe(metrics)
    app = create_app(hub, metrics=metrics)
    admin = api_client(app, token_for(hub.store, "admin"))
    served: list[tuple[str, str]] = []

    # A letter refused by its receiver, whose refusal names the patient; a letter never answered.
    refused = post(admin, envelope(letter(str(uuid.uuid4()))))["flow_id"]
    hub.run_once()
    answers = refusals(hub.spool.root, text=REFUSE_TEXT)
    assert answers
    for answer in answers:
        post(admin, answer)
    hub.run_once()
    post(admin, envelope(letter(str(uuid.uuid4()))))
    hub.run_once()

    # Letters the register refused (the receiver not registered), reprocessed once it is fixed: one alone,
    # two in bulk.
    edi = tmp_path / "broken-edi.csv"
    edi.write_text(BROKEN_EDI)
    broken = Hub(
        hub.spool,
        hub.store,
        clock,
        hub.identifier,
        RegisterRouter(load_register(SOR, edi)),
        converter=hub.converter,
        answers=hub.answers,
    )
    broken_client = admin_client(broken)
    rejected = [post(broken_client, envelope(letter(str(uuid.uuid4()))))["flow_id"] for _ in range(3)]
    broken.run_once()
    one = admin.post(f"/flows/{rejected[0]}/reprocess")
    assert one.status_code == 201, one.text
    served.append(("POST /flows/{id}/reprocess", one.text))
    bulk = admin.post("/flows/reprocess", params={"state": "rejected", "limit": 10})
    assert bulk.status_code == 200 and bulk.json()["summary"]["reprocessed"] == 2, bulk.text
    served.append(("POST /flows/reprocess", bulk.text))

    # Files named after a CPR number: garbage naming a patient, and a letter written half (then fixed).
    out = hub.spool.ensure_party(FHIR_SENDER) / "out"
    (out / CPR_FILE).write_bytes(GARBAGE)
    whole = envelope(letter(str(uuid.uuid4())))
    (out / CPR_FILE_2).write_bytes(whole[: len(whole) // 2])
    hub.run_once()
    skipped = out / f"{CPR}.txt"  # not taken (no .xml), listed on the overview after an hour
    skipped.write_bytes(GARBAGE)
    an_hour_ago = (clock.now() - timedelta(hours=2)).timestamp()
    os.utime(skipped, (an_hour_ago, an_hour_ago))
    quarantined = hub.spool.quarantined()
    assert len(quarantined) == 2, quarantined
    half = next(path for path, reason in quarantined if "xml-syntax" in reason)
    overview = admin.get("/ui").text
    served.append(("/ui before the reprocess", overview))
    assert f'action="/ui/quarantine/{half.name}/reprocess"' in overview  # each file has its button
    half.write_bytes(whole)
    again = admin.post(f"/quarantine/{half.name}/reprocess")
    assert again.status_code == 201, again.text
    served.append(("POST /quarantine/{name}/reprocess", again.text))
    for name in (CPR_FILE, CPR_FILE_2):  # asked for by the sender's name: refused, not quoted back
        answer = admin.post(f"/quarantine/{name}/reprocess")
        assert answer.status_code == 404, answer.text
        served.append((f"POST /quarantine/<cpr name>/reprocess {answer.status_code}", answer.text))
    hub.run_once()

    # The missing receipt's alert fires; alerts go out by webhook and mail.
    clock.advance(timedelta(minutes=121))
    hub.run_once()
    rules = Rules(
        negative_rate=NegativeRate(threshold=0.0, min_letters=1, window=timedelta(days=4000)),
        quarantine_growth=QuarantineGrowth(above=0, window=timedelta(days=4000)),
        heartbeat=None,
        broker=False,
    )
    with webhook_server() as hook, smtp_server() as box:
        smtp = Smtp("127.0.0.1", "hub@hospital.example", ("drift@hospital.example",), port=box.port)
        config = AlertConfig(rules=rules, webhooks=(Webhook(hook.url),), smtp=smtp)
        alerter = Alerter(HubService(hub.store), config, clock, spool=hub.spool, sender=quick)
        report = alerter.check()
        keys = {i.key.split(":")[0] for i in report.open}
        assert {"negative_rate", "missing_receipts", "quarantine_growth"} <= keys, keys
        settings = tmp_path / "hub.toml"
        settings.write_text(
            "[alerts]\n[alerts.rules]\nheartbeat = false\nbroker = false\n"
            'negative_rate = { threshold = 0.0, min_letters = 1, window = "4000d" }\n'
            'quarantine_growth = { above = 0, window = "4000d" }\n'
            f'[[alerts.webhook]]\nurl = "{hook.url}"\n'
            f'[alerts.smtp]\nhost = "127.0.0.1"\nport = {box.port}\nfrom = "hub@hospital.example"\n'
            'to = ["drift@hospital.example"]\n'
        )
        checked = CliRunner().invoke(
            cli, ["alerts", "check", "--db", db_url(hub, request), "--config", str(settings), "--json"]
        )
        assert checked.exit_code == 1 and checked.stdout.strip(), checked.output
        served.append(("alerts check --json", checked.stdout + (checked.stderr or "")))
    assert hook.received and box.messages
    for _headers, body in hook.received:
        served.append(("webhook body", json.dumps(body, ensure_ascii=False)))
    for envelope_ in box.messages:
        mail = message_from_bytes(bytes(envelope_.content))  # type: ignore[arg-type]
        text = bytes(mail.get_payload(decode=True)).decode()  # type: ignore[arg-type]
        served.append(("mail", f"{mail['Subject']}\n{text}\n{bytes(envelope_.content).decode()}"))  # type: ignore[arg-type]
    with hub.store.engine.connect() as conn:
        summaries = [str(r.summary) for r in conn.execute(select(t.incidents.c.summary))]
    assert summaries
    served += [("hub_incidents.summary", s) for s in summaries]

    # The receipt outcome says what the receiver said, masked.
    flows = admin.get("/flows", params={"limit": 500}).json()["flows"]
    said = {f["id"]: f["receipt"] for f in flows}[refused]
    assert said["outcome"] == "negative" and "kunne ikke læses" in said["text"], said

    urls = ["/metrics", "/health/live", "/health/ready", "/health", "/incidents", "/ui", "/ui/flows"]
    urls += ["/flows?limit=500", "/ui/stats?month=2026-01", "/stats/monthly?month=2026-01"]
    urls += ["/stats/monthly.csv?month=2026-01", "/audit?limit=1000", "/audit?limit=1000&format=auditevent"]
    for flow in flows:
        urls += [f"/ui/flows/{flow['id']}", f"/flows/{flow['id']}/events"]
    for url in urls:
        answer = admin.get(url)
        assert answer.status_code in (200, 503), (url, answer.text[:200])
        served.append((url, answer.text))
    assert "kunne ikke læses" in admin.get(f"/ui/flows/{refused}").text  # the timeline shows the text
    runner = CliRunner()
    for extra in ([], ["--json"]):
        listed = runner.invoke(cli, ["flow", "list", "--db", db_url(hub, request), "--limit", "500", *extra])
        assert listed.exit_code == 0 and "kunne ikke læses" in listed.stdout, listed.output
        served.append((f"flow list {extra}", listed.stdout + (listed.stderr or "")))

    found: list[str] = []
    for where, text in served:
        found += found_in(where, text)
    for table, row in stored_text(hub):
        if table != "hub_keys":  # ids sent as CPR numbers: test_leaks pins that known case
            found += found_in(table, row)
    for path in (hub.spool.root / "quarantine").iterdir():
        found += found_in("quarantine file name", path.name)
        if path.name.endswith(".reason.txt"):
            found += found_in(path.name, path.read_text("utf-8"))
    for record in caplog.records:
        if record.name == "httpx":  # the test client's own log of the URLs it asked for (not the server's)
            continue
        found += found_in(f"log {record.name}", record.getMessage() + (record.exc_text or ""))
    assert found == [], "\n".join(found)
    assert "07xxxxxxxx.txt" in overview  # the skipped file is listed, masked


def test_serve_with_alerts_logs_no_patient_data(tmp_path: Path) -> None:
    """A real `serve` with `[alerts]`: a letter refused by its receiver (the refusal naming the patient) and one
    refused by the register (reprocessed), CPR-named files quarantined (one reprocessed) and alerts fired by
    webhook and mail; its whole log, the notices and the answers carry no planted value."""
    edi = tmp_path / "edi.csv"
    edi.write_text(EDI)
    spool = tmp_path / "spool"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {cli_token(spool)}", "content-type": "application/xml"}
    seen: list[tuple[str, str]] = []
    with webhook_server() as hook, smtp_server() as box:
        config = tmp_path / "hub.toml"
        config.write_text(
            '[alerts]\ninterval = "1s"\n[alerts.rules]\nheartbeat = false\nbroker = false\n'
            "negative_rate = { threshold = 0.0, min_letters = 1 }\nquarantine_growth = { above = 0 }\n"
            f'[[alerts.webhook]]\nurl = "{hook.url}"\n'
            f'[alerts.smtp]\nhost = "127.0.0.1"\nport = {box.port}\nfrom = "hub@hospital.example"\n'
            'to = ["drift@hospital.example"]\n'
        )
        command = [sys.executable, "-m", "medcom_bridge", "serve", "--spool", str(spool), "--sor", str(SOR)]
        command += ["--edi", str(edi), "--host", "127.0.0.1", "--port", str(port), "--config", str(config)]
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: httpx.get(f"{base}/health").json()["loop"]["running"], timeout=60)
            posted = httpx.post(
                f"{base}/envelopes", content=envelope(letter(str(uuid.uuid4()))), headers=auth
            )
            flow_id = posted.json()["flow_id"]
            wait_for(
                lambda: (
                    httpx.get(f"{base}/flows/{flow_id}", headers=auth).json()["state"] == "awaiting_receipts"
                ),
                timeout=60,
            )
            for answer in refusals(spool, text=REFUSE_TEXT):
                assert httpx.post(f"{base}/envelopes", content=answer, headers=auth).status_code == 202
            wait_for(
                lambda: (
                    httpx.get(f"{base}/flows/{flow_id}", headers=auth).json()["receipt"]["outcome"]
                    == "negative"
                ),
                timeout=60,
            )
            unroutable = envelope(letter(str(uuid.uuid4())), receiver=UNKNOWN_RECEIVER)
            rejected = httpx.post(f"{base}/envelopes", content=unroutable, headers=auth).json()["flow_id"]
            again = httpx.post(f"{base}/flows/{rejected}/reprocess", headers=auth)
            seen.append(("reprocess", again.text))
            out = spool / FHIR_SENDER / "out"
            (out / CPR_FILE).write_bytes(GARBAGE)
            whole = envelope(letter(str(uuid.uuid4())))
            (out / CPR_FILE_2).write_bytes(whole[: len(whole) // 2])
            wait_for(lambda: len(list((spool / "quarantine").glob("*.reason.txt"))) == 2, timeout=60)
            half = next(
                p for p in (spool / "quarantine").glob("*.reason.txt") if "xml-syntax" in p.read_text()
            )
            fixed = half.with_name(half.name.removesuffix(".reason.txt"))
            fixed.write_bytes(whole)
            taken = httpx.post(f"{base}/quarantine/{fixed.name}/reprocess", headers=auth)
            assert taken.status_code == 201, taken.text
            seen.append(("quarantine reprocess", taken.text))
            asked = httpx.post(f"{base}/quarantine/{CPR_FILE}/reprocess", headers=auth)
            seen.append(("quarantine reprocess by a CPR name", f"{asked.status_code} {asked.text}"))

            def opened() -> set[str]:
                return {b["key"].split(":")[0] for _, b in hook.received if b["event"] == "opened"}

            wait_for(lambda: {"negative_rate", "quarantine_growth"} <= opened(), timeout=60)
            wait_for(lambda: len(box.messages) >= 2, timeout=60)
            for url in ("/ui", "/flows", "/ui/flows", "/incidents", "/metrics", "/health/ready"):
                seen.append((url, httpx.get(f"{base}{url}", headers=auth).text))
        finally:
            text = stop_gracefully(process)
    assert process.returncode == 0, text
    assert "incident opened" in text and "Traceback" not in text
    seen.append(("serve log", text))
    seen += [("webhook body", json.dumps(body, ensure_ascii=False)) for _, body in hook.received]
    seen += [("mail", bytes(e.content).decode()) for e in box.messages]  # type: ignore[arg-type]
    found = [leak for where, said in seen for leak in found_in(where, said)]
    assert found == [], "\n".join(found)


def test_a_refuse_code_that_is_a_cpr_number_is_not_served(hub: Hub) -> None:
    """RefuseCode is a code, but a receiver's system may put anything there: statistics and lists show it."""
    admin = admin_client(hub)
    refused = post(admin, envelope(letter(str(uuid.uuid4()))))["flow_id"]
    hub.run_once()
    for answer in refusals(hub.spool.root, code=PATIENT_CPR_DASHED, text=REFUSE_TEXT):
        post(admin, answer)
    hub.run_once()
    said = admin.get(f"/flows/{refused}").json()
    served = [("/flows/{id}", json.dumps(said))]
    for url in ("/flows", "/ui/flows", "/ui/stats?month=2026-01", "/stats/monthly?month=2026-01"):
        served.append((url, admin.get(url).text))
    served.append(("csv", admin.get("/stats/monthly.csv?month=2026-01").text))
    served += [(table, row) for table, row in stored_text(hub) if table != "hub_keys"]
    found = [leak for where, text in served for leak in found_in(where, text)]
    assert found == [], "\n".join(found)
