"""Open, keep quiet, resolve: the incident logic, pure (open incidents + firing conditions -> events).

An incident opens when its condition's key starts firing, stays open (its summary and `last_seen` follow the
facts, nobody is told again) while the key keeps firing, and resolves with a notice the first evaluation it no
longer fires. A key firing again later opens a new incident (a new episode). Only rules the evaluation could
decide about (`evaluated`) resolve: while the database is unreachable, the receipt rules are unknown, not
healthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from medcom_bridge.hub.alerts.rules import Condition, Rule


class Change(StrEnum):
    OPENED = "opened"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Incident:
    key: str
    rule: Rule
    subject: str
    summary: str
    opened_at: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    id: int | None = None

    @classmethod
    def of(cls, condition: Condition, now: datetime) -> Incident:
        return cls(condition.key, condition.rule, condition.subject, condition.summary, now, now)


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    change: Change
    incident: Incident


@dataclass(frozen=True, slots=True)
class Step:
    events: tuple[IncidentEvent, ...]
    """Opened and resolved incidents: each is notified once."""
    ongoing: tuple[Incident, ...]
    """Open incidents that still fire, with their new summary and `last_seen` (no notice)."""
    open: dict[str, Incident]
    """The open incidents after this evaluation, by key."""


def step(
    open_: Mapping[str, Incident],
    firing: Mapping[str, Condition],
    now: datetime,
    evaluated: frozenset[Rule] = frozenset(Rule),
) -> Step:
    events: list[IncidentEvent] = []
    ongoing: list[Incident] = []
    after: dict[str, Incident] = {}
    for key, incident in open_.items():
        condition = firing.get(key)
        if condition is not None:
            updated = replace(incident, summary=condition.summary, last_seen=now)
            ongoing.append(updated)
            after[key] = updated
        elif incident.rule in evaluated:
            events.append(IncidentEvent(Change.RESOLVED, replace(incident, resolved_at=now)))
        else:
            after[key] = incident
    for key, condition in firing.items():
        if key not in open_ and condition.rule in evaluated:
            incident = Incident.of(condition, now)
            events.append(IncidentEvent(Change.OPENED, incident))
            after[key] = incident
    return Step(tuple(events), tuple(ongoing), after)
