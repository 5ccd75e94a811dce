"""The hub on PostgreSQL + RabbitMQ (issue 10): complete flows/s with 1, 2 and 4 `medcom-bridge worker`
processes, the ratio to one worker measured in the same run, and a national month projected from it; with
`--crash`, the fault run over 1,000 flows (3 workers, SIGKILLs, terminated database connections and a real
broker restart with `rabbitmqctl stop_app` / `start_app`: every other user of the broker notices).

A complete flow: the letter taken from the spool, converted (CareCommunication -> XDIS91 + XBIN01, or the
pair -> CareCommunication), delivered, the receivers' receipts taken and the aggregated answer delivered.
Timed from the moment the input is in the spool (the workers already connected) to the last output.

    .venv/bin/python bench/hub_broker.py [--flows 200] [--workers 1,2,4]
    .venv/bin/python bench/hub_broker.py --crash [--flows 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hub.broker_scenario import BrokerReport, Rabbit, run

MONTH_LETTERS = 900_000
"""National letters a month (750,000-900,000), each with its receipts: one complete flow each."""
GOAL_HOURS = 2.0


def one_run(flows: int, workers: int, seed: int, **faults: Any) -> BrokerReport:
    """One scenario on a virtual host of its own (deleted afterwards)."""
    rabbit = Rabbit()
    try:
        with tempfile.TemporaryDirectory() as root:
            return run(Path(root), rabbit, flows_each_way=flows // 2, workers=workers, seed=seed, **faults)
    finally:
        rabbit.close()


def throughput(flows: int, workers: list[int], seed: int) -> int:
    rates: dict[int, float] = {}
    for count in workers:
        report = one_run(flows, count, seed, kills=0, connection_kills=0, outages=0)
        if report.missing or report.duplicates:
            print(f"{count} workers: WRONG RESULT {report.missing} {report.duplicates}")
            return 1
        rates[count] = report.flows / report.busy_seconds
        print(
            f"{count} worker(s): {report.flows} complete flows in {report.busy_seconds:.1f} s = {rates[count]:.1f}/s"
        )
    base = rates[workers[0]]
    for count, rate in rates.items():
        print(f"  ratio {count} : {workers[0]} worker(s) = {rate / base:.2f}")
    best = max(rates, key=lambda c: rates[c])
    hours = MONTH_LETTERS / rates[best] / 3600
    print(
        f"national month ({MONTH_LETTERS:,} letters with receipts) at {rates[best]:.1f} flows/s "
        f"({best} workers, {os.cpu_count()} cores): {hours:.1f} h (goal < {GOAL_HOURS:.0f} h: "
        f"{'met' if hours < GOAL_HOURS else 'not met'})"
    )
    need = MONTH_LETTERS / (GOAL_HOURS * 3600)
    per_core = rates[best] / min(best, os.cpu_count() or 1)
    print(
        f"  < {GOAL_HOURS:.0f} h needs {need:.0f} flows/s: about {need / per_core:.0f} worker cores at "
        f"{per_core:.1f} flows/s each (machines of this size: {need / rates[best]:.1f}), with PostgreSQL "
        "and RabbitMQ on machines of their own"
    )
    return 0


def crash(flows: int, seed: int) -> int:
    report = one_run(flows, 3, seed, kills=6, connection_kills=6, outages=1, restart_broker=True)
    lost, duplicated = sum(report.missing.values()), sum(report.duplicates.values())
    print(
        f"{report.flows} flows, 3 workers: {report.kills} SIGKILLs, {report.connection_kills} connection kills "
        f"({report.terminated_connections} connections), {report.outages} broker restarts (stop_app/start_app), "
        f"{report.runs} worker starts, {report.seconds:.1f} s; SIGTERM exit codes {sorted(set(report.sigterm_exit_codes))}"
    )
    print(f"lost {lost}, duplicated {duplicated}")
    for what, n in {**report.missing, **report.duplicates}.items():
        print(f"  {what}: {n}")
    return 0 if lost == duplicated == 0 and set(report.sigterm_exit_codes) == {0} else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--flows", type=int, default=None, help="complete flows (half each way)")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--crash", action="store_true")
    parser.add_argument("--seed", type=int, default=20261205)
    args = parser.parse_args()
    if args.crash:
        return crash(args.flows or 1000, args.seed)
    return throughput(args.flows or 200, [int(w) for w in args.workers.split(",")], args.seed)


if __name__ == "__main__":
    raise SystemExit(main())
