"""Benchmark of the hub's HTTP face (issue 6): intake by POST /envelopes and the operators' read paths.

    .venv/bin/python bench/web.py              # 500 envelopes per intake path on SQLite
    .venv/bin/python bench/web.py --quick      # 150
    .venv/bin/python bench/web.py --pg         # PostgreSQL (postgresql+psycopg://postgres@127.0.0.1:5432/test)

One envelope = MedCom's flow-3 CareCommunication (a new MessageHeader id each time) in a VANSEnvelope, for an
OIOXML-only receiver, through the real hub (`build_hub`: envelope reader, SOR-EDI router). Intake only: the
conversion happens in the hub loop and is `bench/hub.py`'s business. The app runs as `serve` runs it (real
uvicorn on a localhost port in a thread, one keep-alive httpx client), so the figures include HTTP parsing and
the loopback socket, as an operator's browser or a VANS gateway would see them.

Baseline, printed as a ratio (> 1 is faster than the baseline):
* `spool intake`: the same envelopes dropped into the sender's out/ folder and taken by `Hub.take()`, which
  is exactly what POST does after writing the file; the ratio is the price of the HTTP door.
Read paths: p50/p99 of `GET /flows` (a filtered page of 50, and page 5 by cursor), `GET /flows/{id}`,
`GET /ui` (the overview) over all flows taken.
"""

from __future__ import annotations

import argparse
import logging
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import uvicorn

from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.runner import Summary
from medcom_bridge.hub.spool import SpoolFile
from medcom_bridge.hub.wiring import build_hub
from medcom_bridge.web import create_app
from tests.web.conftest import EDI, FHIR_SENDER, SOR, START, envelope, letter

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def timed(call: Callable[[], object], times: int) -> tuple[float, float]:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def run(n: int, db_url: str | None, schema: str | None, label: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "edi.csv").write_text(EDI)
        hub = build_hub(root / "spool", SOR, root / "edi.csv", db_url, ManualClock(START), schema=schema)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(create_app(hub), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}")
        bodies = [envelope(letter(str(uuid.uuid4()))) for _ in range(2 * n)]

        out = hub.spool.ensure_party(FHIR_SENDER) / "out"
        start = time.perf_counter()
        for i, body in enumerate(bodies[:n]):
            path = out / f"bench-{i}.xml"
            path.write_bytes(body)
            hub.take(SpoolFile(FHIR_SENDER, path), Summary())
        spool_rate = n / (time.perf_counter() - start)

        latencies = []
        start = time.perf_counter()
        for body in bodies[n:]:
            t0 = time.perf_counter()
            response = client.post("/envelopes", content=body)
            latencies.append(time.perf_counter() - t0)
            assert response.status_code == 202, response.text
        http_rate = n / (time.perf_counter() - start)
        p50, p99 = percentiles(latencies)
        print(f"[{label}] spool intake (baseline): {spool_rate:,.0f} envelopes/s")
        print(
            f"[{label}] POST /envelopes: {http_rate:,.0f} envelopes/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
            f"ratio to spool intake {http_rate / spool_rate:.2f}"
        )

        some = client.get("/flows", params={"limit": "1"}).json()["flows"][0]["id"]
        cursor = None
        for _ in range(4):
            params = {"state": "converting", "limit": "50", **({"cursor": cursor} if cursor else {})}
            cursor = client.get("/flows", params=params).json()["next_cursor"]
        reads = {
            "GET /flows?state=converting (page 1 of 50)": lambda: client.get(
                "/flows", params={"state": "converting", "limit": "50"}
            ),
            "GET /flows (page 5 by cursor)": lambda: client.get(
                "/flows", params={"state": "converting", "limit": "50", "cursor": cursor or ""}
            ),
            "GET /flows/{id}": lambda: client.get(f"/flows/{some}"),
            "GET /ui (overview)": lambda: client.get("/ui"),
        }
        for name, call in reads.items():
            p50, p99 = timed(call, 100)
            print(f"[{label}] {name} over {2 * n} flows: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        client.close()
        server.should_exit = True
        thread.join()
        hub.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="150 envelopes per path instead of 500")
    parser.add_argument("--n", type=int, default=None, help="envelopes per intake path")
    parser.add_argument("--pg", action="store_true", help="run on PostgreSQL instead of SQLite")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    n = args.n or (150 if args.quick else 500)
    if args.pg:
        from sqlalchemy import create_engine, text

        schema = f"bench_web_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            run(n, PG_URL, schema, "postgresql")
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    else:
        run(n, None, None, "sqlite")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
