"""The audit log: who read or changed what, when, from where (issue 11). Append-only in the database.

An entry carries ids and criteria, never patient data: `details` values are scrubbed of CPR numbers and kept
to short scalars, and a flow is named by its id, never by the patient. Reading the audit log is itself an
entry (`Action.AUDIT_READ`). `to_audit_event` exports an entry as a FHIR AuditEvent in the shape of IHE
Basic Audit Log Patterns (BALP): a RESTful interaction with the client and user agents, the hub as observer,
and the object as entity.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from medcom_bridge.hub.clock import utc
from medcom_bridge.privacy import scrub
from medcom_bridge.security.principals import Principal
from medcom_bridge.security.schema import TABLES, SecurityTables

MAX_DETAIL = 200  # characters of one detail value; criteria, ids and counts fit, a pasted letter does not


class Action(enum.StrEnum):
    FLOW_LIST = "flow.list"  # a search: details hold the criteria
    FLOW_READ = "flow.read"
    MESSAGE_DOWNLOAD = "message.download"
    MESSAGE_RENDER = "message.render"
    FLOW_REPROCESS = "flow.reprocess"
    FLOWS_REPROCESS = "flows.reprocess"  # a bulk reprocess by filter: details hold the criteria and counts
    QUARANTINE_REPROCESS = "quarantine.reprocess"
    ENVELOPE_POST = "envelope.post"
    EVENTS_READ = "events.read"
    STATS_READ = "stats.read"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    TOKEN_LIST = "token.list"
    AUDIT_READ = "audit.read"
    LOGIN = "login"
    LOGOUT = "logout"
    PRUNE = "prune"


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    DENIED = "denied"  # 401/403/404-by-rule: someone tried
    FAILED = "failed"  # the action was allowed but did not succeed


# BALP: restful-interaction subtype and the FHIR action code of each action.
_INTERACTION: dict[Action, tuple[str, str]] = {
    Action.FLOW_LIST: ("search", "E"),
    Action.FLOW_READ: ("read", "R"),
    Action.MESSAGE_DOWNLOAD: ("read", "R"),
    Action.MESSAGE_RENDER: ("read", "R"),
    Action.FLOW_REPROCESS: ("update", "U"),
    Action.FLOWS_REPROCESS: ("update", "U"),
    Action.QUARANTINE_REPROCESS: ("create", "C"),
    Action.ENVELOPE_POST: ("create", "C"),
    Action.EVENTS_READ: ("search", "E"),
    Action.STATS_READ: ("search", "E"),
    Action.TOKEN_CREATE: ("create", "C"),
    Action.TOKEN_REVOKE: ("update", "U"),
    Action.TOKEN_LIST: ("search", "E"),
    Action.AUDIT_READ: ("search", "E"),
    Action.LOGIN: ("create", "E"),
    Action.LOGOUT: ("delete", "E"),
    Action.PRUNE: ("delete", "D"),
}
_OUTCOME_CODE = {Outcome.SUCCESS: "0", Outcome.DENIED: "4", Outcome.FAILED: "8"}

Detail = str | int | bool | None


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    actor: str
    action: Action
    outcome: Outcome = Outcome.SUCCESS
    role: str | None = None
    via: str | None = None
    remote: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    details: Mapping[str, Detail] = field(default_factory=dict)
    id: int | None = None

    @classmethod
    def by(
        cls,
        principal: Principal | None,
        at: datetime,
        action: Action,
        *,
        outcome: Outcome = Outcome.SUCCESS,
        remote: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        details: Mapping[str, Detail] | None = None,
        actor: str = "anonymous",
    ) -> Entry:
        """An entry for what `principal` (None: not authenticated, named by `actor`) did."""
        return cls(
            at=at,
            actor=principal.name if principal else actor,
            action=action,
            outcome=outcome,
            role=principal.role.value if principal else None,
            via=principal.via.value if principal else None,
            remote=remote,
            object_type=object_type,
            object_id=object_id,
            details=dict(details or {}),
        )


def clean_details(details: Mapping[str, Detail]) -> dict[str, Detail]:
    """Scalars only, short, and no CPR number in any string (privacy.py)."""
    out: dict[str, Detail] = {}
    for key, value in details.items():
        if isinstance(value, str):
            text = scrub(value)
            out[str(key)[:64]] = text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "…"
        elif value is None or isinstance(value, (bool, int)):
            out[str(key)[:64]] = value
        else:
            raise TypeError(f"audit detail {key!r} must be a string, number, boolean or None")
    return out


def record(conn: Connection, entry: Entry, tables: SecurityTables = TABLES) -> None:
    if entry.at.tzinfo is None:
        raise ValueError("an audit entry needs an aware time")
    conn.execute(
        tables.audit_log.insert().values(
            at=utc(entry.at),
            actor=scrub(entry.actor)[:128],
            role=entry.role,
            via=entry.via,
            remote=(entry.remote or None) and entry.remote[:64],
            action=entry.action.value,
            outcome=entry.outcome.value,
            object_type=entry.object_type,
            object_id=(entry.object_id or None) and scrub(entry.object_id)[:64],
            details=clean_details(entry.details) or None,
        )
    )


@dataclass(frozen=True, slots=True)
class Query:
    """Filters of `GET /audit`; all optional, combined with AND; newest first."""

    actor: str | None = None
    action: Action | None = None
    outcome: Outcome | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    before_id: int | None = None  # paging: entries older than this id


def search(conn: Connection, query: Query, tables: SecurityTables = TABLES) -> list[Entry]:
    t = tables.audit_log
    stmt = select(t).order_by(t.c.id.desc()).limit(max(1, min(query.limit, 1000)))
    if query.actor is not None:
        stmt = stmt.where(t.c.actor == query.actor)
    if query.action is not None:
        stmt = stmt.where(t.c.action == query.action.value)
    if query.outcome is not None:
        stmt = stmt.where(t.c.outcome == query.outcome.value)
    if query.object_id is not None:
        stmt = stmt.where(t.c.object_id == query.object_id)
    if query.since is not None:
        stmt = stmt.where(t.c.at >= query.since)
    if query.until is not None:
        stmt = stmt.where(t.c.at < query.until)
    if query.before_id is not None:
        stmt = stmt.where(t.c.id < query.before_id)
    return [
        Entry(
            at=utc(r.at),  # SQLite hands back naive UTC
            actor=r.actor,
            action=Action(r.action),
            outcome=Outcome(r.outcome),
            role=r.role,
            via=r.via,
            remote=r.remote,
            object_type=r.object_type,
            object_id=r.object_id,
            details=r.details or {},
            id=r.id,
        )
        for r in conn.execute(stmt)
    ]


def to_json(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "role": entry.role,
        "via": entry.via,
        "remote": entry.remote,
        "action": entry.action.value,
        "outcome": entry.outcome.value,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "details": dict(entry.details),
    }


BALP_PROFILE = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.{}"
_PROFILE_OF = {"read": "Read", "search": "Query", "create": "Create", "update": "Update", "delete": "Delete"}


def to_audit_event(entry: Entry, *, observer: str) -> dict[str, Any]:
    """The entry as a FHIR R4 AuditEvent shaped like IHE BALP's basic RESTful events (no patient entity:
    the flow id is the object; the patient is not named here)."""
    interaction, action_code = _INTERACTION[entry.action]
    agents: list[dict[str, Any]] = [
        {
            "type": {
                "coding": [
                    _coding("http://dicom.nema.org/resources/ontology/DCM", "110153", "Source Role ID")
                ]
            },
            "who": {"display": observer},
            "requestor": False,
        },
        {
            "type": {
                "coding": [
                    _coding(
                        "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                        "IRCP",
                        "information recipient",
                    )
                ]
            },
            "who": {"identifier": {"value": entry.actor}},
            "requestor": True,
            **({"network": {"address": entry.remote, "type": "2"}} if entry.remote else {}),
            **({"role": [{"text": entry.role}]} if entry.role else {}),
        },
    ]
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "meta": {"profile": [BALP_PROFILE.format(_PROFILE_OF[interaction])]},
        "type": _coding(
            "http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "Restful Operation"
        ),
        "subtype": [_coding("http://hl7.org/fhir/restful-interaction", interaction, interaction)],
        "action": action_code,
        "recorded": entry.at.isoformat(),
        "outcome": _OUTCOME_CODE[entry.outcome],
        "outcomeDesc": f"{entry.action.value}: {entry.outcome.value}",
        "agent": agents,
        "source": {"observer": {"display": observer}},
    }
    if entry.id is not None:
        event["id"] = f"audit-{entry.id}"
    entity: dict[str, Any] = {}
    if entry.object_id:
        entity["what"] = {"identifier": {"value": entry.object_id}}
    if entry.object_type:
        entity["name"] = entry.object_type
    if entry.details:
        entity["detail"] = [{"type": k, "valueString": str(v)} for k, v in entry.details.items()]
    if entity:
        entity["type"] = _coding(
            "http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"
        )
        event["entity"] = [entity]
    return event


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}
