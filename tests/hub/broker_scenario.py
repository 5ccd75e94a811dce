"""`medcom-bridge worker` processes on one PostgreSQL database, one spool and one RabbitMQ, under faults
(issue 10).

The letters and receipts are those of `multiprocess.py` (N letters each way, then the receivers' receipts).
In each phase `workers` workers run until every expected output is in the `in/` folders, while workers are
SIGKILLed at random and restarted, the hub's PostgreSQL connections are terminated, and the broker goes away
for a few seconds: either for our virtual host only (its connections closed and the user's permissions taken
away, so nothing else on the broker notices: the CI version) or for everybody (`rabbitmqctl stop_app` /
`start_app`: `bench/hub_broker.py --crash`). Then SIGTERM must stop every worker with exit 0, and every
expected output is there exactly once, nothing is left in `out/`, nothing quarantined.

Each run uses a virtual host of its own (`Rabbit`), deleted afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from medcom_bridge import demo
from medcom_bridge.envelope import vans
from medcom_bridge.fhir import codec as fhir_codec
from tests.hub.e2e import FHIR, OIO, START, counter_ids, make_pair
from tests.hub.multiprocess import REPO, Report, Scenario, check_outboxes, expect, in_folder, progress

RABBITMQCTL = shutil.which("rabbitmqctl")
AMQP = "amqp://guest:guest@127.0.0.1:5672"


def rabbitmqctl(*args: str) -> str:
    assert RABBITMQCTL is not None, "rabbitmqctl is not installed"
    done = subprocess.run([RABBITMQCTL, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Rabbit:
    """A virtual host of our own on the local RabbitMQ, for one test run."""

    def __init__(self) -> None:
        self.vhost = f"mcb-test-{uuid.uuid4().hex[:10]}"
        rabbitmqctl("add_vhost", self.vhost)
        self.allow()
        self.url = f"{AMQP}/{self.vhost}"

    def allow(self) -> None:
        rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")

    def outage(self, seconds: float) -> None:
        """The broker gone for our virtual host: connections closed, reconnects refused, then back."""
        rabbitmqctl("clear_permissions", "-p", self.vhost, "guest")
        rabbitmqctl("close_all_connections", "-p", self.vhost, "test: broker outage")
        time.sleep(seconds)
        self.allow()

    @staticmethod
    def restart(seconds: float) -> None:
        """The whole broker stopped and started (every user of it notices)."""
        rabbitmqctl("stop_app")
        try:
            time.sleep(seconds)
        finally:
            rabbitmqctl("start_app")

    def close(self) -> None:
        rabbitmqctl("delete_vhost", self.vhost)


@dataclass
class BrokerReport(Report):
    outages: int = 0
    sigterm_exit_codes: tuple[int, ...] = ()
    busy_seconds: float = 0.0
    """From the moment the input was there (workers already running) to the last expected output."""


class BrokerScenario(Scenario):
    def __init__(self, root: Path, rabbit: Rabbit, *, seed: int) -> None:
        super().__init__(root, seed=seed)
        self.rabbit = rabbit
        self.logs = root / "logs"
        self.logs.mkdir(exist_ok=True)

    def start_worker(self, now: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "medcom_bridge", "worker", "--spool", str(self.spool)]
        command += ["--sor", str(self.sor), "--edi", str(self.edi), "--db", self.url]
        command += ["--broker", self.rabbit.url, "--now", now]
        log = (self.logs / f"worker-{time.monotonic_ns()}.log").open("wb")
        return subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    def work_phase(
        self,
        now: str,
        report: BrokerReport,
        *,
        workers: int,
        want: int,
        kills: int,
        connection_kills: int,
        outages: int,
        restart_broker: bool,
        give: Callable[[], None],
        timeout: float = 600,
    ) -> None:
        """Start `workers` workers, wait until they are connected, `give` them the input, run them with
        faults until `want` files are in the in/ folders, then SIGTERM them."""
        first = set(self.logs.iterdir())
        procs = [self.start_worker(now) for _ in range(workers)]
        report.runs += workers
        logs = set(self.logs.iterdir()) - first
        while not all("connected to broker" in log.read_text(errors="replace") for log in logs):
            time.sleep(0.05)
        give()
        started = time.monotonic()
        faults = ["kill"] * kills + ["connections"] * connection_kills
        self.rng.shuffle(faults)
        faults += ["outage"] * outages  # popped first: the quick faults then land during and after it
        deadline = started + timeout
        before = progress(self.spool)
        outages_running: list[threading.Thread] = []
        while delivered(self.spool) < want and time.monotonic() < deadline:
            time.sleep(self.rng.uniform(0.05, 0.3))
            if not faults or progress(self.spool) == before:
                continue  # faults land while the workers work, not while they start
            fault = faults.pop()
            if fault == "kill":
                victim = self.rng.choice([p for p in procs if p.poll() is None])
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                report.kills += 1
                procs.append(self.start_worker(now))
                report.runs += 1
            elif fault == "connections":
                report.terminated_connections += self.kill_connections()
                report.connection_kills += 1
            else:  # in the background: the other faults land while the broker is away
                cut = self.rabbit.restart if restart_broker else self.rabbit.outage
                outage = threading.Thread(target=cut, args=(self.rng.uniform(1, 3),))
                outage.start()
                outages_running.append(outage)
                report.outages += 1
        report.busy_seconds += time.monotonic() - started
        for outage in outages_running:
            outage.join()
        time.sleep(1.0)  # anything repeated after the last expected file would show up now
        codes = []
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                codes.append(p.wait(timeout=60))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(p.wait())
        report.sigterm_exit_codes += tuple(c for c in codes if c != -signal.SIGKILL)
        report.seconds += time.monotonic() - started

    def tail_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-1500:] for p in sorted(self.logs.iterdir())[-3:])


def delivered(spool: Path) -> int:
    """Files the hub has delivered so far: in `in/`, or already read by the receivers (moved to `read/`)."""
    return sum(1 for _ in spool.glob("*/in/*.xml")) + sum(1 for _ in spool.glob("*/read/*.xml"))


def received(spool: Path, ean: str) -> list[vans.Envelope]:
    """Every envelope delivered to `ean`, read or not (the workers run while the receivers answer, so an
    answer may arrive, and be moved to `read/`, before the receiver has answered everything)."""
    paths = sorted((spool / ean / "in").glob("*.xml")) + sorted((spool / ean / "read").glob("*.xml"))
    return [vans.unwrap(p.read_bytes()) for p in paths]


def run(
    root: Path,
    rabbit: Rabbit,
    *,
    flows_each_way: int,
    workers: int,
    kills: int,
    connection_kills: int,
    outages: int,
    seed: int,
    restart_broker: bool = False,
) -> BrokerReport:
    scenario = BrokerScenario(root, rabbit, seed=seed)
    report = BrokerReport(flows=2 * flows_each_way, workers=workers)
    n = flows_each_way
    faults = {"kills": kills, "connection_kills": connection_kills, "outages": outages}
    try:
        ids = counter_ids(f"br{seed}")
        drops: list[tuple[str, str, bytes]] = []
        letters_cc: set[str] = set()
        for k in range(n):
            cc = demo.carecommunication(FHIR, OIO, now=START, new_id=ids)
            letters_cc.add(fhir_codec.parse(cc)[0]["entry"][0]["resource"]["id"])
            drops.append((FHIR.ean, f"cc{k:05d}", demo.wrap(cc, FHIR.ean, OIO.ean, now=START, new_id=ids)))
            pair = make_pair(k + 1, ids(), OIO, FHIR)
            drops.append(
                (OIO.ean, f"x{k:05d}", demo.wrap(pair.xdis91, OIO.ean, FHIR.ean, now=START, new_id=ids))
            )
            drops.append(
                (OIO.ean, f"b{k:05d}", demo.wrap(pair.xbin01, OIO.ean, FHIR.ean, now=START, new_id=ids))
            )
        scenario.rng.shuffle(drops)

        def letters() -> None:
            for ean, name, data in drops:
                demo.drop(scenario.spool, ean, name, data)

        # Phase 1: to OIOXML an XDIS91 + XBIN01 per CareCommunication, to FHIR a CareCommunication per pair.
        scenario.work_phase(
            "2026-03-02T09:00:00Z",
            report,
            workers=workers,
            want=3 * n,
            restart_broker=restart_broker,
            give=letters,
            **faults,
        )
        check_outboxes(scenario.spool)
        to_oio = Counter(e.payload_kind for e in in_folder(scenario.spool, OIO.ean))
        to_fhir = in_folder(scenario.spool, FHIR.ean)
        expect(report, "phase 1 to OIOXML", to_oio, {"xdis91": n, "xbin01": n})
        expect(report, "phase 1 to FHIR", Counter(e.payload_kind for e in to_fhir), {"carecommunication": n})

        def receipts() -> None:
            for party in (OIO, FHIR):
                demo.EndSystem(scenario.spool, party, ids).answer_all(now=START.replace(minute=30))

        # Phase 2: an Acknowledgement per CareCommunication, two XCTL03 per XDIS91 + XBIN01 (Flow2).
        scenario.work_phase(
            "2026-03-02T09:30:00Z",
            report,
            workers=workers,
            want=6 * n,
            restart_broker=restart_broker,
            give=receipts,
            **faults,
        )
        check_outboxes(scenario.spool)
        acks = [e for e in received(scenario.spool, FHIR.ean) if e.payload_kind == "acknowledgement"]
        xctls = [e for e in received(scenario.spool, OIO.ean) if e.payload_kind == "xctl03"]
        acknowledged = Counter(
            fhir_codec.parse(e.payload)[0]["entry"][0]["resource"]["response"]["identifier"] for e in acks
        )
        expect(report, "acknowledgements", acknowledged, {k: 1 for k in letters_cc})
        expect(report, "xctl03 count", Counter({"xctl03": len(xctls)}), {"xctl03": 2 * n})
        with scenario.admin.connect() as conn:
            states = dict(
                conn.execute(
                    text(f'SELECT state, count(*) FROM "{scenario.schema}".hub_flows GROUP BY state')
                ).all()
            )
        expect(report, "flow states", Counter(states), {"completed": 2 * n})
    except BaseException:
        if os.environ.get("HUB_BROKER_LOGS"):
            print(scenario.tail_logs())
        raise
    finally:
        scenario.close()
    return report
