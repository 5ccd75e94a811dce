"""The hub's HTTP face: the REST API (OpenAPI at /docs) and the operations pages, over one hub or store.

`create_app(hub_or_store)` is all a caller needs: `serve` passes the running `Hub` (intake, pages, API);
a read-only deployment or a test may pass a bare `Store` (everything but `POST /envelopes`, which answers 503).
The app never runs the hub loop itself; `medcom_bridge.web.serve` does, sharing `lock` so that an HTTP intake
and a loop run never take files at the same time.

While the database cannot be reached, every route answers 503 JSON `{"error": "store-unavailable", ...}` with
`Retry-After`, never a plain-text 500: a client (a VANS gateway, a browser) can tell "try again" from "broken".
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from medcom_bridge import __version__
from medcom_bridge.hub.clock import Clock, SystemClock
from medcom_bridge.hub.metrics import HubCollector, HubMetrics
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.service import HubService
from medcom_bridge.hub.spool import Spool
from medcom_bridge.hub.store import Store, StoreUnavailable
from medcom_bridge.security.audit import Action, Outcome
from medcom_bridge.security.oidc import OidcVerifier
from medcom_bridge.security.principals import Principal, can_see_flow
from medcom_bridge.web.auth import UNAUTHORISED_HEADERS, Authenticator
from medcom_bridge.web.docs_offline import docs_csp_overrides, mount_offline_docs
from medcom_bridge.web.guard import Audit, EndedSessions, Gate
from medcom_bridge.web.hardening import CsrfMiddleware, SecurityHeadersMiddleware, TrustedHostMiddleware
from medcom_bridge.web.intake import MAX_BODY
from medcom_bridge.web.sessions import SessionCodec
from medcom_bridge.web.settings import WebSecurity

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10
"""What a client is told to wait while the database is down (a restart or fail-over takes seconds)."""


@dataclass
class LoopStatus:
    """What the background hub loop last did, for /health and the overview (written by the loop thread)."""

    running: bool = False
    started: datetime | None = None
    """When the loop thread started (liveness before its first round ends)."""
    last_run: datetime | None = None
    last_error: str | None = None
    runs: int = 0


@dataclass
class Context:
    store: Store
    service: HubService
    clock: Clock
    security: WebSecurity
    auth: Authenticator
    sessions: SessionCodec
    ended: EndedSessions
    audit: Audit
    hub: Hub | None = None
    spool: Spool | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    loop: LoopStatus | None = None
    wake: threading.Event | None = None
    """Set after an HTTP intake so the loop delivers at once instead of at its next tick."""
    max_body: int = MAX_BODY
    """The largest body `POST /envelopes` accepts; enforced while the body is read."""
    metrics: HubMetrics = field(default_factory=HubMetrics)
    """This app's Prometheus registry (`GET /metrics`); `serve` shares it with the hub loop's observer."""

    def party_name(self, gln: str | None) -> str | None:
        """The register's name for a location number (None when unknown or without a hub's register):
        shown beside every GLN, since operators know their partners by name."""
        if not gln or self.hub is None:
            return None
        directory = getattr(self.hub.converter, "directory", None)
        party = directory.party(gln) if directory is not None else None
        return party.name if party is not None else None

    def visible(self, request: Request, principal: Principal, flow_id: str, action: Action) -> bool:
        """Whether `principal` may see the flow; a hidden one is audited as denied and answered 404 as if
        it did not exist (an organisation must not learn that another's flow exists)."""
        row = self.service.flow_row(flow_id)
        if row is None:
            return False
        if can_see_flow(principal, row.sender_gln, row.receiver_gln):
            return True
        self.audit.write(
            request, principal, action, outcome=Outcome.DENIED, object_type="flow", object_id=flow_id
        )
        return False


def create_app(
    hub_or_store: Hub | Store,
    *,
    clock: Clock | None = None,
    lock: threading.Lock | None = None,
    loop: LoopStatus | None = None,
    wake: threading.Event | None = None,
    max_body: int = MAX_BODY,
    security: WebSecurity | None = None,
    metrics: HubMetrics | None = None,
) -> FastAPI:
    """The app behind its gate: every route but /health needs credentials (`web.guard.RULES`); security
    headers, trusted hosts and CSRF refusal wrap it (`web.hardening`). `security` defaults to a hub bound to
    127.0.0.1 without TLS or OIDC and with a session secret of this process. `metrics` (default: a registry
    of this app's own) gets the database census and the loop's status as collectors."""
    from medcom_bridge.web.api import api_router
    from medcom_bridge.web.audit_api import audit_router
    from medcom_bridge.web.incidents_api import incidents_router
    from medcom_bridge.web.login import login_router
    from medcom_bridge.web.metrics import LoopCollector, metrics_router
    from medcom_bridge.web.pages import pages_router
    from medcom_bridge.web.probes import probes_router
    from medcom_bridge.web.reprocess import reprocess_router

    hub = hub_or_store if isinstance(hub_or_store, Hub) else None
    store = hub.store if hub is not None else hub_or_store
    assert isinstance(store, Store)
    security = security or WebSecurity()
    service = HubService(store, hub=hub)
    clock = clock or (hub.clock if hub is not None else SystemClock())
    ended = EndedSessions(SESSION_MAX_AGE)
    sessions = SessionCodec(security.secret, max_age=SESSION_MAX_AGE, is_revoked=ended.__contains__)
    auth = Authenticator(
        lookup_token=service.principal_for_token,
        oidc=OidcVerifier(security.oidc) if security.oidc is not None else None,
        sessions=sessions,
    )
    ctx = Context(
        store=store,
        service=service,
        clock=clock,
        security=security,
        auth=auth,
        sessions=sessions,
        ended=ended,
        audit=Audit(service, clock),
        hub=hub,
        spool=hub.spool if hub is not None else None,
        lock=lock or threading.Lock(),
        loop=loop,
        wake=wake,
        max_body=max_body,
        metrics=metrics or HubMetrics(),
    )
    ctx.metrics.watch(HubCollector(service, clock, ctx.spool))
    if loop is not None:
        ctx.metrics.watch(LoopCollector(loop))
    app = FastAPI(
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(Gate(auth))],
        title="medcom-bridge hub",
        version=__version__,
        description=(
            "The conversion hub's API: VANSEnvelope intake, track & trace per flow (EHMI delivery-status "
            "shaped, exportable as AuditEvent), flow search and monthly statistics. Ids only: no CPR "
            "numbers or letter text in any list. Every route but /health needs `Authorization: Bearer` with "
            "an API token (`medcom-bridge token create`) or the hospital's OpenID Connect access token."
        ),
    )
    app.state.ctx = ctx
    for unavailable in (OperationalError, InterfaceError, PoolTimeout, StoreUnavailable):
        app.add_exception_handler(unavailable, store_unavailable)
    app.add_exception_handler(DBAPIError, store_failed)
    app.add_exception_handler(StarletteHTTPException, http_refusal)
    app.include_router(api_router(ctx))
    app.include_router(audit_router(ctx))
    app.include_router(incidents_router(ctx))
    app.include_router(login_router(ctx))
    app.include_router(pages_router(ctx))
    app.include_router(reprocess_router(ctx))
    app.include_router(metrics_router(ctx))
    app.include_router(probes_router(ctx))
    mount_offline_docs(app)  # behind the gate like every route (RULES)
    app.add_middleware(CsrfMiddleware, secret=security.secret, session_cookie=sessions.cookie, secure=True)
    app.add_middleware(SecurityHeadersMiddleware, tls=security.tls, csp_overrides=docs_csp_overrides())
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=security.allowed_hosts)
    return app


SESSION_MAX_AGE = 8 * 3600
PAGE_PREFIXES = ("/ui", "/docs", "/redoc", "/login")


def is_page(path: str) -> bool:
    """A path a person opens in a browser (answered with HTML), as opposed to the JSON API."""
    return path == "/" or path.startswith(PAGE_PREFIXES)


async def http_refusal(request: Request, exc: Exception) -> Response:
    """401/403/404 and friends as the API's JSON problem, or for a page without credentials the login form
    (still 401, with WWW-Authenticate: the status says what happened, the page what to do)."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 401 and is_page(request.url.path):
        from medcom_bridge.web.login import login_page

        return login_page(request, status=401, headers=UNAUTHORISED_HEADERS)
    if exc.status_code == 403 and is_page(request.url.path):
        from medcom_bridge.web.pages import error_page

        return error_page(request, 403, "Not allowed", str(exc.detail))
    rule = {401: "unauthorised", 403: "forbidden", 404: "not-found", 405: "method-not-allowed"}.get(
        exc.status_code, "http-error"
    )
    return JSONResponse(
        {"error": rule, "message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 + Retry-After for a database that cannot be reached (connection refused or lost, pool exhausted).
    Only the exception's type is told: a driver message may quote SQL parameters, i.e. patient data."""
    log.warning("%s %s: the store is unavailable (%s)", request.method, request.url.path, type(exc).__name__)
    return JSONResponse(
        {
            "error": "store-unavailable",
            "message": f"the hub's database cannot be reached ({type(exc).__name__}); try again later",
            "retry_after": RETRY_AFTER_SECONDS,
        },
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def store_failed(request: Request, exc: Exception) -> JSONResponse:
    """Any other database error: unavailable if the connection was lost on the way, else a JSON 500."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return store_unavailable(request, exc)
    log.error("%s %s: database error (%s)", request.method, request.url.path, type(exc).__name__)
    return JSONResponse(
        {"error": "store-error", "message": f"the hub's database failed ({type(exc).__name__}); see the log"},
        status_code=500,
    )
