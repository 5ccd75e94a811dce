"""The hub's service API: what the command line and the web layer ask of the hub, in the hub's terms.

The web layer translates HTTP to these calls and their answers back to HTTP; it holds no SQL and no
transaction of its own. Intake is `Hub.ingest` (the same door the spool uses); the loop is `Hub.run_once`;
everything an operator reads is here, each call one short read transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from medcom_bridge.hub import retention, stats
from medcom_bridge.hub.broker import probe
from medcom_bridge.hub.events import TraceEvent
from medcom_bridge.hub.flow import State
from medcom_bridge.hub.outcome import ReceiptOutcome, receipt_outcome
from medcom_bridge.hub.queries import (
    FlowDetail,
    FlowFilter,
    FlowRow,
    Overview,
    Page,
    flow_detail,
    flow_row,
    list_flows,
    overview,
    receipt_events,
)
from medcom_bridge.hub.store import Store, StoredMessage
from medcom_bridge.localtime import months_back
from medcom_bridge.security import audit as audit_log
from medcom_bridge.security import tokens
from medcom_bridge.security.principals import Principal


class PayloadGone(LookupError):
    """The message is known but its bytes were removed by retention (or are missing from the blob store)."""

    def __init__(self, message: StoredMessage) -> None:
        super().__init__(f"the payload of message {message.id} is gone (retention)")
        self.message = message


@dataclass(frozen=True, slots=True)
class Monthly:
    """The monthly statistics of the event log (one month, or every month when `month` is None)."""

    month: str | None
    negative_receipts: list[stats.NegativeReceipts]
    missing_receipts: list[stats.MissingReceipts]
    conversions: list[stats.Conversions]
    pass_throughs: dict[str, int]
    hub_refusals: list[stats.HubRefusals]
    quarantined: list[stats.Quarantined]
    receivers: list[stats.PartnerRate]
    """Per receiver: letters delivered and refused in `month` (empty when `month` is None)."""
    senders: list[stats.PartnerRate]
    trends: stats.Trends | None
    """The 13 months ending with `month` (or with the `trend_to` month when `month` is None)."""


class HubService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def flows(self, f: FlowFilter, *, limit: int, cursor: str | None = None) -> Page:
        with self.store.transaction() as tx:
            return list_flows(tx.conn, f, limit=limit, cursor=cursor)

    def receipt_outcomes(self, flows: list[FlowRow]) -> dict[str, ReceiptOutcome]:
        """Each listed flow's receipt outcome, from its receipt events (one query for the whole page)."""
        if not flows:
            return {}
        with self.store.transaction() as tx:
            events = receipt_events(tx.conn, [f.id for f in flows])
        return {
            f.id: receipt_outcome(State(f.state), f.receipt_expected, events.get(f.id, [])) for f in flows
        }

    def flow_row(self, flow_id: str) -> FlowRow | None:
        """A flow's indexed facts (state, parties, ids) without its messages and events."""
        with self.store.transaction() as tx:
            return flow_row(tx.conn, flow_id)

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
        """One stored message of a flow with its bytes (patient data: callers audit the read); raises
        PayloadGone when retention removed the bytes."""
        with self.store.transaction() as tx:
            message = next((m for m in tx.messages(flow_id) if m.id == message_id), None)
            if message is None:
                return None
            try:
                return message, tx.payload(message.payload_sha256)
            except LookupError:
                raise PayloadGone(message) from None

    # -- access control and audit (issue 11) ------------------------------------------------------------------
    def principal_for_token(self, token: str) -> Principal | None:
        """Who an API token stands for; None for an unknown or revoked one."""
        with self.store.transaction() as tx:
            return tokens.authenticate(tx.conn, token)

    def audit(self, entry: audit_log.Entry) -> None:
        """Append one entry to the audit log (its own transaction: a denied or failed request is kept too)."""
        with self.store.transaction() as tx:
            audit_log.record(tx.conn, entry)

    def read_audit(self, query: audit_log.Query, entry: audit_log.Entry) -> list[audit_log.Entry]:
        """Search the audit log and record the search (`entry`) in the same transaction: no read unaudited."""
        with self.store.transaction() as tx:
            audit_log.record(tx.conn, entry)
            return audit_log.search(tx.conn, query)

    def prune(
        self, now: datetime, age: retention.Age = retention.DEFAULT, *, spool_root: Path | None = None
    ) -> retention.Pruned:
        """Retention: remove payload bytes (and quarantined originals in `spool_root`) past `age`
        (hub.retention); keys, events and statistics stay."""
        return retention.prune(self.store, now, age, spool_root=spool_root)

    def monthly(self, month: str | None, *, trend_to: str | None = None) -> Monthly:
        """The statistics of a Danish month (every month when None), its partners' negative-receipt rates and
        the 13-month trends; about a dozen indexed queries in one read transaction (a consistent picture)."""
        last = month or trend_to
        with self.store.transaction() as tx:
            conn = tx.conn
            receivers, senders = stats.partner_rates(conn, month) if month else ([], [])
            return Monthly(
                month,
                stats.negative_receipts(conn, month),
                stats.missing_receipts(conn, month),
                stats.conversions(conn, month),
                stats.pass_throughs(conn, month),
                stats.hub_refusals(conn, month),
                stats.quarantined(conn, month),
                receivers,
                senders,
                stats.trends(conn, months_back(last, stats.TREND_MONTHS)) if last else None,
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
