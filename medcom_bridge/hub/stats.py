"""Monthly statistics, computed from the append-only event log (never from counters that reset).

MedCom follows negative receipts and missing positive receipts month by month as the signals of the
transition (use cases §10; users.md lesson 8). Because every figure here is a query over `hub_events`, a
report for a past month gives the same answer after restarts and can be reproduced at any time. Months are
Danish calendar months (the `month` column, written with each event as `localtime.month_of`).

Every figure counts *flows* (distinct letters), each defined once by `condition(figure)`: the flow list's
`figure` filter (`hub.queries`) uses the same condition, so every number links to exactly the flows it
counts. A flow answered by two XCTL02 is one refused letter, not two rows; a quarantined file (input the hub
could not read at all) is quarantined input, not a negative receipt from a receiver; the hub's own negative
VANS receipts (invalid, unroutable, not convertible) are "refused by the hub", with their place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, distinct, func, or_, select

from medcom_bridge.hub.causes import RejectCause
from medcom_bridge.hub.events import ReceiptVerdict, Step
from medcom_bridge.hub.flow import Event, Route
from medcom_bridge.hub.schema import events

TREND_MONTHS = 13
"""A year and the same month the year before."""

RECEIPT_KINDS = frozenset({"xctl01", "xctl02", "xctl03", "ctl01", "ctl02", "ctl03", "acknowledgement"})
"""Message kinds that are receipts: their delivery is no letter delivered."""
_NOT_A_CODE = RECEIPT_KINDS | {"unknown"}
"""What events written before the refuse code was recorded carry as `cause`: the receipt's kind, which says
nothing about why the letter was refused. (An Acknowledgement's code is its response code, `fatal-error` or
`transient-error`, then and now.)"""


class Figure(StrEnum):
    """What a statistic counts (flows with an event of the month matching `condition(figure)`)."""

    LETTERS = "letters"
    """Letters delivered to their receiver (receipts passed on are not letters)."""
    CONVERSIONS = "conversions"
    """Letters converted (per direction: the event's route)."""
    RECEIVER_NEGATIVE = "receiver_negative"
    """Letters the receiver answered with a negative receipt (XCTL02, CTL02, a negative Acknowledgement)."""
    HUB_REFUSED = "hub_refused"
    """Letters the hub refused with its own negative VANS receipt (invalid, unroutable, not convertible)."""
    QUARANTINED = "quarantined"
    """Input the hub could not read at all, kept in quarantine."""
    MISSING = "missing"
    """Letters whose receipts were still missing 120 minutes after delivery."""


FIGURE_MEANING: dict[Figure, str] = {
    Figure.LETTERS: "letters delivered",
    Figure.CONVERSIONS: "conversions",
    Figure.RECEIVER_NEGATIVE: "negative receipts from receivers",
    Figure.HUB_REFUSED: "refused by the hub",
    Figure.QUARANTINED: "quarantined input",
    Figure.MISSING: "missing receipts",
}

_RECEIVER_RECEIPTS = (Event.RECEIPT_PARTIAL, Event.RECEIPT_NEGATIVE, Event.RECEIPT_FORWARDED)
_HUB_REFUSALS = (
    Event.INPUT_INVALID,
    Event.ROUTE_FAILED,
    Event.CONVERSION_FAILED,
    Event.LETTER_INVALID,
    Event.ATTACHMENT_INVALID,
)


def condition(figure: Figure) -> list[Any]:
    """The events (of any month) that make a flow count in `figure`; callers add the month."""
    e = events.c
    if figure is Figure.LETTERS:
        delivered = (Event.DELIVERED.value, Event.DELIVERED_NO_RECEIPT.value)
        return [
            e.flow_event.in_(delivered),
            or_(e.message_type.is_(None), e.message_type.not_in(sorted(RECEIPT_KINDS))),
        ]
    if figure is Figure.CONVERSIONS:
        return [e.flow_event == Event.CONVERTED.value, e.step == Step.CONVERTED.value]
    if figure is Figure.RECEIVER_NEGATIVE:
        # Each receipt the receiver sent, as it arrived (the first of two XCTL is a partial event): the
        # receipt's own code is its event's cause, whichever receipt completed the flow.
        return [
            e.flow_event.in_([x.value for x in _RECEIVER_RECEIPTS]),
            e.receipt == ReceiptVerdict.NEGATIVE.value,
        ]
    if figure is Figure.HUB_REFUSED:
        return [
            e.flow_event.in_([x.value for x in _HUB_REFUSALS]),
            e.receipt == ReceiptVerdict.NEGATIVE.value,
        ]
    if figure is Figure.QUARANTINED:
        return [e.flow_event == Event.INPUT_UNREADABLE.value]
    return [e.flow_event == Event.RECEIPT_ALERT.value]


def code_label(cause: str | None) -> str:
    """A receiver's refuse code as an operator reads it; events from before the code was recorded carry the
    receipt's kind only."""
    if not cause:
        return "no code given"
    if cause.lower() in _NOT_A_CODE:
        return f"unknown code ({cause})"
    return cause


def reject_cause(event: str, cause: str | None) -> RejectCause:
    """Why the hub refused a letter, from the refusal's event and the cause it recorded (a rule id or a
    `RejectCause` value)."""
    if cause in {c.value for c in RejectCause}:
        return RejectCause(cause)
    if event == Event.ROUTE_FAILED.value:
        return RejectCause.ROUTE
    if event == Event.CONVERSION_FAILED.value:
        return RejectCause.CONVERSION
    return RejectCause.INVALID


# -- one month's rows -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NegativeReceipts:
    """Letters `sender` sent that `receiver` refused with refuse code `cause`, in `month`."""

    month: str
    sender_gln: str | None
    receiver_gln: str | None
    cause: str | None
    place: str | None
    count: int

    @property
    def code(self) -> str:
        return code_label(self.cause)


@dataclass(frozen=True, slots=True)
class HubRefusals:
    """Letters the hub refused (its own negative VANS receipt), by where and why."""

    month: str
    sender_gln: str | None
    receiver_gln: str | None
    event: str
    place: str | None
    cause: str | None
    """The rule id (or `RejectCause` value) the refusal recorded."""
    count: int

    @property
    def reject(self) -> RejectCause:
        return reject_cause(self.event, self.cause)


@dataclass(frozen=True, slots=True)
class Quarantined:
    month: str
    sender_gln: str | None
    cause: str | None
    count: int


@dataclass(frozen=True, slots=True)
class MissingReceipts:
    month: str
    sender_gln: str | None
    receiver_gln: str | None
    flows: int


@dataclass(frozen=True, slots=True)
class Conversions:
    month: str
    route: str
    count: int


@dataclass(frozen=True, slots=True)
class PartnerRate:
    """A partner's negative-receipt rate: letters refused by receivers / letters delivered, in a month."""

    gln: str | None
    delivered: int
    negative: int

    @property
    def rate(self) -> float | None:
        return self.negative / self.delivered if self.delivered else None


def _month(query: Any, month: str | None) -> Any:
    return query.where(events.c.month == month) if month is not None else query


def negative_receipts(conn: Connection, month: str | None = None) -> list[NegativeReceipts]:
    """Letters refused by their receiver, per month, sender, receiver and the receipt's refuse code."""
    e = events.c
    query = (
        select(e.month, e.sender_gln, e.receiver_gln, e.cause, func.count(distinct(e.flow_id)))
        .where(*condition(Figure.RECEIVER_NEGATIVE))
        .group_by(e.month, e.sender_gln, e.receiver_gln, e.cause)
        .order_by(e.month, e.sender_gln, e.receiver_gln, e.cause)
    )
    return [
        NegativeReceipts(m, s, r, c, "receiver", n) for m, s, r, c, n in conn.execute(_month(query, month))
    ]


def hub_refusals(conn: Connection, month: str | None = None) -> list[HubRefusals]:
    """Letters the hub refused, per month, sender, receiver, refusal event, place and cause."""
    e = events.c
    keys = (e.month, e.sender_gln, e.receiver_gln, e.flow_event, e.failure, e.cause)
    query = (
        select(*keys, func.count(distinct(e.flow_id)))
        .where(*condition(Figure.HUB_REFUSED))
        .group_by(*keys)
        .order_by(*keys)
    )
    return [HubRefusals(*row) for row in conn.execute(_month(query, month))]


def quarantined(conn: Connection, month: str | None = None) -> list[Quarantined]:
    """Input the hub could not read, per month, sending mailbox and rule."""
    e = events.c
    keys = (e.month, e.sender_gln, e.cause)
    query = (
        select(*keys, func.count(distinct(e.flow_id)))
        .where(*condition(Figure.QUARANTINED))
        .group_by(*keys)
        .order_by(*keys)
    )
    return [Quarantined(*row) for row in conn.execute(_month(query, month))]


def missing_receipts(conn: Connection, month: str | None = None) -> list[MissingReceipts]:
    """Flows whose receipts were still missing 120 minutes after delivery, by month of the alert."""
    e = events.c
    query = (
        select(e.month, e.sender_gln, e.receiver_gln, func.count(distinct(e.flow_id)))
        .where(*condition(Figure.MISSING))
        .group_by(e.month, e.sender_gln, e.receiver_gln)
        .order_by(e.month, e.sender_gln, e.receiver_gln)
    )
    return [MissingReceipts(*row) for row in conn.execute(_month(query, month))]


def conversions(conn: Connection, month: str | None = None) -> list[Conversions]:
    """Letters converted per month and direction: a `flow.Route` value (oioxml_to_fhir, fhir_to_oioxml,
    and for EDIFACT fhir_to_edifact, edifact_to_fhir, xml_to_edifact, edifact_to_xml). A flow converted
    message by message (an XDIS91 and its XBIN01 to EDIFACT) is one letter."""
    e = events.c
    query = (
        select(e.month, e.route, func.count(distinct(e.flow_id)))
        .where(*condition(Figure.CONVERSIONS))
        .group_by(e.month, e.route)
        .order_by(e.month, e.route)
    )
    return [Conversions(*row) for row in conn.execute(_month(query, month))]


def pass_throughs(conn: Connection, month: str | None = None) -> dict[str, int]:
    """Messages passed through unchanged (the receiver takes the sender's format), per month."""
    e = events.c
    query = (
        select(e.month, func.count())
        .where(e.flow_event == Event.PASS_THROUGH.value, e.route == Route.PASS_THROUGH.value)
        .group_by(e.month)
        .order_by(e.month)
    )
    return {m: n for m, n in conn.execute(_month(query, month))}


def _by_pair(conn: Connection, figure: Figure, month: str) -> dict[tuple[str | None, str | None], int]:
    e = events.c
    query = (
        select(e.sender_gln, e.receiver_gln, func.count(distinct(e.flow_id)))
        .where(e.month == month, *condition(figure))
        .group_by(e.sender_gln, e.receiver_gln)
    )
    return {(s, r): n for s, r, n in conn.execute(query)}


def partner_rates(conn: Connection, month: str) -> tuple[list[PartnerRate], list[PartnerRate]]:
    """Per receiver and per sender: letters delivered in `month`, letters refused by the receiver in `month`.

    Counted per (sender, receiver) pair in two queries and summed: a flow has one sender and one receiver, so
    the sums are distinct flows too. A letter delivered on 31 March and refused on 1 April counts in March's
    deliveries and April's refusals (the rate of a month is of its events)."""
    delivered = _by_pair(conn, Figure.LETTERS, month)
    negative = _by_pair(conn, Figure.RECEIVER_NEGATIVE, month)

    def per(side: int) -> list[PartnerRate]:
        totals: dict[str | None, list[int]] = {}
        for pair, n in delivered.items():
            totals.setdefault(pair[side], [0, 0])[0] += n
        for pair, n in negative.items():
            totals.setdefault(pair[side], [0, 0])[1] += n
        rates = [PartnerRate(gln, d, n) for gln, (d, n) in totals.items()]
        return sorted(rates, key=lambda p: (-(p.rate or 0.0), -p.negative, p.gln or ""))

    return per(1), per(0)


# -- trends ------------------------------------------------------------------------------------------------------

TREND_FIGURES = (
    Figure.LETTERS,
    Figure.RECEIVER_NEGATIVE,
    Figure.MISSING,
    Figure.HUB_REFUSED,
    Figure.QUARANTINED,
)


@dataclass(frozen=True, slots=True)
class Trends:
    """Flows per figure per month over `months` (oldest first); conversions per direction."""

    months: list[str]
    counts: dict[Figure, dict[str, int]]
    conversions: dict[str, dict[str, int]]
    """Route -> month -> letters converted."""

    def series(self, figure: Figure) -> list[int]:
        found = self.counts.get(figure, {})
        return [found.get(m, 0) for m in self.months]

    def route_series(self, route: str) -> list[int]:
        found = self.conversions.get(route, {})
        return [found.get(m, 0) for m in self.months]


def trends(conn: Connection, months: Sequence[str]) -> Trends:
    """One query per figure over the months (the (month, flow_event) index), plus one for conversions."""
    e = events.c
    counts: dict[Figure, dict[str, int]] = {}
    for figure in TREND_FIGURES:
        query = (
            select(e.month, func.count(distinct(e.flow_id)))
            .where(e.month.in_(list(months)), *condition(figure))
            .group_by(e.month)
        )
        counts[figure] = {m: n for m, n in conn.execute(query)}
    by_route: dict[str, dict[str, int]] = {}
    query = (
        select(e.route, e.month, func.count(distinct(e.flow_id)))
        .where(e.month.in_(list(months)), *condition(Figure.CONVERSIONS))
        .group_by(e.route, e.month)
    )
    for route, m, n in conn.execute(query):
        by_route.setdefault(route or "unknown", {})[m] = n
    return Trends(list(months), counts, dict(sorted(by_route.items())))
