"""The life of one correspondence flow through the hub: every state, every event, every transition — here.

Like h11's `_state.py`, everything that decides a flow's next state lives in this module, and the transitions
are one table, `TRANSITIONS = {state: {event: new_state}}`. An event without an entry for the current state
raises `ImpossibleTransition` instead of being silently ignored; `docs/flow-states.md` is generated from the
table (`python -m medcom_bridge.hub.docs`).

One flow is one letter as the sender meant it: a pass-through message, an XDIS91 with its XBIN01 (one flow,
two inbound messages), or a CareCommunication that becomes an XDIS91 + XBIN01. Receipts are events on the flow
they answer. Sections cited are from `conversion-solution.md` (use cases S1-S4, receipt tables §7, time
limits §7) and `fhir-carecommunication.md` §8 (reliable messaging).

`step(flow, event, now)` is pure: it returns the new flow and the effects the shell must carry out (timers to
start or cancel, actions such as "forward this message unconverted"). The shell applies both in the same
database transaction as the state change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from medcom_bridge.hub.clock import add_months

PAIRING_WAIT = timedelta(minutes=60)
"""S1: the hub waits at most 60 minutes for the XDIS91/XBIN01 partner (use cases §4.5.3)."""
RECEIPT_ALERT_AFTER = timedelta(minutes=120)
"""End systems wait up to 120 minutes for a receipt (§4.5.1); we alert the operators at the same mark."""
CLOSING_MONTHS = 3
"""A flow waits 3 months for its receipts, then closes without action (§4.5.1)."""


class State(StrEnum):
    RECEIVED = "received"
    """Taken in, identified and deduplicated; not yet routed."""
    AWAITING_ATTACHMENT = "awaiting_attachment"
    """An XDIS91 that references attachments waits (<= 60 min) for its XBIN01 (S1)."""
    AWAITING_LETTER = "awaiting_letter"
    """An XBIN01 arrived first and waits (<= 60 min) for its XDIS91 (S1)."""
    CONVERTING = "converting"
    """Everything the conversion will get is here; the conversion step is due."""
    DELIVERING = "delivering"
    """Outputs (converted or passed through) are stored and due for delivery to the receiver."""
    AWAITING_RECEIPTS = "awaiting_receipts"
    """Delivered; waiting for the receiver's receipt(s) to aggregate and return to the sender (S3, S4)."""
    COMPLETED = "completed"
    """The sender has its answer (or none was expected); kept for duplicates until the closing time."""
    CLOSED = "closed"
    """Closed 3 months after delivery; receipts arriving now are forwarded unconverted."""
    REJECTED = "rejected"
    """Input invalid or not convertible: negative receipt to the sender, nothing delivered."""
    QUARANTINED = "quarantined"
    """Input unreadable: the original lies in quarantine with its reason."""


class Event(StrEnum):
    # Routing decisions (use case R1), taken once per flow while it is `received`.
    PASS_THROUGH = "pass_through"
    """The receiver takes the sender's format (or the XBIN01 comes from the referral hub DNHF)."""
    CONVERT_TO_FHIR = "convert_to_fhir"
    """An XDIS91 (or DIS91) without attachments, for a FHIR-only receiver (S1)."""
    CONVERT_TO_OIOXML = "convert_to_oioxml"
    """A CareCommunication for an OIOXML-only receiver (S2, S2.A1, S2.A2), or a DIS91/BIN01 for one."""
    CONVERT_TO_EDIFACT = "convert_to_edifact"
    """A CareCommunication (as XDIS91 + XBIN01), an XDIS91 or an XBIN01 for an EDIFACT-only receiver."""
    AWAIT_ATTACHMENT = "await_attachment"
    """An XDIS91 with attachment references, for a FHIR-only receiver (S1)."""
    AWAIT_LETTER = "await_letter"
    """An XBIN01 without its XDIS91 yet, for a FHIR-only receiver (S1)."""
    INPUT_INVALID = "input_invalid"
    """Readable but invalid input: negative VANS receipt (XCTL01 / negative Acknowledgement)."""
    INPUT_UNREADABLE = "input_unreadable"
    """Input the hub cannot read at all: quarantine with the reason (and a negative VANS receipt if possible)."""
    ROUTE_FAILED = "route_failed"
    """The register cannot route it (receiver unknown, or registered for neither format)."""
    # XDIS91/XBIN01 pairing (S1, S1.A1-A3).
    LETTER_ARRIVED = "letter_arrived"
    """A valid XDIS91 belonging to this flow arrived."""
    LETTER_INVALID = "letter_invalid"
    """An invalid XDIS91 belonging to this flow arrived."""
    ATTACHMENT_ARRIVED = "attachment_arrived"
    """A valid XBIN01 belonging to this flow arrived."""
    ATTACHMENT_INVALID = "attachment_invalid"
    """An invalid XBIN01 belonging to this flow arrived."""
    PAIRING_TIMEOUT = "pairing_timeout"
    """Timer: 60 minutes passed without the partner."""
    # Conversion and delivery.
    CONVERTED = "converted"
    """Converted and validated (tolerating exactly the known rule breaks, Forudsætning 7)."""
    CONVERSION_FAILED = "conversion_failed"
    """The conversion, or the validation of its result, failed."""
    DELIVERED = "delivered"
    """Every due output is in the receiver's mailbox; a receipt is expected."""
    DELIVERED_NO_RECEIPT = "delivered_no_receipt"
    """Delivered, and no receipt is expected (a receipt itself, minuspositivkvitt, a forwarded partner)."""
    DELIVERY_FAILED = "delivery_failed"
    """The receiver's mailbox or the network refused; the outputs stay due."""
    # Receipts (S3, S4, §7).
    RECEIPT_PARTIAL = "receipt_partial"
    """One of two receipts (XCTL for the XDIS91 or for the XBIN01) arrived; stored until its partner comes."""
    RECEIPT_OK = "receipt_ok"
    """All receipts are in and positive: the positive answer went to the sender."""
    RECEIPT_NEGATIVE = "receipt_negative"
    """All receipts are in and at least one is negative: the negative answer went to the sender."""
    RECEIPT_FORWARDED = "receipt_forwarded"
    """A receipt for a part delivered unconverted, or after closing: forwarded unconverted."""
    RECEIPT_ALERT = "receipt_alert"
    """Timer: 120 minutes after delivery and the receipts are still missing."""
    CLOSING_TIMEOUT = "closing_timeout"
    """Timer: 3 months after delivery; close without action."""
    # Reliable messaging (fhir-carecommunication.md §8; VANS 032).
    DUPLICATE = "duplicate"
    """The same envelope or letter id was seen before: not processed again; the first answer is repeated."""


class Route(StrEnum):
    """A flow's direction: the sender's format and the receiver's. The value is stored (16 characters at
    most), so OIOXML is "xml" beside EDIFACT, as the VANSEnvelope's Document/Format names the two."""

    PASS_THROUGH = "pass_through"
    OIOXML_TO_FHIR = "oioxml_to_fhir"
    FHIR_TO_OIOXML = "fhir_to_oioxml"
    FHIR_TO_EDIFACT = "fhir_to_edifact"
    """CareCommunication -> XDIS91 (+ XBIN01) -> DIS91 (+ BIN01); CTLs -> XCTLs -> one Acknowledgement."""
    EDIFACT_TO_FHIR = "edifact_to_fhir"
    """DIS91 (+ BIN01, paired as S1) -> XDIS91 (+ XBIN01) -> CareCommunication; Acknowledgement -> CTL03s."""
    OIOXML_TO_EDIFACT = "xml_to_edifact"
    """One XDIS91, XBIN01 (and its XCTL answer back) as a VANS converts it: message by message."""
    EDIFACT_TO_OIOXML = "edifact_to_xml"
    """One DIS91, BIN01 (and its CTL answer back) as a VANS converts it: message by message."""

    @classmethod
    def between(cls, source: str, target: str) -> Route:
        """The route from format `source` to `target` ('fhir', 'oioxml', 'edifact'); same format: pass-through."""
        return _ROUTE_BETWEEN[(source, target)] if source != target else cls.PASS_THROUGH


_ROUTE_BETWEEN: dict[tuple[str, str], Route] = {
    ("oioxml", "fhir"): Route.OIOXML_TO_FHIR,
    ("fhir", "oioxml"): Route.FHIR_TO_OIOXML,
    ("fhir", "edifact"): Route.FHIR_TO_EDIFACT,
    ("edifact", "fhir"): Route.EDIFACT_TO_FHIR,
    ("oioxml", "edifact"): Route.OIOXML_TO_EDIFACT,
    ("edifact", "oioxml"): Route.EDIFACT_TO_OIOXML,
}


class Timer(StrEnum):
    PAIRING = "pairing"
    RECEIPT_ALERT = "receipt_alert"
    CLOSING = "closing"


TIMER_EVENT: dict[Timer, Event] = {
    Timer.PAIRING: Event.PAIRING_TIMEOUT,
    Timer.RECEIPT_ALERT: Event.RECEIPT_ALERT,
    Timer.CLOSING: Event.CLOSING_TIMEOUT,
}


class Action(StrEnum):
    """What the shell must do because of a transition (besides timers)."""

    CONVERT = "convert"
    """Queue the conversion of what the flow holds; missing attachments get empty data/title (S1.A2, S1.A3)."""
    DELIVER = "deliver"
    """Deliver the flow's due outputs (pass-through: the original, unchanged)."""
    FORWARD_UNCONVERTED = "forward_unconverted"
    """Deliver the message that caused the event as it is (late partner, late receipt)."""
    NEGATIVE_VANS_RECEIPT = "negative_vans_receipt"
    """Answer the sender of the message that caused the event with a negative VANS receipt (XCTL01 or
    a negative Acknowledgement), with the reason."""
    QUARANTINE = "quarantine"
    """Keep the original in quarantine with its reason."""
    STORE_RECEIPT = "store_receipt"
    """Keep a receipt until its partner receipt arrives (two XCTL -> one Acknowledgement)."""
    ANSWER_SENDER = "answer_sender"
    """Convert/aggregate the receipts per §7 and deliver the answer to the original sender."""
    REPEAT_ANSWER = "repeat_answer"
    """Duplicate: send the first answer again, same content (new envelope/bundle ids), or nothing if none yet."""
    ALERT = "alert"
    """Raise an operator alert (once per flow)."""


@dataclass(frozen=True, slots=True)
class StartTimer:
    timer: Timer
    due: datetime


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer: Timer


@dataclass(frozen=True, slots=True)
class Do:
    action: Action


Effect = StartTimer | CancelTimer | Do


S = State
E = Event

TRANSITIONS: dict[State, dict[Event, State]] = {
    S.RECEIVED: {
        E.PASS_THROUGH: S.DELIVERING,
        E.CONVERT_TO_FHIR: S.CONVERTING,
        E.CONVERT_TO_OIOXML: S.CONVERTING,
        E.CONVERT_TO_EDIFACT: S.CONVERTING,
        E.AWAIT_ATTACHMENT: S.AWAITING_ATTACHMENT,
        E.AWAIT_LETTER: S.AWAITING_LETTER,
        E.INPUT_INVALID: S.REJECTED,
        E.INPUT_UNREADABLE: S.QUARANTINED,
        E.ROUTE_FAILED: S.REJECTED,
        E.LETTER_INVALID: S.REJECTED,  # an XDIS91 for a FHIR receiver; its XBIN01 will go unconverted
        E.ATTACHMENT_INVALID: S.REJECTED,  # an XBIN01 for a FHIR receiver; its XDIS91 gets an empty payload
        E.DUPLICATE: S.RECEIVED,
    },
    S.AWAITING_ATTACHMENT: {
        E.ATTACHMENT_ARRIVED: S.CONVERTING,  # paired in time
        E.ATTACHMENT_INVALID: S.CONVERTING,  # S1.A2: convert with an empty attachment payload
        E.PAIRING_TIMEOUT: S.CONVERTING,  # S1.A2: convert with an empty attachment payload
        E.DUPLICATE: S.AWAITING_ATTACHMENT,
    },
    S.AWAITING_LETTER: {
        E.LETTER_ARRIVED: S.CONVERTING,  # paired in time
        E.LETTER_INVALID: S.DELIVERING,  # S1.A3: XBIN01 delivered unconverted
        E.PAIRING_TIMEOUT: S.DELIVERING,  # S1.A3: XBIN01 delivered unconverted
        E.DUPLICATE: S.AWAITING_LETTER,
    },
    S.CONVERTING: {
        E.CONVERTED: S.DELIVERING,
        E.CONVERSION_FAILED: S.REJECTED,
        E.ATTACHMENT_ARRIVED: S.CONVERTING,  # late XBIN01: forwarded unconverted
        E.ATTACHMENT_INVALID: S.CONVERTING,
        E.RECEIPT_FORWARDED: S.CONVERTING,
        E.DUPLICATE: S.CONVERTING,
    },
    S.DELIVERING: {
        E.DELIVERED: S.AWAITING_RECEIPTS,
        E.DELIVERED_NO_RECEIPT: S.COMPLETED,
        E.DELIVERY_FAILED: S.DELIVERING,
        E.LETTER_ARRIVED: S.CONVERTING,  # late XDIS91 after its XBIN01 went unconverted (S1.A3)
        E.LETTER_INVALID: S.DELIVERING,
        E.ATTACHMENT_ARRIVED: S.DELIVERING,
        E.ATTACHMENT_INVALID: S.DELIVERING,
        E.RECEIPT_FORWARDED: S.DELIVERING,
        E.DUPLICATE: S.DELIVERING,
    },
    S.AWAITING_RECEIPTS: {
        E.RECEIPT_PARTIAL: S.AWAITING_RECEIPTS,
        E.RECEIPT_OK: S.COMPLETED,
        E.RECEIPT_NEGATIVE: S.COMPLETED,
        E.RECEIPT_FORWARDED: S.AWAITING_RECEIPTS,
        E.RECEIPT_ALERT: S.AWAITING_RECEIPTS,
        E.CLOSING_TIMEOUT: S.CLOSED,  # no action: the sender resends by itself (§7)
        E.LETTER_ARRIVED: S.CONVERTING,
        E.LETTER_INVALID: S.AWAITING_RECEIPTS,
        E.ATTACHMENT_ARRIVED: S.AWAITING_RECEIPTS,
        E.ATTACHMENT_INVALID: S.AWAITING_RECEIPTS,
        E.DUPLICATE: S.AWAITING_RECEIPTS,
    },
    S.COMPLETED: {
        E.RECEIPT_FORWARDED: S.COMPLETED,
        # Flows converted message by message (OIOXML <-> EDIFACT) convert every receipt, as a VANS does: also
        # one that comes after the first, or a negative one to a letter that asked for no positive receipt.
        E.RECEIPT_PARTIAL: S.COMPLETED,
        E.RECEIPT_OK: S.COMPLETED,
        E.RECEIPT_NEGATIVE: S.COMPLETED,
        E.CLOSING_TIMEOUT: S.CLOSED,
        E.LETTER_ARRIVED: S.CONVERTING,
        E.LETTER_INVALID: S.COMPLETED,
        E.ATTACHMENT_ARRIVED: S.COMPLETED,
        E.ATTACHMENT_INVALID: S.COMPLETED,
        E.DUPLICATE: S.COMPLETED,
    },
    S.CLOSED: {
        E.RECEIPT_FORWARDED: S.CLOSED,  # §7: late receipt forwarded unconverted
        E.DUPLICATE: S.CLOSED,
    },
    S.REJECTED: {
        E.LETTER_ARRIVED: S.CONVERTING,  # the XBIN01 was invalid: convert the XDIS91 with an empty payload
        E.LETTER_INVALID: S.REJECTED,  # both invalid: nothing delivered
        E.ATTACHMENT_ARRIVED: S.REJECTED,  # the XDIS91 was invalid: XBIN01 forwarded unconverted (S1.A3)
        E.ATTACHMENT_INVALID: S.REJECTED,
        E.RECEIPT_FORWARDED: S.REJECTED,
        E.CLOSING_TIMEOUT: S.CLOSED,
        E.DUPLICATE: S.REJECTED,  # the same negative answer again (§8)
    },
    S.QUARANTINED: {
        E.DUPLICATE: S.QUARANTINED,
    },
}

INITIAL_STATE = S.RECEIVED

_PAIRING_EVENTS = frozenset({E.LETTER_ARRIVED, E.LETTER_INVALID, E.ATTACHMENT_ARRIVED, E.ATTACHMENT_INVALID})
_TO_FHIR = (Route.OIOXML_TO_FHIR, Route.EDIFACT_TO_FHIR)
TWIN_ROUTES = frozenset({Route.OIOXML_TO_EDIFACT, Route.EDIFACT_TO_OIOXML})
"""Routes converted message by message, receipts included, as a VANS converts them (no correlation needed)."""
_RECEIPT_EVENTS = frozenset({E.RECEIPT_PARTIAL, E.RECEIPT_OK, E.RECEIPT_NEGATIVE})
#: The routes a routing event may set, the default first (the event names the target format, the route adds
#: the source). Pairing events set a route only on a flow that has none yet (an invalid first partner).
ROUTES_OF: dict[Event, tuple[Route, ...]] = {
    E.PASS_THROUGH: (Route.PASS_THROUGH,),
    E.CONVERT_TO_FHIR: _TO_FHIR,
    E.CONVERT_TO_OIOXML: (Route.FHIR_TO_OIOXML, Route.EDIFACT_TO_OIOXML),
    E.CONVERT_TO_EDIFACT: (Route.FHIR_TO_EDIFACT, Route.OIOXML_TO_EDIFACT),
    E.AWAIT_ATTACHMENT: _TO_FHIR,
    E.AWAIT_LETTER: _TO_FHIR,
    **{e: _TO_FHIR for e in _PAIRING_EVENTS},
}
_LETTER_EVENTS = frozenset({E.LETTER_ARRIVED, E.LETTER_INVALID})


class ImpossibleTransition(Exception):
    """An event that the flow's current state does not allow (a hub bug or a misclassified input)."""

    def __init__(self, flow: Flow, event: Event, why: str = "") -> None:
        allowed = ", ".join(sorted(TRANSITIONS[flow.state]))
        detail = why or f"allowed in {flow.state.value}: {allowed}"
        super().__init__(
            f"flow {flow.id}: event {event.value!r} is impossible in state {flow.state.value!r} ({detail})"
        )
        self.flow = flow
        self.event = event


@dataclass(frozen=True, slots=True)
class Flow:
    """The part of a flow that decides transitions. Everything else (ids, parties, payloads) is stored beside it.

    `has_letter` is true once the flow holds its primary message (a valid XDIS91, a CareCommunication, the
    pass-through original); pairing events for a letter are impossible after that.
    """

    id: str
    state: State = INITIAL_STATE
    route: Route | None = None
    has_letter: bool = False

    @property
    def terminal(self) -> bool:
        return self.state in (S.CLOSED, S.QUARANTINED)


def allowed(state: State) -> frozenset[Event]:
    return frozenset(TRANSITIONS[state])


def step(
    flow: Flow, event: Event, now: datetime, route: Route | None = None
) -> tuple[Flow, tuple[Effect, ...]]:
    """Apply `event` at time `now`: the new flow value and the effects, or raise ImpossibleTransition.
    `route` is the direction a routing event decided (default: the event's first in `ROUTES_OF`)."""
    target = TRANSITIONS[flow.state].get(event)
    if target is None:
        raise ImpossibleTransition(flow, event)
    _check_guards(flow, event)
    new_route = _route(flow, event, route)
    has_letter = flow.has_letter or event in (
        E.PASS_THROUGH,
        E.CONVERT_TO_FHIR,
        E.CONVERT_TO_OIOXML,
        E.CONVERT_TO_EDIFACT,
        E.AWAIT_ATTACHMENT,
        E.LETTER_ARRIVED,
    )
    new = replace(flow, state=target, route=new_route, has_letter=has_letter)
    return new, _effects(flow.state, event, target, now)


def _route(flow: Flow, event: Event, route: Route | None) -> Route | None:
    admitted = ROUTES_OF.get(event)
    if admitted is None or (event in _PAIRING_EVENTS and flow.route is not None):
        if route is not None and route is not flow.route:
            raise ImpossibleTransition(flow, event, f"{event.value} does not set the route {route.value}")
        return flow.route
    if route is None:
        return admitted[0]
    if route not in admitted:
        allowed_routes = ", ".join(r.value for r in admitted)
        raise ImpossibleTransition(flow, event, f"route {route.value} is not one of {allowed_routes}")
    return route


def _check_guards(flow: Flow, event: Event) -> None:
    if event in _PAIRING_EVENTS and flow.state is not S.RECEIVED and flow.route not in _TO_FHIR:
        raise ImpossibleTransition(
            flow, event, "XDIS91/XBIN01 (DIS91/BIN01) pairing applies only to flows converted to FHIR"
        )
    if event in _RECEIPT_EVENTS and flow.state is S.COMPLETED and flow.route not in TWIN_ROUTES:
        raise ImpossibleTransition(
            flow, event, "a completed flow converts receipts only when it is converted message by message"
        )
    if event in _LETTER_EVENTS and flow.has_letter:
        raise ImpossibleTransition(
            flow, event, "the flow already holds its XDIS91; a second one is a new flow"
        )


def _effects(source: State, event: Event, target: State, now: datetime) -> tuple[Effect, ...]:
    effects: list[Effect] = []
    if (
        source in (S.AWAITING_ATTACHMENT, S.AWAITING_LETTER)
        and target != source
        and event is not E.PAIRING_TIMEOUT
    ):
        effects.append(CancelTimer(Timer.PAIRING))
    effects.extend(Do(a) for a in _actions(source, event, target))
    if target in (S.AWAITING_ATTACHMENT, S.AWAITING_LETTER) and source is S.RECEIVED:
        effects.append(StartTimer(Timer.PAIRING, now + PAIRING_WAIT))
    if event is E.DELIVERED:
        effects.append(StartTimer(Timer.RECEIPT_ALERT, now + RECEIPT_ALERT_AFTER))
        effects.append(StartTimer(Timer.CLOSING, add_months(now, CLOSING_MONTHS)))
    if event is E.DELIVERED_NO_RECEIPT or (target is S.REJECTED and source is not S.REJECTED):
        # Kept this long so that duplicates still get the first answer (§8: "longer is better").
        effects.append(StartTimer(Timer.CLOSING, add_months(now, CLOSING_MONTHS)))
    if source is S.AWAITING_RECEIPTS and target is not S.AWAITING_RECEIPTS and event is not E.RECEIPT_ALERT:
        effects.append(CancelTimer(Timer.RECEIPT_ALERT))
    if target is S.CLOSED and source is not S.CLOSED:
        effects.append(CancelTimer(Timer.RECEIPT_ALERT))
    if target is S.CONVERTING and source in (S.AWAITING_RECEIPTS, S.COMPLETED, S.REJECTED):
        # A late XDIS91 makes the flow active again; the closing clock restarts at its delivery.
        effects.append(CancelTimer(Timer.CLOSING))
    return tuple(effects)


def _actions(source: State, event: Event, target: State) -> tuple[Action, ...]:
    """The actions of one transition; the (state, event) pairs with special meaning are spelled out."""
    A = Action
    if event in (E.ATTACHMENT_ARRIVED, E.LETTER_ARRIVED):
        # In time the partner completes the pair; late (or after an invalid partner) the rules differ:
        # a late XBIN01 is forwarded unconverted, a late XDIS91 is converted with empty attachment payloads.
        if source in (S.AWAITING_ATTACHMENT, S.AWAITING_LETTER) or event is E.LETTER_ARRIVED:
            return (A.CONVERT,)
        return (A.FORWARD_UNCONVERTED,)
    if event in (E.ATTACHMENT_INVALID, E.LETTER_INVALID):
        if source is S.AWAITING_ATTACHMENT:
            return (A.NEGATIVE_VANS_RECEIPT, A.CONVERT)
        if source is S.AWAITING_LETTER:
            return (A.NEGATIVE_VANS_RECEIPT, A.DELIVER)
        return (A.NEGATIVE_VANS_RECEIPT,)
    if event is E.PAIRING_TIMEOUT:
        return (A.CONVERT,) if source is S.AWAITING_ATTACHMENT else (A.DELIVER,)
    return _SIMPLE_ACTIONS.get(event, ())


_SIMPLE_ACTIONS: dict[Event, tuple[Action, ...]] = {
    E.PASS_THROUGH: (Action.DELIVER,),
    E.CONVERT_TO_FHIR: (Action.CONVERT,),
    E.CONVERT_TO_OIOXML: (Action.CONVERT,),
    E.CONVERT_TO_EDIFACT: (Action.CONVERT,),
    E.INPUT_INVALID: (Action.NEGATIVE_VANS_RECEIPT,),
    E.INPUT_UNREADABLE: (Action.QUARANTINE, Action.NEGATIVE_VANS_RECEIPT),
    E.ROUTE_FAILED: (Action.NEGATIVE_VANS_RECEIPT,),
    E.CONVERTED: (Action.DELIVER,),
    E.CONVERSION_FAILED: (Action.NEGATIVE_VANS_RECEIPT,),
    E.DELIVERY_FAILED: (Action.DELIVER,),
    E.RECEIPT_PARTIAL: (Action.STORE_RECEIPT,),
    E.RECEIPT_OK: (Action.ANSWER_SENDER,),
    E.RECEIPT_NEGATIVE: (Action.ANSWER_SENDER,),
    E.RECEIPT_FORWARDED: (Action.FORWARD_UNCONVERTED,),
    E.RECEIPT_ALERT: (Action.ALERT,),
    E.DUPLICATE: (Action.REPEAT_ANSWER,),
}


def mermaid() -> str:
    """The state diagram as Mermaid text, generated from TRANSITIONS (self-loops grouped per state)."""
    lines = ["stateDiagram-v2", f"    [*] --> {INITIAL_STATE.value}"]
    for state, events in TRANSITIONS.items():
        by_target: dict[State, list[str]] = {}
        for event, target in events.items():
            by_target.setdefault(target, []).append(event.value)
        for target, names in by_target.items():
            lines.append(f"    {state.value} --> {target.value}: {', '.join(names)}")
    for state in (S.CLOSED, S.QUARANTINED):
        lines.append(f"    {state.value} --> [*]")
    return "\n".join(lines) + "\n"
