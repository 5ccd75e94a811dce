"""Incidents and their notices in the database (storage only; `incidents.step` decides).

Two processes evaluating at once open an incident once and notify once: `record` takes an advisory lock for
the round on PostgreSQL (a second evaluator skips recording and only reads), and even without it the unique
`open_key` makes the insert of an already open incident a no-op (insert-or-ignore), a resolve is a
conditional update (`resolved_at IS NULL`), and notices are written only by the transaction whose insert or
update took effect. Notices are claimed by a lease (`next_at` moved forward by a compare-and-set update,
under SKIP LOCKED on PostgreSQL), sent outside any transaction, then marked sent or given a backoff.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from medcom_bridge.hub import schema as t
from medcom_bridge.hub.alerts.incidents import Change, Incident, IncidentEvent, Step, step
from medcom_bridge.hub.alerts.rules import Condition, Rule
from medcom_bridge.hub.clock import utc
from medcom_bridge.hub.store import Tx, insert_ignore_statement

LOCK = "medcom-bridge alerts"
LEASE = timedelta(minutes=2)
"""How long a claimed notice is ours: longer than a delivery with all its retries can take."""
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class PendingNotice:
    id: int
    channel: str
    attempts: int
    event: IncidentEvent


def _incident(r: Any) -> Incident:
    return Incident(
        key=r["key"],
        rule=Rule(r["rule"]),
        subject=r["subject"],
        summary=r["summary"],
        opened_at=utc(r["opened_at"]),
        last_seen=utc(r["last_seen"]),
        resolved_at=utc(r["resolved_at"]) if r["resolved_at"] is not None else None,
        id=r["id"],
    )


def open_incidents(conn: Connection) -> dict[str, Incident]:
    i = t.incidents.c
    rows = conn.execute(select(t.incidents).where(i.open_key.is_not(None)).order_by(i.opened_at, i.id))
    return {r["key"]: _incident(r) for r in rows.mappings()}


def recent(conn: Connection, *, limit: int = 50) -> list[Incident]:
    """Open incidents first (oldest first), then the most recently resolved."""
    i = t.incidents.c
    query = (
        select(t.incidents)
        .order_by(i.resolved_at.is_not(None), i.resolved_at.desc(), i.opened_at, i.id)
        .limit(limit)
    )
    return [_incident(r) for r in conn.execute(query).mappings()]


def record(
    tx: Tx,
    firing: dict[str, Condition],
    now: datetime,
    evaluated: frozenset[Rule],
    channels: Iterable[str],
) -> Step | None:
    """Apply one evaluation: open, update and resolve incidents, with a notice per channel for each opened
    and resolved one. None when another process is recording right now (its round covers this one)."""
    if not tx.try_lock(LOCK):
        return None
    conn = tx.conn
    channels = tuple(channels)
    decided = step(open_incidents(conn), firing, now, evaluated)
    i = t.incidents.c
    events: list[IncidentEvent] = []
    for event in decided.events:
        incident = event.incident
        if event.change is Change.OPENED:
            statement = insert_ignore_statement(conn.dialect.name, t.incidents, ["open_key"], ("id",))
            inserted = conn.execute(
                statement,
                {
                    "key": incident.key,
                    "open_key": incident.key,
                    "rule": incident.rule.value,
                    "subject": incident.subject[:64],
                    "summary": incident.summary[:512],
                    "opened_at": now,
                    "last_seen": now,
                    "open_notified": not channels,
                    "resolve_notified": False,
                },
            ).first()
            if inserted is None:
                continue  # another process opened it just now: its notices are its own
            incident = replace(incident, id=inserted[0])
        else:
            done = conn.execute(
                update(t.incidents)
                .where(i.id == incident.id, i.resolved_at.is_(None))
                .values(resolved_at=now, open_key=None, last_seen=now, resolve_notified=not channels)
            )
            if done.rowcount != 1:
                continue
        events.append(IncidentEvent(event.change, incident))
        for channel in channels:
            conn.execute(
                insert_ignore_statement(
                    conn.dialect.name, t.incident_notices, ["incident_id", "change", "channel"], ("id",)
                ),
                {
                    "incident_id": incident.id,
                    "change": event.change.value,
                    "channel": channel,
                    "created_at": now,
                    "next_at": now,
                    "attempts": 0,
                },
            )
    for incident in decided.ongoing:
        conn.execute(
            update(t.incidents)
            .where(i.id == incident.id)
            .values(summary=incident.summary[:512], last_seen=now)
        )
    return Step(tuple(events), decided.ongoing, decided.open)


def claim_notices(tx: Tx, now: datetime, *, limit: int = 20, lease: timedelta = LEASE) -> list[PendingNotice]:
    """Unsent notices that are due, each now leased to this process until `now + lease`."""
    n, i = t.incident_notices.c, t.incidents.c
    query = (
        select(t.incident_notices, t.incidents)
        .join(t.incidents, i.id == n.incident_id)
        .where(n.sent_at.is_(None), n.next_at <= now)
        .order_by(n.id)
        .limit(limit)
    )
    if tx.conn.dialect.name == "postgresql":
        query = query.with_for_update(of=t.incident_notices, skip_locked=True)
    rows = tx.conn.execute(query).all()
    claimed: list[PendingNotice] = []
    for row in rows:
        m = row._mapping
        notice_id, attempts, next_at = m[n.id], m[n.attempts], m[n.next_at]
        taken = tx.conn.execute(
            update(t.incident_notices)
            .where(n.id == notice_id, n.sent_at.is_(None), n.next_at == next_at)
            .values(next_at=now + lease, attempts=attempts + 1)
        )
        if taken.rowcount != 1:
            continue
        incident = Incident(
            key=m[i.key],
            rule=Rule(m[i.rule]),
            subject=m[i.subject],
            summary=m[i.summary],
            opened_at=utc(m[i.opened_at]),
            last_seen=utc(m[i.last_seen]),
            resolved_at=utc(m[i.resolved_at]) if m[i.resolved_at] is not None else None,
            id=m[i.id],
        )
        claimed.append(
            PendingNotice(notice_id, m[n.channel], attempts + 1, IncidentEvent(Change(m[n.change]), incident))
        )
    return claimed


def backoff(attempts: int) -> timedelta:
    """1 min, 2, 4, ... at most an hour between rounds that try a failing notice again."""
    return min(BACKOFF_FIRST * (1 << min(max(attempts - 1, 0), 16)), BACKOFF_MAX)


def finish_notice(tx: Tx, notice: PendingNotice, now: datetime, error: str | None) -> None:
    """Mark a claimed notice sent (error None) or due again after a backoff; the incident's notified flag
    is set once every channel of that change has it."""
    n, i = t.incident_notices.c, t.incidents.c
    values: dict[str, Any] = (
        {"sent_at": now, "error": None}
        if error is None
        else {"next_at": now + backoff(notice.attempts), "error": error[:200]}
    )
    tx.conn.execute(update(t.incident_notices).where(n.id == notice.id).values(**values))
    if error is not None:
        return
    left = tx.conn.execute(
        select(func.count())
        .select_from(t.incident_notices)
        .where(
            and_(
                n.incident_id == notice.event.incident.id,
                n.change == notice.event.change.value,
                n.sent_at.is_(None),
            )
        )
    ).scalar_one()
    if left == 0:
        flag = "open_notified" if notice.event.change is Change.OPENED else "resolve_notified"
        tx.conn.execute(update(t.incidents).where(i.id == notice.event.incident.id).values({flag: True}))


def drop_notice(tx: Tx, notice: PendingNotice, now: datetime) -> None:
    """A notice for a channel no longer configured: marked done with that reason, never sent."""
    n = t.incident_notices.c
    tx.conn.execute(
        update(t.incident_notices)
        .where(n.id == notice.id)
        .values(sent_at=now, error="channel no longer configured; not sent")
    )
