"""The hub's service API: what the command line and the web layer ask of the hub, in the hub's terms.

The web layer translates HTTP to these calls and their answers back to HTTP; it holds no SQL and no
transaction of its own. Intake is `Hub.ingest` (the same door the spool uses); the loop is `Hub.run_once`;
everything an operator reads is here, each call one short read transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from medcom_bridge.hub import stats
from medcom_bridge.hub.broker import probe
from medcom_bridge.hub.events import TraceEvent
from medcom_bridge.hub.queries import (
    FlowDetail,
    FlowFilter,
    Overview,
    Page,
    flow_detail,
    list_flows,
    overview,
)
from medcom_bridge.hub.store import Store, StoredMessage


@dataclass(frozen=True, slots=True)
class Monthly:
    """The monthly statistics of the event log (one month, or every month when `month` is None)."""

    month: str | None
    negative_receipts: list[stats.NegativeReceipts]
    missing_receipts: list[stats.MissingReceipts]
    conversions: list[stats.Conversions]
    pass_throughs: dict[str, int]


class HubService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def flows(self, f: FlowFilter, *, limit: int, cursor: str | None = None) -> Page:
        with self.store.transaction() as tx:
            return list_flows(tx.conn, f, limit=limit, cursor=cursor)

    def flow(self, flow_id: str) -> FlowDetail | None:
        with self.store.transaction() as tx:
            return flow_detail(tx, flow_id)

    def events(self, flow_id: str) -> list[TraceEvent] | None:
        """The flow's trace, or None for an unknown flow."""
        with self.store.transaction() as tx:
            try:
                tx.flow_row(flow_id)
            except LookupError:
                return None
            return tx.events(flow_id)

    def message(self, flow_id: str, message_id: str) -> tuple[StoredMessage, bytes] | None:
        """One stored message of a flow with its bytes (patient data: callers audit the read)."""
        with self.store.transaction() as tx:
            message = next((m for m in tx.messages(flow_id) if m.id == message_id), None)
            if message is None:
                return None
            return message, tx.payload(message.payload_sha256)

    def monthly(self, month: str | None) -> Monthly:
        with self.store.transaction() as tx:
            conn = tx.conn
            return Monthly(
                month,
                stats.negative_receipts(conn, month),
                stats.missing_receipts(conn, month),
                stats.conversions(conn, month),
                stats.pass_throughs(conn, month),
            )

    def overview(self, now: datetime, *, month: str | None = None) -> Overview:
        with self.store.transaction() as tx:
            return overview(tx.conn, now, month=month)

    def broker_health(self) -> dict[str, Any] | None:
        """The broker this process relays to (None without `--broker`): reachable, queue depths, and how
        much work waits in the outbox."""
        if self.store.broker is None:
            return None
        found = probe(self.store.broker)
        try:
            with self.store.transaction() as tx:
                found["outbox"] = tx.outbox_depth()
        except SQLAlchemyError:
            found["outbox"] = None
        return found

    def database_problem(self) -> str | None:
        """None when the database answers, else the error's type (never its message: it may quote data)."""
        try:
            with self.store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return type(exc).__name__
        return None
