"""Benchmark of the conversion hub (issue 6): pass-through messages, then complete flows with the real parts.

    .venv/bin/python bench/hub.py                 # 1,000 messages + 400 complete flows on SQLite
    .venv/bin/python bench/hub.py --quick         # 300 messages + 100 complete flows
    .venv/bin/python bench/hub.py --pg            # also PostgreSQL (postgresql+psycopg://postgres@127.0.0.1:5432/test)
    .venv/bin/python bench/hub.py --flows 1000    # N complete flows
    .venv/bin/python bench/hub.py --profile       # cProfile of the complete-flow run (top 25 by own time)
    .venv/bin/python bench/hub.py --only-flows --flows 200 --pg --baseline 6da04ad
                                                  # ours against the first hub, alternating runs, ratio each

Complete flows (`build_hub`: real envelope reader, register, converter, receipt builders). Half are S2: a
builder-made CareCommunication with a PDF from a FHIR municipality to an OIOXML-only hospital -> XDIS91 +
XBIN01 delivered -> the hospital's XCTL03 for each -> one Acknowledgement delivered to the municipality. Half
are S1: MedCom's Flow1 XDIS91 + XBIN01 (fresh ids) to the municipality -> one CareCommunication -> its
Acknowledgement -> two XCTL03 delivered to the hospital. The receivers' systems (`demo.EndSystem`) run between
the hub's runs and are not timed. flows/s = N / hub time; p99 flow latency from a second, one-flow-at-a-time
run (hub time from the letter taken to the last answer delivered). The national month: 900,000 letters with
their receipts at the measured flows/s.

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
from typing import Any

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
FIRST_HUB = "6da04ad"  # the first version's hub (issue 6): the baseline of issue 9's speed goal


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


NATIONAL_MONTH = 900_000
GOAL_FLOWS_PER_S = 200


BATCH: int | None = None  # --batch: files/conversions/deliveries per transaction (None: the hub's default)


def _complete_world(root: Path, url: str | None, schema: str | None) -> tuple[Any, Any, Any, Any]:
    from medcom_bridge import demo
    from medcom_bridge.hub.wiring import build_hub

    root.mkdir(parents=True, exist_ok=True)
    (root / "sor.xml").write_bytes(demo.sor_xml([demo.MUNICIPALITY, demo.HOSPITAL]))
    (root / "edi.csv").write_bytes(
        demo.edi_csv([(demo.MUNICIPALITY.ean, demo.FHIR_TYPES), (demo.HOSPITAL.ean, demo.OIOXML_TYPES)])
    )
    clock = ManualClock(demo.DEMO_NOW)
    hub = build_hub(root / "spool", root / "sor.xml", root / "edi.csv", url, clock, schema=schema)
    if BATCH is not None:
        hub.batch = BATCH
    ids = demo.id_factory(str(root))
    systems = (
        demo.EndSystem(root / "spool", demo.MUNICIPALITY, ids),
        demo.EndSystem(root / "spool", demo.HOSPITAL, ids),
    )
    return hub, clock, systems, ids


def _letters(n: int, ids: Any) -> list[tuple[str, bytes]]:
    """(mailbox, VANSEnvelope) for n flows: S2 CareCommunications and S1 XDIS91+XBIN01 pairs, alternating."""
    from medcom_bridge import demo

    flows = DATA / "conversion" / "flows"
    xdis = (flows / "XDIS91_medcom_flow1_to_fhir.xml").read_bytes()
    xbin = (flows / "XBIN01_medcom_flow1_to_fhir.xml").read_bytes()
    obj = "c39ea6b2-6052-45e4-a207-415e0205ab6f"
    muni, hosp = demo.MUNICIPALITY.ean, demo.HOSPITAL.ean
    out: list[tuple[str, bytes]] = []
    for k in range(n):
        if k % 2 == 0:
            cc = demo.carecommunication(
                demo.MUNICIPALITY,
                demo.HOSPITAL,
                now=demo.DEMO_NOW,
                new_id=ids,
                attachment=b"%PDF-1.4\n" + b"x" * 20_000,
            )
            out.append((muni, demo.wrap(cc, muni, hosp, now=demo.DEMO_NOW, new_id=ids)))
            continue
        new_obj = str(uuid.uuid4())
        pair: list[bytes] = []
        for doc, ids_ in (
            (xdis, (b"KuvNrerwerwe99", b"Brevt23400929")),
            (xbin, (b"MEDBIN62529", b"031120PWE62528")),
        ):
            for i, old in enumerate(ids_):
                doc = doc.replace(old, f"B{k:07d}{i}{len(pair)}".encode())
            doc = doc.replace(obj.replace("-", "").encode(), new_obj.replace("-", "").encode())
            pair.append(doc.replace(obj.encode(), new_obj.encode()))
        for doc in pair:
            out.append((hosp, demo.wrap(doc, hosp, muni, now=demo.DEMO_NOW, new_id=ids)))
    return out


def run_complete(
    n: int, url: str | None, schema: str | None, root: Path, profile: bool = False
) -> dict[str, float]:
    from medcom_bridge import demo
    from medcom_bridge.cli.hub import run_until_idle

    hub, clock, systems, ids = _complete_world(root / "batch", url, schema)
    letters = _letters(n, ids)
    for i, (mailbox, data) in enumerate(letters):
        demo.drop(root / "batch" / "spool", mailbox, f"l{i:06d}", data)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    first = run_until_idle(hub)
    t1 = time.perf_counter()
    clock.advance(minutes=5)
    for system in systems:
        system.answer_all(now=clock.now())
    t2 = time.perf_counter()
    second = run_until_idle(hub)
    t3 = time.perf_counter()
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    answers = len(list((root / "batch" / "spool" / demo.MUNICIPALITY.ean / "in").glob("*.xml"))) + len(
        list((root / "batch" / "spool" / demo.HOSPITAL.ean / "in").glob("*.xml"))
    )
    assert first.converted == n and not first.errors and not second.errors, (first, second)
    assert answers == n // 2 + (n - n // 2) * 2, answers  # one Ack per S2 flow, two XCTL03 per S1 flow
    hub.store.close()
    # Latency: one flow at a time through a fresh hub.
    hub, clock, systems, ids = _complete_world(root / "single", url, schema)
    latencies: list[float] = []
    sample = _letters(min(n, 200), ids)
    groups: list[list[tuple[str, bytes]]] = []
    for mailbox, data in sample:  # an S1 flow is two files (XDIS91, XBIN01) sent together
        if groups and mailbox == demo.HOSPITAL.ean and len(groups[-1]) == 1 and groups[-1][0][0] == mailbox:
            groups[-1].append((mailbox, data))
        else:
            groups.append([(mailbox, data)])
    for i, group in enumerate(groups):
        for j, (mailbox, data) in enumerate(group):
            demo.drop(root / "single" / "spool", mailbox, f"s{i:06d}{j}", data)
        a = time.perf_counter()
        run_until_idle(hub)
        b = time.perf_counter()
        for system in systems:
            system.answer_all(now=clock.now())
        c = time.perf_counter()
        run_until_idle(hub)
        d = time.perf_counter()
        latencies.append((b - a) + (d - c))
    hub.store.close()
    latencies.sort()
    hub_time = (t1 - t0) + (t3 - t2)
    return {
        "flows_per_s": n / hub_time,
        "letters_per_s": n / (t1 - t0),
        "receipts_per_s": n / (t3 - t2),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
    }


def complete_flows(
    n: int, backends: list[tuple[str, str | None, str | None]], profile: bool
) -> dict[str, float]:
    """Runs the complete flows on each backend; flows/s by backend name."""
    measured: dict[str, float] = {}
    print(
        f"complete flows: {n} (half S2 FHIR -> XDIS91+XBIN01 -> 2 XCTL03 -> 1 Ack; half S1 -> 1 Ack -> 2 XCTL03)"
    )
    for name, url, schema in backends:
        if url and schema:
            _pg_schema(url, schema, create=True)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                r = run_complete(n, url, schema, Path(tmp), profile=profile and name == "sqlite")
        finally:
            if url and schema:
                _pg_schema(url, schema, create=False)
        hours = NATIONAL_MONTH / r["flows_per_s"] / 3600
        measured[name] = r["flows_per_s"]
        print(
            f"{name:10s} {r['flows_per_s']:8,.1f} flows/s (letters {r['letters_per_s']:,.1f}/s, receipts "
            f"{r['receipts_per_s']:,.1f}/s) | flow latency p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms"
        )
        print(
            f"{'':10s} ratio to goal ({GOAL_FLOWS_PER_S}/s) {r['flows_per_s'] / GOAL_FLOWS_PER_S:.2f} | "
            f"national month ({NATIONAL_MONTH:,} letters with receipts) ~{hours:.1f} h (goal < 2 h)"
        )
    return measured


def compare_to_baseline(rev: str, flows: int, pg: bool, rounds: int) -> None:
    """Run `rev`'s own bench/hub.py and ours, each as a fresh process on the same number of flows, alternately
    `rounds` times (A B A B ...), and print each pair's ratio and the median: the baseline is measured in the
    same run, on the same machine, under the same load."""
    import re
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    pattern = re.compile(r"^(sqlite|postgresql)\s+([\d,.]+) flows/s", re.MULTILINE)

    def measure(tree: Path) -> dict[str, float]:
        command = [sys.executable, str(tree / "bench" / "hub.py"), "--only-flows", "--flows", str(flows)]
        out = subprocess.run(
            command + (["--pg"] if pg else []), cwd=tree, capture_output=True, text=True, check=True
        ).stdout
        return {name: float(value.replace(",", "")) for name, value in pattern.findall(out)}

    ratios: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), rev],
            check=True,
            capture_output=True,
        )
        try:
            (tree.parent / "shared").symlink_to(repo.parent / "shared")
            for n in range(1, rounds + 1):
                theirs, ours = measure(tree), measure(repo)
                for name, figure in ours.items():
                    if name in theirs:
                        ratios.setdefault(name, []).append(figure / theirs[name])
                        print(
                            f"round {n} {name:10s} baseline {rev} {theirs[name]:,.1f} flows/s, "
                            f"ours {figure:,.1f} flows/s: ratio {figure / theirs[name]:.2f}"
                        )
        finally:
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], check=False)
    for name, values in ratios.items():
        print(
            f"{name}: median ratio to {rev} over {len(values)} rounds {statistics.median(values):.2f} (goal >= 3)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pg", action="store_true", help="also run against the local PostgreSQL server")
    parser.add_argument("--flows", type=int, default=None, help="number of complete flows")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the complete-flow run on SQLite (top 45 by cumulative time)",
    )
    parser.add_argument("--only-flows", action="store_true", help="skip the pass-through benchmark")
    parser.add_argument(
        "--batch", type=int, default=None, help="items per transaction (1 = one commit per file, as before)"
    )
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="REV",
        help=f"also run this git revision's hub on the same flows, in this run, and print our ratio to it "
        f"(the first hub is {FIRST_HUB})",
    )
    parser.add_argument("--rounds", type=int, default=3, help="with --baseline: alternating runs of each")
    args = parser.parse_args()
    global BATCH
    BATCH = args.batch
    logging.disable(logging.WARNING)  # one missing-receipt warning per flow is the point of the timer run
    n = 300 if args.quick else 1000
    flows = args.flows or (100 if args.quick else 400)
    if args.only_flows:
        backends0: list[tuple[str, str | None, str | None]] = [("sqlite", None, None)]
        if args.pg:
            backends0.append(("postgresql", "postgresql+psycopg://postgres@127.0.0.1:5432/test", "bench_hub"))
        if args.baseline:
            compare_to_baseline(args.baseline, flows, args.pg, args.rounds)
            return
        complete_flows(flows, backends0, args.profile)
        return
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
    complete_flows(flows, backends, args.profile)
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
