"""Benchmark of the operator's read paths (issue 12) over a busy month and a year of history.

    .venv/bin/python bench/operations.py                       # 50,000 letters in the month, SQLite
    .venv/bin/python bench/operations.py --quick               # 5,000
    .venv/bin/python bench/operations.py --letters 10000 50000 # two sizes: how time grows, and 900,000 a month
    .venv/bin/python bench/operations.py --pg                  # PostgreSQL (postgresql+psycopg://postgres@127.0.0.1:5432/test)

The database: one busy Danish month (November 2026, `--letters` letters on its 30 days, 07-17 Copenhagen time)
and the 12 months before it with a tenth of that each. Per letter a mix as a hub sees it: converted to OIOXML
(two XCTL03 -> one Acknowledgement), converted to FHIR, passed through, each answered by its receipt; 3 %
refused by the receiver with a MedCom refuse code (XCTL02, some the first of two), 2 % without a receipt (the
120-minute alert fires), 2 % refused by the hub (invalid, unroutable, not convertible), 0.5 % quarantined;
about 300 partner GLNs. The rows are written as the hub writes them, through the store's own write path
(`Tx.create_flow`, `engine.transition`, `Tx.record`, `engine.fire_timer` for the alerts and the 3-month
closing), one transaction per day, so states, timers, trace events, causes and the Danish `month` column are
the hub's own. Left out: message payloads, messages and dedup keys (no measured path reads them). The fill's
time and row counts are printed.

The app runs as `serve` runs it (uvicorn on a localhost port in a thread, a `HubMetrics` registry), read by one
keep-alive httpx client with an operator's API token. Measured, p50/p99 over `--repeat` requests each:
`GET /ui/stats?month=` (the monthly page, 13-month charts), `GET /stats/monthly?month=`, `GET
/stats/monthly.csv?month=`, `GET /metrics`, `GET /ui`, `GET /flows?month=&figure=receiver_negative`, `GET
/flows?limit=50`, `GET /health/ready`, and one alert round in the process (`Alerter.check`: the database's
facts, the rules, the incident ledger). Also: the SQL statements of one `/ui/stats` request, peak RSS.

Baselines, measured in the same run and printed as ratios (route p99 / baseline p99):
* `GET /health`: the HTTP floor (no credentials, one `SELECT 1`).
* `GET /flows?limit=50`: the list every operator opens first.
The issue's bar: statistics and metrics stay interactive (p99 under about 1 s) at the national 900,000 letters
a month. With two sizes the script prints each path's growth (time ratio / size ratio: 1 is linear) and a linear
extrapolation of p99 to 900,000.
"""

from __future__ import annotations

import argparse
import logging
import random
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import uvicorn
from sqlalchemy import event, func, select

from medcom_bridge.hub import schema as t
from medcom_bridge.hub.alerts.config import AlertConfig
from medcom_bridge.hub.alerts.watch import Alerter
from medcom_bridge.hub.causes import RejectCause
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.engine import fire_timer, transition
from medcom_bridge.hub.events import ReceiptVerdict, Step
from medcom_bridge.hub.flow import Event
from medcom_bridge.hub.metrics import HubMetrics
from medcom_bridge.hub.runner import Hub
from medcom_bridge.hub.service import HubService
from medcom_bridge.hub.store import FlowInfo, Note, Store, Tx
from medcom_bridge.hub.wiring import build_hub
from medcom_bridge.localtime import COPENHAGEN, month_bounds, months_back
from medcom_bridge.security import tokens
from medcom_bridge.web import create_app
from tests.web.conftest import EDI, SOR

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MONTH = "2026-11"
NOW = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 18:00 in Copenhagen on the month's last day
NATIONAL = 900_000
HISTORY_SHARE = 0.1
PARTNERS = 300
REFUSE_CODES = (
    "ikke_specificeret",
    "ukendt_lokationsnummer",
    "problem_med_modtagerID",
    "problem_med_version",
    "syntaksfejl",
)
REFUSE_TEXT = "Brevet kunne ikke modtages: ukendt element"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def timed(call: Callable[[], object], times: int) -> tuple[float, float]:
    call()  # warm: the first request compiles statements and templates
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


# -- the fill ------------------------------------------------------------------------------------------------


def partners(rng: random.Random) -> list[str]:
    return [f"57900{rng.randrange(10**7, 10**8)}" for _ in range(PARTNERS)]


def pick(rng: random.Random, glns: list[str]) -> str:
    """A few partners send and receive most letters (the regions' hospitals, the big municipalities)."""
    return (
        glns[min(int(rng.paretovariate(1.2)) - 1, len(glns) - 1)] if rng.random() < 0.6 else rng.choice(glns)
    )


NO = Note()


def receipt(kind: str, verdict: ReceiptVerdict, cause: str, text: str | None = None) -> Note:
    """A receiver's receipt as the runner notes it (`runner._note`): its code, verdict and text."""
    return Note(cause=cause, receipt=verdict, reason=text, message_type=kind)


def one_letter(tx: Tx, rng: random.Random, at: datetime, sender: str, receiver: str) -> None:
    """One letter's life as the hub records it, from intake to the answer delivered to its sender."""
    roll = rng.random()
    if roll < 0.005:  # unreadable: quarantined, no receiver known
        flow = tx.create_flow(at, FlowInfo(sender_gln=sender, kind="unknown"))
        transition(
            tx,
            flow.id,
            Event.INPUT_UNREADABLE,
            at,
            Note(reason="vans-structure: not a VANSEnvelope", cause="vans-structure"),
        )
        return
    kind = rng.choice(("carecommunication", "xdis91", "xdis91"))
    info = FlowInfo(
        sender_gln=sender,
        receiver_gln=receiver,
        letter_id=str(uuid.uuid4()),
        envelope_id=str(uuid.uuid4()),
        kind=kind,
    )
    flow = tx.create_flow(at, info)
    s = lambda seconds: at + timedelta(seconds=seconds)  # noqa: E731
    if roll < 0.025:  # the hub refuses it: its own negative VANS receipt
        event, cause = rng.choice(
            (
                (Event.INPUT_INVALID, "xdis91-schema"),
                (Event.ROUTE_FAILED, RejectCause.ROUTE.value),
                (Event.CONVERSION_FAILED, RejectCause.CONVERSION.value),
            )
        )
        if event is Event.CONVERSION_FAILED:
            transition(tx, flow.id, Event.CONVERT_TO_OIOXML, s(1))
        transition(tx, flow.id, event, s(2), Note(reason=f"{cause}: refused", cause=cause))
        tx.record(flow.id, s(3), Step.NEGATIVE_RECEIPT_SENT, Note(message_type="xctl01"))
        return
    twin = kind == "carecommunication"  # S2: one CareCommunication -> XDIS91 + XBIN01, two XCTL back
    route = Event.CONVERT_TO_OIOXML if twin else rng.choice((Event.CONVERT_TO_FHIR, Event.PASS_THROUGH))
    transition(tx, flow.id, route, s(1))
    if route is not Event.PASS_THROUGH:
        transition(tx, flow.id, Event.CONVERTED, s(2))
    transition(tx, flow.id, Event.DELIVERED, s(3))
    if roll < 0.045:  # no receipt: the 120-minute alert fires (the day's timer round)
        return
    answered = s(rng.randrange(120, 5400))
    ack = "acknowledgement" if twin else "xctl03"
    if roll < 0.075:  # refused by the receiver, with its refuse code
        code = rng.choice(REFUSE_CODES)
        if twin and rng.random() < 0.5:
            transition(
                tx,
                flow.id,
                Event.RECEIPT_PARTIAL,
                answered,
                receipt("xctl02", ReceiptVerdict.NEGATIVE, code, REFUSE_TEXT),
            )
            answered += timedelta(seconds=30)
        transition(
            tx,
            flow.id,
            Event.RECEIPT_NEGATIVE,
            answered,
            receipt("xctl02", ReceiptVerdict.NEGATIVE, code, REFUSE_TEXT),
        )
    else:
        if twin:
            transition(
                tx,
                flow.id,
                Event.RECEIPT_PARTIAL,
                answered,
                receipt("xctl03", ReceiptVerdict.POSITIVE, "xctl03"),
            )
            answered += timedelta(seconds=30)
        transition(
            tx, flow.id, Event.RECEIPT_OK, answered, receipt("xctl03", ReceiptVerdict.POSITIVE, "xctl03")
        )
    tx.record(flow.id, answered + timedelta(seconds=1), Step.RECEIPT_SENT, Note(message_type=ack))


def fire_due(tx: Tx, until: datetime) -> None:
    """The hub loop's timer round, as if it ran on time: each due timer fired at its due time."""
    while True:
        due = tx.claim_due_timers(until, limit=1000)
        for timer in due:
            fire_timer(tx, timer, timer.due_at)
        if len(due) < 1000:
            return


@dataclass
class Filled:
    seconds: float
    flows: int
    events: int
    timers: int
    month_events: int


def fill(store: Store, letters: int, seed: int = 12) -> Filled:
    rng = random.Random(seed)
    glns = partners(rng)
    started = time.perf_counter()
    for month in months_back(MONTH, 13):
        per_month = letters if month == MONTH else int(letters * HISTORY_SHARE)
        start, end = month_bounds(month)
        days = []
        day = start
        while day < end:
            days.append(day)
            day += timedelta(days=1)
        if month == MONTH:
            days = [d for d in days if d.astimezone(COPENHAGEN).date() <= NOW.astimezone(COPENHAGEN).date()]
        for i, day in enumerate(days):
            count = per_month // len(days) + (1 if i < per_month % len(days) else 0)
            opening = day.astimezone(COPENHAGEN).replace(hour=7).astimezone(UTC)
            times = sorted(opening + timedelta(seconds=rng.randrange(10 * 3600)) for _ in range(count))
            with store.transaction() as tx:
                for at in times:
                    sender = pick(rng, glns)
                    receiver = pick(rng, glns)
                    while receiver == sender:
                        receiver = rng.choice(glns)
                    one_letter(tx, rng, at, sender, receiver)
                fire_due(tx, min(day + timedelta(days=1), NOW))
    with store.transaction() as tx:
        fire_due(tx, NOW)
    seconds = time.perf_counter() - started
    with store.engine.connect() as conn:
        flows = conn.execute(select(func.count()).select_from(t.flows)).scalar_one()
        events = conn.execute(select(func.count()).select_from(t.events)).scalar_one()
        timers = conn.execute(select(func.count()).select_from(t.timers)).scalar_one()
        in_month = conn.execute(
            select(func.count()).select_from(t.events).where(t.events.c.month == MONTH)
        ).scalar_one()
    return Filled(seconds, flows, events, timers, in_month)


# -- the measurement -----------------------------------------------------------------------------------------


@dataclass
class Measured:
    letters: int
    p99: dict[str, float]


def run(letters: int, repeat: int, db_url: str | None, schema: str | None, label: str) -> Measured:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "edi.csv").write_text(EDI)
        clock = ManualClock(NOW)
        hub = build_hub(root / "spool", SOR, root / "edi.csv", db_url, clock, schema=schema)
        filled = fill(hub.store, letters)
        if hub.store.engine.dialect.name == "postgresql":
            with hub.store.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")  # as autovacuum would have by now
        print(
            f"[{label}] fill: {letters:,} letters in {MONTH} + 12 months x {int(letters * HISTORY_SHARE):,}: "
            f"{filled.flows:,} flows, {filled.events:,} events ({filled.month_events:,} in {MONTH}), "
            f"{filled.timers:,} timers in {filled.seconds:.1f} s ({filled.flows / filled.seconds:,.0f} flows/s)"
        )
        measured = serve_and_measure(hub, clock, letters, repeat, label)
        hub.store.close()
        return measured


def serve_and_measure(hub: Hub, clock: ManualClock, letters: int, repeat: int, label: str) -> Measured:
    metrics = HubMetrics()
    hub.observe(metrics)  # as `serve` does
    with hub.store.engine.begin() as conn:
        token = tokens.create(conn, "bench-operator", "operator", (), NOW)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(hub, metrics=metrics), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=120
    )

    def get(path: str, **params: str) -> Callable[[], object]:
        def call() -> object:
            response = client.get(path, params=params)
            assert response.status_code == 200, (path, response.status_code, response.text[:300])
            return response

        return call

    alerter = Alerter(HubService(hub.store), AlertConfig(), clock, spool=hub.spool, loop_last_run=lambda: NOW)
    reads: dict[str, Callable[[], object]] = {
        "GET /health (baseline: HTTP floor)": get("/health"),
        "GET /flows?limit=50 (baseline: the first list)": get("/flows", limit="50"),
        f"GET /ui/stats?month={MONTH}": get("/ui/stats", month=MONTH),
        f"GET /stats/monthly?month={MONTH}": get("/stats/monthly", month=MONTH),
        f"GET /stats/monthly.csv?month={MONTH}": get("/stats/monthly.csv", month=MONTH),
        "GET /metrics": get("/metrics"),
        "GET /ui (overview)": get("/ui"),
        f"GET /flows?month={MONTH}&figure=receiver_negative": get(
            "/flows", month=MONTH, figure="receiver_negative"
        ),
        "GET /health/ready": get("/health/ready"),
        "alert round (Alerter.check)": alerter.check,
    }
    rows: dict[str, tuple[float, float]] = {}
    for name, call in reads.items():
        rows[name] = timed(call, repeat)
    floor = rows["GET /health (baseline: HTTP floor)"][1]
    first = rows["GET /flows?limit=50 (baseline: the first list)"][1]
    for name, (p50, p99) in rows.items():
        print(
            f"[{label}] {name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
            f"x{p99 / floor:.1f} /health, x{p99 / first:.1f} /flows?limit=50"
        )

    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(hub.store.engine, "before_cursor_execute", count)
    get("/ui/stats", month=MONTH)()
    event.remove(hub.store.engine, "before_cursor_execute", count)
    print(f"[{label}] SQL statements per GET /ui/stats: {statements} (token lookup and audit included)")
    report = alerter.check()
    rules = Counter(str(i.rule) for i in report.open)
    print(f"[{label}] alert round: {len(report.open)} open incidents ({dict(sorted(rules.items()))})")
    client.close()
    server.should_exit = True
    thread.join()
    return Measured(letters, {name: p99 for name, (_, p99) in rows.items()})


def growth(small: Measured, large: Measured, label: str) -> None:
    """How p99 grows from the smaller size to the larger; a line through both, at the national month."""
    size = large.letters / small.letters
    print(f"[{label}] growth {small.letters:,} -> {large.letters:,} letters (x{size:.1f}); 1.0 = linear:")
    for name, p99 in large.p99.items():
        before = small.p99[name]
        slope = (p99 - before) / (large.letters - small.letters)
        national = p99 + max(slope, 0.0) * (NATIONAL - large.letters)  # a flat path stays flat
        print(
            f"[{label}]   {name}: p99 {before:.1f} -> {p99:.1f} ms (x{p99 / before:.2f}, "
            f"growth {p99 / before / size:.2f}); at {NATIONAL:,} a month ~{national / 1000:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 letters in the month instead of 50,000")
    parser.add_argument(
        "--letters", type=int, nargs="+", metavar="N", help="letters in the month (one or two sizes)"
    )
    parser.add_argument("--repeat", type=int, default=30, metavar="N", help="requests per path (default 30)")
    parser.add_argument("--pg", action="store_true", help="run on PostgreSQL instead of SQLite")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    sizes = sorted(args.letters or [5_000 if args.quick else 50_000])
    label = "postgresql" if args.pg else "sqlite"
    results = []
    for letters in sizes:
        if args.pg:
            from sqlalchemy import create_engine, text

            schema = f"bench_ops_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                results.append(run(letters, args.repeat, PG_URL, schema, label))
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
        else:
            results.append(run(letters, args.repeat, None, None, label))
    if len(results) >= 2:
        growth(results[0], results[-1], label)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
