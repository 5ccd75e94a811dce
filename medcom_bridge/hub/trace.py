"""How each flow event shows up in track & trace: its hub step, outcome, failure place and receipt verdict.

Kept beside the state table's vocabulary so that statistics (negative receipts, missing receipts,
conversions, pass-throughs) read the same facts whichever part of the hub recorded them. A caller may refine
any of these per event (e.g. a delivery failure at the receiver rather than the network).
"""

from __future__ import annotations

from dataclasses import dataclass

from medcom_bridge.hub.events import Outcome, Place, ReceiptVerdict, Step
from medcom_bridge.hub.flow import Event


@dataclass(frozen=True, slots=True)
class TraceDefaults:
    step: Step
    failure: Place | None = None
    receipt: ReceiptVerdict | None = None

    @property
    def outcome(self) -> Outcome:
        return Outcome.SUCCESS if self.failure is None else Outcome.FAILURE


E = Event
_NEG = ReceiptVerdict.NEGATIVE

TRACE_DEFAULTS: dict[Event, TraceDefaults] = {
    E.PASS_THROUGH: TraceDefaults(Step.ROUTED),
    E.CONVERT_TO_FHIR: TraceDefaults(Step.ROUTED),
    E.CONVERT_TO_OIOXML: TraceDefaults(Step.ROUTED),
    E.CONVERT_TO_EDIFACT: TraceDefaults(Step.ROUTED),
    E.AWAIT_ATTACHMENT: TraceDefaults(Step.ROUTED),
    E.AWAIT_LETTER: TraceDefaults(Step.ROUTED),
    # A negative VANS receipt goes back to the sender: it counts as a negative receipt in the statistics.
    E.INPUT_INVALID: TraceDefaults(Step.REJECTED, Place.INPUT, _NEG),
    E.INPUT_UNREADABLE: TraceDefaults(Step.QUARANTINED, Place.INPUT, _NEG),
    E.ROUTE_FAILED: TraceDefaults(Step.REJECTED, Place.REGISTER, _NEG),
    E.LETTER_ARRIVED: TraceDefaults(Step.PAIRED),
    E.ATTACHMENT_ARRIVED: TraceDefaults(Step.PAIRED),
    E.LETTER_INVALID: TraceDefaults(Step.REJECTED, Place.INPUT, _NEG),
    E.ATTACHMENT_INVALID: TraceDefaults(Step.REJECTED, Place.INPUT, _NEG),
    E.PAIRING_TIMEOUT: TraceDefaults(Step.TIMER_FIRED),
    E.CONVERTED: TraceDefaults(Step.CONVERTED),
    E.CONVERSION_FAILED: TraceDefaults(Step.REJECTED, Place.CONVERSION, _NEG),
    E.DELIVERED: TraceDefaults(Step.DELIVERED),
    E.DELIVERED_NO_RECEIPT: TraceDefaults(Step.DELIVERED),
    E.DELIVERY_FAILED: TraceDefaults(Step.DELIVERY_FAILED, Place.NETWORK),
    E.RECEIPT_PARTIAL: TraceDefaults(Step.RECEIPT_RECEIVED),
    E.RECEIPT_OK: TraceDefaults(Step.RECEIPT_AGGREGATED, receipt=ReceiptVerdict.POSITIVE),
    E.RECEIPT_NEGATIVE: TraceDefaults(Step.RECEIPT_AGGREGATED, Place.RECEIVER, _NEG),
    E.RECEIPT_FORWARDED: TraceDefaults(Step.FORWARDED_UNCONVERTED),
    E.RECEIPT_ALERT: TraceDefaults(Step.ALERT, Place.RECEIVER),
    E.CLOSING_TIMEOUT: TraceDefaults(Step.CLOSED),
    E.DUPLICATE: TraceDefaults(Step.DUPLICATE),
}
