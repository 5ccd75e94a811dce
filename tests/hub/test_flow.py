"""The flow state machine: every transition of the table, every impossible event, and the use-case paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcom_bridge.hub.flow import (
    PAIRING_WAIT,
    RECEIPT_ALERT_AFTER,
    TRANSITIONS,
    Action,
    CancelTimer,
    Do,
    Effect,
    Event,
    Flow,
    ImpossibleTransition,
    Route,
    StartTimer,
    State,
    Timer,
    allowed,
    mermaid,
    step,
)

NOW = datetime(2026, 1, 20, 8, 0, tzinfo=UTC)
E = Event
S = State

# A flow value that satisfies the guards of each (state, event) pair listed in the table: the route and
# letter flag a real flow in that state would have when that event can happen.
_PAIRING = {E.LETTER_ARRIVED, E.LETTER_INVALID, E.ATTACHMENT_ARRIVED, E.ATTACHMENT_INVALID}


def flow_for(state: State, event: Event) -> Flow:
    if state is S.RECEIVED:
        return Flow("f", state)
    if state is S.COMPLETED and event in (E.RECEIPT_PARTIAL, E.RECEIPT_OK, E.RECEIPT_NEGATIVE):
        return Flow("f", state, Route.OIOXML_TO_EDIFACT, True)
    if event in _PAIRING or state in (S.AWAITING_ATTACHMENT, S.AWAITING_LETTER):
        has_letter = event not in (E.LETTER_ARRIVED, E.LETTER_INVALID) and state is not S.AWAITING_LETTER
        return Flow("f", state, Route.OIOXML_TO_FHIR, has_letter)
    return Flow("f", state, Route.PASS_THROUGH, True)


ALL_PAIRS = [(s, e) for s in State for e in Event]
ALLOWED = [(s, e) for s, e in ALL_PAIRS if e in TRANSITIONS[s]]
IMPOSSIBLE = [(s, e) for s, e in ALL_PAIRS if e not in TRANSITIONS[s]]


def actions(effects: tuple[Effect, ...]) -> list[Action]:
    return [e.action for e in effects if isinstance(e, Do)]


def timers_started(effects: tuple[Effect, ...]) -> dict[Timer, datetime]:
    return {e.timer: e.due for e in effects if isinstance(e, StartTimer)}


def timers_cancelled(effects: tuple[Effect, ...]) -> set[Timer]:
    return {e.timer for e in effects if isinstance(e, CancelTimer)}


def test_table_covers_every_state() -> None:
    assert set(TRANSITIONS) == set(State)
    # every event is allowed somewhere, and every state but the initial one can be reached
    assert {e for events in TRANSITIONS.values() for e in events} == set(Event)
    reachable = {t for events in TRANSITIONS.values() for t in events.values()}
    assert reachable == set(State)


@pytest.mark.parametrize(("state", "event"), ALLOWED, ids=[f"{s}-{e}" for s, e in ALLOWED])
def test_every_transition_in_the_table(state: State, event: Event) -> None:
    new, effects = step(flow_for(state, event), event, NOW)
    assert new.state is TRANSITIONS[state][event]
    assert new.id == "f"
    for effect in effects:
        assert isinstance(effect, StartTimer | CancelTimer | Do)


@pytest.mark.parametrize(("state", "event"), IMPOSSIBLE, ids=[f"{s}-{e}" for s, e in IMPOSSIBLE])
def test_every_impossible_event_raises_the_named_error(state: State, event: Event) -> None:
    flow = flow_for(state, event)
    with pytest.raises(ImpossibleTransition) as info:
        step(flow, event, NOW)
    assert info.value.event is event and info.value.flow is flow
    assert repr(event.value) in str(info.value) and state.value in str(info.value)


def test_impossible_pairs_are_a_large_share() -> None:
    # A guard against a table that allows everything (which would make the test above vacuous).
    assert len(IMPOSSIBLE) > len(ALLOWED)


def test_allowed_lists_the_table_row() -> None:
    assert allowed(S.QUARANTINED) == {E.DUPLICATE}


@pytest.mark.parametrize("state", [S.CONVERTING, S.DELIVERING, S.AWAITING_RECEIPTS, S.COMPLETED, S.REJECTED])
def test_pairing_events_need_an_oioxml_to_fhir_flow(state: State) -> None:
    for route in (Route.PASS_THROUGH, Route.FHIR_TO_OIOXML, None):
        for event in _PAIRING & set(TRANSITIONS[state]):
            with pytest.raises(ImpossibleTransition, match="pairing applies only"):
                step(Flow("f", state, route, has_letter=False), event, NOW)


def test_a_second_letter_is_impossible() -> None:
    flow = Flow("f", S.AWAITING_RECEIPTS, Route.OIOXML_TO_FHIR, has_letter=True)
    with pytest.raises(ImpossibleTransition, match="already holds its XDIS91"):
        step(flow, E.LETTER_ARRIVED, NOW)


def run(events: list[Event], flow: Flow | None = None) -> tuple[Flow, list[tuple[Effect, ...]]]:
    flow = flow or Flow("f")
    seen = []
    for event in events:
        flow, effects = step(flow, event, NOW)
        seen.append(effects)
    return flow, seen


# -- use-case paths ------------------------------------------------------------------------------------------


def test_pass_through_path() -> None:
    flow, effects = run([E.PASS_THROUGH, E.DELIVERED, E.RECEIPT_OK, E.CLOSING_TIMEOUT])
    assert flow.state is S.CLOSED and flow.route is Route.PASS_THROUGH
    assert actions(effects[0]) == [Action.DELIVER]
    assert timers_started(effects[1]) == {
        Timer.RECEIPT_ALERT: NOW + RECEIPT_ALERT_AFTER,
        Timer.CLOSING: datetime(2026, 4, 20, 8, 0, tzinfo=UTC),
    }
    assert actions(effects[2]) == [Action.ANSWER_SENDER]
    assert Timer.RECEIPT_ALERT in timers_cancelled(effects[2])


def test_s1_paired_in_time_xdis91_first() -> None:
    flow, effects = run([E.AWAIT_ATTACHMENT, E.ATTACHMENT_ARRIVED, E.CONVERTED, E.DELIVERED])
    assert flow.state is S.AWAITING_RECEIPTS and flow.route is Route.OIOXML_TO_FHIR
    assert timers_started(effects[0]) == {Timer.PAIRING: NOW + PAIRING_WAIT}
    assert actions(effects[1]) == [Action.CONVERT]
    assert timers_cancelled(effects[1]) == {Timer.PAIRING}


def test_s1_paired_in_time_xbin01_first() -> None:
    flow, effects = run([E.AWAIT_LETTER, E.LETTER_ARRIVED])
    assert flow.state is S.CONVERTING and flow.has_letter
    assert actions(effects[1]) == [Action.CONVERT]


def test_s1a2_xbin01_late_then_forwarded_unconverted() -> None:
    flow, effects = run(
        [E.AWAIT_ATTACHMENT, E.PAIRING_TIMEOUT, E.CONVERTED, E.DELIVERED, E.ATTACHMENT_ARRIVED]
    )
    assert flow.state is S.AWAITING_RECEIPTS
    assert actions(effects[1]) == [Action.CONVERT]  # with an empty attachment payload
    assert actions(effects[4]) == [Action.FORWARD_UNCONVERTED]


def test_s1a2_xbin01_invalid_in_time() -> None:
    flow, effects = run([E.AWAIT_ATTACHMENT, E.ATTACHMENT_INVALID])
    assert flow.state is S.CONVERTING
    assert actions(effects[1]) == [Action.NEGATIVE_VANS_RECEIPT, Action.CONVERT]


def test_s1a3_xdis91_late_xbin01_unconverted_then_letter_converted() -> None:
    flow, effects = run(
        [E.AWAIT_LETTER, E.PAIRING_TIMEOUT, E.DELIVERED_NO_RECEIPT, E.LETTER_ARRIVED, E.CONVERTED]
    )
    assert flow.state is S.DELIVERING
    assert actions(effects[1]) == [Action.DELIVER]
    assert actions(effects[3]) == [Action.CONVERT]


def test_a_late_letter_restarts_the_closing_clock() -> None:
    for start in ([E.ATTACHMENT_INVALID], [E.AWAIT_LETTER, E.PAIRING_TIMEOUT, E.DELIVERED_NO_RECEIPT]):
        flow, _ = run(start)
        flow, effects = step(flow, E.LETTER_ARRIVED, NOW)
        assert flow.state is S.CONVERTING and Timer.CLOSING in timers_cancelled(effects)


def test_s1a3_xdis91_invalid_in_time() -> None:
    flow, effects = run([E.AWAIT_LETTER, E.LETTER_INVALID])
    assert flow.state is S.DELIVERING and not flow.has_letter
    assert actions(effects[1]) == [Action.NEGATIVE_VANS_RECEIPT, Action.DELIVER]


def test_s1a3_invalid_xdis91_first_then_xbin01_forwarded() -> None:
    flow, effects = run([E.LETTER_INVALID, E.ATTACHMENT_ARRIVED])
    assert flow.state is S.REJECTED and flow.route is Route.OIOXML_TO_FHIR
    assert actions(effects[1]) == [Action.FORWARD_UNCONVERTED]


def test_s1a2_invalid_xbin01_first_then_xdis91_converted() -> None:
    flow, effects = run([E.ATTACHMENT_INVALID, E.LETTER_ARRIVED])
    assert flow.state is S.CONVERTING
    assert actions(effects[1]) == [Action.CONVERT]


def test_both_invalid_nothing_delivered() -> None:
    flow, effects = run([E.LETTER_INVALID, E.ATTACHMENT_INVALID])
    assert flow.state is S.REJECTED
    assert [actions(e) for e in effects] == [[Action.NEGATIVE_VANS_RECEIPT], [Action.NEGATIVE_VANS_RECEIPT]]


def test_s2_fhir_to_oioxml_two_receipts_become_one() -> None:
    flow, effects = run(
        [E.CONVERT_TO_OIOXML, E.CONVERTED, E.DELIVERED, E.RECEIPT_PARTIAL, E.RECEIPT_NEGATIVE]
    )
    assert flow.state is S.COMPLETED and flow.route is Route.FHIR_TO_OIOXML
    assert actions(effects[3]) == [Action.STORE_RECEIPT]
    assert actions(effects[4]) == [Action.ANSWER_SENDER]


def test_missing_receipt_alert_then_closing_without_action() -> None:
    flow, effects = run([E.CONVERT_TO_OIOXML, E.CONVERTED, E.DELIVERED, E.RECEIPT_ALERT, E.CLOSING_TIMEOUT])
    assert flow.state is S.CLOSED
    assert actions(effects[3]) == [Action.ALERT]
    assert actions(effects[4]) == []
    flow, late = step(flow, E.RECEIPT_FORWARDED, NOW)
    assert flow.state is S.CLOSED and actions(late) == [Action.FORWARD_UNCONVERTED]


def test_duplicates_repeat_the_first_answer_in_every_state() -> None:
    for state, events in TRANSITIONS.items():
        assert events[E.DUPLICATE] is state
        _, effects = step(flow_for(state, E.DUPLICATE), E.DUPLICATE, NOW)
        assert actions(effects) == [Action.REPEAT_ANSWER]


def test_unreadable_input_is_quarantined_and_answered() -> None:
    flow, effects = run([E.INPUT_UNREADABLE])
    assert flow.state is S.QUARANTINED and flow.terminal
    assert actions(effects[0]) == [Action.QUARANTINE, Action.NEGATIVE_VANS_RECEIPT]


def test_rejection_keeps_the_flow_for_duplicates_until_closing() -> None:
    _, effects = run([E.INPUT_INVALID])
    assert set(timers_started(effects[0])) == {Timer.CLOSING}


def test_mermaid_mentions_every_transition() -> None:
    text = mermaid()
    assert text.startswith("stateDiagram-v2\n")
    for state, events in TRANSITIONS.items():
        for event in events:
            assert event.value in text
        assert state.value in text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list(Event)), max_size=25), st.integers(min_value=0, max_value=10**6))
def test_random_event_sequences_follow_the_table_or_raise(events: list[Event], minutes: int) -> None:
    flow = Flow("f")
    now = NOW + timedelta(minutes=minutes)
    for event in events:
        before = flow
        try:
            flow, effects = step(flow, event, now)
        except ImpossibleTransition:
            assert flow is before
            continue
        assert flow.state is TRANSITIONS[before.state][event]
        for effect in effects:
            if isinstance(effect, StartTimer):
                assert effect.due > now
        # once routed, a flow never forgets its route, and a letter once held stays held
        assert before.route is None or flow.route is before.route
        assert flow.has_letter or not before.has_letter


# -- routes: the routing event names the target format, the route adds the source -------------------------------


@pytest.mark.parametrize(
    ("event", "route"),
    [
        (E.CONVERT_TO_EDIFACT, Route.FHIR_TO_EDIFACT),
        (E.CONVERT_TO_EDIFACT, Route.OIOXML_TO_EDIFACT),
        (E.CONVERT_TO_OIOXML, Route.EDIFACT_TO_OIOXML),
        (E.CONVERT_TO_FHIR, Route.EDIFACT_TO_FHIR),
        (E.AWAIT_ATTACHMENT, Route.EDIFACT_TO_FHIR),
    ],
)
def test_a_routing_event_sets_the_route_it_was_given(event: Event, route: Route) -> None:
    flow, _ = step(Flow("f"), event, NOW, route)
    assert flow.route is route and flow.has_letter


@pytest.mark.parametrize(
    ("event", "route"),
    [
        (E.CONVERT_TO_EDIFACT, Route.OIOXML_TO_FHIR),
        (E.CONVERT_TO_OIOXML, Route.FHIR_TO_EDIFACT),
        (E.CONVERT_TO_FHIR, Route.FHIR_TO_OIOXML),
        (E.PASS_THROUGH, Route.EDIFACT_TO_OIOXML),
        (E.AWAIT_LETTER, Route.OIOXML_TO_EDIFACT),
    ],
)
def test_a_route_that_does_not_fit_the_event_is_impossible(event: Event, route: Route) -> None:
    with pytest.raises(ImpossibleTransition, match="is not one of"):
        step(Flow("f"), event, NOW, route)


def test_an_edifact_partner_does_not_join_an_oioxml_pair() -> None:
    flow, _ = step(Flow("f"), E.AWAIT_ATTACHMENT, NOW, Route.OIOXML_TO_FHIR)
    with pytest.raises(ImpossibleTransition, match="does not set the route"):
        step(flow, E.ATTACHMENT_ARRIVED, NOW, Route.EDIFACT_TO_FHIR)
    paired, _ = step(flow, E.ATTACHMENT_ARRIVED, NOW, Route.OIOXML_TO_FHIR)
    assert paired.state is S.CONVERTING


def test_edifact_to_fhir_pairs_like_oioxml_to_fhir() -> None:
    flow, effects = step(Flow("f"), E.AWAIT_LETTER, NOW, Route.EDIFACT_TO_FHIR)
    assert timers_started(effects) == {Timer.PAIRING: NOW + PAIRING_WAIT}
    flow, effects = step(flow, E.LETTER_ARRIVED, NOW)
    assert flow.state is S.CONVERTING and flow.route is Route.EDIFACT_TO_FHIR
    assert actions(effects) == [Action.CONVERT]


def test_fhir_to_edifact_waits_for_two_receipts_as_fhir_to_oioxml_does() -> None:
    flow, _ = step(Flow("f"), E.CONVERT_TO_EDIFACT, NOW, Route.FHIR_TO_EDIFACT)
    flow, effects = run([E.CONVERTED, E.DELIVERED, E.RECEIPT_PARTIAL, E.RECEIPT_OK], flow)
    assert flow.state is S.COMPLETED and flow.route is Route.FHIR_TO_EDIFACT
    assert actions(effects[2]) == [Action.STORE_RECEIPT] and actions(effects[3]) == [Action.ANSWER_SENDER]


@pytest.mark.parametrize("route", list(Route))
def test_route_values_fit_the_stored_column(route: Route) -> None:
    assert len(route.value) <= 16  # hub_flows.route and hub_events.route are String(16)


def test_route_between_formats() -> None:
    assert Route.between("edifact", "fhir") is Route.EDIFACT_TO_FHIR
    assert Route.between("oioxml", "edifact") is Route.OIOXML_TO_EDIFACT
    assert Route.between("fhir", "fhir") is Route.PASS_THROUGH


@pytest.mark.parametrize("route", [Route.PASS_THROUGH, Route.FHIR_TO_OIOXML, Route.FHIR_TO_EDIFACT])
def test_a_completed_flow_converts_receipts_only_message_by_message(route: Route) -> None:
    with pytest.raises(ImpossibleTransition, match="message by message"):
        step(Flow("f", S.COMPLETED, route, True), E.RECEIPT_NEGATIVE, NOW)
    flow, effects = step(Flow("f", S.COMPLETED, Route.EDIFACT_TO_OIOXML, True), E.RECEIPT_NEGATIVE, NOW)
    assert flow.state is S.COMPLETED and actions(effects) == [Action.ANSWER_SENDER]
