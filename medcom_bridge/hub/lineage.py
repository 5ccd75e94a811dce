"""Reprocess lineage in storage: which flow (or quarantined file) became which new flow, who did it, when.

Storage only: the decisions are `hub.reprocess`'s. Both directions are read here, so that a flow's page and its
JSON show "reprocessed as <new>" and "reprocess of <old>" with links.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select

from medcom_bridge.hub import schema as t
from medcom_bridge.hub.clock import utc


@dataclass(frozen=True, slots=True)
class Link:
    """One reprocess: `old_flow_id` (None for a quarantined file that never was a flow with bytes) and/or
    `source_file` became `new_flow_id`, with the new envelope id `envelope_id`."""

    old_flow_id: str | None
    source_file: str | None
    new_flow_id: str
    envelope_id: str | None
    actor: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "old_flow_id": self.old_flow_id,
            "source_file": self.source_file,
            "new_flow_id": self.new_flow_id,
            "envelope_id": self.envelope_id,
            "actor": self.actor,
            "at": self.at.isoformat(),
        }


def add(conn: Connection, link: Link) -> None:
    conn.execute(
        insert(t.lineage).values(
            old_flow_id=link.old_flow_id,
            source_file=link.source_file,
            new_flow_id=link.new_flow_id,
            envelope_id=link.envelope_id,
            actor=link.actor[:128],
            at=link.at,
        )
    )


def of_flow(conn: Connection, flow_id: str) -> list[Link]:
    """Every reprocess this flow took part in, as the old or as the new flow, oldest first."""
    c = t.lineage.c
    rows = conn.execute(
        select(t.lineage).where(or_(c.old_flow_id == flow_id, c.new_flow_id == flow_id)).order_by(c.at, c.id)
    ).mappings()
    return [_link(r) for r in rows]


def of_file(conn: Connection, name: str) -> Link | None:
    """The latest reprocess of a quarantined file by this name (after it left the quarantine folder)."""
    c = t.lineage.c
    row = (
        conn.execute(select(t.lineage).where(c.source_file == name).order_by(c.at.desc(), c.id.desc()))
        .mappings()
        .first()
    )
    return _link(row) if row is not None else None


def flow_holding(conn: Connection, sha256: str, role: str, state: str) -> str | None:
    """The flow in `state` that stored these exact bytes (by content hash) as an inbound `role` message: the
    flow a quarantined file became when the hub took it."""
    m, f = t.messages.c, t.flows.c
    found: str | None = conn.execute(
        select(m.flow_id)
        .join(t.flows, f.id == m.flow_id)
        .where(m.payload_sha256 == sha256, m.direction == "in", m.role == role, f.state == state)
        .order_by(m.created_at)
        .limit(1)
    ).scalar_one_or_none()
    return found


def _link(r: Any) -> Link:
    return Link(
        r["old_flow_id"], r["source_file"], r["new_flow_id"], r["envelope_id"], r["actor"], utc(r["at"])
    )
