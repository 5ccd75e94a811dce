"""The receipt outcome of a flow, from its events (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medcom_bridge.hub.events import Outcome, Step, TraceEvent, default_subtype
from medcom_bridge.hub.flow import Event, State
from medcom_bridge.hub.outcome import Receipt, receipt_outcome

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ev(flow_event: Event | None, cause: str | None = None, reason: str | None = None) -> TraceEvent:
    return TraceEvent(
        id="e",
        flow_id="f",
        at=AT,
        step=Step.RECEIVED,
        subtype=default_subtype(Step.RECEIVED),
        outcome=Outcome.SUCCESS,
        flow_event=flow_event.value if flow_event else None,
        cause=cause,
        reason=reason,
    )


@pytest.mark.parametrize(
    ("state", "expected", "events", "want"),
    [
        (
            State.COMPLETED,
            True,
            [ev(Event.PASS_THROUGH), ev(Event.DELIVERED), ev(Event.RECEIPT_OK)],
            Receipt.OK,
        ),
        (
            State.COMPLETED,
            True,
            [ev(Event.DELIVERED), ev(Event.RECEIPT_NEGATIVE, "xctl02", "afvist")],
            Receipt.NEGATIVE,
        ),
        (State.AWAITING_RECEIPTS, True, [ev(Event.DELIVERED), ev(Event.RECEIPT_ALERT)], Receipt.MISSING),
        (State.AWAITING_RECEIPTS, True, [ev(Event.DELIVERED)], Receipt.PENDING),
        (State.CONVERTING, True, [ev(Event.CONVERT_TO_OIOXML)], Receipt.PENDING),
        (State.REJECTED, True, [ev(Event.ROUTE_FAILED, "route", "register: unknown")], Receipt.NEGATIVE),
        (State.COMPLETED, False, [ev(Event.PASS_THROUGH), ev(Event.DELIVERED_NO_RECEIPT)], Receipt.NONE),
        (State.CLOSED, True, [ev(Event.DELIVERED), ev(Event.CLOSING_TIMEOUT)], Receipt.MISSING),
        # a receipt after the alert still counts: the last word is the receipt's
        (State.COMPLETED, True, [ev(Event.RECEIPT_ALERT), ev(Event.RECEIPT_OK)], Receipt.OK),
    ],
)
def test_outcome(state: State, expected: bool, events: list[TraceEvent], want: Receipt) -> None:
    assert receipt_outcome(state, expected, events).outcome is want


def test_a_negative_outcome_carries_its_code_and_text() -> None:
    got = receipt_outcome(
        State.COMPLETED, True, [ev(Event.RECEIPT_NEGATIVE, "fatal-error", "ukendt patient")]
    )
    assert (got.code, got.text) == ("fatal-error", "ukendt patient")
    assert got.to_json() == {"outcome": "negative", "code": "fatal-error", "text": "ukendt patient"}
