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

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from medcom_bridge.hub.clock import Clock, SystemClock
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.service import HubService
from medcom_bridge.hub.spool import Spool
from medcom_bridge.hub.store import Store, StoreUnavailable
from medcom_bridge.web.intake import MAX_BODY

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10
"""What a client is told to wait while the database is down (a restart or fail-over takes seconds)."""


@dataclass
class LoopStatus:
    """What the background hub loop last did, for /health and the overview (written by the loop thread)."""

    running: bool = False
    last_run: datetime | None = None
    last_error: str | None = None
    runs: int = 0


@dataclass
class Context:
    store: Store
    service: HubService
    clock: Clock
    hub: Hub | None = None
    spool: Spool | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    loop: LoopStatus | None = None
    wake: threading.Event | None = None
    """Set after an HTTP intake so the loop delivers at once instead of at its next tick."""
    max_body: int = MAX_BODY
    """The largest body `POST /envelopes` accepts; enforced while the body is read."""


def create_app(
    hub_or_store: Hub | Store,
    *,
    clock: Clock | None = None,
    lock: threading.Lock | None = None,
    loop: LoopStatus | None = None,
    wake: threading.Event | None = None,
    max_body: int = MAX_BODY,
) -> FastAPI:
    from medcom_bridge.web.api import api_router
    from medcom_bridge.web.pages import pages_router

    hub = hub_or_store if isinstance(hub_or_store, Hub) else None
    store = hub.store if hub is not None else hub_or_store
    assert isinstance(store, Store)
    ctx = Context(
        store=store,
        service=HubService(store),
        clock=clock or (hub.clock if hub is not None else SystemClock()),
        hub=hub,
        spool=hub.spool if hub is not None else None,
        lock=lock or threading.Lock(),
        loop=loop,
        wake=wake,
        max_body=max_body,
    )
    app = FastAPI(
        title="medcom-bridge hub",
        version="0.1.0",
        description=(
            "The conversion hub's API: VANSEnvelope intake, track & trace per flow (EHMI delivery-status "
            "shaped, exportable as AuditEvent), flow search and monthly statistics. Ids only: no CPR "
            "numbers or letter text in any list."
        ),
    )
    app.state.ctx = ctx
    for unavailable in (OperationalError, InterfaceError, PoolTimeout, StoreUnavailable):
        app.add_exception_handler(unavailable, store_unavailable)
    app.add_exception_handler(DBAPIError, store_failed)
    app.include_router(api_router(ctx))
    app.include_router(pages_router(ctx))
    return app


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
