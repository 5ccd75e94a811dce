"""Alert rounds over a real store (SQLite and PostgreSQL) and a real webhook server: open once with one
notice, repeats quiet, resolved with a notice; a failed notice stays pending; two evaluators at once open
one incident and send one notice; an unreachable database is still reported (from memory)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from medcom_bridge.hub import schema as t
from medcom_bridge.hub.alerts.config import AlertConfig, Rules, Webhook
from medcom_bridge.hub.alerts.delivery import send
from medcom_bridge.hub.alerts.notice import Notice
from medcom_bridge.hub.alerts.watch import Alerter
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.flow import State, Timer
from medcom_bridge.hub.service import HubService
from medcom_bridge.hub.store import FlowInfo, Store, Tx, make_engine
from tests.hub.alerts.servers import free_port, webhook_server

RECEIVER = "5790000121526"
ONLY_RECEIPTS = Rules(negative_rate=None, quarantine_growth=None, stuck=None, heartbeat=None, broker=False)


def quick(config: AlertConfig, channel: str, notice: Notice) -> str | None:
    return send(config, channel, notice, sleep=lambda _s: None)


def overdue_flow(store: Store, clock: ManualClock) -> str:
    """A flow delivered to RECEIVER whose 120-minute receipt alert is due."""
    now = clock.now()
    with store.transaction() as tx:
        flow_id = tx.create_flow(now, FlowInfo(sender_gln="5790001659592", receiver_gln=RECEIVER)).id
        tx.conn.execute(
            update(t.flows).where(t.flows.c.id == flow_id).values(state=State.AWAITING_RECEIPTS.value)
        )
        tx.set_timer(flow_id, Timer.RECEIPT_ALERT, now + timedelta(minutes=120), now)
    clock.advance(minutes=121)
    return flow_id


def receipt_arrives(store: Store, flow_id: str) -> None:
    with store.transaction() as tx:
        tx.conn.execute(update(t.flows).where(t.flows.c.id == flow_id).values(state=State.COMPLETED.value))


def count(store: Store, table: object, *where: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())  # type: ignore[arg-type]


def test_open_quiet_resolve_with_one_notice_each(store: Store, clock: ManualClock) -> None:
    with webhook_server() as hook:
        config = AlertConfig(rules=ONLY_RECEIPTS, webhooks=(Webhook(hook.url),))
        alerter = Alerter(HubService(store), config, clock, sender=quick, names=lambda g: "Region Nord")
        flow_id = overdue_flow(store, clock)
        first = alerter.check()
        assert [i.key for i in first.open] == [f"missing_receipts:{RECEIVER}"] and first.sent == 1
        for _ in range(3):
            clock.advance(minutes=1)
            again = alerter.check()
            assert again.events == [] and again.sent == 0 and len(again.open) == 1
        receipt_arrives(store, flow_id)
        clock.advance(minutes=1)
        done = alerter.check()
        assert done.open == [] and done.sent == 1
    assert [body["event"] for _, body in hook.received] == ["opened", "resolved"]
    assert "Region Nord" in hook.received[0][1]["summary"]
    incidents = HubService(store).incidents()
    assert len(incidents) == 1 and incidents[0].resolved_at is not None
    assert count(store, t.incidents, t.incidents.c.open_notified, t.incidents.c.resolve_notified) == 1


def test_a_failed_notice_stays_pending_and_is_sent_in_a_later_round(store: Store, clock: ManualClock) -> None:
    with webhook_server([500, 500, 500]) as hook:
        config = AlertConfig(rules=ONLY_RECEIPTS, webhooks=(Webhook(hook.url),))
        alerter = Alerter(HubService(store), config, clock, sender=quick)
        overdue_flow(store, clock)
        first = alerter.check()
        assert first.sent == 0 and first.failed == ["webhook 127.0.0.1: HTTP 500"]
        assert count(store, t.incident_notices, t.incident_notices.c.sent_at.is_(None)) == 1
        assert alerter.check().sent == 0  # backing off: not due yet
        clock.advance(minutes=2)
        assert alerter.check().sent == 1
    assert hook.answered == [500, 500, 500, 204]
    assert count(store, t.incident_notices, t.incident_notices.c.sent_at.is_not(None)) == 1


def test_an_unreachable_database_is_reported_from_memory(store: Store, clock: ManualClock) -> None:
    down = Store(make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"))
    with webhook_server() as hook:
        config = AlertConfig(rules=ONLY_RECEIPTS, webhooks=(Webhook(hook.url),))
        alerter = Alerter(HubService(down), config, clock, sender=quick)
        first = alerter.check()
        assert not first.stored and [i.key for i in first.open] == ["database:hub"] and first.sent == 1
        assert alerter.check().sent == 0  # suppressed
        alerter.service = HubService(store)  # the database answers again
        back = alerter.check()
        assert back.stored and back.open == [] and back.sent == 1
    assert [(b["event"], b["key"]) for _, b in hook.received] == [
        ("opened", "database:hub"),
        ("resolved", "database:hub"),
    ]
    down.close()


@pytest.mark.postgres
@pytest.mark.parametrize("advisory_lock", [True, False])
def test_two_evaluators_at_once_open_one_incident_and_notify_once(
    pg_engine: Engine,
    pg_store: Store,
    clock: ManualClock,
    advisory_lock: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = pg_store  # the race needs PostgreSQL's concurrent writers
    if not advisory_lock:  # without the round's lock, the unique open key and conditional updates still hold
        monkeypatch.setattr(Tx, "try_lock", lambda self, name: True)
    with webhook_server() as hook:
        config = AlertConfig(rules=ONLY_RECEIPTS, webhooks=(Webhook(hook.url),))
        for round_ in range(5):
            flow_id = overdue_flow(store, clock)
            barrier = threading.Barrier(2)
            errors: list[BaseException] = []

            def evaluate(barrier: threading.Barrier = barrier, errors: list[BaseException] = errors) -> None:
                alerter = Alerter(HubService(Store(pg_engine)), config, clock, sender=quick)
                barrier.wait()
                try:
                    alerter.check()
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=evaluate) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            assert count(store, t.incidents) == round_ + 1
            receipt_arrives(store, flow_id)
            clock.advance(minutes=1)
            Alerter(HubService(store), config, clock, sender=quick).check()
    events = [(b["event"], b["key"]) for _, b in hook.received]
    assert (
        events
        == [("opened", f"missing_receipts:{RECEIVER}"), ("resolved", f"missing_receipts:{RECEIVER}")] * 5
    )
