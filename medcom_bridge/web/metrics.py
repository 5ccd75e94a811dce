"""`GET /metrics`: the hub's Prometheus text (prometheus-client), for operations (a token like every route).

The figures and where each comes from are `hub.metrics`' business (docs/metrics.md); this module only
answers the scrape and adds what only the web process knows: the hub loop's status (`serve`).
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from medcom_bridge.hub.metrics import PREFIX
from medcom_bridge.web.app import Context, LoopStatus


class LoopCollector(Collector):
    """The background hub loop of `serve`: running, and when its last round ended (a heartbeat to alert on:
    `time() - medcom_bridge_loop_last_run_timestamp_seconds > 300`)."""

    def __init__(self, loop: LoopStatus) -> None:
        self.loop = loop

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            f"{PREFIX}_loop_running",
            "1 while the hub loop thread runs, else 0.",
            value=float(self.loop.running),
        )
        if self.loop.last_run is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_loop_last_run_timestamp_seconds",
                "When the hub loop's last round ended (Unix time).",
                value=self.loop.last_run.timestamp(),
            )
        yield GaugeMetricFamily(
            f"{PREFIX}_loop_failing",
            "1 when the last round reported an error, else 0.",
            value=float(bool(self.loop.last_error)),
        )


def metrics_router(ctx: Context) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/metrics",
        summary="Prometheus metrics (text format)",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    def get_metrics() -> Response:
        # A sync route: FastAPI runs it in its thread pool, so the database census never blocks the event loop.
        return Response(ctx.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router
