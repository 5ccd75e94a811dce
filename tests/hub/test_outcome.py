"""The receipt outcome of a flow, from its events (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcom_bridge.hub.events import Outcome, Step, TraceEvent, default_subtype
from medcom_bridge.hub.flow import Event, State
from medcom_bridge.hub.outcome import (
    REFUSAL_TEXT_MAX,
    Receipt,
    receipt_outcome,
    refusal_code,
    refusal_text,
)

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


def receipt(flow_event: Event, verdict: str, cause: str, reason: str | None = None) -> TraceEvent:
    from medcom_bridge.hub.events import ReceiptVerdict

    return replace(ev(flow_event, cause, reason), receipt=ReceiptVerdict(verdict))


def test_the_negative_code_is_the_receivers_even_when_a_positive_receipt_came_last() -> None:
    """XCTL02 for the XDIS91, then XCTL03 for the XBIN01: the aggregated answer is negative because of the
    first; the operator must see its refuse code, not the XCTL03's kind."""
    events = [
        ev(Event.DELIVERED),
        receipt(Event.RECEIPT_PARTIAL, "negative", "syntaksfejl", "ukendt element"),
        receipt(Event.RECEIPT_NEGATIVE, "positive", "xctl03"),
    ]
    got = receipt_outcome(State.COMPLETED, True, events)
    assert (got.outcome, got.code, got.text) == (Receipt.NEGATIVE, "syntaksfejl", "ukendt element")


def test_two_negative_receipts_the_last_one_speaks() -> None:
    events = [
        receipt(Event.RECEIPT_PARTIAL, "negative", "ikke_specificeret", "first"),
        receipt(Event.RECEIPT_NEGATIVE, "negative", "problem_med_version", "second"),
    ]
    got = receipt_outcome(State.COMPLETED, True, events)
    assert (got.code, got.text) == ("problem_med_version", "second")


def test_a_refusal_text_is_one_line_cpr_masked_and_bounded() -> None:
    text = refusal_text("Brevet til\n 251248-9996   kunne ikke læses " + "x" * 1000)
    assert text is not None and "251248-9996" not in text and "25xxxx-xxxx" in text
    assert "\n" not in text and len(text) == REFUSAL_TEXT_MAX and text.endswith("…")
    assert refusal_text("   ") is None and refusal_text(None) is None


@given(st.text())
def test_refusal_text_never_keeps_a_cpr_number_or_grows_past_its_bound(raw: str) -> None:
    text = refusal_text(raw + " 0101011234 " + raw)
    assert text is not None and "0101011234" not in text and len(text) <= REFUSAL_TEXT_MAX


def test_a_refuse_code_keeps_its_words_with_cpr_numbers_masked() -> None:
    assert refusal_code("syntaksfejl") == "syntaksfejl"
    assert refusal_code("251248-9996") == "25xxxx-xxxx"
