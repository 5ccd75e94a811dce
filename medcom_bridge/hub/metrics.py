"""The hub's Prometheus metrics: what this process did (counters, histograms) and what the hub holds (gauges).

Two sources, chosen by what each figure is (docs/metrics.md):
* **Levels are read from the database** at each scrape (`HubCollector` -> `HubService.census`, one short read
  transaction): flows by state, receipts outstanding, queue depths, open timers. They are the global truth
  whichever process answers, so several instances report the same value: aggregate them with `max`, not `sum`.
* **Events are counted in the process that committed them** (`HubMetrics` is a `hub.observe.Observer`): flows
  taken in, flow events, conversions, receipts, failures by place, and the step latencies as histograms. A
  count over the event log at every scrape would grow with the log (years of a national volume); Prometheus
  instead sums the instances' counters (`sum(rate(...))`) and handles restarts. Labels carry no process id.

No label carries patient data or an id: only enum values (state, event, route, outcome, place, timer kind) and
the broker's queue names. No GLN either: the hub serves thousands of partners, and a series per partner and
state would be a cardinality problem; the per-partner picture is the monthly statistics (/stats/monthly).

Every `HubMetrics` has its own `CollectorRegistry` (never the global default one), so any number of apps and
hubs can live in one process (the tests make many).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from medcom_bridge.hub.census import Census
from medcom_bridge.hub.clock import Clock, utc
from medcom_bridge.hub.events import Outcome, Place, Step
from medcom_bridge.hub.flow import Event, Route, State
from medcom_bridge.hub.observe import Committed
from medcom_bridge.hub.service import HubService
from medcom_bridge.hub.spool import Spool
from medcom_bridge.hub.store import StoreUnavailable

log = logging.getLogger(__name__)

# `_created` series (one more per counter and histogram child) only say when this process started counting.
disable_created_metrics()  # type: ignore[no-untyped-call]

PREFIX = "medcom_bridge"
NO_ROUTE = "none"
"""The `route` label of a flow that has none (a conversion failed before routing decided one)."""

#: From the first message taken in to the last output delivered: seconds for a pass-through, up to the
#: 60-minute pairing wait (S1) and beyond for a late partner.
INTAKE_TO_DELIVERED_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 4500, 7200, 21600, 86400)
CONVERSION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
DELIVERY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

#: Flow events after which the sender's answer is negative (outcome.py): the receiver's aggregated negative
#: receipt, or the hub's own refusal (invalid, unreadable, unroutable or not convertible input).
NEGATIVE_EVENTS = frozenset(
    {
        Event.RECEIPT_NEGATIVE,
        Event.INPUT_INVALID,
        Event.INPUT_UNREADABLE,
        Event.ROUTE_FAILED,
        Event.LETTER_INVALID,
        Event.ATTACHMENT_INVALID,
        Event.CONVERSION_FAILED,
    }
)
DELIVERED_EVENTS = frozenset({Event.DELIVERED, Event.DELIVERED_NO_RECEIPT})
ROUTES = frozenset(r.value for r in Route)


class HubMetrics:
    """This process's metrics registry, and the observer (`hub.observe.Observer`) that feeds its counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.flows_created = Counter(
            f"{PREFIX}_flows_created", "Flows this process created (a file or body taken in).", registry=r
        )
        self.flow_events = Counter(
            f"{PREFIX}_flow_events",
            "Flow events this process committed, by event of the state table (docs/flow-states.md).",
            ["event"],
            registry=r,
        )
        self.conversions = Counter(
            f"{PREFIX}_conversions",
            "Conversions this process committed, by direction (route) and outcome (ok, failed).",
            ["route", "outcome"],
            registry=r,
        )
        self.receipts = Counter(
            f"{PREFIX}_receipts",
            "Flows whose receipt outcome this process decided: ok (positive answer sent), negative (the "
            "receiver's negative receipt or the hub's refusal), missing (the 120-minute alert fired).",
            ["outcome"],
            registry=r,
        )
        self.failures = Counter(
            f"{PREFIX}_failures",
            "Failed steps this process committed, by place: input, conversion, register, receiver, network.",
            ["place"],
            registry=r,
        )
        self.intake_to_delivered = Histogram(
            f"{PREFIX}_intake_to_delivered_seconds",
            "From a flow's intake to its delivery into the receiver's mailbox (hub clock; pairing waits "
            "included).",
            buckets=INTAKE_TO_DELIVERED_BUCKETS,
            registry=r,
        )
        self.conversion_seconds = Histogram(
            f"{PREFIX}_conversion_seconds",
            "Wall time of one conversion (with the validation of its result), by direction.",
            ["route"],
            buckets=CONVERSION_BUCKETS,
            registry=r,
        )
        self.delivery_seconds = Histogram(
            f"{PREFIX}_delivery_seconds",
            "Wall time of writing one output into its receiver's in/ folder (file, fsync, rename), by outcome.",
            ["outcome"],
            buckets=DELIVERY_BUCKETS,
            registry=r,
        )
        # Every known series from the start, at 0: a rate over a series that appears late misses its start.
        for event in Event:
            self.flow_events.labels(event.value)
        for route in Route:
            for outcome in ("ok", "failed"):
                self.conversions.labels(route.value, outcome)
        for outcome in ("ok", "negative", "missing"):
            self.receipts.labels(outcome)
        for place in Place:
            self.failures.labels(place.value)
        for outcome in ("ok", "failed"):
            self.delivery_seconds.labels(outcome)

    # -- the observer --------------------------------------------------------------------------------------------
    def committed(self, events: Sequence[Committed]) -> None:
        for c in events:
            e = c.event
            if e.state_from is None and e.flow_event is None and e.step is Step.RECEIVED:
                self.flows_created.inc()
            if e.outcome is Outcome.FAILURE and e.failure is not None:
                self.failures.labels(e.failure.value).inc()
            event = _event(e.flow_event)
            if event is None:
                continue
            self.flow_events.labels(event.value).inc()
            route = e.route if e.route in ROUTES else NO_ROUTE  # a bounded label whatever the row says
            if event is Event.CONVERTED and e.step is Step.CONVERTED:  # as hub.stats counts conversions
                self.conversions.labels(route, "ok").inc()
            elif event is Event.CONVERSION_FAILED:
                self.conversions.labels(route, "failed").inc()
            if event is Event.RECEIPT_OK:
                self.receipts.labels("ok").inc()
            elif event in NEGATIVE_EVENTS:
                self.receipts.labels("negative").inc()
            elif event is Event.RECEIPT_ALERT:
                self.receipts.labels("missing").inc()
            if event in DELIVERED_EVENTS and c.flow_created_at is not None:
                waited = (utc(e.at) - c.flow_created_at).total_seconds()
                self.intake_to_delivered.observe(max(waited, 0.0))

    def conversion(self, route: Route | None, seconds: float) -> None:
        self.conversion_seconds.labels(route.value if route else NO_ROUTE).observe(seconds)

    def delivery(self, seconds: float, ok: bool) -> None:
        self.delivery_seconds.labels("ok" if ok else "failed").observe(seconds)

    # -- the exposition --------------------------------------------------------------------------------------
    def watch(self, collector: Collector) -> None:
        """Add a collector read at every scrape (the database census, the loop's status)."""
        self.registry.register(collector)

    def exposition(self) -> bytes:
        """The Prometheus text format of everything in this registry."""
        return generate_latest(self.registry)


class HubCollector(Collector):
    """The database's and the spool's levels, read at each scrape. A database that cannot be read gives
    `medcom_bridge_database_up 0` and leaves its gauges out (no stale numbers); the scrape itself succeeds."""

    def __init__(self, service: HubService, clock: Clock, spool: Spool | None = None) -> None:
        self.service = service
        self.clock = clock
        self.spool = spool

    def collect(self) -> Iterable[Metric]:
        started = time.perf_counter()
        census: Census | None
        try:
            census = self.service.census(self.clock.now())
        except (SQLAlchemyError, StoreUnavailable) as exc:
            log.warning("metrics: the database census failed (%s)", type(exc).__name__)
            census = None
        yield _gauge(
            "database_up", "1 when the database answered this scrape's census, else 0.", census is not None
        )
        yield _gauge(
            "database_census_seconds",
            "Wall time of this scrape's database census.",
            time.perf_counter() - started,
        )
        depth = GaugeMetricFamily(
            f"{PREFIX}_queue_depth",
            "Work waiting now: spool_out (files in the senders' out/ folders), conversions (flows due for "
            "conversion), deliveries (outputs not yet delivered), outbox (work not yet published to the broker).",
            labels=["queue"],
        )
        waiting, quarantine = self._spool()
        if waiting is not None:
            depth.add_metric(["spool_out"], waiting)
        if census is not None:
            depth.add_metric(["conversions"], census.flows[State.CONVERTING])
            depth.add_metric(["deliveries"], census.outputs_pending)
            depth.add_metric(["outbox"], census.outbox)
            yield from _census_families(census)
        yield depth
        if quarantine is not None:
            count, size = quarantine
            yield _gauge("quarantine_files", "Entries in SPOOL/quarantine (reasons not counted).", count)
            yield _gauge("quarantine_bytes", "Bytes of the entries in SPOOL/quarantine.", size)
        broker = self.service.broker_health() if self.service.store.broker is not None else None
        if broker is not None:
            yield from _broker_families(broker)

    def _spool(self) -> tuple[int | None, tuple[int, int] | None]:
        """Files waiting in out/ and the quarantine's size; None when the spool cannot be listed now (the
        readiness probe says so; the scrape still answers)."""
        if self.spool is None:
            return None, None
        try:
            return len(self.spool.waiting()), self.spool.quarantine_size()
        except OSError as exc:
            log.warning("metrics: the spool cannot be listed (%s)", type(exc).__name__)
            return None, None


def _census_families(census: Census) -> Iterator[Metric]:
    flows = GaugeMetricFamily(f"{PREFIX}_flows", "Flows in each state now (database).", labels=["state"])
    for state, n in census.flows.items():
        flows.add_metric([state.value], n)
    yield flows
    receipts = GaugeMetricFamily(
        f"{PREFIX}_receipts_outstanding",
        "Flows delivered and awaiting their receipts now: pending (within 120 minutes), missing (past the "
        "120-minute alert).",
        labels=["outcome"],
    )
    receipts.add_metric(["pending"], census.receipts_pending)
    receipts.add_metric(["missing"], census.receipts_missing)
    yield receipts
    timers = GaugeMetricFamily(
        f"{PREFIX}_timers_open", "Timers neither fired nor cancelled, by kind.", labels=["kind"]
    )
    for kind, n in census.timers_open.items():
        timers.add_metric([kind.value], n)
    yield timers
    yield _gauge(
        "timers_overdue",
        "Open timers past their due time (grows when no process fires timers).",
        census.timers_overdue,
    )


def _broker_families(broker: dict[str, Any]) -> Iterator[Metric]:
    yield _gauge("broker_up", "1 when the RabbitMQ broker answered this scrape, else 0.", bool(broker["ok"]))
    queues = GaugeMetricFamily(
        f"{PREFIX}_broker_messages", "Messages ready in each broker queue.", labels=["queue"]
    )
    for name, n in sorted((broker.get("queues") or {}).items()):
        queues.add_metric([name], n)
    yield queues


def _gauge(name: str, documentation: str, value: float | bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=float(value))


def _event(value: str | None) -> Event | None:
    try:
        return Event(value) if value else None
    except ValueError:
        return None
