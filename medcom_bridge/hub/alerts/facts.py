"""The database part of an alert evaluation's facts: a few aggregate queries in one read transaction.

Indexed columns only (flow state and times, timer status and due time, event time); the result is counts
per GLN, state or timer kind, never a flow's content.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, case, distinct, func, select

from medcom_bridge.hub import schema as t
from medcom_bridge.hub.alerts.config import Rules
from medcom_bridge.hub.alerts.rules import Facts, Receipts
from medcom_bridge.hub.flow import Event, State
from medcom_bridge.hub.queries import receipt_alert_due

BUSY_STATES = (State.RECEIVED, State.CONVERTING, State.DELIVERING)
"""States a flow passes through within seconds; one that stays is stuck (states that wait have timers)."""


def gather(conn: Connection, rules: Rules, now: datetime) -> Facts:
    f, tm, e = t.flows.c, t.timers.c, t.events.c
    overdue = {
        gln or "unknown": int(n)
        for gln, n in conn.execute(
            select(f.receiver_gln, func.count())
            .where(f.state == State.AWAITING_RECEIPTS.value, receipt_alert_due(now))
            .group_by(f.receiver_gln)
        )
    }
    receipts: dict[str, Receipts] = {}
    if rules.negative_rate is not None:
        negative = case((e.flow_event == Event.RECEIPT_NEGATIVE.value, e.flow_id))
        for gln, letters, bad in conn.execute(
            select(e.receiver_gln, func.count(distinct(e.flow_id)), func.count(distinct(negative)))
            .where(
                e.flow_event.in_([Event.RECEIPT_OK.value, Event.RECEIPT_NEGATIVE.value]),
                e.at > now - rules.negative_rate.window,
            )
            .group_by(e.receiver_gln)
        ):
            receipts[gln or "unknown"] = Receipts(int(letters), int(bad))
    quarantined = 0
    if rules.quarantine_growth is not None:
        quarantined = conn.execute(
            select(func.count())
            .select_from(t.flows)
            .where(
                f.state == State.QUARANTINED.value,
                f.created_at > now - rules.quarantine_growth.window,
            )
        ).scalar_one()
    timers: dict[str, int] = {}
    stalled: dict[str, int] = {}
    if rules.stuck is not None:
        limit = now - rules.stuck
        timers = {
            kind: int(n)
            for kind, n in conn.execute(
                select(tm.kind, func.count())
                .where(tm.status == "pending", tm.due_at <= limit)
                .group_by(tm.kind)
            )
        }
        stalled = {
            state: int(n)
            for state, n in conn.execute(
                select(f.state, func.count())
                .where(f.state.in_([s.value for s in BUSY_STATES]), f.updated_at <= limit)
                .group_by(f.state)
            )
        }
    return Facts(
        overdue_receipts=overdue,
        receipts=receipts,
        quarantined=int(quarantined),
        overdue_timers=timers,
        stalled=stalled,
    )
