"""Reprocess over HTTP: the API routes and the page forms (issue 12). The hub decides (`hub.reprocess`).

Operators and admins only (`Access.OPERATIONS` in `web.guard.RULES`). Every request is audited, refusals
too. Reprocessing runs under the app's intake lock (the same as `POST /envelopes`), and wakes the hub loop so
that the new flow is delivered at once.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from medcom_bridge.hub.queries import BadFilter, parse_filter
from medcom_bridge.hub.reprocess import MAX_BULK, REPROCESSABLE, Refusal, Refused, Reprocessed, Result
from medcom_bridge.hub.service import NoHub
from medcom_bridge.security.audit import Action, Outcome
from medcom_bridge.security.principals import Principal
from medcom_bridge.web.app import Context
from medcom_bridge.web.guard import caller

Caller = Annotated[Principal, Depends(caller)]
DEFAULT_BULK = 100
_STATUS = {Refusal.UNKNOWN: 404}
"""HTTP status of a refusal: an unknown flow or file is 404; anything else is a conflict with its state."""
FILTER_ARGS = (
    "state",
    "sender_gln",
    "receiver_gln",
    "letter_id",
    "envelope_id",
    "bundle_id",
    "created_from",
    "created_to",
    "month",
    "failure",
    "cause",
    "receipt",
    "event",
    "route",
)


def refusal_json(refused: Refused) -> JSONResponse:
    return JSONResponse(
        {"error": refused.rule.value, "message": refused.message}, status_code=_STATUS.get(refused.rule, 409)
    )


def no_hub() -> JSONResponse:
    return JSONResponse(
        {"error": "http-no-hub", "message": "this server is read-only: it has no hub to reprocess with"},
        status_code=503,
    )


def result_json(result: Result) -> dict[str, Any]:
    if isinstance(result, Refused):
        return {"outcome": "refused", "error": result.rule.value, "message": result.message}
    return {"outcome": "already" if result.already else "reprocessed", **result.to_json()}


def reprocess_router(ctx: Context) -> APIRouter:
    router = APIRouter(tags=["reprocess"])

    def audit_result(
        request: Request, principal: Principal, action: Action, kind: str, name: str, result: Result
    ) -> None:
        if isinstance(result, Refused):
            details: dict[str, str | bool | None] = {"refused": result.rule.value}
            outcome = Outcome.FAILED
        else:
            details = {"new_flow": result.new_flow_id, "envelope_id": result.envelope_id}
            details["already"] = result.already
            outcome = Outcome.SUCCESS
        ctx.audit.write(
            request, principal, action, outcome=outcome, object_type=kind, object_id=name, details=details
        )

    def one_flow(request: Request, principal: Principal, flow_id: str) -> Result:
        with ctx.lock:
            result = ctx.service.reprocess_flow(flow_id, principal.name)
        audit_result(request, principal, Action.FLOW_REPROCESS, "flow", flow_id, result)
        _wake(ctx, result)
        return result

    def one_file(request: Request, principal: Principal, name: str) -> Result:
        with ctx.lock:
            result = ctx.service.reprocess_file(name, principal.name)
        audit_result(request, principal, Action.QUARANTINE_REPROCESS, "quarantine", name, result)
        _wake(ctx, result)
        return result

    @router.post(
        "/flows/reprocess",
        summary="Reprocess the rejected or quarantined flows a filter finds (newest first, at most `limit`)",
        responses={400: {"description": "Bad filter, or no state=rejected|quarantined"}},
    )
    def post_bulk(
        request: Request,
        principal: Caller,
        state: Annotated[str, Query(description="rejected | quarantined (required)")],
        limit: Annotated[int, Query(ge=1, le=MAX_BULK)] = DEFAULT_BULK,
    ) -> Any:
        args = {k: request.query_params.get(k) for k in FILTER_ARGS}
        try:
            f = parse_filter(args, ctx.clock.now())
        except BadFilter as exc:
            return JSONResponse({"error": "bad-filter", "message": str(exc)}, status_code=400)
        if f.state not in REPROCESSABLE:
            allowed = " or ".join(sorted(s.value for s in REPROCESSABLE))
            return JSONResponse(
                {"error": "bad-filter", "message": f"state must be {allowed}, not {state!r}"}, status_code=400
            )
        f = dataclasses.replace(f, organisations=None)  # operators only (RULES): every flow
        try:
            with ctx.lock:
                bulk = ctx.service.reprocess_flows(f, limit=limit, actor=principal.name)
        except NoHub:
            return no_hub()
        for flow_id, result in bulk.results:
            audit_result(request, principal, Action.FLOW_REPROCESS, "flow", flow_id, result)
        counts = bulk.counts()
        ctx.audit.write(
            request, principal, Action.FLOWS_REPROCESS, details={**f.query_args(), "limit": limit, **counts}
        )
        if counts["reprocessed"] and ctx.wake is not None:
            ctx.wake.set()
        return {
            "filter": f.query_args(),
            "limit": bulk.limit,
            "more": bulk.more,
            "summary": counts,
            "flows": [{"flow_id": flow_id, **result_json(result)} for flow_id, result in bulk.results],
        }

    @router.post(
        "/flows/{flow_id}/reprocess",
        summary="Reprocess one rejected or quarantined flow (idempotent: again, the same new flow)",
        responses={
            201: {"description": "Reprocessed: the new flow (new envelope id, lineage recorded)"},
            200: {"description": "Reprocessed before: that new flow"},
            404: {"description": "No such flow"},
            409: {"description": "Not reprocessable (state, no stored original, not a VANSEnvelope)"},
        },
    )
    def post_flow(request: Request, principal: Caller, flow_id: str) -> JSONResponse:
        try:
            result = one_flow(request, principal, flow_id)
        except NoHub:
            return no_hub()
        if isinstance(result, Refused):
            return refusal_json(result)
        return JSONResponse(result_json(result), status_code=200 if result.already else 201)

    @router.post(
        "/quarantine/{name}/reprocess",
        summary="Reprocess a file in SPOOL/quarantine/ by name (a regular file only; idempotent)",
        responses={
            201: {"description": "Taken in with a new envelope id; the file left quarantine"},
            200: {"description": "Reprocessed before: that new flow"},
            404: {"description": "No such quarantined file"},
            409: {"description": "A link or special file, too large, or still not a VANSEnvelope"},
        },
    )
    def post_file(request: Request, principal: Caller, name: str) -> JSONResponse:
        try:
            result = one_file(request, principal, name)
        except NoHub:
            return no_hub()
        if isinstance(result, Refused):
            return refusal_json(result)
        return JSONResponse(result_json(result), status_code=200 if result.already else 201)

    # -- the page forms: a button on the flow page and one per quarantined file on the overview ------------
    @router.post("/ui/flows/{flow_id}/reprocess", include_in_schema=False)
    def form_flow(request: Request, principal: Caller, flow_id: str) -> Response:
        try:
            result = one_flow(request, principal, flow_id)
        except NoHub:
            return _error(request, 503, "Read-only server", "This server has no hub to reprocess with.")
        return _answer(request, result)

    @router.post("/ui/quarantine/{name}/reprocess", include_in_schema=False)
    def form_file(request: Request, principal: Caller, name: str) -> Response:
        try:
            result = one_file(request, principal, name)
        except NoHub:
            return _error(request, 503, "Read-only server", "This server has no hub to reprocess with.")
        return _answer(request, result)

    return router


def _wake(ctx: Context, result: Result) -> None:
    if isinstance(result, Reprocessed) and not result.already and ctx.wake is not None:
        ctx.wake.set()


def _answer(request: Request, result: Result) -> Response:
    if isinstance(result, Refused):
        return _error(request, _STATUS.get(result.rule, 409), "Not reprocessed", result.message)
    return RedirectResponse(f"/ui/flows/{result.new_flow_id}", status_code=303)


def _error(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    from medcom_bridge.web.pages import error_page

    return error_page(request, status, title, message)
