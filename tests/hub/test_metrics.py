"""`hub.metrics` over the real hub (e2e scaffolding, SQLite and PostgreSQL): what the observer counts for MedCom's
S1 flow and its receipts, the latency on the hub's clock, and a census that fails without failing the scrape."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from medcom_bridge.hub.census import Census
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.events import Outcome, Place, Step, Subtype, TraceEvent
from medcom_bridge.hub.flow import Event, Route, State, Timer
from medcom_bridge.hub.metrics import HubCollector, HubMetrics
from medcom_bridge.hub.observe import Committed
from medcom_bridge.hub.service import HubService
from medcom_bridge.hub.store import Store, make_engine
from tests.hub.e2e import FHIR, OIO, World

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples_of(metrics: HubMetrics) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.mark.parametrize("answer", ["ok", "negative"])
def test_s1_pair_counted_once_with_its_latency_on_the_hub_clock(world: World, answer: str) -> None:
    metrics = HubMetrics()
    world.hub.observe(metrics)
    pair = world.pair()
    world.send(OIO.ean, FHIR.ean, pair.xdis91)
    world.run()
    world.advance(minutes=20)  # the XBIN01 comes 20 minutes later: the letter waits for it (S1)
    world.send(OIO.ean, FHIR.ean, pair.xbin01)
    world.run()
    [cc] = world.inbox(FHIR)
    world.advance(minutes=10)
    world.answer(FHIR, cc, negative=answer == "negative")
    world.run()

    found = samples_of(metrics)
    assert value(found, "medcom_bridge_flows_created_total") == 1
    assert value(found, "medcom_bridge_conversions_total", route="oioxml_to_fhir", outcome="ok") == 1
    assert value(found, "medcom_bridge_conversion_seconds_count", route="oioxml_to_fhir") == 1
    assert value(found, "medcom_bridge_receipts_total", outcome=answer) == 1
    other = "negative" if answer == "ok" else "ok"
    assert value(found, "medcom_bridge_receipts_total", outcome=other) == 0
    assert value(found, "medcom_bridge_failures_total", place="receiver") == (answer == "negative")
    # From the XDIS91's intake to the CareCommunication's delivery: 20 minutes on the hub's clock.
    assert value(found, "medcom_bridge_intake_to_delivered_seconds_count") == 1
    assert value(found, "medcom_bridge_intake_to_delivered_seconds_sum") == 20 * 60
    assert value(found, "medcom_bridge_intake_to_delivered_seconds_bucket", le="900.0") == 0
    assert value(found, "medcom_bridge_intake_to_delivered_seconds_bucket", le="1800.0") == 1
    # CareCommunication to FHIR, then the two XCTLs back to the sender.
    assert value(found, "medcom_bridge_delivery_seconds_count", outcome="ok") == 3
    assert value(found, "medcom_bridge_flow_events_total", event="await_attachment") == 1


def test_census_counts_states_and_open_timers(world: World) -> None:
    pair = world.pair()
    world.send(OIO.ean, FHIR.ean, pair.xdis91)
    world.run()
    census = HubService(world.hub.store).census(world.clock.now())
    assert census.flows[State.AWAITING_ATTACHMENT] == 1 and sum(census.flows.values()) == 1
    assert census.timers_open == {Timer.PAIRING: 1, Timer.RECEIPT_ALERT: 0, Timer.CLOSING: 0}
    assert census.timers_overdue == 0
    world.advance(minutes=61)  # nobody ran the loop yet: the pairing timer is overdue
    assert HubService(world.hub.store).census(world.clock.now()).timers_overdue == 1


def test_a_database_that_cannot_be_read_gives_database_up_0() -> None:
    with socket.socket() as s:  # a port where nothing listens: a real refused connection
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = Store(make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"))
    metrics = HubMetrics()
    metrics.watch(HubCollector(HubService(store), ManualClock()))
    try:
        found = samples_of(metrics)
    finally:
        store.close()
    assert value(found, "medcom_bridge_database_up") == 0
    assert not [key for key in found if key[0] == "medcom_bridge_flows"]  # no stale or invented levels


def test_receipts_pending_is_awaiting_minus_missing() -> None:
    census = Census(
        flows={s: 0 for s in State} | {State.AWAITING_RECEIPTS: 5},
        receipts_missing=2,
        outputs_pending=0,
        outbox=0,
        timers_open={k: 0 for k in Timer},
        timers_overdue=0,
    )
    assert census.receipts_pending == 3


ANY_TEXT = st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["5790000121441", "0101011234"]))


def events_at(place: Place | None) -> st.SearchStrategy[TraceEvent]:
    return st.builds(
        TraceEvent,
        id=st.just("e"),
        flow_id=st.uuids().map(str),
        at=st.datetimes(timezones=st.just(UTC)),
        step=st.sampled_from(Step),
        subtype=st.sampled_from(Subtype),
        outcome=st.just(Outcome.SUCCESS if place is None else Outcome.FAILURE),
        failure=st.just(place),
        reason=ANY_TEXT,
        cause=ANY_TEXT,
        route=st.one_of(ANY_TEXT, st.sampled_from([r.value for r in Route])),
        flow_event=st.one_of(ANY_TEXT, st.sampled_from([e.value for e in Event])),
        sender_gln=ANY_TEXT,
        receiver_gln=ANY_TEXT,
        message_id=ANY_TEXT,
    )


EVENTS = st.one_of(st.none(), st.sampled_from(Place)).flatmap(events_at)

LABEL_VALUES = (
    {s.value for s in State}
    | {e.value for e in Event}
    | {r.value for r in Route}
    | {p.value for p in Place}
    | {"ok", "failed", "negative", "missing", "none"}
)


@settings(max_examples=50, deadline=None, database=None)
@given(st.lists(st.tuples(EVENTS, st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)))), max_size=30))
def test_any_committed_events_give_a_parseable_exposition_with_bounded_labels(
    events: list[tuple[TraceEvent, datetime | None]],
) -> None:
    metrics = HubMetrics()
    metrics.committed([Committed(e, created) for e, created in events])
    found = samples_of(metrics)  # parses back
    for (_, labels), _value in found.items():
        for name, label in labels:
            assert name == "le" or label in LABEL_VALUES, (name, label)  # never a GLN, id or reason
    known = [e for e, _ in events if e.flow_event in {ev.value for ev in Event}]
    counted = sum(v for (name, _), v in found.items() if name == "medcom_bridge_flow_events_total")
    assert counted == len(known)
