"""Statistics are queries over the event log, so they survive restarts and can be recomputed any time."""

from __future__ import annotations

from datetime import UTC, datetime

from medcom_bridge.hub import stats
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.engine import fire_due_timers, transition
from medcom_bridge.hub.flow import Event
from medcom_bridge.hub.store import FlowInfo, Note, Store

A, B, C = "5790000000001", "5790000000002", "5790000000003"


def flow(
    store: Store, clock: ManualClock, sender: str, receiver: str, events: list[tuple[Event, Note]]
) -> str:
    with store.transaction() as tx:
        flow_id = tx.create_flow(clock.now(), FlowInfo(sender_gln=sender, receiver_gln=receiver)).id
        for event, note in events:
            transition(tx, flow_id, event, clock.now(), note)
    return flow_id


def test_monthly_statistics_from_the_event_log(store: Store) -> None:
    clock = ManualClock(datetime(2026, 1, 31, 23, 0, tzinfo=UTC))
    no = Note()
    # January: a conversion each way, a pass-through, a negative receipt from the receiver, an invalid input
    flow(store, clock, A, B, [(Event.CONVERT_TO_FHIR, no), (Event.CONVERTED, no)])
    flow(
        store,
        clock,
        A,
        B,
        [
            (Event.CONVERT_TO_OIOXML, no),
            (Event.CONVERTED, no),
            (Event.DELIVERED, no),
            (Event.RECEIPT_PARTIAL, no),
            (Event.RECEIPT_NEGATIVE, Note(cause="XCTL02")),
        ],
    )
    flow(store, clock, A, C, [(Event.PASS_THROUGH, no)])
    flow(store, clock, C, B, [(Event.INPUT_INVALID, Note(cause="xdis91-schema"))])
    missing = flow(store, clock, B, A, [(Event.PASS_THROUGH, no), (Event.DELIVERED, no)])
    # February: the missing-receipt alert fires, another pass-through, another invalid input from C
    clock.advance(hours=2)
    fired = fire_due_timers(store, clock.now())
    assert [f.flow.id for f in fired if f.flow] == [missing]
    flow(store, clock, A, C, [(Event.PASS_THROUGH, no)])
    flow(store, clock, C, B, [(Event.INPUT_INVALID, Note(cause="xdis91-schema"))])

    with store.engine.connect() as conn:
        negative = stats.negative_receipts(conn)
        assert [(n.month, n.sender_gln, n.receiver_gln, n.cause, n.place, n.count) for n in negative] == [
            ("2026-01", A, B, "XCTL02", "receiver", 1),
            ("2026-01", C, B, "xdis91-schema", "input", 1),
            ("2026-02", C, B, "xdis91-schema", "input", 1),
        ]
        assert len(stats.negative_receipts(conn, "2026-02")) == 1
        assert [(m.month, m.sender_gln, m.receiver_gln, m.flows) for m in stats.missing_receipts(conn)] == [
            ("2026-02", B, A, 1)
        ]
        assert [(c.month, c.route, c.count) for c in stats.conversions(conn)] == [
            ("2026-01", "fhir_to_oioxml", 1),
            ("2026-01", "oioxml_to_fhir", 1),
        ]
        assert stats.pass_throughs(conn) == {"2026-01": 2, "2026-02": 1}
        assert stats.pass_throughs(conn, "2026-03") == {}

    # Statistics do not depend on the process that wrote them: a fresh store over the same database agrees.
    again = Store(store.engine)
    with again.engine.connect() as conn:
        assert stats.pass_throughs(conn) == {"2026-01": 2, "2026-02": 1}
