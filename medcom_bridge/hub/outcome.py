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

from medcom_bridge.hub.events import TraceEvent
from medcom_bridge.hub.flow import Event, State


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


_REFUSALS = frozenset(
    {Event.INPUT_INVALID, Event.INPUT_UNREADABLE, Event.ROUTE_FAILED, Event.CONVERSION_FAILED}
)


def receipt_outcome(state: State, receipt_expected: bool, events: Iterable[TraceEvent]) -> ReceiptOutcome:
    alerted = False
    decided: ReceiptOutcome | None = None
    for e in events:
        event = _event(e.flow_event)
        if event is Event.RECEIPT_OK:
            decided = ReceiptOutcome(Receipt.OK, e.cause)
        elif event is Event.RECEIPT_NEGATIVE or event in _REFUSALS:
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
