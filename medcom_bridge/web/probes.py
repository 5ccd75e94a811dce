"""`GET /health/live` and `GET /health/ready`: the probes an orchestrator (a kubelet) asks, without a token.

Public because the kubelet has none; so they say only *which* check failed, never why (no path, URL or
error text: `hub.readiness`). `/health` stays the human-readable overview it was.

* live: the process answers, and its hub loop (`serve`) runs and ended a round within `LIVE_AFTER`. A failing
  liveness probe makes the orchestrator restart the process; a database outage does not (each round still
  ends, after its retries), because a restart would not cure it.
* ready: the database answers, its schema is at this release's head, the spool can be listed and written,
  and the broker answers when the process was started with `--broker`. A failing readiness probe only takes
  the process out of the load balancer until it is ready again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from medcom_bridge.web.app import RETRY_AFTER_SECONDS, Context, LoopStatus

LIVE_AFTER = timedelta(minutes=15)
"""A loop whose last round ended longer ago is wedged. One round takes everything waiting in the spool, so a
large backlog (tens of thousands of files after an outage) can legitimately take minutes; a restart would
then only begin the same backlog again. Timers are per minute, so 15 minutes is well past any normal round."""


def loop_alive(loop: LoopStatus | None, now: datetime) -> bool:
    """True without a loop (an app over a store, a test), else: running, and a round ended (or the loop
    started) within `LIVE_AFTER` of `now` (wall clock, as the loop records it)."""
    if loop is None:
        return True
    if not loop.running:
        return False
    last = loop.last_run or loop.started
    return last is None or now - last <= LIVE_AFTER


def probes_router(ctx: Context) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live", summary="Liveness: the process and its hub loop are alive")
    def get_live() -> JSONResponse:
        checks = {"loop": loop_alive(ctx.loop, datetime.now(UTC))}
        return _answer(checks, "live", "not-live")

    @router.get("/health/ready", summary="Readiness: database, schema, spool (and broker) usable")
    def get_ready() -> JSONResponse:
        spool_root = ctx.spool.root if ctx.spool is not None else None
        checks = {check.value: ok for check, ok in ctx.service.readiness(spool_root).items()}
        return _answer(checks, "ready", "not-ready")

    return router


def _answer(checks: dict[str, bool], good: str, bad: str) -> JSONResponse:
    failed = [name for name, ok in checks.items() if not ok]
    body = {"status": bad if failed else good, "checks": checks, "failed": failed}
    if failed:
        return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return JSONResponse(body)
