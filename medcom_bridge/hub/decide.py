"""The hub's decisions, pure: which flow event an inbound message, a delivery or a receipt causes.

`flow.py` says what an event does to a flow (the state table and its effects); this module says which event
happens, from the identified message (`Inbound`), the routing outcome (R1), the dedup verdict (§8) and the
stored facts of the flow it belongs to. Nothing here reads a file, a clock or a database: the engine gathers
the facts, asks, and applies the answer in one transaction. Refusals carry a `RejectCause`, never a prefix
of the reason text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from medcom_bridge.hub.causes import RejectCause
from medcom_bridge.hub.dedup import Verdict
from medcom_bridge.hub.events import ReceiptVerdict
from medcom_bridge.hub.flow import TWIN_ROUTES, Event, Flow, ImpossibleTransition, Route, State, step
from medcom_bridge.hub.pipeline import ATTACHMENT_KINDS, Decision, Inbound, RouteOutcome, format_of

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # transitions are tried for admissibility only; time is irrelevant
PAIRED_LETTER_KINDS = frozenset({"xdis91", "dis91"})
"""Letters whose attachments travel as a message of their own (XBIN01, BIN01), paired for a FHIR receiver."""
PAIRING_KINDS = PAIRED_LETTER_KINDS | ATTACHMENT_KINDS
#: What each target format is converted from (R1); anything else for that target cannot be routed.
CONVERTIBLE: dict[str, frozenset[str]] = {
    "fhir": frozenset({"xdis91", "xbin01", "dis91", "bin01"}),
    "oioxml": frozenset({"carecommunication", "dis91", "bin01"}),
    "edifact": frozenset({"carecommunication", "xdis91", "xbin01"}),
}
_CONVERT_EVENT = {
    "fhir": Event.CONVERT_TO_FHIR,
    "oioxml": Event.CONVERT_TO_OIOXML,
    "edifact": Event.CONVERT_TO_EDIFACT,
}
PARTNER_EVENTS = frozenset(
    {Event.LETTER_ARRIVED, Event.LETTER_INVALID, Event.ATTACHMENT_ARRIVED, Event.ATTACHMENT_INVALID}
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A decided event, with the reason kept in the trace and, for refusals, the cause."""

    event: Event
    reason: str | None = None
    cause: RejectCause | None = None
    rule: str | None = None
    """The rule id behind a refusal (the first error finding), for statistics and the operator."""
    route: Route | None = None
    """The flow's direction, for the events that route a flow (`flow.ROUTES_OF`); None for the others."""

    @property
    def trace_cause(self) -> str | None:
        return self.rule or (self.cause.value if self.cause else None)


def letter(inbound: Inbound, verdict: Verdict, route: RouteOutcome, partner: Flow | None) -> Outcome:
    """Which event an XDIS91, XBIN01 or CareCommunication causes (R1, S1, S2), given the flow of its
    XDIS91/XBIN01 partner if one was found. A partner whose flow takes no partner any more (closed, say) is
    ignored: the message then starts a flow of its own (`joins_partner` is false)."""
    outcome = _letter(inbound, verdict, route, partner is not None)
    if (
        partner is not None
        and outcome.event in PARTNER_EVENTS
        and not allows(partner, outcome.event, outcome.route)
    ):
        return _letter(inbound, verdict, route, False)
    return outcome


def joins_partner(outcome: Outcome, partner: Flow | None) -> bool:
    return partner is not None and outcome.event in PARTNER_EVENTS


def _letter(inbound: Inbound, verdict: Verdict, route: RouteOutcome, has_partner: bool) -> Outcome:
    if verdict is Verdict.ENVELOPE_REUSED:
        return Outcome(
            Event.INPUT_INVALID,
            "envelope-reused: envelope id seen before with another letter id",
            RejectCause.ENVELOPE_REUSED,
        )
    pairing = inbound.kind in PAIRING_KINDS
    target = route.decision.target if route.decision is not None else None
    referral_attachment = route.referral_hub and inbound.kind in ATTACHMENT_KINDS
    to_fhir = target == "fhir" and not referral_attachment
    direction = Route.between(format_of(inbound.kind), target) if target else None
    letter = inbound.kind in PAIRED_LETTER_KINDS
    if not inbound.valid:
        first = next((f for f in inbound.findings if f.severity == "error"), None)
        rule = first.rule if first else None
        cause = (
            RejectCause.SENDER_MAILBOX if rule == RejectCause.SENDER_MAILBOX.value else RejectCause.INVALID
        )
        if pairing and (has_partner or to_fhir):
            event = Event.LETTER_INVALID if letter else Event.ATTACHMENT_INVALID
            return Outcome(event, inbound.first_error, cause, rule, direction if to_fhir else None)
        return Outcome(Event.INPUT_INVALID, inbound.first_error, cause, rule)
    if route.decision is None:
        return Outcome(
            Event.ROUTE_FAILED, route.reason or "register: the receiver cannot be routed", RejectCause.ROUTE
        )
    why = route.reason  # the register's reason is kept in the flow's events (R1)
    if target is None or (referral_attachment and target == "fhir"):
        note = "referral hub (DNHF): no pairing wait" if route.referral_hub else None
        return Outcome(Event.PASS_THROUGH, _join(note, why), route=Route.PASS_THROUGH)
    if inbound.kind not in CONVERTIBLE[target]:
        return Outcome(
            Event.ROUTE_FAILED,
            f"route {route.decision.value} does not apply to {inbound.kind}",
            RejectCause.ROUTE,
        )
    if target == "fhir" and letter:
        if has_partner:
            return Outcome(Event.LETTER_ARRIVED, why, route=direction)
        event = Event.AWAIT_ATTACHMENT if inbound.attachment_ids else Event.CONVERT_TO_FHIR
        return Outcome(event, why, route=direction)
    if target == "fhir":
        return Outcome(Event.ATTACHMENT_ARRIVED if has_partner else Event.AWAIT_LETTER, why, route=direction)
    note = None
    if inbound.kind == "carecommunication" and target == "oioxml" and not route.xbin01_approved:
        note = "receiver not approved for XBIN01 (R1.A1): converted anyway"
    return Outcome(_CONVERT_EVENT[target], _join(note, why), route=direction)


def expects_receipt(inbound: Inbound, route: RouteOutcome) -> bool:
    """A FHIR receiver acknowledges every message, so a letter converted to FHIR always awaits its receipt,
    even when the XDIS91 asked for no positive one (the converter then sends no XCTL03, only negatives)."""
    return inbound.receipt_requested or (
        route.decision is Decision.TO_FHIR and inbound.kind in PAIRED_LETTER_KINDS
    )


class ReceiptPath(StrEnum):
    """Where a receipt goes, before any aggregation."""

    ORPHAN = "orphan"
    """No flow waits for it (none ever, or one that has not delivered yet): forwarded in a flow of its own."""
    FORWARD = "forward"
    """The flow is not waiting for receipts any more (completed, closed ...): forwarded unconverted (§7)."""
    PASS_THROUGH = "pass_through"
    """The flow was passed through: the receipt is the answer, as it is."""
    AGGREGATE = "aggregate"
    """The flow was converted: the receipts are converted/aggregated per §7."""


_NOT_YET_DELIVERED = frozenset(
    {State.RECEIVED, State.AWAITING_ATTACHMENT, State.AWAITING_LETTER, State.QUARANTINED}
)


def receipt_path(flow: Flow | None) -> ReceiptPath:
    if flow is None or flow.state in _NOT_YET_DELIVERED:
        return ReceiptPath.ORPHAN
    if flow.state is State.COMPLETED and flow.route in TWIN_ROUTES:
        return ReceiptPath.AGGREGATE  # a VANS converts every receipt, whenever it comes
    if flow.state is not State.AWAITING_RECEIPTS:
        return ReceiptPath.FORWARD
    if flow.route is Route.PASS_THROUGH:
        return ReceiptPath.PASS_THROUGH
    return ReceiptPath.AGGREGATE


def receipt_event(verdict: ReceiptVerdict | None, complete: bool = True) -> Event:
    """The event of an answered flow: partial until every receipt is in, then ok or negative."""
    if not complete:
        return Event.RECEIPT_PARTIAL
    return Event.RECEIPT_NEGATIVE if verdict is ReceiptVerdict.NEGATIVE else Event.RECEIPT_OK


def delivery_event(flow: Flow, *, still_pending: bool, receipt_expected: bool) -> Event | None:
    """After an output was delivered: the flow's event once all its due outputs are out, else None (the
    delivery is recorded as a step only: a forwarded part, an answer, a negative receipt)."""
    if flow.state is not State.DELIVERING or still_pending:
        return None
    return Event.DELIVERED if receipt_expected and flow.has_letter else Event.DELIVERED_NO_RECEIPT


def allows(flow: Flow, event: Event, route: Route | None = None) -> bool:
    try:
        step(flow, event, _EPOCH, route)
    except ImpossibleTransition:
        return False
    return True


def _join(*parts: str | None) -> str | None:
    text = "; ".join(p for p in parts if p)
    return text or None
