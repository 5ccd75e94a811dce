"""Durable hub state: flows, payloads, messages, correlations, keys, timers and the event log.

SQLite (a file in the spool) by default, PostgreSQL in production; the schema comes from the Alembic
migrations shipped inside the package. Every state change happens in one transaction (`Store.transaction()`):
the flow row (locked, version-checked), its timers, its messages and its appended trace event commit together
or not at all, so a crash between two steps leaves a flow in a state the next run can continue from.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    Table,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from medcom_bridge.hub import schema as t
from medcom_bridge.hub.blobs import BlobStore
from medcom_bridge.hub.clock import utc
from medcom_bridge.hub.events import (
    Outcome,
    Place,
    ReceiptVerdict,
    Step,
    Subtype,
    TraceEvent,
    default_subtype,
)
from medcom_bridge.hub.flow import (
    Event,
    Flow,
    Route,
    State,
    Timer,
)
from medcom_bridge.hub.observe import Committed
from medcom_bridge.hub.trace import TRACE_DEFAULTS
from medcom_bridge.hub.work import WorkStep
from medcom_bridge.localtime import month_of

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


_R = TypeVar("_R")
#: Payloads smaller than this stay in their (cold) `hub_payloads` row, written in the same commit; larger ones
#: go to the blob store. Most receipts and letters are a few kB, for which a file, its fsync and its folder
#: cost more than the row; the letters with attachments that make memory and database size matter are large.
INLINE_PAYLOAD_MAX = 64 * 1024
#: Attempts and backoff of a unit of work that meets transient database errors (`Store.run`).
RETRY_ATTEMPTS = 16
RETRY_FIRST_DELAY = 0.05
RETRY_MAX_DELAY = 5.0


def new_id() -> str:
    return str(uuid.uuid4())


def key_digest(namespace: str, value: str) -> str:
    """What `hub_keys` stores of a key: its SHA-256, never the value. Keys are only ever looked up by their
    exact value, and a value may be anything a sender wrote (a letter id that is a CPR number, say): the
    duplicate cache must not become a copy of patient data that outlives the payloads' retention."""
    return hashlib.sha256(f"{namespace}\x00{value}".encode()).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def patient_key(cpr: str, secret: bytes) -> str:
    """A keyed hash of a CPR number for searching flows by patient without storing the number (lesson 5)."""
    return hmac.new(secret, cpr.replace("-", "").encode("ascii", "replace"), hashlib.sha256).hexdigest()


class ConcurrentUpdate(RuntimeError):
    """Another worker changed the flow between our read and our write; the step must be retried."""


class ClaimLost(RuntimeError):
    """Another transaction owns a key this one had to win (the same file, letter or XDIS91/XBIN01 pair taken
    by two workers at once). The transaction must roll back; done again, it sees the winner's commit."""

    def __init__(self, namespace: str, owner: str) -> None:
        super().__init__(f"key in {namespace!r} already belongs to flow {owner}")
        self.namespace = namespace
        self.owner = owner


class StoreUnavailable(RuntimeError):
    """The database stayed unreachable (or kept refusing) through every retry: nothing of the unit of work
    was committed, and nothing may be decided from it (no negative receipt, no quarantine)."""


def is_transient(exc: BaseException) -> bool:
    """Errors that a later attempt of the same unit of work may not meet: a lost or refused connection,
    a serialization failure or deadlock victim, a lock timeout, and our own lost races."""
    if isinstance(exc, ClaimLost | ConcurrentUpdate):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        return isinstance(exc, OperationalError | InterfaceError)
    return False


class UnknownFlow(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class FlowInfo:
    """The searchable facts of a flow, stored beside its state."""

    sender_gln: str | None = None
    receiver_gln: str | None = None
    letter_id: str | None = None
    envelope_id: str | None = None
    bundle_id: str | None = None
    kind: str | None = None
    patient_key: str | None = None
    receipt_expected: bool = True
    """False for receipts and for letters sent with `minuspositivkvitt`."""


@dataclass(frozen=True, slots=True)
class Note:
    """What the caller knows about one step, for its trace event (all optional; never patient data)."""

    reason: str | None = None
    cause: str | None = None
    failure: Place | None = None
    receipt: ReceiptVerdict | None = None
    step: Step | None = None
    subtype: Subtype | None = None
    message_id: str | None = None
    envelope_id: str | None = None
    orig_message_id: str | None = None
    message_type: str | None = None
    message_version: str | None = None
    sender_sor: str | None = None
    receiver_sor: str | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: str
    flow_id: str
    direction: str
    role: str
    kind: str | None
    envelope_id: str | None
    letter_id: str | None
    sender_gln: str | None
    receiver_gln: str | None
    payload_sha256: str
    file_name: str | None
    created_at: datetime
    delivered_at: datetime | None
    version: str | None = None
    valid: bool | None = None
    rules: str | None = None
    """Identification, kept once: the message's version, whether it was valid, its error rule ids."""


@dataclass(frozen=True, slots=True)
class Correlation:
    """Use cases §4.1 / conversion-solution.md §6: one OIOXML part of a converted flow and its FHIR twin."""

    flow_id: str
    oioxml_kind: str
    oioxml_envelope_id: str | None
    oioxml_letter_id: str | None
    oioxml_version_code: str | None
    bundle_id: str | None
    message_header_id: str | None


@dataclass(frozen=True, slots=True)
class DueTimer:
    id: int
    flow_id: str
    timer: Timer
    due_at: datetime


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with _quiet_alembic(), engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@cache  # one entry, a few revision ids fixed for the process's life (never message data)
def schema_heads() -> frozenset[str]:
    """The newest revisions of the migrations shipped with this package (read once: every readiness probe
    asks, and the migration scripts cannot change under a running process)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())


def at_head(engine: Engine) -> bool:
    """Whether the database's schema is at the newest migration this code knows (readiness: a process must
    not work on a database an older or newer release migrated)."""
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads()) == schema_heads()


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic says INFO `Context impl SQLiteImpl.` at every start of every command (issue 12): below
    WARNING it is noise to an operator; its warnings and errors still show."""
    alembic_log = logging.getLogger("alembic")
    before = alembic_log.level
    alembic_log.setLevel(max(before, logging.WARNING))
    try:
        yield
    finally:
        alembic_log.setLevel(before)


def make_engine(url: str, *, schema: str | None = None) -> Engine:
    """An engine for `url`; `schema` (PostgreSQL only) puts every table, including Alembic's, in that schema."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite begins a transaction only before a write, so a SAVEPOINT that comes first would be the
        # outermost transaction and its RELEASE a commit (an fsync, and the end of atomicity). Let SQLite see
        # our BEGIN instead (SQLAlchemy's documented recipe for pysqlite savepoints).
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return create_engine(url, connect_args=connect_args, pool_pre_ping=True, hide_parameters=True)


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we say BEGIN ourselves (see make_engine)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a committed step must survive a power cut
    cursor.close()


def default_url(spool: Path) -> str:
    """architecture.md §3.1: `--db` defaults to an SQLite file inside the spool directory."""
    return f"sqlite:///{(spool / 'medcom-bridge.sqlite').resolve()}"


class Store:
    """Persistence only: flows, messages, keys, timers, events in the database; payload bytes in the blob
    store when one is given (else in the payload rows)."""

    def __init__(
        self,
        engine: Engine,
        *,
        ids: Callable[[], str] = new_id,
        blobs: BlobStore | None = None,
        outbox: bool = False,
        inline_max: int = INLINE_PAYLOAD_MAX,
    ) -> None:
        self.engine = engine
        self.inline_max = inline_max
        self._ids = ids
        self.blobs = blobs
        self.outbox = outbox
        """Write a `hub_outbox` row for each piece of work a transaction creates (processes with a broker)."""
        self.broker: str | None = None
        """The broker the outbox is relayed to (for /health), when the process was given one."""
        self.listeners: list[Callable[[Sequence[Committed]], None]] = []
        """Told each committed transaction's trace events, after the commit (`hub.observe`: the metrics)."""

    @classmethod
    def open(
        cls,
        url: str,
        *,
        schema: str | None = None,
        ids: Callable[[], str] = new_id,
        blobs: BlobStore | None = None,
        outbox: bool = False,
    ) -> Store:
        engine = make_engine(url, schema=schema)
        migrate(engine)
        return cls(engine, ids=ids, blobs=blobs, outbox=outbox)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One unit of work: commits on normal exit, rolls back on any exception."""
        with self.engine.begin() as conn:
            tx = Tx(conn, self._ids, self.blobs, outbox=self.outbox, inline_max=self.inline_max)
            yield tx
            tx.flush()  # the buffered trace events go in before the commit, in the same transaction
            if self.blobs is not None:
                self.blobs.flush()  # every blob a row of this commit names is durable before the commit
        if self.listeners and tx.appended:  # committed: now, and only now, the events count
            self._tell(tx.committed())

    def _tell(self, committed: Sequence[Committed]) -> None:
        for listener in self.listeners:
            try:
                listener(committed)
            except Exception:  # an observer's bug must never undo or stop the hub's work
                log.exception("a commit listener failed")

    def run(self, work: Callable[[Tx], _R], *, attempts: int = RETRY_ATTEMPTS) -> _R:
        """Do `work` in one transaction, again from the start after a transient failure (backoff with jitter:
        50 ms doubling to 5 s, about a minute in all by default). Raises `StoreUnavailable` when every attempt
        failed that way; any other exception rolls back and propagates at once."""
        delay = RETRY_FIRST_DELAY
        for attempt in range(1, attempts + 1):
            try:
                with self.transaction() as tx:
                    return work(tx)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if attempt == attempts:
                    raise StoreUnavailable(
                        f"the database refused {attempts} attempts ({type(exc).__name__}); nothing was committed"
                    ) from exc
                log.warning(
                    "transient store error (%s), attempt %d of %d", type(exc).__name__, attempt, attempts
                )
                if not isinstance(exc, ClaimLost | ConcurrentUpdate):  # a lost race is retried at once
                    time.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, RETRY_MAX_DELAY)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self.engine.dispose()


# Hot statements are built once: SQLAlchemy then reuses their cache key and compiled form, which makes each
# execution about five times cheaper than building the statement anew (bench/hub.py, profile).
_FIND_KEY = select(t.keys.c.flow_id).where(
    t.keys.c.namespace == bindparam("k_namespace"), t.keys.c.value == bindparam("k_value")
)
_PAYLOAD = select(t.payloads.c.data).where(t.payloads.c.sha256 == bindparam("k_sha"))
_INSERT_MESSAGE = insert(t.messages)
_INSERT_EVENT = insert(t.events)
_INSERT_OUTBOX = insert(t.outbox)
_INSERT_FLOW = insert(t.flows)
_INSERT_TIMER = insert(t.timers)
_NEXT_SEQ = select(func.max(t.events.c.seq)).where(t.events.c.flow_id == bindparam("k_flow"))
_LAST_SEQS = (
    select(t.events.c.flow_id, func.max(t.events.c.seq))
    .where(t.events.c.flow_id.in_(bindparam("k_flows", expanding=True)))
    .group_by(t.events.c.flow_id)
)
_SET_ROLE = update(t.messages).where(t.messages.c.id == bindparam("k_id")).values(role=bindparam("v_role"))
_DELIVERED = (
    update(t.messages)
    .where(t.messages.c.id == bindparam("k_id"))
    .values(delivered_at=bindparam("v_at"), file_name=bindparam("v_name"))
)
_INSERT_CORRELATION = insert(t.correlations)
_CORRELATIONS_OF_FLOW = (
    select(t.correlations)
    .where(t.correlations.c.flow_id == bindparam("k_flow"))
    .order_by(t.correlations.c.id)
)
_FLOW_ROW = select(t.flows).where(t.flows.c.id == bindparam("k_flow"))
_FLOW_ROW_LOCKED = _FLOW_ROW.with_for_update()
_FLOW_ROWS_LOCKED = (
    select(t.flows)
    .where(t.flows.c.id.in_(bindparam("k_flows", expanding=True)))
    .order_by(t.flows.c.id)  # one lock order for every worker: no deadlocks between batches
    .with_for_update()
)
_MESSAGES_OF = (
    select(t.messages)
    .where(t.messages.c.flow_id.in_(bindparam("k_flows", expanding=True)))
    .order_by(t.messages.c.created_at, t.messages.c.id)
)
_MESSAGES = (
    select(t.messages)
    .where(t.messages.c.flow_id == bindparam("k_flow"))
    .order_by(t.messages.c.created_at, t.messages.c.id)
)
_SAVE_FLOW = (
    update(t.flows)
    .where(t.flows.c.id == bindparam("k_flow"), t.flows.c.version == bindparam("k_version"))
    .values(
        state=bindparam("v_state"),
        route=bindparam("v_route"),
        has_letter=bindparam("v_has_letter"),
        updated_at=bindparam("v_updated_at"),
        closed_at=bindparam("v_closed_at"),
        version=bindparam("v_version"),
    )
)
_CANCEL_TIMER = (
    update(t.timers)
    .where(
        t.timers.c.flow_id == bindparam("k_flow"),
        t.timers.c.kind == bindparam("k_kind"),
        t.timers.c.status == "pending",
    )
    .values(status="cancelled", done_at=bindparam("v_done_at"))
)
_INSERT_IGNORE: dict[tuple[str, str, tuple[str, ...]], Any] = {}
_KEY_COLUMNS = ["namespace", "value"]
_FIND_KEYS: dict[int, Any] = {}


def _find_keys_statement(n: int) -> Any:
    statement = _FIND_KEYS.get(n)
    if statement is None:
        keys = t.keys.c
        statement = _FIND_KEYS[n] = select(keys.namespace, keys.value, keys.flow_id).where(
            or_(
                *(
                    and_(keys.namespace == bindparam(f"k_ns{i}"), keys.value == bindparam(f"k_v{i}"))
                    for i in range(n)
                )
            )
        )
    return statement


def insert_ignore_statement(
    dialect: str, table: Table, conflict: list[str], returning: tuple[str, ...]
) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING `returning`: built once per dialect, table and form. With many
    rows it becomes one multi-row INSERT whose RETURNING names exactly the rows this call inserted."""
    statement = _INSERT_IGNORE.get((dialect, table.name, returning))
    if statement is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(table).on_conflict_do_nothing(index_elements=conflict)
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=conflict)
        else:  # pragma: no cover - only SQLite and PostgreSQL are supported
            raise NotImplementedError(f"database {dialect!r} is not supported")
        statement = statement.returning(*(table.c[name] for name in returning))
        _INSERT_IGNORE[(dialect, table.name, returning)] = statement
    return statement


class Tx:
    """The operations of one transaction. Only the hub's shell uses this; the core never sees a database."""

    def __init__(
        self,
        conn: Connection,
        ids: Callable[[], str],
        blobs: BlobStore | None = None,
        *,
        outbox: bool = False,
        inline_max: int = INLINE_PAYLOAD_MAX,
    ) -> None:
        self._inline_max = inline_max
        self.conn = conn
        self._ids = ids
        self._blobs = blobs
        # What this transaction itself wrote or read, so that it need not ask the database again: payloads by
        # digest (content-addressed, so never stale) and each flow's last event sequence number (events are
        # appended only through this object while the transaction lasts; the unique (flow_id, seq) key still
        # refuses a concurrent writer's clash).
        self._payloads: dict[str, bytes] = {}
        self._seqs: dict[str, int] = {}
        # Flow rows this transaction locked or wrote (True = locked or created here, so nobody else can change
        # them until we commit; every save is still version-checked), and the message lists it read, kept up
        # to date by its own writes. Both save the re-reads that made up half of a flow's statements.
        self._flows: dict[str, tuple[dict[str, Any], bool]] = {}
        self._messages: dict[str, list[StoredMessage]] = {}
        self._timers: dict[str, set[str]] = {}  # flows created here: the timer kinds this transaction set
        self._events: list[dict[str, Any]] = []  # appended trace events, written in one executemany
        self.appended: list[TraceEvent] = []  # the same events as values, for the commit listeners
        # Work this transaction made for a later step, (flow, step) -> when; written with the events, so the
        # outbox rows commit exactly when the work does (None: no broker, no outbox).
        self._work: dict[tuple[str, WorkStep], datetime] | None = {} if outbox else None

    # -- flows ---------------------------------------------------------------------------------------------
    def create_flow(self, now: datetime, info: FlowInfo = FlowInfo(), note: Note = Note()) -> Flow:
        flow = Flow(id=self._ids())
        row: dict[str, Any] = {
            "id": flow.id,
            "state": flow.state.value,
            "route": None,
            "has_letter": False,
            "sender_gln": info.sender_gln,
            "receiver_gln": info.receiver_gln,
            "letter_id": info.letter_id,
            "envelope_id": info.envelope_id,
            "bundle_id": info.bundle_id,
            "kind": info.kind,
            "patient_key": info.patient_key,
            "receipt_expected": info.receipt_expected,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        self.conn.execute(_INSERT_FLOW, row)
        self._flows[flow.id] = ({**row, "closed_at": None}, True)
        self._messages[flow.id] = []
        self._timers[flow.id] = set()
        self._seqs[flow.id] = 0  # a new flow has no events: no need to ask for the highest sequence number
        self._trace(flow.id, now, None, flow.state, Step.RECEIVED, None, note, info)
        return flow

    def flow(self, flow_id: str, *, lock: bool = True) -> Flow:
        row = self.flow_row(flow_id, lock=lock)
        return Flow(
            id=row["id"],
            state=State(row["state"]),
            route=Route(row["route"]) if row["route"] else None,
            has_letter=bool(row["has_letter"]),
        )

    def flow_row(self, flow_id: str, *, lock: bool = False) -> Mapping[str, Any]:
        cached = self._flows.get(flow_id)
        if cached is not None and (cached[1] or not lock):
            return cached[0]
        query = _FLOW_ROW_LOCKED if lock else _FLOW_ROW
        row = self.conn.execute(query, {"k_flow": flow_id}).mappings().first()
        if row is None:
            raise UnknownFlow(flow_id)
        self._flows[flow_id] = (dict(row), lock)
        return self._flows[flow_id][0]

    def forget(self, flow_id: str) -> None:
        """Drop what this transaction remembers of a flow after a savepoint around it was rolled back: its
        cached row and messages, and the trace events buffered for it."""
        self._flows.pop(flow_id, None)
        self._messages.pop(flow_id, None)
        self._seqs.pop(flow_id, None)
        self._events = [e for e in self._events if e["flow_id"] != flow_id]
        self.appended = [e for e in self.appended if e.flow_id != flow_id]

    def preload(self, flow_ids: list[str]) -> None:
        """Lock and read a batch of flows and their messages in two queries instead of two per flow."""
        rows_wanted = sorted({f for f in flow_ids if not self._flows.get(f, ({}, False))[1]})
        for start in range(0, len(rows_wanted), 500):
            chunk = rows_wanted[start : start + 500]
            for row in self.conn.execute(_FLOW_ROWS_LOCKED, {"k_flows": chunk}).mappings():
                self._flows[row["id"]] = (dict(row), True)
        messages_wanted = sorted({f for f in flow_ids if f not in self._messages})
        for start in range(0, len(messages_wanted), 500):
            chunk = messages_wanted[start : start + 500]
            found: dict[str, list[StoredMessage]] = {f: [] for f in chunk}
            for row in self.conn.execute(_MESSAGES_OF, {"k_flows": chunk}).mappings():
                found[row["flow_id"]].append(_message(row))
            self._messages.update(found)
        seqs_wanted = sorted({f for f in flow_ids if f not in self._seqs})
        for start in range(0, len(seqs_wanted), 500):
            chunk = seqs_wanted[start : start + 500]
            last = {f: 0 for f in chunk}
            last.update({f: seq for f, seq in self.conn.execute(_LAST_SEQS, {"k_flows": chunk})})
            self._seqs.update(last)

    def update_info(self, flow_id: str, **values: str | bool | None) -> None:
        """Fill in searchable facts learnt later (e.g. the Bundle.id of the converted message)."""
        allowed = {
            "receipt_expected",
            "sender_gln",
            "receiver_gln",
            "letter_id",
            "envelope_id",
            "bundle_id",
            "kind",
            "patient_key",
        }
        if not set(values) <= allowed:
            raise ValueError(f"not a flow fact: {sorted(set(values) - allowed)}")
        self.conn.execute(update(t.flows).where(t.flows.c.id == flow_id).values(**values))
        cached = self._flows.get(flow_id)
        if cached is not None:
            cached[0].update(values)

    def save_transition(
        self, flow_id: str, old: Flow, new: Flow, event: Event, now: datetime, note: Note
    ) -> None:
        """Persist one decided transition: the flow row (version-checked against the row this transaction
        locked) and its trace event. What the transition means is `flow.step`'s business, not the store's."""
        row = self.flow_row(flow_id, lock=True)
        closed_at = now if new.state is State.CLOSED and old.state is not State.CLOSED else row["closed_at"]
        values = {
            "state": new.state.value,
            "route": new.route.value if new.route else None,
            "has_letter": new.has_letter,
            "updated_at": now,
            "closed_at": closed_at,
            "version": row["version"] + 1,
        }
        result = self.conn.execute(
            _SAVE_FLOW,
            {"k_flow": flow_id, "k_version": row["version"], **{f"v_{k}": v for k, v in values.items()}},
        )
        if result.rowcount != 1:
            self._flows.pop(flow_id, None)
            raise ConcurrentUpdate(flow_id)
        self._flows[flow_id] = ({**row, **values}, True)
        if new.state is State.CONVERTING and old.state is not State.CONVERTING:
            self.work(flow_id, WorkStep.CONVERT, now)
        info = FlowInfo(
            sender_gln=row["sender_gln"],
            receiver_gln=row["receiver_gln"],
            letter_id=row["letter_id"],
            envelope_id=row["envelope_id"],
            kind=row["kind"],
        )
        route = new.route.value if new.route else None
        self._trace(flow_id, now, old.state, new.state, None, event, note, info, route=route)

    def record(self, flow_id: str, now: datetime, step_: Step, note: Note = Note()) -> None:
        """Append a trace event that changes no state (a forwarded receipt delivered, a file seen again ...)."""
        row = self.flow_row(flow_id)
        state = State(row["state"])
        info = FlowInfo(
            sender_gln=row["sender_gln"],
            receiver_gln=row["receiver_gln"],
            letter_id=row["letter_id"],
            envelope_id=row["envelope_id"],
            kind=row["kind"],
        )
        self._trace(flow_id, now, state, state, step_, None, note, info, route=row["route"])

    def find_flows(self, **where: str) -> list[str]:
        """Flow ids by indexed fact (letter_id=..., envelope_id=..., bundle_id=..., state=...), oldest first."""
        query = select(t.flows.c.id).order_by(t.flows.c.created_at, t.flows.c.id)
        for name, value in where.items():
            query = query.where(t.flows.c[name] == value)
        return list(self.conn.execute(query).scalars())

    # -- payloads and messages -----------------------------------------------------------------------------
    def put_payload(self, data: bytes, now: datetime) -> str:
        """Store `data` once per content; returns its SHA-256. With a blob store the bytes go to disk first
        (durable before this transaction commits; a rolled-back transaction leaves an unreferenced blob that
        pruning removes) and the row keeps digest and size only."""
        digest = sha256(data)
        if digest in self._payloads:
            return digest
        if self._blobs is not None and len(data) >= self._inline_max:
            self._blobs.put(data)
            row_data: bytes | None = None
        else:
            row_data = data
        # Insert-or-ignore in one statement: the same bytes stored before (or by a concurrent worker) are fine.
        self._insert_ignore(
            t.payloads, ["sha256"], sha256=digest, size=len(data), data=row_data, created_at=now
        )
        self._payloads[digest] = data
        return digest

    def _from_blobs(self, digest: str) -> bytes | None:
        if self._blobs is None:
            return None
        from medcom_bridge.hub.blobs import BlobMissing

        try:
            return self._blobs.read(digest)
        except BlobMissing:
            return None

    def payload(self, digest: str) -> bytes:
        cached = self._payloads.get(digest)
        if cached is not None:
            return cached
        row = self.conn.execute(_PAYLOAD, {"k_sha": digest}).first()
        data = row[0] if row is not None and row[0] is not None else self._from_blobs(digest)
        if data is None:
            raise LookupError(f"no payload {digest}")
        self._payloads[digest] = bytes(data)
        return self._payloads[digest]

    def payloads(self, digests: list[str]) -> dict[str, bytes]:
        """Several payloads in one query (the delivery step's batch); raises LookupError for a missing one."""
        wanted = sorted({d for d in digests if d not in self._payloads})
        in_blobs: list[str] = []
        for start in range(0, len(wanted), 500):  # stay well below the databases' bind-parameter limits
            chunk = wanted[start : start + 500]
            rows = self.conn.execute(
                select(t.payloads.c.sha256, t.payloads.c.data).where(t.payloads.c.sha256.in_(chunk))
            )
            for digest, data in rows:
                if data is None:
                    in_blobs.append(digest)
                else:
                    self._payloads[digest] = bytes(data)
        for digest in in_blobs:
            found = self._from_blobs(digest)
            if found is not None:
                self._payloads[digest] = found
        missing = [d for d in digests if d not in self._payloads]
        if missing:
            raise LookupError(f"no payload {missing[0]}")
        return {d: self._payloads[d] for d in digests}

    def add_message(
        self,
        flow_id: str,
        *,
        direction: str,
        role: str,
        payload_sha256: str,
        now: datetime,
        kind: str | None = None,
        envelope_id: str | None = None,
        letter_id: str | None = None,
        sender_gln: str | None = None,
        receiver_gln: str | None = None,
        file_name: str | None = None,
        version: str | None = None,
        valid: bool | None = None,
        rules: str | None = None,
    ) -> str:
        if direction not in ("in", "out"):
            raise ValueError(f"direction must be 'in' or 'out', not {direction!r}")
        message_id = self._ids()
        row: dict[str, Any] = {
            "id": message_id,
            "flow_id": flow_id,
            "direction": direction,
            "role": role,
            "kind": kind,
            "envelope_id": envelope_id,
            "letter_id": letter_id,
            "sender_gln": sender_gln,
            "receiver_gln": receiver_gln,
            "payload_sha256": payload_sha256,
            "file_name": file_name,
            "created_at": now,
            "delivered_at": None,
            "version": version,
            "valid": valid,
            "rules": _fit(rules, 512),
        }
        self.conn.execute(_INSERT_MESSAGE, row)
        if direction == "out":
            self.work(flow_id, WorkStep.DELIVER, now)
        known = self._messages.get(flow_id)
        if known is not None:
            known.append(_message(row))
            known.sort(key=lambda m: (m.created_at, m.id))  # the order `messages()` reads them in
        return message_id

    def set_message_role(self, message_id: str, role: str) -> None:
        """Re-label an inbound message (e.g. a late partner that was forwarded, not converted)."""
        self.conn.execute(_SET_ROLE, {"k_id": message_id, "v_role": role})
        self._update_cached(message_id, role=role)

    def messages(self, flow_id: str) -> list[StoredMessage]:
        known = self._messages.get(flow_id)
        if known is None:
            rows = self.conn.execute(_MESSAGES, {"k_flow": flow_id}).mappings()
            known = self._messages[flow_id] = [_message(r) for r in rows]
        return list(known)

    def _update_cached(self, message_id: str, **values: Any) -> None:
        for known in self._messages.values():
            for i, m in enumerate(known):
                if m.id == message_id:
                    known[i] = replace(m, **values)
                    return

    def claim_flows(self, state: str, *, limit: int, exclude: frozenset[str] = frozenset()) -> list[str]:
        """Lock up to `limit` flows in `state` that no other transaction holds (FOR UPDATE SKIP LOCKED on
        PostgreSQL: a second worker takes other flows instead of waiting), oldest change first."""
        query = (
            select(t.flows.c.id)
            .where(t.flows.c.state == state)
            .order_by(t.flows.c.updated_at, t.flows.c.id)
            .limit(limit + len(exclude))
        )
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = [i for i in self.conn.execute(query).scalars() if i not in exclude][:limit]
        if ids and self.conn.dialect.name == "postgresql":
            # Locked just now: the cache may treat them as ours.
            for row in self.conn.execute(_FLOW_ROWS_LOCKED, {"k_flows": sorted(ids)}).mappings():
                self._flows[row["id"]] = (dict(row), True)
        return ids

    def claim_pending_outputs(
        self, *, limit: int, max_bytes: int, exclude: frozenset[str] = frozenset()
    ) -> list[StoredMessage]:
        """Lock undelivered outbound messages that no other transaction holds (SKIP LOCKED), oldest first,
        at most `limit` of them and at most `max_bytes` of payload (at least one), so a batch is bounded in
        memory as well as in count."""
        query = (
            select(t.messages, t.payloads.c.size.label("payload_size"))
            .join(t.payloads, t.payloads.c.sha256 == t.messages.c.payload_sha256)
            .where(t.messages.c.direction == "out", t.messages.c.delivered_at.is_(None))
            .order_by(t.messages.c.created_at, t.messages.c.id)
            .limit(limit + len(exclude))
        )
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update(of=t.messages, skip_locked=True)
        chosen: list[StoredMessage] = []
        total = 0
        for row in self.conn.execute(query).mappings():
            if row["id"] in exclude:
                continue
            size = int(row["payload_size"] or 0)
            if chosen and (len(chosen) >= limit or total + size > max_bytes):
                break
            chosen.append(_message(row))
            total += size
        return chosen

    def claim_due_timers(self, now: datetime, *, limit: int) -> list[DueTimer]:
        """Due timers no other transaction holds (SKIP LOCKED), soonest first."""
        query = (
            select(t.timers.c.id, t.timers.c.flow_id, t.timers.c.kind, t.timers.c.due_at)
            .where(t.timers.c.status == "pending", t.timers.c.due_at <= now)
            .order_by(t.timers.c.due_at, t.timers.c.id)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [
            DueTimer(id, flow_id, Timer(kind), utc(due))
            for id, flow_id, kind, due in self.conn.execute(query)
        ]

    def try_lock(self, name: str) -> bool:
        """A lock on `name` until this transaction ends, or False at once when another transaction holds it
        (PostgreSQL advisory lock). SQLite has one writer at a time anyway: always True."""
        if self.conn.dialect.name != "postgresql":
            return True
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        return bool(self.conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())

    def mark_delivered(self, message_id: str, now: datetime, file_name: str | None = None) -> None:
        values: dict[str, Any] = {"delivered_at": now}
        if file_name is not None:
            values["file_name"] = file_name
            self.conn.execute(_DELIVERED, {"k_id": message_id, "v_at": now, "v_name": file_name})
        else:
            self.conn.execute(update(t.messages).where(t.messages.c.id == message_id).values(**values))
        self._update_cached(message_id, **{**values, "delivered_at": utc(now)})

    # -- keys: dedup (reliable messaging), pairing, intake idempotency ------------------------------------
    def claim_keys(
        self,
        claims: list[tuple[str, str]],
        flow_id: str,
        now: datetime,
        message_id: str | None = None,
        *,
        contested: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset(),
    ) -> None:
        """Record that each (namespace, value) belongs to `flow_id`, in one statement. A `contested` key (one
        the caller decided on as free) that another flow owns raises `ClaimLost`: the caller's transaction
        must give up and be done again. Other keys keep their first owner."""
        if not claims:
            return
        wanted = list(dict.fromkeys(claims))
        rows = [
            {
                "namespace": ns,
                "value": key_digest(ns, value),
                "flow_id": flow_id,
                "message_id": message_id,
                "created_at": now,
            }
            for ns, value in wanted
        ]
        statement = insert_ignore_statement(self.conn.dialect.name, t.keys, _KEY_COLUMNS, tuple(_KEY_COLUMNS))
        result = self.conn.execute(statement, rows)
        won_digests = {(ns, digest) for ns, digest in result}
        won = {(ns, value) for ns, value in wanted if (ns, key_digest(ns, value)) in won_digests}
        lost = [key for key in wanted if key not in won and key in contested]
        if lost:
            owners = self.find_keys(lost)
            for key in lost:
                owner = owners.get(key)
                if owner is not None and owner != flow_id:
                    raise ClaimLost(key[0], owner)

    def release_keys(self, flow_id: str, namespaces: tuple[str, ...], prefixes: tuple[str, ...] = ()) -> int:
        """Let go of a flow's keys in `namespaces` (and those starting with one of `prefixes`), so that another
        flow may claim them: a reprocessed flow hands its letter and receipt keys to its reprocess."""
        keys = t.keys.c
        chosen = or_(keys.namespace.in_(namespaces), *(keys.namespace.startswith(p) for p in prefixes))
        result = self.conn.execute(delete(t.keys).where(keys.flow_id == flow_id, chosen))
        return int(result.rowcount or 0)

    def _insert_ignore(self, table: Table, conflict: list[str], **values: Any) -> bool:
        """INSERT ... ON CONFLICT DO NOTHING RETURNING: one statement, no aborted transaction on a race, and
        True exactly when this call inserted the row."""
        statement = insert_ignore_statement(self.conn.dialect.name, table, conflict, (conflict[0],))
        return self.conn.execute(statement, values).first() is not None

    def find_keys(self, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Owners of several keys in one query (intake, envelope and letter keys of one message)."""
        if not wanted:
            return {}
        params: dict[str, str] = {}
        by_digest: dict[tuple[str, str], tuple[str, str]] = {}
        for i, (ns, value) in enumerate(wanted):
            digest = key_digest(ns, value)
            params[f"k_ns{i}"], params[f"k_v{i}"] = ns, digest
            by_digest[(ns, digest)] = (ns, value)
        rows = self.conn.execute(_find_keys_statement(len(wanted)), params)
        return {by_digest[(ns, digest)]: flow_id for ns, digest, flow_id in rows if (ns, digest) in by_digest}

    def find_key(self, namespace: str, value: str) -> str | None:
        found: str | None = self.conn.execute(
            _FIND_KEY, {"k_namespace": namespace, "k_value": key_digest(namespace, value)}
        ).scalar_one_or_none()
        return found

    # -- correlation (§6) ----------------------------------------------------------------------------------
    def add_correlation(self, c: Correlation, now: datetime) -> None:
        self.conn.execute(
            _INSERT_CORRELATION,
            {
                "flow_id": c.flow_id,
                "oioxml_kind": c.oioxml_kind,
                "oioxml_envelope_id": c.oioxml_envelope_id,
                "oioxml_letter_id": c.oioxml_letter_id,
                "oioxml_version_code": c.oioxml_version_code,
                "bundle_id": c.bundle_id,
                "message_header_id": c.message_header_id,
                "created_at": now,
            },
        )

    def correlations(self, **where: str) -> list[Correlation]:
        """Correlation rows by any of their id columns, e.g. `oioxml_letter_id=...` or `message_header_id=...`."""
        if set(where) == {"flow_id"}:  # the hub's own question, on every receipt: a prebuilt statement
            rows = self.conn.execute(_CORRELATIONS_OF_FLOW, {"k_flow": where["flow_id"]}).mappings()
        else:
            query = select(t.correlations).order_by(t.correlations.c.id)
            for name, value in where.items():
                query = query.where(t.correlations.c[name] == value)
            rows = self.conn.execute(query).mappings()
        return [
            Correlation(
                flow_id=r["flow_id"],
                oioxml_kind=r["oioxml_kind"],
                oioxml_envelope_id=r["oioxml_envelope_id"],
                oioxml_letter_id=r["oioxml_letter_id"],
                oioxml_version_code=r["oioxml_version_code"],
                bundle_id=r["bundle_id"],
                message_header_id=r["message_header_id"],
            )
            for r in rows
        ]

    # -- timers --------------------------------------------------------------------------------------------
    def set_timer(self, flow_id: str, timer: Timer, due: datetime, now: datetime) -> None:
        """Start (or restart) the flow's timer of this kind: at most one pending timer per kind and flow."""
        self.cancel_timer(flow_id, timer, now)
        self.conn.execute(
            _INSERT_TIMER,
            {"flow_id": flow_id, "kind": timer.value, "due_at": due, "status": "pending", "done_at": None},
        )
        known = self._timers.get(flow_id)
        if known is not None:
            known.add(timer.value)

    def cancel_timer(self, flow_id: str, timer: Timer, now: datetime) -> None:
        known = self._timers.get(flow_id)
        if known is not None and timer.value not in known:
            return  # a flow created in this transaction has no such timer: nothing to cancel
        self.conn.execute(_CANCEL_TIMER, {"k_flow": flow_id, "k_kind": timer.value, "v_done_at": now})
        if known is not None:
            known.discard(timer.value)

    def pending_timers(self, flow_id: str) -> dict[Timer, datetime]:
        rows = self.conn.execute(
            select(t.timers.c.kind, t.timers.c.due_at).where(
                t.timers.c.flow_id == flow_id, t.timers.c.status == "pending"
            )
        )
        return {Timer(kind): utc(due) for kind, due in rows}

    def claim_timer(self, timer: DueTimer, now: datetime) -> bool:
        """Take a due timer for firing; False when another worker fired or cancelled it meanwhile."""
        claimed = self.conn.execute(
            update(t.timers)
            .where(t.timers.c.id == timer.id, t.timers.c.status == "pending")
            .values(status="fired", done_at=now)
        )
        return bool(claimed.rowcount == 1)

    def retire_timer(self, timer: DueTimer) -> None:
        """A timer whose event its flow no longer allows (a stale timer) is marked cancelled."""
        self.conn.execute(update(t.timers).where(t.timers.c.id == timer.id).values(status="cancelled"))

    # -- the event log (append-only: there is no update or delete here) ------------------------------------
    def append(self, trace: TraceEvent) -> TraceEvent:
        """Append a trace event. It is written with the transaction's other events when the transaction ends
        (or before anything reads events), in one executemany: the event log is append-only and nothing in
        the transaction depends on the rows being there earlier."""
        last = self._seqs.get(trace.flow_id)
        if last is None:
            last = self.conn.execute(_NEXT_SEQ, {"k_flow": trace.flow_id}).scalar_one_or_none() or 0
        seq = last + 1
        self._seqs[trace.flow_id] = seq
        self._events.append(_event_row(trace, seq))
        appended = _with_seq(trace, seq)
        self.appended.append(appended)
        return appended

    def committed(self) -> list[Committed]:
        """The events this transaction appended, each with its flow's creation time when this transaction
        read or wrote the flow row (always so for a state change)."""
        created: dict[str, datetime | None] = {}
        for flow_id in {e.flow_id for e in self.appended}:
            cached = self._flows.get(flow_id)
            created[flow_id] = (
                utc(cached[0]["created_at"]) if cached and cached[0].get("created_at") else None
            )
        return [Committed(e, created[e.flow_id]) for e in self.appended]

    def flush(self) -> None:
        """Write the buffered trace events and outbox rows (called by `Store.transaction()` before it
        commits)."""
        if self._events:
            rows, self._events = self._events, []
            self.conn.execute(_INSERT_EVENT, rows)
        if self._work:
            work, self._work = self._work, {}
            self.conn.execute(
                _INSERT_OUTBOX,
                [{"flow_id": f, "step": step.value, "created_at": at} for (f, step), at in work.items()],
            )

    # -- the transactional outbox (issue 10) ---------------------------------------------------------------
    def work(self, flow_id: str, step: WorkStep, now: datetime) -> None:
        """Note that `flow_id` has work at `step`: an outbox row in this transaction (when the store has an
        outbox), published to the broker only after the commit."""
        if self._work is not None:
            self._work.setdefault((flow_id, step), now)

    def claim_outbox(self, *, limit: int) -> list[tuple[int, str, WorkStep]]:
        """Outbox rows no other relay holds (SKIP LOCKED), oldest first: (id, flow id, step)."""
        query = (
            select(t.outbox.c.id, t.outbox.c.flow_id, t.outbox.c.step).order_by(t.outbox.c.id).limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [(id_, flow_id, WorkStep(step)) for id_, flow_id, step in self.conn.execute(query)]

    def drop_outbox(self, ids: list[int]) -> None:
        """Published and confirmed by the broker: the rows are done."""
        if ids:
            self.conn.execute(delete(t.outbox).where(t.outbox.c.id.in_(ids)))

    def outbox_depth(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(t.outbox)).scalar_one())

    def events(self, flow_id: str) -> list[TraceEvent]:
        self.flush()
        rows = self.conn.execute(
            select(t.events).where(t.events.c.flow_id == flow_id).order_by(t.events.c.seq)
        ).mappings()
        return [event_from_row(r) for r in rows]

    def _trace(
        self,
        flow_id: str,
        now: datetime,
        source: State | None,
        target: State,
        step_: Step | None,
        event: Event | None,
        note: Note,
        info: FlowInfo,
        route: str | None = None,
    ) -> None:
        defaults = TRACE_DEFAULTS.get(event) if event is not None else None
        chosen_step = note.step or step_ or (defaults.step if defaults else Step.RECEIVED)
        failure = note.failure if note.failure is not None else (defaults.failure if defaults else None)
        receipt = note.receipt if note.receipt is not None else (defaults.receipt if defaults else None)
        self.append(
            TraceEvent(
                id=self._ids(),
                flow_id=flow_id,
                at=now,
                step=chosen_step,
                subtype=note.subtype or default_subtype(chosen_step),
                outcome=Outcome.FAILURE if failure is not None else Outcome.SUCCESS,
                failure=failure,
                reason=_fit(note.reason, 512),
                cause=_fit(note.cause, 64),
                receipt=receipt,
                route=route,
                flow_event=event.value if event is not None else None,
                sender_gln=info.sender_gln,
                receiver_gln=info.receiver_gln,
                sender_sor=note.sender_sor,
                receiver_sor=note.receiver_sor,
                message_id=note.message_id or info.letter_id,
                envelope_id=note.envelope_id or info.envelope_id,
                orig_message_id=note.orig_message_id,
                message_type=note.message_type or info.kind,
                message_version=note.message_version,
                state_from=source.value if source else None,
                state_to=target.value,
            )
        )


def _fit(text: str | None, limit: int) -> str | None:
    """Reasons come from findings of any length; the column is bounded (PostgreSQL would refuse more)."""
    return text if text is None or len(text) <= limit else text[: limit - 1] + "…"


def _message(r: Mapping[Any, Any]) -> StoredMessage:
    return StoredMessage(
        id=r["id"],
        flow_id=r["flow_id"],
        direction=r["direction"],
        role=r["role"],
        kind=r["kind"],
        envelope_id=r["envelope_id"],
        letter_id=r["letter_id"],
        sender_gln=r["sender_gln"],
        receiver_gln=r["receiver_gln"],
        payload_sha256=r["payload_sha256"],
        file_name=r["file_name"],
        created_at=utc(r["created_at"]),
        delivered_at=utc(r["delivered_at"]) if r["delivered_at"] else None,
        version=r.get("version"),
        valid=r.get("valid"),
        rules=r.get("rules"),
    )


_EVENT_FIELDS = (
    "id",
    "flow_id",
    "reason",
    "cause",
    "route",
    "flow_event",
    "sender_gln",
    "receiver_gln",
    "sender_sor",
    "receiver_sor",
    "message_id",
    "envelope_id",
    "orig_message_id",
    "message_type",
    "message_version",
    "state_from",
    "state_to",
)


def _event_row(e: TraceEvent, seq: int) -> dict[str, Any]:
    at = utc(e.at)
    row: dict[str, Any] = {name: getattr(e, name) for name in _EVENT_FIELDS}
    row.update(
        seq=seq,
        at=at,
        month=month_of(at),  # the Danish calendar month: MedCom reports per Danish month
        step=e.step.value,
        subtype=e.subtype.value,
        outcome=e.outcome.value,
        failure=e.failure.value if e.failure else None,
        receipt=e.receipt.value if e.receipt else None,
    )
    return row


def event_from_row(r: RowMapping) -> TraceEvent:
    return TraceEvent(
        **{name: r[name] for name in _EVENT_FIELDS},
        at=utc(r["at"]),
        step=Step(r["step"]),
        subtype=Subtype(r["subtype"]),
        outcome=Outcome(r["outcome"]),
        failure=Place(r["failure"]) if r["failure"] else None,
        receipt=ReceiptVerdict(r["receipt"]) if r["receipt"] else None,
        seq=r["seq"],
    )


def _with_seq(e: TraceEvent, seq: int) -> TraceEvent:
    return replace(e, seq=seq)
