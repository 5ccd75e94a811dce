"""The JSON API (OpenAPI): intake, flows, track & trace, statistics, health."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from medcom_bridge.hub.events import TraceEvent, to_audit_event
from medcom_bridge.hub.queries import (
    DEFAULT_PAGE,
    MAX_PAGE,
    BadFilter,
    FlowDetail,
    flow_json,
    parse_filter,
    parse_month,
)
from medcom_bridge.hub.service import PayloadGone
from medcom_bridge.localtime import month_of
from medcom_bridge.security.audit import Action, Outcome
from medcom_bridge.security.principals import Principal, visible_organisations
from medcom_bridge.web.app import RETRY_AFTER_SECONDS, Context
from medcom_bridge.web.guard import caller
from medcom_bridge.web.intake import (
    IntakeRefused,
    check_declared_length,
    check_mailbox,
    receive_body,
    take_envelope,
)
from medcom_bridge.web.monthly import monthly_csv, monthly_json

XML_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/xml": {"schema": {"type": "string", "description": "One VANSEnvelope 1.0.4"}}
        },
    }
}


def problem(status: int, rule: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": rule, "message": message, **extra}, status_code=status)


def event_json(e: TraceEvent) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "id": e.id,
        "at": e.at.isoformat(),
        "step": e.step.value,
        "subtype": e.subtype.value,
        "outcome": e.outcome.value,
        "failure": e.failure.value if e.failure else None,
        "reason": e.reason,
        "cause": e.cause,
        "receipt": e.receipt.value if e.receipt else None,
        "route": e.route,
        "flow_event": e.flow_event,
        "sender_gln": e.sender_gln,
        "receiver_gln": e.receiver_gln,
        "sender_sor": e.sender_sor,
        "receiver_sor": e.receiver_sor,
        "message_id": e.message_id,
        "envelope_id": e.envelope_id,
        "orig_message_id": e.orig_message_id,
        "message_type": e.message_type,
        "message_version": e.message_version,
        "state_from": e.state_from,
        "state_to": e.state_to,
    }


def detail_json(d: FlowDetail, party: Callable[[str | None], str | None] = lambda _: None) -> dict[str, Any]:
    failed = d.failure
    return {
        **flow_json(d.flow, d.receipt, party),
        "where": d.where,
        "failed": None
        if failed is None
        else {
            "place": failed.failure.value if failed.failure else None,
            "reason": failed.reason,
            "cause": failed.cause,
            "at": failed.at.isoformat(),
            "step": failed.step.value,
        },
        "timers": {timer.value: due.isoformat() for timer, due in d.timers.items()},
        "messages": [
            {
                "id": m.id,
                "direction": m.direction,
                "role": m.role,
                "kind": m.kind,
                "envelope_id": m.envelope_id,
                "letter_id": m.letter_id,
                "sender_gln": m.sender_gln,
                "receiver_gln": m.receiver_gln,
                "sha256": m.payload_sha256,
                "file_name": m.file_name,
                "created_at": m.created_at.isoformat(),
                "delivered_at": m.delivered_at.isoformat() if m.delivered_at else None,
                "download": f"/flows/{d.flow.id}/messages/{m.id}",
            }
            for m in d.messages
        ],
        "events": f"/flows/{d.flow.id}/events",
        "lineage": [link.to_json() for link in d.lineage],  # reprocessed as / reprocess of (hub.reprocess)
    }


Caller = Annotated[Principal, Depends(caller)]
UNAUTHORISED: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unusable credentials (WWW-Authenticate: Bearer)"}
}
FORBIDDEN: dict[int | str, dict[str, Any]] = {403: {"description": "The caller's role may not do this"}}


def api_router(ctx: Context) -> APIRouter:
    router = APIRouter(tags=["hub"], responses=UNAUTHORISED)

    visible = ctx.visible

    @router.post(
        "/envelopes",
        status_code=202,
        summary="Hand in one VANSEnvelope (as if dropped into the sender's spool out/ folder)",
        openapi_extra=XML_BODY,
        responses={
            202: {"description": "Taken: the flow id (also for a repeated POST of the same envelope)"},
            400: {
                "description": "Not usable as intake (empty, not XML, sender mailbox unknown or malformed)"
            },
            403: {"description": "An organisation may post only envelopes whose SenderID is one of its EANs"},
            413: {"description": "Body too large (refused while it is read)"},
            422: {"description": "Taken but rejected or quarantined; the reason and flow id are given"},
            503: {
                "description": "No hub to take envelopes here, or the database is unavailable (Retry-After)"
            },
        },
    )
    async def post_envelope(
        request: Request,
        principal: Caller,
        mailbox: Annotated[
            str | None,
            Query(description="Sender location number (13-digit GLN); default: the envelope's SenderID"),
        ] = None,
    ) -> JSONResponse:
        if ctx.hub is None:
            return problem(503, "http-no-hub", "this server is read-only: it has no hub to take envelopes")
        try:
            check_mailbox(mailbox)
            check_declared_length(request.headers.get("content-length"), ctx.max_body)
            body = await receive_body(request.stream(), ctx.max_body)
        except IntakeRefused as exc:
            return problem(exc.status, exc.rule, exc.message)
        senders = visible_organisations(principal)
        try:
            with body:
                result = await run_in_threadpool(
                    take_envelope, ctx.hub, ctx.lock, body, mailbox=mailbox, senders=senders
                )
        except IntakeRefused as exc:
            if exc.status == 403:
                ctx.audit.write(
                    request,
                    principal,
                    Action.ENVELOPE_POST,
                    outcome=Outcome.DENIED,
                    details={"rule": exc.rule},
                )
            return problem(exc.status, exc.rule, exc.message)
        ctx.audit.write(
            request,
            principal,
            Action.ENVELOPE_POST,
            outcome=Outcome.FAILED if result.refused else Outcome.SUCCESS,
            object_type="flow",
            object_id=result.flow_id,
            details={"outcome": result.outcome, "mailbox": mailbox},
        )
        if ctx.wake is not None:
            ctx.wake.set()
        return JSONResponse(result.to_json(), status_code=422 if result.refused else 202)

    @router.get("/flows", summary="Search flows by indexed facts, newest first, paged by cursor")
    def get_flows(
        request: Request,
        principal: Caller,
        state: str | None = None,
        sender_gln: str | None = None,
        receiver_gln: str | None = None,
        letter_id: str | None = None,
        envelope_id: str | None = None,
        bundle_id: str | None = None,
        created_from: Annotated[str | None, Query(description="Date or date-time (UTC if naive)")] = None,
        created_to: Annotated[str | None, Query(description="Exclusive upper bound")] = None,
        month: Annotated[str | None, Query(description="YYYY-MM: flows with an event in that month")] = None,
        failure: Annotated[
            str | None, Query(description="Flows that failed at: input, conversion, ...")
        ] = None,
        cause: str | None = None,
        receipt: Annotated[str | None, Query(description="positive | negative")] = None,
        event: Annotated[str | None, Query(description="A flow event, e.g. receipt_alert, converted")] = None,
        route: Annotated[
            str | None, Query(description="pass_through | oioxml_to_fhir | fhir_to_oioxml")
        ] = None,
        figure: Annotated[
            str | None,
            Query(description="The flows behind a monthly figure (letters, receiver_negative, missing ...)"),
        ] = None,
        overdue: Annotated[str | None, Query(description="true: receipts missing past 120 minutes")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
        cursor: str | None = None,
    ) -> Any:
        args = {
            "state": state,
            "sender_gln": sender_gln,
            "receiver_gln": receiver_gln,
            "letter_id": letter_id,
            "envelope_id": envelope_id,
            "bundle_id": bundle_id,
            "created_from": created_from,
            "created_to": created_to,
            "month": month,
            "failure": failure,
            "cause": cause,
            "receipt": receipt,
            "event": event,
            "route": route,
            "figure": figure,
            "overdue": overdue,
        }
        try:
            f = parse_filter(args, ctx.clock.now())
            criteria = {**f.query_args(), "limit": limit, "cursor": cursor}
            f = dataclasses.replace(f, organisations=visible_organisations(principal))
            page = ctx.service.flows(f, limit=limit, cursor=cursor)
        except BadFilter as exc:
            return problem(400, "bad-filter", str(exc))
        ctx.audit.write(request, principal, Action.FLOW_LIST, details={**criteria, "found": len(page.flows)})
        outcomes = ctx.service.receipt_outcomes(page.flows)
        return {
            "flows": [flow_json(row, outcomes[row.id], ctx.party_name) for row in page.flows],
            "next_cursor": page.next_cursor,
            "filter": f.query_args(),
        }

    @router.get("/flows/{flow_id}", summary="One flow: state, parties, ids, where it is or where it failed")
    def get_flow(request: Request, principal: Caller, flow_id: str) -> Any:
        detail = ctx.service.flow(flow_id) if visible(request, principal, flow_id, Action.FLOW_READ) else None
        if detail is None:
            return problem(404, "flow-unknown", f"no flow {flow_id!r}")
        ctx.audit.write(request, principal, Action.FLOW_READ, object_type="flow", object_id=flow_id)
        return detail_json(detail, ctx.party_name)

    @router.get(
        "/flows/{flow_id}/events",
        summary="Track & trace: the flow's delivery-status events (format=auditevent: a FHIR Bundle)",
    )
    def get_events(
        request: Request,
        principal: Caller,
        flow_id: str,
        format: Annotated[str, Query(pattern="^(json|auditevent)$")] = "json",
    ) -> Any:
        events = (
            ctx.service.events(flow_id) if visible(request, principal, flow_id, Action.EVENTS_READ) else None
        )
        if events is None:
            return problem(404, "flow-unknown", f"no flow {flow_id!r}")
        ctx.audit.write(
            request,
            principal,
            Action.EVENTS_READ,
            object_type="flow",
            object_id=flow_id,
            details={"format": format},
        )
        if format == "auditevent":
            return JSONResponse(
                {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "total": len(events),
                    "entry": [{"resource": to_audit_event(e)} for e in events],
                },
                media_type="application/fhir+json",
            )
        return {"flow_id": flow_id, "events": [event_json(e) for e in events]}

    @router.get(
        "/flows/{flow_id}/messages/{message_id}",
        summary="Download one stored message exactly as received or delivered (contains patient data)",
        response_class=Response,
        responses={
            200: {"content": {"application/xml": {"schema": {"type": "string"}}}},
            404: {"description": "No such flow or message (or not the caller's)"},
            410: {"description": "The message is known but its payload was removed by retention"},
        },
    )
    def get_message(request: Request, principal: Caller, flow_id: str, message_id: str) -> Response:
        try:
            found = (
                ctx.service.message(flow_id, message_id)
                if visible(request, principal, flow_id, Action.MESSAGE_DOWNLOAD)
                else None
            )
        except PayloadGone:
            return problem(
                410, "payload-pruned", f"message {message_id!r} is past retention: its bytes are gone"
            )
        if found is None:
            return problem(404, "message-unknown", f"flow {flow_id!r} has no message {message_id!r}")
        ctx.audit.write(
            request,
            principal,
            Action.MESSAGE_DOWNLOAD,
            object_type="message",
            object_id=message_id,
            details={"flow": flow_id},
        )
        message, data = found
        name = f"{message.direction}-{message.role}-{message.id}.xml"
        return Response(
            data,
            media_type="application/xml",
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )

    @router.get("/stats/monthly", summary="Monthly statistics from the event log", responses=FORBIDDEN)
    def get_stats(
        month: Annotated[
            str | None, Query(description="YYYY-MM (Danish month); all months when absent")
        ] = None,
    ) -> Any:
        try:
            chosen = parse_month(month) if month else None
        except BadFilter as exc:
            return problem(400, "bad-filter", str(exc))
        trend_to = month_of(ctx.clock.now())
        return monthly_json(ctx.service.monthly(chosen, trend_to=trend_to), ctx.party_name)

    @router.get(
        "/stats/monthly.csv", summary="One month's statistics as CSV (a section column)", responses=FORBIDDEN
    )
    def get_stats_csv(
        month: Annotated[
            str | None, Query(description="YYYY-MM (Danish month); this month when absent")
        ] = None,
    ) -> Any:
        try:
            chosen = parse_month(month) if month else month_of(ctx.clock.now())
        except BadFilter as exc:
            return problem(400, "bad-filter", str(exc))
        body = monthly_csv(ctx.service.monthly(chosen), ctx.party_name)
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="medcom-bridge-{chosen}.csv"'},
        )

    @router.get("/health", summary="Database reachable and hub loop alive")
    def get_health() -> JSONResponse:
        body: dict[str, Any] = {"status": "ok"}
        problem_type = ctx.service.database_problem()
        if problem_type is None:
            body["database"] = "ok"
        else:
            body.update(status="unavailable", database=f"error: {problem_type}")
        broker = ctx.service.broker_health()  # issue 10: work waits in the outbox while it is away
        if broker is not None:
            body["broker"] = broker
            if not broker["ok"] and body["status"] == "ok":
                body["status"] = "degraded"
        loop = ctx.loop
        if loop is not None:
            body["loop"] = {
                "running": loop.running,
                "runs": loop.runs,
                "last_run": loop.last_run.isoformat() if loop.last_run else None,
                "last_error": loop.last_error,
            }
            if not loop.running or loop.last_error:
                body["status"] = "degraded" if body["status"] == "ok" else body["status"]
        if body["status"] == "unavailable":
            return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        return JSONResponse(body)

    return router
