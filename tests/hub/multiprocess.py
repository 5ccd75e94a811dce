"""Several `medcom-bridge process` on one PostgreSQL database and one spool, under faults (issue 9).

The scenario: N letters each way (CareCommunications to an OIOXML receiver; XDIS91 + XBIN01 pairs to a FHIR
receiver, dropped in random order so that the two halves of a pair often land in different processes), then
the receivers' receipts. In each phase `workers` processes run side by side; some are SIGKILLed at random
moments and the hub's PostgreSQL connections are terminated now and then; processes are restarted until one
finds nothing to do. Invariant: every expected output exactly once in the `in/` folders, nothing left in
`out/`, nothing quarantined, every flow completed.

Used by `test_multiprocess.py` (a short run in CI) and `bench/hub_crash.py` (1,000 flows).
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from medcom_bridge import demo
from medcom_bridge.envelope import vans
from medcom_bridge.fhir import codec as fhir_codec
from medcom_bridge.hub.store import Store
from tests.hub.e2e import FHIR, OIO, START, counter_ids, make_pair, register_files

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Report:
    flows: int
    workers: int
    kills: int = 0
    connection_kills: int = 0
    terminated_connections: int = 0
    runs: int = 0
    seconds: float = 0.0
    duplicates: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)


class Scenario:
    def __init__(self, root: Path, *, seed: int) -> None:
        self.root = root
        self.spool = root / "spool"
        self.sor, self.edi = register_files(root)
        self.rng = random.Random(seed)
        self.schema = f"hub_mp_{uuid.uuid4().hex[:10]}"
        self.app = f"mcb-{self.schema}"
        self.admin = create_engine(PG_URL)
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        Store.open(PG_URL, schema=self.schema).close()  # migrate once, before the workers race to
        self.url = f"{PG_URL}?options=-csearch_path%3D{self.schema}&application_name={self.app}"

    def close(self) -> None:
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()

    def start(self, now: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "medcom_bridge", "process", "--spool", str(self.spool)]
        command += ["--sor", str(self.sor), "--edi", str(self.edi), "--db", self.url, "--now", now, "--json"]
        return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def kill_connections(self) -> int:
        with self.admin.begin() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :app AND pid <> pg_backend_pid()"
                    ),
                    {"app": self.app},
                ).all()
            )

    def phase(self, now: str, report: Report, *, workers: int, kills: int, connection_kills: int) -> None:
        """Run `workers` processes side by side with faults until one run finds nothing to do."""
        started = time.monotonic()
        procs = [self.start(now) for _ in range(workers)]
        report.runs += workers
        kills_left, conn_kills_left = kills, connection_kills
        deadline = time.monotonic() + 600
        before = progress(self.spool)
        while any(p.poll() is None for p in procs) and progress(self.spool) == before:
            time.sleep(0.02)  # faults land while the workers work, not while they start
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            time.sleep(self.rng.uniform(0.05, 0.4))
            running = [p for p in procs if p.poll() is None]
            if kills_left and running:
                victim = self.rng.choice(running)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                kills_left -= 1
                report.kills += 1
                procs.append(self.start(now))  # a restarted worker
                report.runs += 1
            elif conn_kills_left and running:
                report.terminated_connections += self.kill_connections()
                conn_kills_left -= 1
                report.connection_kills += 1
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()
        for _ in range(5):  # then alone, until idle: the last run must find nothing to do
            proc = self.start(now)
            out, err = proc.communicate(timeout=300)
            report.runs += 1
            assert proc.returncode == 0, err.decode()[-2000:]
            summary = json.loads(out.decode().strip().splitlines()[-1])
            assert summary["quarantined"] == 0, summary
            if summary["taken"] == summary["delivered"] == summary["converted"] == 0:
                break
        else:
            raise AssertionError("the hub did not become idle")
        report.seconds += time.monotonic() - started


def progress(spool: Path) -> tuple[int, int]:
    return sum(1 for _ in spool.glob("*/out/*.xml")), sum(1 for _ in spool.glob("*/in/*.xml"))


def in_folder(spool: Path, ean: str) -> list[vans.Envelope]:
    return [vans.unwrap(p.read_bytes()) for p in sorted((spool / ean / "in").glob("*.xml"))]


def run(
    root: Path, *, flows_each_way: int, workers: int, kills: int, connection_kills: int, seed: int
) -> Report:
    scenario = Scenario(root, seed=seed)
    report = Report(flows=2 * flows_each_way, workers=workers)
    try:
        ids = counter_ids(f"mp{seed}")
        drops: list[tuple[str, str, bytes]] = []
        letters_cc: set[str] = set()
        pairs = {}
        for k in range(flows_each_way):
            cc = demo.carecommunication(FHIR, OIO, now=START, new_id=ids)
            letters_cc.add(fhir_codec.parse(cc)[0]["entry"][0]["resource"]["id"])
            drops.append((FHIR.ean, f"cc{k:05d}", demo.wrap(cc, FHIR.ean, OIO.ean, now=START, new_id=ids)))
            pair = make_pair(k + 1, ids(), OIO, FHIR)
            pairs[pair.xdis_letter] = pair
            drops.append(
                (OIO.ean, f"x{k:05d}", demo.wrap(pair.xdis91, OIO.ean, FHIR.ean, now=START, new_id=ids))
            )
            drops.append(
                (OIO.ean, f"b{k:05d}", demo.wrap(pair.xbin01, OIO.ean, FHIR.ean, now=START, new_id=ids))
            )
        scenario.rng.shuffle(drops)
        for ean, name, data in drops:
            demo.drop(scenario.spool, ean, name, data)

        scenario.phase(
            "2026-03-02T09:00:00Z", report, workers=workers, kills=kills, connection_kills=connection_kills
        )
        check_outboxes(scenario.spool)
        to_oio = Counter(e.payload_kind for e in in_folder(scenario.spool, OIO.ean))
        to_fhir = in_folder(scenario.spool, FHIR.ean)
        expect(report, "phase 1 to OIOXML", to_oio, {"xdis91": flows_each_way, "xbin01": flows_each_way})
        expect(
            report,
            "phase 1 to FHIR",
            Counter(e.payload_kind for e in to_fhir),
            {"carecommunication": flows_each_way},
        )
        converted = Counter(fhir_codec.parse(e.payload)[0]["entry"][0]["resource"]["id"] for e in to_fhir)
        if set(converted.values()) - {1}:
            report.duplicates["carecommunication by MessageHeader.id"] = sum(
                v - 1 for v in converted.values()
            )

        now = START.replace(minute=30)
        for party in (OIO, FHIR):
            demo.EndSystem(scenario.spool, party, ids).answer_all(now=now)
        scenario.phase(
            "2026-03-02T09:30:00Z", report, workers=workers, kills=kills, connection_kills=connection_kills
        )
        check_outboxes(scenario.spool)
        acks = [e for e in in_folder(scenario.spool, FHIR.ean) if e.payload_kind == "acknowledgement"]
        xctls = [e for e in in_folder(scenario.spool, OIO.ean) if e.payload_kind == "xctl03"]
        acknowledged = Counter(
            fhir_codec.parse(e.payload)[0]["entry"][0]["resource"]["response"]["identifier"] for e in acks
        )
        expect(report, "acknowledgements", Counter({k: 1 for k in acknowledged}), {k: 1 for k in letters_cc})
        if set(acknowledged.values()) - {1}:
            report.duplicates["acknowledgement"] = sum(v - 1 for v in acknowledged.values())
        # Flow2: one Acknowledgement for an XDIS91 + XBIN01 becomes two XCTL03, one for each.
        expect(report, "xctl03 count", Counter({"xctl03": len(xctls)}), {"xctl03": 2 * flows_each_way})
        with scenario.admin.connect() as conn:
            states = dict(
                conn.execute(
                    text(f'SELECT state, count(*) FROM "{scenario.schema}".hub_flows GROUP BY state')
                ).all()
            )
        expect(report, "flow states", Counter(states), {"completed": 2 * flows_each_way})
    finally:
        scenario.close()
    return report


def check_outboxes(spool: Path) -> None:
    left = [p for p in spool.glob("*/out/*") if p.is_file()]
    assert left == [], f"{len(left)} inputs left in out/"
    quarantine = spool / "quarantine"
    assert not quarantine.exists() or not any(quarantine.iterdir()), sorted(quarantine.iterdir())


def expect(report: Report, what: str, got: Counter[str], want: dict[str, int]) -> None:
    for key in set(got) | set(want):
        diff = got.get(key, 0) - want.get(key, 0)
        if diff > 0:
            report.duplicates[f"{what}: {key}"] = diff
        elif diff < 0:
            report.missing[f"{what}: {key}"] = -diff
