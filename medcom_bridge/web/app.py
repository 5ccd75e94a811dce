"""The hub's HTTP face: the REST API (OpenAPI at /docs) and the operations pages, over one hub or store.

`create_app(hub_or_store)` is all a caller needs: `serve` passes the running `Hub` (intake, pages, API);
a read-only deployment or a test may pass a bare `Store` (everything but `POST /envelopes`, which answers 503).
The app never runs the hub loop itself; `medcom_bridge.web.serve` does, sharing `lock` so that an HTTP intake
and a loop run never take files at the same time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import FastAPI

from medcom_bridge.hub.clock import Clock, SystemClock
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.spool import Spool
from medcom_bridge.hub.store import Store


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
    clock: Clock
    hub: Hub | None = None
    spool: Spool | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    loop: LoopStatus | None = None
    wake: threading.Event | None = None
    """Set after an HTTP intake so the loop delivers at once instead of at its next tick."""


def create_app(
    hub_or_store: Hub | Store,
    *,
    clock: Clock | None = None,
    lock: threading.Lock | None = None,
    loop: LoopStatus | None = None,
    wake: threading.Event | None = None,
) -> FastAPI:
    from medcom_bridge.web.api import api_router
    from medcom_bridge.web.pages import pages_router

    hub = hub_or_store if isinstance(hub_or_store, Hub) else None
    store = hub.store if hub is not None else hub_or_store
    assert isinstance(store, Store)
    ctx = Context(
        store=store,
        clock=clock or (hub.clock if hub is not None else SystemClock()),
        hub=hub,
        spool=hub.spool if hub is not None else None,
        lock=lock or threading.Lock(),
        loop=loop,
        wake=wake,
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
    app.include_router(api_router(ctx))
    app.include_router(pages_router(ctx))
    return app
