"""Statistics are queries over the event log, so they survive restarts and can be recomputed any time; they
count letters (flows) per Danish month, each figure defined once (`stats.condition`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from medcom_bridge.hub import stats
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.engine import fire_due_timers, transition
from medcom_bridge.hub.events import ReceiptVerdict
from medcom_bridge.hub.flow import Event, Route
from medcom_bridge.hub.queries import list_flows, parse_filter
from medcom_bridge.hub.schema import events as events_table
from medcom_bridge.hub.store import FlowInfo, Note, Store

A, B, C = "5790000000001", "5790000000002", "5790000000003"
NO = Note()


def flow(
    store: Store, clock: ManualClock, sender: str, receiver: str | None, events: list[tuple[Event, Note]]
) -> str:
    with store.transaction() as tx:
        flow_id = tx.create_flow(clock.now(), FlowInfo(sender_gln=sender, receiver_gln=receiver)).id
        for event, note in events:
            transition(tx, flow_id, event, clock.now(), note)
    return flow_id


def negative(cause: str) -> Note:
    """A receiver's negative receipt as the runner records it: its kind or refuse code, verdict negative."""
    return Note(cause=cause, receipt=ReceiptVerdict.NEGATIVE)


DELIVERED = [(Event.CONVERT_TO_OIOXML, NO), (Event.CONVERTED, NO), (Event.DELIVERED, NO)]
TWO_XCTL02 = [(Event.RECEIPT_PARTIAL, negative("xctl02")), (Event.RECEIPT_NEGATIVE, negative("xctl02"))]


def flows_of(store: Store, month: str, **filters: str) -> set[str]:
    """The flows the flow list shows for a statistic's link."""
    f = parse_filter({"month": month, **filters}, datetime.now(UTC))
    with store.engine.connect() as conn:
        return {row.id for row in list_flows(conn, f, limit=500).flows}


def test_monthly_statistics_from_the_event_log(store: Store) -> None:
    clock = ManualClock(datetime(2026, 1, 20, 10, 0, tzinfo=UTC))
    # January: a conversion each way, a pass-through, a negative receipt from the receiver, an invalid input
    flow(store, clock, A, B, [(Event.CONVERT_TO_FHIR, NO), (Event.CONVERTED, NO)])
    refused = flow(store, clock, A, B, DELIVERED + TWO_XCTL02)
    flow(store, clock, A, C, [(Event.PASS_THROUGH, NO)])
    invalid = flow(store, clock, C, B, [(Event.INPUT_INVALID, Note(cause="xdis91-schema"))])
    missing = flow(store, clock, B, A, [(Event.PASS_THROUGH, NO), (Event.DELIVERED, NO)])
    # February (Danish): the missing-receipt alert fires at 23:10 UTC on 31 January, another invalid input
    clock.set(datetime(2026, 1, 31, 21, 10, tzinfo=UTC))
    assert fire_due_timers(store, clock.now())
    clock.set(datetime(2026, 1, 31, 23, 10, tzinfo=UTC))
    flow(store, clock, C, B, [(Event.INPUT_INVALID, Note(cause="xdis91-schema"))])

    with store.engine.connect() as conn:
        rows = stats.negative_receipts(conn)
        assert [(n.month, n.sender_gln, n.receiver_gln, n.code, n.place, n.count) for n in rows] == [
            ("2026-01", A, B, "unknown code (xctl02)", "receiver", 1),
        ]
        refusals = stats.hub_refusals(conn)
        assert [
            (r.month, r.sender_gln, r.receiver_gln, r.cause, r.place, r.reject, r.count) for r in refusals
        ] == [
            ("2026-01", C, B, "xdis91-schema", "input", "invalid", 1),
            ("2026-02", C, B, "xdis91-schema", "input", "invalid", 1),
        ]
        assert [(m.month, m.sender_gln, m.receiver_gln, m.flows) for m in stats.missing_receipts(conn)] == [
            ("2026-01", B, A, 1)
        ]
        assert [(c.month, c.route, c.count) for c in stats.conversions(conn)] == [
            ("2026-01", "fhir_to_oioxml", 1),
            ("2026-01", "oioxml_to_fhir", 1),
        ]
        assert stats.pass_throughs(conn) == {"2026-01": 2}
        assert stats.pass_throughs(conn, "2026-03") == {}
    assert flows_of(store, "2026-01", figure="receiver_negative") == {refused}
    assert flows_of(store, "2026-01", figure="hub_refused", cause="xdis91-schema") == {invalid}
    assert flows_of(store, "2026-01", figure="missing") == {missing}

    # Statistics do not depend on the process that wrote them: a fresh store over the same database agrees.
    again = Store(store.engine)
    with again.engine.connect() as conn:
        assert stats.pass_throughs(conn) == {"2026-01": 2}


def test_two_negative_receipts_for_one_letter_are_one_row(store: Store) -> None:
    """An XDIS91 and its XBIN01 both refused (two XCTL02, one answer to the sender): one letter refused.
    The first version listed two identical rows: the first receipt's event has no failure place, the
    second's has `receiver`, and the query grouped by place."""
    clock = ManualClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    refused = flow(store, clock, A, B, DELIVERED + TWO_XCTL02)
    with store.engine.connect() as conn:
        rows = stats.negative_receipts(conn, "2026-03")
    assert [(r.sender_gln, r.receiver_gln, r.code, r.count) for r in rows] == [
        (A, B, "unknown code (xctl02)", 1)
    ]
    assert flows_of(store, "2026-03", figure="receiver_negative", sender_gln=A, receiver_gln=B) == {refused}


def test_the_refuse_code_is_the_receipts_own(store: Store) -> None:
    clock = ManualClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    flow(store, clock, A, B, [*DELIVERED, (Event.RECEIPT_NEGATIVE, negative("syntaksfejl"))])
    flow(store, clock, A, B, [*DELIVERED, (Event.RECEIPT_NEGATIVE, negative("ukendt_lokationsnummer"))])
    flow(store, clock, A, C, [*DELIVERED, (Event.RECEIPT_NEGATIVE, negative("syntaksfejl"))])
    with store.engine.connect() as conn:
        rows = stats.negative_receipts(conn, "2026-03")
    assert [(r.receiver_gln, r.code, r.count) for r in rows] == [
        (B, "syntaksfejl", 1),
        (B, "ukendt_lokationsnummer", 1),
        (C, "syntaksfejl", 1),
    ]
    assert stats.code_label(None) == "no code given"
    assert stats.code_label("fatal-error") == "fatal-error"  # an Acknowledgement's response code
    assert stats.code_label("XCTL02") == "unknown code (XCTL02)"


def test_quarantined_input_is_not_a_negative_receipt(store: Store) -> None:
    clock = ManualClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    unreadable = flow(store, clock, A, None, [(Event.INPUT_UNREADABLE, Note(cause="vans-structure"))])
    unroutable = flow(store, clock, A, C, [(Event.ROUTE_FAILED, Note(cause="route"))])
    with store.engine.connect() as conn:
        assert stats.negative_receipts(conn, "2026-03") == []
        assert [(q.sender_gln, q.cause, q.count) for q in stats.quarantined(conn, "2026-03")] == [
            (A, "vans-structure", 1)
        ]
        assert [(r.place, r.reject, r.count) for r in stats.hub_refusals(conn, "2026-03")] == [
            ("register", "route", 1)
        ]
    assert flows_of(store, "2026-03", figure="quarantined") == {unreadable}
    assert flows_of(store, "2026-03", figure="hub_refused") == {unroutable}


def test_danish_month_boundary(store: Store) -> None:
    """31 March 23:30 UTC is 1 April 01:30 in Copenhagen (summer time): April."""
    clock = ManualClock(datetime(2026, 3, 31, 21, 30, tzinfo=UTC))  # 23:30 in Copenhagen: still March
    flow(store, clock, A, B, DELIVERED)
    clock.set(datetime(2026, 3, 31, 23, 30, tzinfo=UTC))
    late = flow(store, clock, A, B, [*DELIVERED, (Event.RECEIPT_NEGATIVE, negative("syntaksfejl"))])
    with store.engine.connect() as conn:
        assert [r.month for r in stats.negative_receipts(conn)] == ["2026-04"]
        months = set(
            conn.execute(select(events_table.c.month).where(events_table.c.flow_id == late)).scalars()
        )
        trends = stats.trends(conn, ["2026-03", "2026-04"])
    assert months == {"2026-04"}
    assert trends.series(stats.Figure.LETTERS) == [1, 1]
    assert trends.series(stats.Figure.RECEIVER_NEGATIVE) == [0, 1]
    assert trends.route_series(Route.FHIR_TO_OIOXML.value) == [1, 1]


def test_partner_rates(store: Store) -> None:
    clock = ManualClock(datetime(2026, 5, 4, 9, 0, tzinfo=UTC))
    for _ in range(3):
        flow(store, clock, A, B, DELIVERED)
    flow(store, clock, A, B, DELIVERED + TWO_XCTL02)
    flow(store, clock, C, B, [*DELIVERED, (Event.RECEIPT_NEGATIVE, negative("syntaksfejl"))])
    flow(store, clock, A, C, DELIVERED)
    with store.engine.connect() as conn:
        receivers, senders = stats.partner_rates(conn, "2026-05")
    assert [(p.gln, p.delivered, p.negative, p.rate) for p in receivers] == [(B, 5, 2, 0.4), (C, 1, 0, 0.0)]
    assert [(p.gln, p.delivered, p.negative, p.rate) for p in senders] == [(C, 1, 1, 1.0), (A, 5, 1, 0.2)]
    assert len(flows_of(store, "2026-05", figure="letters", receiver_gln=B)) == 5
    assert len(flows_of(store, "2026-05", figure="receiver_negative", sender_gln=A)) == 1
