"""Benchmark of the hub foundation (issue 6): pass-through messages through spool + store + state machine.

    .venv/bin/python bench/hub.py                 # 1,000 messages on SQLite
    .venv/bin/python bench/hub.py --quick         # 300 messages
    .venv/bin/python bench/hub.py --pg            # also PostgreSQL (postgresql+psycopg://postgres@127.0.0.1:5432/test)

One message = a VANSEnvelope around a real XDIS91 sample, dropped into a sender's out/ folder. The hub takes
it (one transaction: dedup keys, payload, flow, trace event), routes it (pass-through), and delivers it to the
receiver's in/ (atomic write, then one transaction: delivered + state change + timers). Then the 120-minute
alert timers are fired for all of them. Identification here reads only the envelope header (the real
envelope reader plugs in later), so the figures are the hub's own cost.

Baselines, printed as ratios (> 1 is better than the baseline):
* `copy floor`: the same files moved out/ -> in/ with the same tmp + fsync + rename discipline and no database;
  the ratio says what durability of state costs on top of durable files.
* `national peak`: MedCom's 900,000 correspondence messages a month, taken as if all arrived within 8 working
  hours on 21 days, i.e. about 1.5 messages/s.
"""

from __future__ import annotations

import argparse
import base64
import logging
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.pipeline import Decision, Inbound, RouteOutcome, Unreadable
from medcom_bridge.hub.runner import Hub, Summary
from medcom_bridge.hub.spool import Spool, SpoolFile
from medcom_bridge.hub.store import Store
from medcom_bridge.xmlsafe import XmlError, parse_xml

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SAMPLE = DATA / "oioxml" / "samples" / "XDIS91_1_edifactconv_pair.xml"
VANS = "urn:oio:medcom:vans-envelope:1.0.4"
SENDER, RECEIVER = "5790001382445", "5790000121441"
NATIONAL_PEAK_PER_SECOND = 900_000 / (21 * 8 * 3600)


def envelope(payload: bytes, envelope_id: str, message_id: str) -> bytes:
    data = base64.b64encode(payload).decode()
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<VANSEnvelope xmlns="{VANS}">'
        f'<SenderID EndPointType="EAN">{SENDER}</SenderID><ReceiverID EndPointType="EAN">{RECEIVER}</ReceiverID>'
        f"<EnvelopeIdentifier>{envelope_id}</EnvelopeIdentifier><SentDateTime>2026-01-20T08:00:00</SentDateTime>"
        f"<Message><MetaInformation><Identifier>{message_id}</Identifier><Document><Format>XML</Format>"
        f"<Name>MCM:XDIS91</Name><Version>XD9134L</Version><SizeInBytes>{len(payload)}</SizeInBytes></Document>"
        f"</MetaInformation><Data>{data}</Data></Message></VANSEnvelope>"
    ).encode()


class HeaderIdentifier:
    def identify(self, data: bytes, *, mailbox: str) -> Inbound:
        try:
            root = parse_xml(data)
        except XmlError as exc:
            raise Unreadable(exc.rule, exc.message) from None

        def text(path: str) -> str:
            return root.findtext(path, namespaces={"v": VANS}) or ""

        return Inbound(
            kind="xdis91",
            sender_gln=text("v:SenderID"),
            receiver_gln=text("v:ReceiverID"),
            envelope_id=text("v:EnvelopeIdentifier"),
            letter_id=text("v:Message/v:MetaInformation/v:Identifier"),
        )


class PassThrough:
    def route(self, inbound: Inbound) -> RouteOutcome:
        return RouteOutcome(Decision.PASS_THROUGH)


def fill(spool: Spool, n: int) -> None:
    payload = SAMPLE.read_bytes()
    out = spool.ensure_party(SENDER) / "out"
    spool.ensure_party(RECEIVER)
    for i in range(n):
        (out / f"m{i:06d}.xml").write_bytes(envelope(payload, str(uuid.uuid4()), str(uuid.uuid4())))


def copy_floor(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(Path(tmp))
        fill(spool, n)
        start = time.perf_counter()
        for file in spool.waiting():
            spool.deliver(RECEIVER, file.name, spool.read(file))
            spool.taken(file)
        return n / (time.perf_counter() - start)


def run_hub(n: int, url: str | None, schema: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spool = Spool(root / "spool")
        fill(spool, n)
        store = Store.open(url or f"sqlite:///{root / 'hub.sqlite'}", schema=schema)
        clock = ManualClock()
        hub = Hub(spool, store, clock, HeaderIdentifier(), PassThrough())
        latencies: list[float] = []
        summary = Summary()
        start = time.perf_counter()
        files: list[SpoolFile] = spool.waiting()
        for file in files:
            t0 = time.perf_counter()
            hub.take(file, summary)
            latencies.append(time.perf_counter() - t0)
        taken = time.perf_counter()
        hub.deliver_pending(summary)
        delivered = time.perf_counter()
        clock.advance(minutes=120)
        hub.fire_timers(summary)
        fired = time.perf_counter()
        store.close()
        assert summary.taken == n and summary.delivered == n and summary.timers_fired == n, summary
        latencies.sort()
        return {
            "end_to_end_per_s": n / (delivered - start),
            "intake_per_s": n / (taken - start),
            "delivery_per_s": n / (delivered - taken),
            "timers_per_s": n / (fired - delivered),
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pg", action="store_true", help="also run against the local PostgreSQL server")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # one missing-receipt warning per flow is the point of the timer run
    n = 300 if args.quick else 1000
    floor = copy_floor(n)
    print(f"hub pass-through benchmark: {n} messages of {len(envelope(SAMPLE.read_bytes(), 'x', 'y'))} bytes")
    print(f"copy floor (files only, tmp+fsync+rename): {floor:,.0f} messages/s")
    backends: list[tuple[str, str | None, str | None]] = [("sqlite", None, None)]
    if args.pg:
        backends.append(("postgresql", "postgresql+psycopg://postgres@127.0.0.1:5432/test", "bench_hub"))
    for name, url, schema in backends:
        if url and schema:
            _pg_schema(url, schema, create=True)
        try:
            r = run_hub(n, url, schema)
        finally:
            if url and schema:
                _pg_schema(url, schema, create=False)
        print(
            f"{name:10s} end-to-end {r['end_to_end_per_s']:8,.0f} msg/s | intake {r['intake_per_s']:,.0f}/s "
            f"(p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms) | delivery {r['delivery_per_s']:,.0f}/s | "
            f"timers {r['timers_per_s']:,.0f}/s"
        )
        print(
            f"{'':10s} ratio to copy floor {r['end_to_end_per_s'] / floor:.2f} | "
            f"ratio to national peak ({NATIONAL_PEAK_PER_SECOND:.1f}/s) {r['end_to_end_per_s'] / NATIONAL_PEAK_PER_SECOND:,.0f}"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak_mb:.0f} MB")


def _pg_schema(url: str, schema: str, *, create: bool) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        if create:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()


if __name__ == "__main__":
    main()
