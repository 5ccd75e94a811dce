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

from medcom_bridge.hub import lineage, reprocess, retention, stats
from medcom_bridge.hub.alerts import facts as alert_facts
from medcom_bridge.hub.alerts import ledger
from medcom_bridge.hub.alerts.config import Rules
from medcom_bridge.hub.alerts.incidents import Incident, Step
from medcom_bridge.hub.alerts.rules import Condition, Facts, Rule
from medcom_bridge.hub.broker import probe
from medcom_bridge.hub.census import Census, take_census
from medcom_bridge.hub.events import TraceEvent
from medcom_bridge.hub.flow import State
from medcom_bridge.hub.lineage import Link
from medcom_bridge.hub.outcome import ReceiptOutcome, receipt_outcome
from medcom_bridge.hub.queries import (
    MAX_PAGE,
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
from medcom_bridge.hub.readiness import Check, spool_usable
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.store import Store, StoredMessage, at_head
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


class NoHub(RuntimeError):
    """The service runs over a bare store (read-only): nothing can be taken in, so nothing reprocessed."""


@dataclass(frozen=True, slots=True)
class BulkReprocess:
    """What a bulk reprocess did, flow by flow (at most `limit` flows of the filter, newest first)."""

    results: list[tuple[str, reprocess.Result]]
    limit: int
    more: bool
    """The filter matches more flows than `limit`: run again for the rest."""

    def counts(self) -> dict[str, int]:
        done = sum(1 for _, r in self.results if isinstance(r, reprocess.Reprocessed) and not r.already)
        already = sum(1 for _, r in self.results if isinstance(r, reprocess.Reprocessed) and r.already)
        return {"reprocessed": done, "already": already, "refused": len(self.results) - done - already}


CENSUS_TIMEOUT_MS = 5000
"""A census statement running longer than this is cancelled (PostgreSQL): a scrape must not pile up."""


class HubService:
    def __init__(self, store: Store, hub: Hub | None = None) -> None:
        self.store = store
        self._reprocessor = reprocess.Reprocessor(hub) if hub is not None else None

    # -- reprocess (issue 12) ---------------------------------------------------------------------------------
    @property
    def reprocessor(self) -> reprocess.Reprocessor:
        if self._reprocessor is None:
            raise NoHub("this server is read-only: it has no hub to reprocess with")
        return self._reprocessor

    def reprocess_flow(self, flow_id: str, actor: str) -> reprocess.Result:
        """Reprocess one rejected or quarantined flow, idempotently (hub.reprocess)."""
        return self.reprocessor.flow(flow_id, actor)

    def reprocess_file(self, name: str, actor: str) -> reprocess.Result:
        """Reprocess a file in SPOOL/quarantine/ by name, idempotently (hub.reprocess)."""
        return self.reprocessor.file(name, actor)

    def reprocess_flows(self, f: FlowFilter, *, limit: int, actor: str) -> BulkReprocess:
        """Reprocess the flows `f` finds, newest first, at most `limit` (<= reprocess.MAX_BULK); each in its
        own transaction, so one refusal does not stop the others and a repeat skips those done."""
        reprocessor = self.reprocessor
        limit = max(1, min(limit, reprocess.MAX_BULK))
        chosen: list[str] = []
        cursor: str | None = None
        more = False
        while True:
            page = self.flows(f, limit=min(MAX_PAGE, limit + 1 - len(chosen)), cursor=cursor)
            chosen += [row.id for row in page.flows]
            if len(chosen) > limit:
                chosen, more = chosen[:limit], True
                break
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        return BulkReprocess([(flow_id, reprocessor.flow(flow_id, actor)) for flow_id in chosen], limit, more)

    def lineage(self, flow_id: str) -> list[Link]:
        with self.store.transaction() as tx:
            return lineage.of_flow(tx.conn, flow_id)

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

    # -- alerts (issue 12) ------------------------------------------------------------------------------------
    def alert_facts(self, rules: Rules, now: datetime) -> Facts:
        """The database's part of an alert evaluation (counts only), in one read transaction."""
        with self.store.transaction() as tx:
            return alert_facts.gather(tx.conn, rules, now)

    def record_incidents(
        self,
        firing: dict[str, Condition],
        now: datetime,
        evaluated: frozenset[Rule],
        channels: tuple[str, ...],
    ) -> Step | None:
        """Open, update and resolve incidents with their notices (None: another process records this round)."""
        return self.store.run(lambda tx: ledger.record(tx, firing, now, evaluated, channels), attempts=3)

    def open_incidents(self) -> list[Incident]:
        with self.store.transaction() as tx:
            return list(ledger.open_incidents(tx.conn).values())

    def incidents(self, *, limit: int = 50) -> list[Incident]:
        """Open incidents (oldest first), then the most recently resolved: for the overview and /incidents."""
        with self.store.transaction() as tx:
            return ledger.recent(tx.conn, limit=limit)

    def claim_notices(self, now: datetime) -> list[ledger.PendingNotice]:
        with self.store.transaction() as tx:
            return ledger.claim_notices(tx, now)

    def finish_notice(self, notice: ledger.PendingNotice, now: datetime, error: str | None) -> None:
        with self.store.transaction() as tx:
            ledger.finish_notice(tx, notice, now, error)

    def drop_notice(self, notice: ledger.PendingNotice, now: datetime) -> None:
        with self.store.transaction() as tx:
            ledger.drop_notice(tx, notice, now)

    # -- metrics and probes (issue 12) -------------------------------------------------------------------------
    def census(self, now: datetime) -> Census:
        """The counts behind /metrics, in one short read transaction (one snapshot on PostgreSQL, where each
        statement is also cut off after `CENSUS_TIMEOUT_MS`; SQLite readers never wait for the writer)."""
        with self.store.transaction() as tx:
            if tx.conn.dialect.name == "postgresql":
                tx.conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
                tx.conn.execute(text(f"SET LOCAL statement_timeout = {int(CENSUS_TIMEOUT_MS)}"))
            return take_census(tx.conn, now)

    def readiness(self, spool_root: Path | None) -> dict[Check, bool]:
        """Each readiness check with its yes or no (`hub.readiness`); the spool only when there is one, the
        broker only when this process relays to one."""
        checks: dict[Check, bool] = {Check.DATABASE: self.database_problem() is None}
        try:
            checks[Check.SCHEMA] = checks[Check.DATABASE] and at_head(self.store.engine)
        except SQLAlchemyError:
            checks[Check.SCHEMA] = False
        if spool_root is not None:
            checks[Check.SPOOL] = spool_usable(spool_root)
        if self.store.broker is not None:
            checks[Check.BROKER] = bool(probe(self.store.broker)["ok"])
        return checks
