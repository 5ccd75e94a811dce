"""The read side of the operations API and pages: flows by indexed facts, one flow in full, the overview.

Read-only SQL over the hub's tables (`medcom_bridge.hub.schema`); every write goes through `hub.store.Tx`.
Filters use indexed columns only (state, GLNs, letter/envelope/Bundle id, created/updated time, event month,
timer flow id), and lists are paged by a keyset cursor, not OFFSET, so page 1000 of a national month costs
what page 1 does (users.md lesson 5). Nothing here returns a CPR number or letter text: flows carry ids only.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, exists, func, or_, select

from medcom_bridge.hub import lineage
from medcom_bridge.hub import schema as t
from medcom_bridge.hub.clock import utc
from medcom_bridge.hub.events import Outcome, Place, ReceiptVerdict, TraceEvent
from medcom_bridge.hub.flow import Event, Route, State, Timer
from medcom_bridge.hub.lineage import Link
from medcom_bridge.hub.outcome import ReceiptOutcome, receipt_outcome
from medcom_bridge.hub.stats import Figure
from medcom_bridge.hub.stats import condition as figure_condition
from medcom_bridge.hub.store import StoredMessage, Tx, event_from_row
from medcom_bridge.localtime import month_of

MAX_PAGE = 500
DEFAULT_PAGE = 50

WAITING_STATES = (
    State.RECEIVED,
    State.AWAITING_ATTACHMENT,
    State.AWAITING_LETTER,
    State.CONVERTING,
    State.DELIVERING,
    State.AWAITING_RECEIPTS,
)
"""States in which a flow still needs something to happen (as opposed to completed, closed, rejected...)."""

STATE_MEANING: dict[State, str] = {
    State.RECEIVED: "taken in, not yet routed",
    State.AWAITING_ATTACHMENT: "XDIS91 waits (up to 60 min) for its XBIN01",
    State.AWAITING_LETTER: "XBIN01 waits (up to 60 min) for its XDIS91",
    State.CONVERTING: "due for conversion",
    State.DELIVERING: "due for delivery to the receiver's mailbox",
    State.AWAITING_RECEIPTS: "delivered; waiting for the receiver's receipt(s)",
    State.COMPLETED: "the sender has its answer (or none was expected)",
    State.CLOSED: "closed 3 months after delivery",
    State.REJECTED: "input invalid or not convertible; negative receipt to the sender",
    State.QUARANTINED: "input unreadable; the original is in quarantine",
}

PLACE_MEANING: dict[Place, str] = {
    Place.INPUT: "the sender's input (invalid or unreadable)",
    Place.CONVERSION: "the conversion solution (conversion or validation of its result)",
    Place.REGISTER: "the conversion solution's register (SOR / SOR-EDI routing)",
    Place.RECEIVER: "the receiver: a negative receipt, or no receipt",
    Place.NETWORK: "the network / delivery to the receiver's mailbox",
}

SIDES: tuple[tuple[str, tuple[Place, ...]], ...] = (
    ("conversion solution", (Place.CONVERSION, Place.REGISTER)),
    ("network", (Place.NETWORK,)),
    ("receiver", (Place.RECEIVER,)),
    ("sender", (Place.INPUT,)),
)
"""The overview's question, "is it in the conversion solution, the network or the receiver?", by place."""


class BadFilter(ValueError):
    """A filter value that cannot be used; the message says what a correct value looks like."""


@dataclass(frozen=True, slots=True)
class FlowFilter:
    state: State | None = None
    sender_gln: str | None = None
    receiver_gln: str | None = None
    letter_id: str | None = None
    envelope_id: str | None = None
    bundle_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    """Exclusive upper bound."""
    # Event filters: flows with at least one event matching all of these (the statistics' deep links).
    month: str | None = None
    failure: Place | None = None
    cause: str | None = None
    receipt: ReceiptVerdict | None = None
    event: Event | None = None
    route: Route | None = None
    figure: Figure | None = None
    """Flows counted in a monthly statistic (`hub.stats.condition`): its numbers link here."""
    overdue_at: datetime | None = None
    """Flows awaiting receipts whose 120-minute receipt alert is due at this time."""
    organisations: frozenset[str] | None = None
    """Access control, not a search: only flows one of these EANs sends or receives (None: every flow)."""

    @property
    def has_event_filter(self) -> bool:
        return any(
            v is not None
            for v in (self.month, self.failure, self.cause, self.receipt, self.event, self.route, self.figure)
        )

    def query_args(self) -> dict[str, str]:
        """The filter as URL query arguments (for deep links and the next-page link)."""
        args: dict[str, str] = {}
        for name in ("sender_gln", "receiver_gln", "letter_id", "envelope_id", "bundle_id", "month", "cause"):
            value = getattr(self, name)
            if value:
                args[name] = value
        for name in ("state", "failure", "receipt", "event", "route", "figure"):
            enum = getattr(self, name)
            if enum is not None:
                args[name] = enum.value
        if self.created_from is not None:
            args["created_from"] = self.created_from.isoformat()
        if self.created_to is not None:
            args["created_to"] = self.created_to.isoformat()
        if self.overdue_at is not None:
            args["overdue"] = "true"
        return args


@dataclass(frozen=True, slots=True)
class FlowRow:
    id: str
    state: str
    route: str | None
    kind: str | None
    sender_gln: str | None
    receiver_gln: str | None
    letter_id: str | None
    envelope_id: str | None
    bundle_id: str | None
    receipt_expected: bool
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "route": self.route,
            "kind": self.kind,
            "sender_gln": self.sender_gln,
            "receiver_gln": self.receiver_gln,
            "letter_id": self.letter_id,
            "envelope_id": self.envelope_id,
            "bundle_id": self.bundle_id,
            "receipt_expected": self.receipt_expected,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
        }


Names = Callable[[str | None], str | None]
"""The register's name of a location number (None when unknown)."""


def flow_json(row: FlowRow, receipt: ReceiptOutcome, party: Names) -> dict[str, Any]:
    """A flow as the API and `flow list --json` give it: its facts (instants in ISO 8601 UTC: for machines),
    its receipt outcome and the register's names of its parties."""
    return {
        **row.to_json(),
        "sender_name": party(row.sender_gln),
        "receiver_name": party(row.receiver_gln),
        "receipt": receipt.to_json(),
    }


@dataclass(frozen=True, slots=True)
class Page:
    flows: list[FlowRow]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class FlowDetail:
    flow: FlowRow
    messages: list[StoredMessage]
    events: list[TraceEvent]
    timers: dict[Timer, datetime]
    failure: TraceEvent | None
    """The latest failure event, if the flow ever failed: where and why."""
    lineage: list[Link] = field(default_factory=list)
    """Reprocesses this flow took part in, as the old or the new flow (hub.reprocess)."""

    @property
    def where(self) -> str:
        return STATE_MEANING.get(State(self.flow.state), self.flow.state)

    @property
    def receipt(self) -> ReceiptOutcome:
        """The flow's receipt outcome, from the events already loaded."""
        return receipt_outcome(State(self.flow.state), self.flow.receipt_expected, self.events)

    @property
    def receipts(self) -> list[StoredMessage]:
        return [
            m for m in self.messages if m.role in ("receipt", "answer", "negative_receipt", "repeated_answer")
        ]


@dataclass(frozen=True, slots=True)
class Overview:
    now: datetime
    month: str
    states: dict[str, int]
    failures: dict[str, int]
    """Failure events of `month` per place."""
    oldest_waiting: list[FlowRow]
    overdue_receipts: int
    overdue_sample: list[FlowRow] = field(default_factory=list)


def _row(r: Any) -> FlowRow:
    return FlowRow(
        id=r["id"],
        state=r["state"],
        route=r["route"],
        kind=r["kind"],
        sender_gln=r["sender_gln"],
        receiver_gln=r["receiver_gln"],
        letter_id=r["letter_id"],
        envelope_id=r["envelope_id"],
        bundle_id=r["bundle_id"],
        receipt_expected=bool(r["receipt_expected"]),
        created_at=utc(r["created_at"]),
        updated_at=utc(r["updated_at"]),
        closed_at=utc(r["closed_at"]) if r["closed_at"] else None,
    )


def encode_cursor(row: FlowRow) -> str:
    raw = f"{row.created_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, flow_id = raw.split("|", 1)
        return utc(datetime.fromisoformat(when)), flow_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadFilter(
            f"cursor {cursor!r} is not one this server gave out; start again without it"
        ) from None


def _where(f: FlowFilter) -> list[Any]:
    c = t.flows.c
    conditions: list[Any] = []
    for name in ("sender_gln", "receiver_gln", "letter_id", "envelope_id", "bundle_id"):
        value = getattr(f, name)
        if value:
            conditions.append(c[name] == value)
    if f.state is not None:
        conditions.append(c.state == f.state.value)
    if f.created_from is not None:
        conditions.append(c.created_at >= f.created_from)
    if f.created_to is not None:
        conditions.append(c.created_at < f.created_to)
    if f.has_event_filter:
        e = t.events.c
        matching = select(e.flow_id)
        if f.month is not None:
            matching = matching.where(e.month == f.month)
        if f.failure is not None:
            matching = matching.where(e.outcome == Outcome.FAILURE.value, e.failure == f.failure.value)
        if f.cause is not None:
            matching = matching.where(e.cause == f.cause)
        if f.receipt is not None:
            matching = matching.where(e.receipt == f.receipt.value)
        if f.event is not None:
            matching = matching.where(e.flow_event == f.event.value)
        if f.route is not None:
            matching = matching.where(e.route == f.route.value)
        if f.figure is not None:
            matching = matching.where(*figure_condition(f.figure))
        conditions.append(c.id.in_(matching))
    if f.organisations is not None:
        orgs = sorted(f.organisations)
        conditions.append(or_(c.sender_gln.in_(orgs), c.receiver_gln.in_(orgs)))
    if f.overdue_at is not None:
        conditions.append(c.state == State.AWAITING_RECEIPTS.value)
        conditions.append(receipt_alert_due(f.overdue_at))
    return conditions


def receipt_alert_due(now: datetime) -> Any:
    """The flow's 120-minute receipt alert fired, or is due and not yet fired (the loop is behind). A fired
    alert counts whatever its due time: a flow processed with a clock ahead of this one (`--advance`) must
    not drop out of "receipts overdue" while it still carries the alert."""
    tm = t.timers.c
    return exists().where(
        tm.flow_id == t.flows.c.id,
        tm.kind == Timer.RECEIPT_ALERT.value,
        or_(tm.status == "fired", and_(tm.status == "pending", tm.due_at <= now)),
    )


def list_flows(
    conn: Connection, f: FlowFilter, *, limit: int = DEFAULT_PAGE, cursor: str | None = None
) -> Page:
    """Newest first; `cursor` (from the previous page) continues after its last flow."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadFilter(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    c = t.flows.c
    query = select(t.flows).where(*_where(f)).order_by(c.created_at.desc(), c.id.desc()).limit(limit + 1)
    if cursor:
        when, flow_id = decode_cursor(cursor)
        query = query.where(or_(c.created_at < when, and_(c.created_at == when, c.id < flow_id)))
    rows = [_row(r) for r in conn.execute(query).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1]) if more and rows else None)


_OUTCOME_EVENTS = tuple(
    e.value
    for e in (
        Event.RECEIPT_PARTIAL,
        Event.RECEIPT_OK,
        Event.RECEIPT_NEGATIVE,
        Event.RECEIPT_ALERT,
        Event.INPUT_INVALID,
        Event.INPUT_UNREADABLE,
        Event.ROUTE_FAILED,
        Event.CONVERSION_FAILED,
    )
)


def receipt_events(conn: Connection, flow_ids: list[str]) -> dict[str, list[TraceEvent]]:
    """The events that decide the flows' receipt outcomes (`hub.outcome`), oldest first, in one query."""
    e = t.events.c
    # `coalesce` (the same test: NULL is in no list) keeps the event kind out of SQLite's index choice: without
    # statistics it would read every receipt event of the log by the (flow_event, at) index instead of the
    # page's few flows by their flow_id index (bench/operations.py: 6 ms -> 42 ms per page of 50).
    query = (
        select(t.events)
        .where(e.flow_id.in_(flow_ids), func.coalesce(e.flow_event, "").in_(_OUTCOME_EVENTS))
        .order_by(e.flow_id, e.seq)
    )
    found: dict[str, list[TraceEvent]] = {}
    for row in conn.execute(query).mappings():
        found.setdefault(row["flow_id"], []).append(event_from_row(row))
    return found


def flow_row(conn: Connection, flow_id: str) -> FlowRow | None:
    r = conn.execute(select(t.flows).where(t.flows.c.id == flow_id)).mappings().first()
    return _row(r) if r is not None else None


def flow_detail(tx: Tx, flow_id: str) -> FlowDetail | None:
    row = flow_row(tx.conn, flow_id)
    if row is None:
        return None
    events = tx.events(flow_id)
    failure = next((e for e in reversed(events) if e.failed), None)
    links = lineage.of_flow(tx.conn, flow_id)
    return FlowDetail(row, tx.messages(flow_id), events, tx.pending_timers(flow_id), failure, links)


def overview(conn: Connection, now: datetime, *, month: str | None = None, sample: int = 10) -> Overview:
    """Is there a problem, and where: counts per state, failures per place this month, the oldest waiting
    flows and the flows whose receipts are overdue (past 120 minutes)."""
    month = month or month_of(now)
    c = t.flows.c
    states = {s: n for s, n in conn.execute(select(c.state, func.count()).group_by(c.state))}
    e = t.events.c
    failures = {
        place: n
        for place, n in conn.execute(
            select(e.failure, func.count(func.distinct(e.flow_id)))
            .where(e.month == month, e.outcome == Outcome.FAILURE.value)
            .group_by(e.failure)
        )
    }
    waiting = conn.execute(
        select(t.flows)
        .where(c.state.in_([s.value for s in WAITING_STATES]))
        .order_by(c.updated_at, c.id)
        .limit(sample)
    ).mappings()
    overdue = (c.state == State.AWAITING_RECEIPTS.value, receipt_alert_due(now))
    overdue_count = conn.execute(select(func.count()).select_from(t.flows).where(*overdue)).scalar_one()
    overdue_rows = conn.execute(
        select(t.flows).where(*overdue).order_by(c.updated_at, c.id).limit(sample)
    ).mappings()
    return Overview(
        now=now,
        month=month,
        states=states,
        failures=failures,
        oldest_waiting=[_row(r) for r in waiting],
        overdue_receipts=int(overdue_count),
        overdue_sample=[_row(r) for r in overdue_rows],
    )


def parse_month(value: str) -> str:
    try:
        datetime.strptime(value, "%Y-%m")
    except ValueError:
        raise BadFilter(f"month {value!r} must look like 2026-01") from None
    return value


def parse_when(name: str, value: str) -> datetime:
    """A date (`2026-01-20`, meaning its midnight UTC) or a date-time with offset; naive times are UTC."""
    try:
        return utc(datetime.fromisoformat(value))
    except ValueError:
        raise BadFilter(f"{name} {value!r} must be a date like 2026-01-20 or 2026-01-20T08:00:00Z") from None


_E = TypeVar("_E", State, Place, ReceiptVerdict, Event, Route, Figure)
_ID_FILTERS = ("sender_gln", "receiver_gln", "letter_id", "envelope_id", "bundle_id", "cause")


EVENT_FILTERS = ("failure", "cause", "receipt", "event", "route", "figure")
FILTER_KEYS = (
    "state",
    *_ID_FILTERS[:-1],
    "created_from",
    "created_to",
    "month",
    *EVENT_FILTERS,
    "overdue",
)
"""Every argument `parse_filter` takes: the query of `GET /flows` and the options of `flow list` (a test
holds both to this list, so they cannot drift apart)."""


def parse_filter(args: dict[str, str | None], now: datetime, *, default_month: bool = False) -> FlowFilter:
    """A FlowFilter from query arguments; empty values (from an HTML form) mean 'no filter'.

    Event filters (failure, cause, receipt, event, route) search the event log, which is indexed by month:
    they need `month`, or with `default_month` (the pages) they take the current month.
    """
    given = {k: v.strip() for k, v in args.items() if v is not None and v.strip()}
    if "month" not in given and any(name in given for name in EVENT_FILTERS):
        if not default_month:
            raise BadFilter(
                "failure, cause, receipt, event, route and figure need month=YYYY-MM (e.g. 2026-01)"
            )
        given["month"] = month_of(now)
    unknown = set(given) - set(FILTER_KEYS)
    if unknown:
        raise BadFilter(f"unknown filter(s): {', '.join(sorted(unknown))}")
    for name in _ID_FILTERS:
        if name in given and len(given[name]) > 128:
            raise BadFilter(f"{name} is longer than any id the hub stores (128 characters)")
    overdue = given.get("overdue", "false").lower()
    if overdue not in ("true", "false", "1", "0", "yes", "no"):
        raise BadFilter(f"overdue {overdue!r} must be true or false")
    return FlowFilter(
        state=_enum(State, "state", given.get("state")),
        sender_gln=given.get("sender_gln"),
        receiver_gln=given.get("receiver_gln"),
        letter_id=given.get("letter_id"),
        envelope_id=given.get("envelope_id"),
        bundle_id=given.get("bundle_id"),
        created_from=parse_when("created_from", given["created_from"]) if "created_from" in given else None,
        created_to=parse_when("created_to", given["created_to"]) if "created_to" in given else None,
        month=parse_month(given["month"]) if "month" in given else None,
        failure=_enum(Place, "failure", given.get("failure")),
        cause=given.get("cause"),
        receipt=_enum(ReceiptVerdict, "receipt", given.get("receipt")),
        event=_enum(Event, "event", given.get("event")),
        route=_enum(Route, "route", given.get("route")),
        figure=_enum(Figure, "figure", given.get("figure")),
        overdue_at=now if overdue in ("true", "1", "yes") else None,
    )


def _enum(kind: type[_E], name: str, value: str | None) -> _E | None:
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise BadFilter(f"{name} {value!r} is not one of: {allowed}") from None
