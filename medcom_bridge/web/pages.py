"""The operations pages: server-rendered, autoescaped, no external assets (the hub runs in closed networks).

The overview answers "is there a problem, and is it in the conversion solution, the network or the
receiver?"; every number on every page links to the flow list filtered to exactly those flows. Lists show ids
and parties only; a message's content is one explicit click away (download, or the rendered letter).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from lxml.etree import LxmlError

from medcom_bridge import localtime
from medcom_bridge.documents import NotRenderable, UnknownKind, render_document
from medcom_bridge.hub.events import Place
from medcom_bridge.hub.flow import Event, Route, State
from medcom_bridge.hub.pipeline import RECEIPT_KINDS
from medcom_bridge.hub.queries import (
    DEFAULT_PAGE,
    PLACE_MEANING,
    SIDES,
    STATE_MEANING,
    BadFilter,
    FlowDetail,
    parse_filter,
    parse_month,
)
from medcom_bridge.hub.service import PayloadGone
from medcom_bridge.localtime import month_name, month_of, months_back
from medcom_bridge.privacy import scrub
from medcom_bridge.security.audit import Action
from medcom_bridge.security.principals import Principal, sees_all_flows, visible_organisations
from medcom_bridge.web.app import Context
from medcom_bridge.web.guard import caller
from medcom_bridge.web.hardening import csrf_field
from medcom_bridge.web.monthly import chart_page_values, flows_link, rate_text, short_month
from medcom_bridge.xmlsafe import XmlError

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Our pages use inline styles only; the rendered letter is produced by our own renderer, also self-contained.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'"
)
RENDERABLE = frozenset({"carecommunication", "xdis91"})

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def when(at: datetime | None, seconds: bool = True, zone: bool = False) -> str:
    """A time as people read it: Copenhagen wall-clock time (the column or page says so, `TZ_LABEL`, or
    `zone` adds CET/CEST)."""
    return localtime.shown(at, seconds=seconds, zone=zone)


def _no_name(gln: str | None) -> str | None:
    return None


def link(path: str, **args: Any) -> str:
    """A deep link with the given filters (None and empty values left out)."""
    query = {k: str(v.value if hasattr(v, "value") else v) for k, v in args.items() if v not in (None, "")}
    return f"{path}?{urlencode(query)}" if query else path


_env.globals.update(
    link=link,
    STATE_MEANING={s.value: m for s, m in STATE_MEANING.items()},
    PLACE_MEANING={p.value: m for p, m in PLACE_MEANING.items()},
    STATES=[s.value for s in State],
    PLACES=[p.value for p in Place],
    EVENTS=[e.value for e in Event],
    ROUTES=[r.value for r in Route],
    RENDERABLE=RENDERABLE,
    SIDES=[(side, [p.value for p in places]) for side, places in SIDES],
    TZ_LABEL=localtime.LABEL,
)
_env.globals.update(month_name=month_name)
_env.filters["when"] = when


def page(
    request: Request, name: str, status: int = 200, headers: dict[str, str] | None = None, **values: Any
) -> HTMLResponse:
    """A page for the signed-in user (`user` in the templates; None on the login page), with the CSRF field
    its POST forms carry."""
    user: Principal | None = getattr(request.state, "principal", None)
    ctx: Context | None = getattr(request.app.state, "ctx", None)
    html = _env.get_template(name).render(
        party=ctx.party_name if ctx is not None else _no_name,
        user=user,
        operations=user is not None and sees_all_flows(user),
        csrf=csrf_field(request),
        **values,
    )
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": CSP, **(headers or {})})


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return page(request, "error.html", status, title=title, message=message)


Caller = Annotated[Principal, Depends(caller)]


def pages_router(ctx: Context) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    visible = ctx.visible

    @router.get("/")
    def root(principal: Caller) -> Response:
        return RedirectResponse("/ui" if sees_all_flows(principal) else "/ui/flows", status_code=303)

    @router.get("/ui")
    def overview_page(request: Request, month: str | None = None) -> HTMLResponse:
        now = ctx.clock.now()
        try:
            chosen = parse_month(month) if month else None
        except BadFilter as exc:
            return error_page(request, 400, "Bad month", str(exc))
        view = ctx.service.overview(now, month=chosen)
        outcomes = ctx.service.receipt_outcomes(view.oldest_waiting + view.overdue_sample)
        quarantined = ctx.spool.quarantined() if ctx.spool is not None else []
        return page(
            request,
            "overview.html",
            view=view,
            outcomes=outcomes,
            quarantined=[(path.name, _reason_line(reason)) for path, reason in quarantined],
            skipped=ctx.spool.skipped(now) if ctx.spool is not None else [],
            loop=ctx.loop,
            total=sum(view.states.values()),
            incidents=ctx.service.incidents(limit=20),
        )

    @router.get("/ui/flows")
    def flows_page(request: Request, principal: Caller) -> HTMLResponse:
        args = dict(request.query_params)
        cursor = args.pop("cursor", None) or None
        limit_text = args.pop("limit", "") or str(DEFAULT_PAGE)
        try:
            limit = int(limit_text)
            f = parse_filter(dict(args), ctx.clock.now(), default_month=True)
            query = f.query_args()
            f = dataclasses.replace(f, organisations=visible_organisations(principal))
            result = ctx.service.flows(f, limit=limit, cursor=cursor)
        except ValueError as exc:  # BadFilter is a ValueError, as is a non-numeric limit
            return error_page(request, 400, "Bad filter", str(exc))
        ctx.audit.write(
            request, principal, Action.FLOW_LIST, details={**query, "found": len(result.flows), "page": True}
        )
        return page(
            request,
            "flows.html",
            flows=result.flows,
            outcomes=ctx.service.receipt_outcomes(result.flows),
            f=f,
            query=query,
            next_link=link("/ui/flows", **query, limit=limit, cursor=result.next_cursor)
            if result.next_cursor
            else None,
            first_page=cursor is not None,
            first_link=link("/ui/flows", **query, limit=limit),
        )

    @router.get("/ui/flows/{flow_id}")
    def flow_page(request: Request, principal: Caller, flow_id: str) -> HTMLResponse:
        detail = ctx.service.flow(flow_id) if visible(request, principal, flow_id, Action.FLOW_READ) else None
        if detail is None:
            return error_page(request, 404, "Unknown flow", f"There is no flow {flow_id!r}.")
        ctx.audit.write(
            request,
            principal,
            Action.FLOW_READ,
            object_type="flow",
            object_id=flow_id,
            details={"page": True},
        )
        return page(request, "flow.html", d=detail, said=receipt_senders(detail))

    @router.get("/ui/flows/{flow_id}/messages/{message_id}/render")
    def render_page(
        request: Request, principal: Caller, flow_id: str, message_id: str, cpr: str | None = None
    ) -> HTMLResponse:
        reveal = cpr == "show"
        try:
            found = (
                ctx.service.message(flow_id, message_id)
                if visible(request, principal, flow_id, Action.MESSAGE_RENDER)
                else None
            )
        except PayloadGone:
            return error_page(
                request, 410, "Message past retention", f"The bytes of {message_id!r} are gone."
            )
        if found is None:
            return error_page(
                request, 404, "Unknown message", f"Flow {flow_id!r} has no message {message_id!r}."
            )
        ctx.audit.write(
            request,
            principal,
            Action.MESSAGE_RENDER,
            object_type="message",
            object_id=message_id,
            details={"flow": flow_id, "cpr": "shown" if reveal else "masked"},
        )
        try:
            html = render_document(found[1])
        except (NotRenderable, UnknownKind, XmlError, LxmlError, ValueError) as exc:
            return error_page(request, 422, "Cannot render this message", str(exc))
        html = viewer(html, flow_id, message_id, reveal=reveal)
        return HTMLResponse(html, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})

    @router.get("/ui/stats")
    def stats_page(request: Request, month: str | None = None) -> HTMLResponse:
        current = month_of(ctx.clock.now())
        try:
            chosen = parse_month(month) if month else current
        except BadFilter as exc:
            return error_page(request, 400, "Bad month", str(exc))
        monthly = ctx.service.monthly(chosen)
        picker = [(m, month_name(m)) for m in reversed(months_back(max(current, chosen), 25))]
        return page(
            request,
            "stats.html",
            month=chosen,
            month_title=month_name(chosen),
            month_name=month_name,
            short_month=short_month,
            picker=picker,
            m=monthly,
            flows_link=flows_link,
            rate_text=rate_text,
            pass_throughs=monthly.pass_throughs.get(chosen, 0),
            **chart_page_values(monthly),
        )

    return router


_BODY = re.compile(r"<body[^>]*>", re.IGNORECASE)


def viewer(html: str, flow_id: str, message_id: str, *, reveal: bool) -> str:
    """The rendered letter as the operations pages show it: a bar back to its flow on top, and every CPR
    number masked (`privacy.scrub`: `25xxxx-xxxx`) unless the reader asked to see it (audited). Scripts stay
    impossible: the bar is a plain link, the page keeps its CSP."""
    if not reveal:
        html = scrub(html)
    base = f"/ui/flows/{quote(flow_id, safe='')}"
    here = f"{base}/messages/{quote(message_id, safe='')}/render"
    toggle = (
        f'<a href="{here}">mask the CPR number</a>'
        if reveal
        else f'<a href="{here}?cpr=show" rel="nofollow">show the CPR number</a> (the view is audited)'
    )
    bar = (
        '<nav class="backbar" style="font:14px system-ui,sans-serif;background:#1f3a5f;color:#fff;'
        'padding:.5em 1.5em"><a style="color:#fff" href="'
        + base
        + '">&larr; back to flow '
        + escape(flow_id[:8])
        + "…</a>"
        + '<span style="margin-left:2em;color:#dfe6ef">Times in Copenhagen time (CET/CEST) · CPR '
        + ("shown" if reveal else "masked")
        + ' · <span style="color:#fff">'
        + toggle.replace("<a ", '<a style="color:#fff" ')
        + "</span></span></nav>"
    )
    match = _BODY.search(html)
    if match is None:
        return bar + html
    return html[: match.end()] + bar + html[match.end() :]


def receipt_senders(detail: FlowDetail) -> dict[str, str | None]:
    """Who sent each receipt the flow received, by its letter id: the timeline names the receipt's sender."""
    return {
        m.letter_id: m.sender_gln
        for m in detail.messages
        if m.direction == "in" and m.letter_id and m.kind in RECEIPT_KINDS
    }


def _reason_line(reason_file: str) -> str:
    """The `reason:` line of a quarantine .reason.txt (the file also names the sender and time)."""
    for line in reason_file.splitlines():
        if line.startswith("reason:"):
            return line.removeprefix("reason:").strip()
    return reason_file.strip()[:300]
