"""`GET /incidents` (operations roles): the alert incidents, open ones first, then the latest resolved.

Incidents carry rule names, GLNs, state names and counts, never patient data (`hub.alerts`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from medcom_bridge.hub.alerts.incidents import Incident
from medcom_bridge.web.app import Context


def incident_json(i: Incident) -> dict[str, Any]:
    return {
        "key": i.key,
        "rule": i.rule.value,
        "subject": i.subject,
        "summary": i.summary,
        "open": i.resolved_at is None,
        "opened_at": i.opened_at.isoformat(),
        "last_seen": i.last_seen.isoformat(),
        "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None,
    }


def incidents_router(ctx: Context) -> APIRouter:
    router = APIRouter(tags=["alerts"])

    @router.get(
        "/incidents",
        summary="Alert incidents: open ones (oldest first), then the most recently resolved",
        responses={
            401: {"description": "No or unusable credentials"},
            403: {"description": "Not operations"},
        },
    )
    def get_incidents(limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
        found = ctx.service.incidents(limit=limit)
        return {
            "open": sum(1 for i in found if i.resolved_at is None),
            "incidents": [incident_json(i) for i in found],
        }

    return router
