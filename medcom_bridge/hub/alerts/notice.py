"""What a notification says (pure): an e-mail subject and text, and the webhook's JSON body.

Only what the incident holds: rule, subject (a GLN, state or timer name), summary of counts, times. Never
patient data, which incidents never carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medcom_bridge.hub.alerts.incidents import Change, IncidentEvent
from medcom_bridge.localtime import shown

TITLE = {Change.OPENED: "ALERT", Change.RESOLVED: "RESOLVED"}


@dataclass(frozen=True, slots=True)
class Notice:
    subject: str
    text: str
    body: dict[str, Any]


def notice(event: IncidentEvent, hub: str = "medcom-bridge") -> Notice:
    i = event.incident
    subject = f"[{hub}] {TITLE[event.change]} {i.rule.value}: {i.subject}"
    lines = [
        f"{TITLE[event.change]}: {i.summary}",
        "",
        f"Incident: {i.key}",
        f"Opened:   {shown(i.opened_at, zone=True)}",
    ]
    if i.resolved_at is not None:
        lines.append(f"Resolved: {shown(i.resolved_at, zone=True)}")
    lines += ["", "Open incidents: the hub's overview page (/ui) or GET /incidents."]
    body = {
        "hub": hub,
        "event": event.change.value,
        "key": i.key,
        "rule": i.rule.value,
        "subject": i.subject,
        "summary": i.summary,
        "opened_at": i.opened_at.isoformat(),
        "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None,
    }
    return Notice(subject, "\n".join(lines) + "\n", body)
