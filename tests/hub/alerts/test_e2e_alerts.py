"""Alerts over a whole hub with MedCom's Flow1 letters: a negative receipt and a missing one become
incidents whose e-mails (aiosmtpd) and webhook bodies carry GLNs, names of parties and counts, never the
patient's CPR number, name or letter text."""

from __future__ import annotations

import json
from email import message_from_bytes

from sqlalchemy import select

from medcom_bridge.hub import schema as t
from medcom_bridge.hub.alerts.config import AlertConfig, NegativeRate, Rules, Smtp, Webhook
from medcom_bridge.hub.alerts.delivery import send
from medcom_bridge.hub.alerts.notice import Notice
from medcom_bridge.hub.alerts.watch import Alerter, names_of
from medcom_bridge.hub.service import HubService
from tests.hub.alerts.servers import smtp_server, webhook_server
from tests.hub.e2e import FHIR, World
from tests.hub.test_e2e_s1 import send_pair

PATIENT = ("2512489996", "251248-9996", "Berggren", "Nancy")


def quick(config: AlertConfig, channel: str, notice: Notice) -> str | None:
    return send(config, channel, notice, sleep=lambda _s: None)


def test_negative_and_missing_receipts_alert_without_patient_data(world: World) -> None:
    answered, unanswered = world.pair(), world.pair()
    send_pair(world, answered, "letter-first")
    send_pair(world, unanswered, "letter-first")
    first, _second = world.inbox(FHIR)
    world.answer(FHIR, first, negative=True)
    world.run()
    world.advance(minutes=121)
    world.run()
    rules = Rules(negative_rate=NegativeRate(threshold=0.0, min_letters=1), heartbeat=None, broker=False)
    with webhook_server() as hook, smtp_server() as box:
        smtp = Smtp("127.0.0.1", "hub@hospital.example", ("drift@hospital.example",), port=box.port)
        config = AlertConfig(rules=rules, webhooks=(Webhook(hook.url),), smtp=smtp)
        directory = getattr(world.hub.converter, "directory", None)
        alerter = Alerter(
            HubService(world.hub.store), config, world.clock, sender=quick, names=names_of(directory)
        )
        report = alerter.check()
    keys = {i.key for i in report.open}
    assert keys == {f"negative_rate:{FHIR.ean}", f"missing_receipts:{FHIR.ean}"}, keys
    assert report.sent == 4 and not report.failed
    mails = [message_from_bytes(bytes(envelope.content)) for envelope in box.messages]  # type: ignore[arg-type]
    assert sorted(str(m["Subject"]) for m in mails) == [
        f"[medcom-bridge] ALERT missing_receipts: {FHIR.ean}",
        f"[medcom-bridge] ALERT negative_rate: {FHIR.ean}",
    ]
    bodies = [bytes(m.get_payload(decode=True)).decode() for m in mails]  # type: ignore[arg-type]
    assert any("1 of 1 letters negatively" in b for b in bodies)
    assert all("Social og Sundhed Odense Kommune" in b for b in bodies)  # the receiver by name
    with world.hub.store.engine.connect() as conn:
        stored = [dict(r) for r in conn.execute(select(t.incidents)).mappings()]
    texts = bodies + [bytes(e.content).decode() for e in box.messages]  # type: ignore[arg-type]
    texts += [json.dumps(body) for _, body in hook.received] + [json.dumps(stored, default=str)]
    for text in texts:
        for value in PATIENT:
            assert value not in text
