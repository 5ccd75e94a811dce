"""`GET /audit` (admins): the audit log, filtered, newest first, paged; `format=auditevent` gives IHE BALP
AuditEvents in a FHIR Bundle. Every read of the audit log is itself written to it, in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from medcom_bridge.hub.clock import utc
from medcom_bridge.security import audit
from medcom_bridge.security.principals import Principal
from medcom_bridge.web.app import Context
from medcom_bridge.web.guard import caller

MAX_LIMIT = 1000


def audit_router(ctx: Context) -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get(
        "/audit",
        summary="The audit log (admins): who read or changed what, when, from where",
        responses={
            400: {"description": "A filter value that cannot be used"},
            401: {"description": "No or unusable credentials"},
            403: {"description": "Not an admin"},
        },
    )
    def get_audit(
        request: Request,
        principal: Annotated[Principal, Depends(caller)],
        actor: str | None = None,
        action: Annotated[str | None, Query(description="e.g. message.download, flow.read, login")] = None,
        outcome: Annotated[str | None, Query(description="success | denied | failed")] = None,
        object_id: Annotated[str | None, Query(description="A flow, message or token id")] = None,
        since: Annotated[str | None, Query(description="Date or date-time (UTC if naive), inclusive")] = None,
        until: Annotated[str | None, Query(description="Date or date-time, exclusive")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        before_id: Annotated[
            int | None, Query(ge=1, description="Paging: entries older than this id")
        ] = None,
        format: Annotated[str, Query(pattern="^(json|auditevent)$")] = "json",
    ) -> Any:
        try:
            for name, given in (("actor", actor), ("object_id", object_id)):
                if given is not None and "\x00" in given:  # PostgreSQL refuses NUL in text: a 400, not a 500
                    raise ValueError(f"{name} must not contain a NUL character")
            query = audit.Query(
                actor=actor,
                action=audit.Action(action) if action else None,
                outcome=audit.Outcome(outcome) if outcome else None,
                object_id=object_id,
                since=_when("since", since),
                until=_when("until", until),
                limit=limit,
                before_id=before_id,
            )
        except ValueError as exc:
            return JSONResponse({"error": "bad-filter", "message": str(exc)}, status_code=400)
        criteria: dict[str, audit.Detail] = {
            k: v
            for k, v in {
                "actor": actor,
                "action": action,
                "outcome": outcome,
                "object_id": object_id,
                "since": since,
                "until": until,
                "limit": limit,
                "before_id": before_id,
                "format": format,
            }.items()
            if v is not None
        }
        entries = ctx.service.read_audit(
            query, ctx.audit.entry(request, principal, audit.Action.AUDIT_READ, details=criteria)
        )
        more = len(entries) == limit and entries[-1].id is not None
        if format == "auditevent":
            return JSONResponse(
                {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "total": len(entries),
                    "entry": [
                        {"resource": audit.to_audit_event(e, observer=ctx.security.observer)} for e in entries
                    ],
                },
                media_type="application/fhir+json",
            )
        return {
            "entries": [audit.to_json(e) for e in entries],
            "next_before_id": entries[-1].id if more else None,
        }

    return router


def _when(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(
            f"{name} {value!r} is not a date or date-time; use e.g. 2026-01-20 or 2026-01-20T09:00:00Z"
        ) from None
