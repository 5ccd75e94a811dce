"""Storage on SQLite and PostgreSQL (same tests, parametrised by the `store` fixture)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from medcom_bridge.hub import schema
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.engine import fire_due_timers, transition
from medcom_bridge.hub.events import Outcome, Place, ReceiptVerdict, Step
from medcom_bridge.hub.flow import Action, Event, ImpossibleTransition, Route, State, Timer
from medcom_bridge.hub.store import (
    ClaimLost,
    Correlation,
    FlowInfo,
    Note,
    Store,
    UnknownFlow,
    migrate,
    patient_key,
    sha256,
)

INFO = FlowInfo(
    sender_gln="5790001659592",
    receiver_gln="5790000121526",
    letter_id="XBf0SM4TxFovQF",
    envelope_id="068dadff-12bb-406d-8c86-083974dc0180",
    kind="xdis91",
)


def new_flow(store: Store, clock: ManualClock, info: FlowInfo = INFO) -> str:
    with store.transaction() as tx:
        return tx.create_flow(clock.now(), info).id


def test_migrations_create_exactly_the_declared_schema(store: Store) -> None:
    migrate(store.engine)  # idempotent
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []


def test_flow_transitions_persist_with_their_events(store: Store, clock: ManualClock) -> None:
    flow_id = new_flow(store, clock)
    with store.transaction() as tx:
        flow, actions = transition(tx, flow_id, Event.AWAIT_ATTACHMENT, clock.now())
    assert flow.state is State.AWAITING_ATTACHMENT and actions == ()
    clock.advance(minutes=5)
    with store.transaction() as tx:
        flow, actions = transition(
            tx, flow_id, Event.ATTACHMENT_ARRIVED, clock.now(), Note(message_id="XBIN-1")
        )
        assert actions == (Action.CONVERT,)
    with store.transaction() as tx:
        loaded = tx.flow(flow_id)
        events = tx.events(flow_id)
        row = tx.flow_row(flow_id)
        assert tx.pending_timers(flow_id) == {}
    assert loaded.state is State.CONVERTING and loaded.route is Route.OIOXML_TO_FHIR and loaded.has_letter
    assert row["version"] == 3 and row["sender_gln"] == INFO.sender_gln
    assert [(e.seq, e.step, e.state_from, e.state_to) for e in events] == [
        (1, Step.RECEIVED, None, "received"),
        (2, Step.ROUTED, "received", "awaiting_attachment"),
        (3, Step.PAIRED, "awaiting_attachment", "converting"),
    ]
    assert events[2].message_id == "XBIN-1" and events[1].message_id == INFO.letter_id
    assert events[2].at == clock.now() and events[2].route == "oioxml_to_fhir"
    assert events[2].flow_event == "attachment_arrived"


def test_a_failed_step_leaves_no_trace(store: Store, clock: ManualClock) -> None:
    flow_id = new_flow(store, clock)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        transition(tx, flow_id, Event.PASS_THROUGH, clock.now())
        raise RuntimeError("crash after the state change, before the commit")
    with pytest.raises(ImpossibleTransition), store.transaction() as tx:
        transition(tx, flow_id, Event.RECEIPT_OK, clock.now())
    with store.transaction() as tx:
        assert tx.flow(flow_id).state is State.RECEIVED
        assert len(tx.events(flow_id)) == 1
        assert tx.pending_timers(flow_id) == {}


def test_unknown_flow(store: Store) -> None:
    with pytest.raises(UnknownFlow), store.transaction() as tx:
        tx.flow("nope")


def test_pairing_timer_fires_after_exactly_60_minutes(store: Store, clock: ManualClock) -> None:
    flow_id = new_flow(store, clock)
    with store.transaction() as tx:
        transition(tx, flow_id, Event.AWAIT_ATTACHMENT, clock.now())
    clock.advance(minutes=59, seconds=59)
    assert fire_due_timers(store, clock.now()) == []
    clock.advance(seconds=1)
    fired = fire_due_timers(store, clock.now())
    assert len(fired) == 1 and fired[0].timer.timer is Timer.PAIRING
    assert fired[0].flow is not None and fired[0].flow.state is State.CONVERTING
    assert fired[0].actions == (Action.CONVERT,)
    assert fire_due_timers(store, clock.now()) == []  # fired once only
    with store.transaction() as tx:
        last = tx.events(flow_id)[-1]
    assert last.step is Step.TIMER_FIRED and last.flow_event == "pairing_timeout"


def test_paired_in_time_cancels_the_pairing_timer(store: Store, clock: ManualClock) -> None:
    flow_id = new_flow(store, clock)
    with store.transaction() as tx:
        transition(tx, flow_id, Event.AWAIT_LETTER, clock.now())
    clock.advance(minutes=30)
    with store.transaction() as tx:
        transition(tx, flow_id, Event.LETTER_ARRIVED, clock.now())
    clock.advance(hours=5)
    assert fire_due_timers(store, clock.now()) == []


def test_receipt_alert_then_three_month_closing(store: Store, clock: ManualClock) -> None:
    flow_id = new_flow(store, clock)
    with store.transaction() as tx:
        transition(tx, flow_id, Event.CONVERT_TO_OIOXML, clock.now())
        transition(tx, flow_id, Event.CONVERTED, clock.now())
        transition(tx, flow_id, Event.DELIVERED, clock.now())
        timers = tx.pending_timers(flow_id)
    assert timers == {
        Timer.RECEIPT_ALERT: clock.now() + timedelta(minutes=120),
        Timer.CLOSING: clock.now().replace(month=clock.now().month + 3),
    }
    clock.advance(minutes=120)
    [alert] = fire_due_timers(store, clock.now())
    assert alert.timer.timer is Timer.RECEIPT_ALERT and alert.actions == (Action.ALERT,)
    assert alert.flow is not None and alert.flow.state is State.AWAITING_RECEIPTS
    clock.advance(days=88)
    assert fire_due_timers(store, clock.now()) == []
    clock.advance(days=5)
    [closing] = fire_due_timers(store, clock.now())
    assert closing.flow is not None and closing.flow.state is State.CLOSED
    with store.transaction() as tx:
        assert tx.flow_row(flow_id)["closed_at"] is not None
        events = tx.events(flow_id)
    alert_event = next(e for e in events if e.flow_event == "receipt_alert")
    assert alert_event.outcome is Outcome.FAILURE and alert_event.failure is Place.RECEIVER


def test_receipts_in_time_cancel_the_alert(store: Store, clock: ManualClock) -> None:
    flow_id = new_flow(store, clock)
    with store.transaction() as tx:
        transition(tx, flow_id, Event.PASS_THROUGH, clock.now())
        transition(tx, flow_id, Event.DELIVERED, clock.now())
    clock.advance(minutes=20)
    with store.transaction() as tx:
        transition(tx, flow_id, Event.RECEIPT_OK, clock.now())
        assert set(tx.pending_timers(flow_id)) == {Timer.CLOSING}
    clock.advance(minutes=200)
    assert fire_due_timers(store, clock.now()) == []


def test_a_stale_timer_is_retired_not_fatal(store: Store, clock: ManualClock) -> None:
    flow_id = new_flow(store, clock)
    with store.transaction() as tx:
        tx.set_timer(
            flow_id, Timer.PAIRING, clock.now(), clock.now()
        )  # a received flow cannot time out pairing
    [fired] = fire_due_timers(store, clock.now())
    assert fired.flow is None
    with store.transaction() as tx:
        assert tx.flow(flow_id).state is State.RECEIVED
        assert tx.pending_timers(flow_id) == {}


def test_payloads_are_stored_once(store: Store, clock: ManualClock) -> None:
    data = "<Emessage>æøå</Emessage>".encode("iso-8859-1")
    flow_id = new_flow(store, clock)
    with store.transaction() as tx:
        first = tx.put_payload(data, clock.now())
        second = tx.put_payload(data, clock.now())
        tx.add_message(
            flow_id, direction="in", role="letter", payload_sha256=first, now=clock.now(), kind="xdis91"
        )
        tx.add_message(flow_id, direction="out", role="letter", payload_sha256=second, now=clock.now())
        assert first == second == sha256(data)
        assert tx.payload(first) == data
        count = tx.conn.execute(select(func.count()).select_from(schema.payloads)).scalar_one()
    assert count == 1


def test_pending_outputs_until_delivered(store: Store, clock: ManualClock) -> None:
    flow_id = new_flow(store, clock)
    with store.transaction() as tx:
        digest = tx.put_payload(b"<x/>", clock.now())
        inbound = tx.add_message(
            flow_id, direction="in", role="letter", payload_sha256=digest, now=clock.now()
        )
        out = tx.add_message(flow_id, direction="out", role="letter", payload_sha256=digest, now=clock.now())
        assert [m.id for m in tx.claim_pending_outputs(limit=10, max_bytes=1 << 20)] == [out]
        tx.mark_delivered(out, clock.now(), file_name="abc.xml")
        assert tx.claim_pending_outputs(limit=10, max_bytes=1 << 20) == []
        stored = {m.id: m for m in tx.messages(flow_id)}
    assert stored[out].delivered_at == clock.now() and stored[out].file_name == "abc.xml"
    assert stored[inbound].delivered_at is None
    with pytest.raises(ValueError), store.transaction() as tx:
        tx.add_message(flow_id, direction="sideways", role="x", payload_sha256=digest, now=clock.now())


def test_keys_belong_to_the_first_flow(store: Store, clock: ManualClock) -> None:
    a, b = new_flow(store, clock), new_flow(store, clock)
    with store.transaction() as tx:
        key = ("oioxml-letter", "XBf0SM4TxFovQF")
        tx.claim_keys([key], a, clock.now(), contested={key})
        with pytest.raises(ClaimLost) as lost:
            tx.claim_keys([key], b, clock.now(), contested={key})
        assert lost.value.owner == a
        tx.claim_keys([key], b, clock.now())  # not contested: the first owner keeps it, silently
        tx.claim_keys(
            [("fhir-letter", "XBf0SM4TxFovQF")], b, clock.now(), contested={("fhir-letter", "XBf0SM4TxFovQF")}
        )
        assert tx.find_key(*key) == a and tx.find_key("fhir-letter", "XBf0SM4TxFovQF") == b
        assert tx.find_key("oioxml-letter", "other") is None


def test_correlations_round_trip(store: Store, clock: ManualClock) -> None:
    flow_id = new_flow(store, clock)
    rows = [
        Correlation(flow_id, "xdis91", "ENV1", "LET1", "XD9134L", "bundle-1", "mh-1"),
        Correlation(flow_id, "xbin01", "ENV2", "LET2", "XB0131X", "bundle-1", "mh-1"),
    ]
    with store.transaction() as tx:
        for row in rows:
            tx.add_correlation(row, clock.now())
        assert tx.correlations(message_header_id="mh-1") == rows
        assert tx.correlations(oioxml_letter_id="LET2") == [rows[1]]
        assert tx.correlations(bundle_id="none") == []


def test_find_flows_by_indexed_facts(store: Store, clock: ManualClock) -> None:
    a = new_flow(store, clock)
    clock.advance(seconds=1)
    b = new_flow(store, clock, FlowInfo(sender_gln="5790000000001", letter_id="L2"))
    with store.transaction() as tx:
        tx.update_info(b, bundle_id="bundle-b")
        assert tx.find_flows(letter_id=INFO.letter_id or "") == [a]
        assert tx.find_flows(bundle_id="bundle-b") == [b]
        assert tx.find_flows(state="received") == [a, b]
        with pytest.raises(ValueError):
            tx.update_info(b, state="closed")


def test_trace_notes_refine_the_defaults(store: Store, clock: ManualClock) -> None:
    flow_id = new_flow(store, clock)
    with store.transaction() as tx:
        transition(tx, flow_id, Event.PASS_THROUGH, clock.now())
        transition(
            tx,
            flow_id,
            Event.DELIVERY_FAILED,
            clock.now(),
            Note(failure=Place.RECEIVER, reason="spool-write: mailbox full", cause="spool-write"),
        )
        transition(tx, flow_id, Event.DELIVERED, clock.now())
        transition(
            tx, flow_id, Event.RECEIPT_NEGATIVE, clock.now(), Note(cause="fatal-error", orig_message_id="L1")
        )
        events = tx.events(flow_id)
    failed = events[2]
    assert (
        failed.failure is Place.RECEIVER
        and failed.cause == "spool-write"
        and failed.outcome is Outcome.FAILURE
    )
    negative = events[-1]
    assert negative.receipt is ReceiptVerdict.NEGATIVE and negative.orig_message_id == "L1"


def test_patient_key_is_keyed_and_never_the_cpr() -> None:
    key = patient_key("010101-1234", b"secret-a")
    assert key == patient_key("0101011234", b"secret-a")
    assert key != patient_key("0101011234", b"secret-b")
    assert "0101011234" not in key and len(key) == 64


def test_migrations_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from medcom_bridge.hub.store import MIGRATIONS, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    migrate(engine)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert not {t for t in inspect(engine).get_table_names() if t.startswith("hub_")}
    migrate(engine)
    assert {t.name for t in schema.metadata.sorted_tables} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_migrations_say_nothing_below_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 12: `INFO [alembic.runtime.migration] Context impl SQLiteImpl.` at every start of every command."""
    import logging

    from medcom_bridge.hub.store import make_engine, migrate

    caplog.set_level(logging.DEBUG)
    engine = make_engine(f"sqlite:///{tmp_path / 'quiet.sqlite'}")
    try:
        migrate(engine)  # a new database: every migration runs
        migrate(engine)  # an up-to-date one
    finally:
        engine.dispose()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []
    assert logging.getLogger("alembic").level == logging.NOTSET  # put back: alembic's warnings still show
