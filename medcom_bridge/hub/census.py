"""What the hub holds right now, counted: the database's share of `/metrics` (levels, not events).

Every figure is a count over an indexed column (flow state, undelivered outputs, timer status, the outbox), so
one census stays a few short statements however many flows the database holds; the caller runs them in one
read transaction (`HubService.census`), so they describe one moment. They are the same whichever process
asks: the global truth of a hub with many processes (docs/metrics.md). No GLN, id or text is returned: counts
by enum values only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from medcom_bridge.hub import schema as t
from medcom_bridge.hub.flow import State, Timer
from medcom_bridge.hub.queries import receipt_alert_due

PENDING = "pending"
"""A timer that has not fired and was not cancelled (`hub_timers.status`)."""


@dataclass(frozen=True, slots=True)
class Census:
    flows: dict[State, int]
    """Flows in each state (every state present, 0 when none)."""
    receipts_missing: int
    """Flows awaiting receipts whose 120-minute receipt alert is due or fired (the overview's "overdue")."""
    outputs_pending: int
    """Outputs stored for delivery and not yet delivered."""
    outbox: int
    """Work rows waiting to be published to the broker (only processes with `--broker` write them)."""
    timers_open: dict[Timer, int]
    """Timers that have neither fired nor been cancelled, by kind (every kind present)."""
    timers_overdue: int
    """Open timers past their due time: should stay near 0 while some process fires timers."""

    @property
    def receipts_pending(self) -> int:
        """Flows awaiting receipts still within the 120 minutes."""
        return self.flows[State.AWAITING_RECEIPTS] - self.receipts_missing


def take_census(conn: Connection, now: datetime) -> Census:
    f, tm, m = t.flows.c, t.timers.c, t.messages.c
    states = {State(s): int(n) for s, n in conn.execute(select(f.state, func.count()).group_by(f.state))}
    missing = conn.execute(
        select(func.count())
        .select_from(t.flows)
        .where(f.state == State.AWAITING_RECEIPTS.value, receipt_alert_due(now))
    ).scalar_one()
    outputs = conn.execute(
        select(func.count()).select_from(t.messages).where(m.direction == "out", m.delivered_at.is_(None))
    ).scalar_one()
    outbox = conn.execute(select(func.count()).select_from(t.outbox)).scalar_one()
    timers = {
        Timer(kind): int(n)
        for kind, n in conn.execute(
            select(tm.kind, func.count()).where(tm.status == PENDING).group_by(tm.kind)
        )
    }
    overdue = conn.execute(
        select(func.count()).select_from(t.timers).where(tm.status == PENDING, tm.due_at <= now)
    ).scalar_one()
    return Census(
        flows={s: states.get(s, 0) for s in State},
        receipts_missing=int(missing),
        outputs_pending=int(outputs),
        outbox=int(outbox),
        timers_open={k: timers.get(k, 0) for k in Timer},
        timers_overdue=int(overdue),
    )
