"""A flow's receipt outcome at a glance, pure: `ok`, `negative` (with the code and text), `missing`, `pending`.

MedCom monitors negative and missing receipts per month; the operator's first question about any flow is
"did the sender get its receipt, and what did it say?". The answer is read from the flow's own events: the
last aggregated receipt (S3, S4) or the hub's own refusal (a negative VANS receipt) decides; otherwise a flow
whose 120-minute alert fired is `missing`, and a flow still on its way or waiting is `pending`. A flow that
expects no receipt at all (a forwarded receipt, a `minuspositivkvitt` letter delivered) is `none`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from medcom_bridge.hub.events import ReceiptVerdict, TraceEvent
from medcom_bridge.hub.flow import Event, State
from medcom_bridge.privacy import scrub

REFUSAL_TEXT_MAX = 300
"""How much of a receiver's refusal text the trace keeps (a refuse text is at most 350 characters, one FTX)."""


class Receipt(StrEnum):
    OK = "ok"
    NEGATIVE = "negative"
    MISSING = "missing"
    PENDING = "pending"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ReceiptOutcome:
    outcome: Receipt
    code: str | None = None
    """The refuse or response code behind a negative outcome (e.g. XCTL02's cause, fatal-error, or the hub's
    own refusal cause such as `route`)."""
    text: str | None = None
    """Why, as recorded (masked of patient data at the source)."""

    def to_json(self) -> dict[str, str | None]:
        return {"outcome": self.outcome.value, "code": self.code, "text": self.text}


_RECEIPT_EVENTS = frozenset({Event.RECEIPT_PARTIAL, Event.RECEIPT_OK, Event.RECEIPT_NEGATIVE})
_REFUSALS = frozenset(
    {Event.INPUT_INVALID, Event.INPUT_UNREADABLE, Event.ROUTE_FAILED, Event.CONVERSION_FAILED}
)


def refusal_text(text: str | None) -> str | None:
    """A receiver's refusal text as the trace keeps it: one line, CPR numbers masked (`privacy.scrub`; a
    RefuseText may quote the letter it refuses), at most `REFUSAL_TEXT_MAX` characters."""
    if text is None:
        return None
    line = scrub(" ".join(text.split()))
    if len(line) > REFUSAL_TEXT_MAX:
        line = line[: REFUSAL_TEXT_MAX - 1].rstrip() + "…"
    return line or None


def refusal_code(code: str) -> str:
    """A receiver's refuse or response code as the trace keeps it (and statistics count it): a code by the
    standard, but the receiver's system may write anything there, so CPR numbers are masked (`privacy.scrub`)."""
    return scrub(code)


def receipt_outcome(state: State, receipt_expected: bool, events: Iterable[TraceEvent]) -> ReceiptOutcome:
    """The outcome from the flow's events, oldest first. A negative outcome names the refuse code and text of
    the last negative receipt the receiver sent (two XCTL for one letter: the aggregated answer may be caused
    by the XDIS91's XCTL02 while the XBIN01's XCTL03 came last)."""
    alerted = False
    decided: ReceiptOutcome | None = None
    refused: TraceEvent | None = None
    for e in events:
        event = _event(e.flow_event)
        if e.receipt is ReceiptVerdict.NEGATIVE and event in _RECEIPT_EVENTS:
            refused = e
        if event is Event.RECEIPT_OK:
            decided = ReceiptOutcome(Receipt.OK, e.cause)
        elif event is Event.RECEIPT_NEGATIVE:
            said = refused or e
            decided = ReceiptOutcome(Receipt.NEGATIVE, said.cause, said.reason)
        elif event in _REFUSALS:
            decided = ReceiptOutcome(Receipt.NEGATIVE, e.cause, e.reason)
        elif event is Event.RECEIPT_ALERT:
            alerted = True
    if decided is not None:
        return decided
    if state in (State.REJECTED, State.QUARANTINED):
        return ReceiptOutcome(Receipt.NEGATIVE)
    if alerted:
        return ReceiptOutcome(Receipt.MISSING)
    if not receipt_expected and state in (State.COMPLETED, State.CLOSED):
        return ReceiptOutcome(Receipt.NONE)
    if state is State.CLOSED:
        return ReceiptOutcome(Receipt.MISSING)  # closed after 3 months without its receipts
    return ReceiptOutcome(Receipt.PENDING)


def _event(value: str | None) -> Event | None:
    try:
        return Event(value) if value else None
    except ValueError:
        return None
