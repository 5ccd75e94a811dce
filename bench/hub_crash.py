"""The multi-process crash run of issue 9 over 1,000 flows (the suite runs a short one):
`process` workers on one PostgreSQL database and one spool, random SIGKILLs, PostgreSQL connections
terminated; prints lost and duplicated outputs (both must be 0) and the time taken.

    .venv/bin/python bench/hub_crash.py [--flows 1000] [--workers 3] [--kills 6] [--connection-kills 6]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hub.multiprocess import run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=1000, help="complete flows (half each way)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kills", type=int, default=6, help="SIGKILLs per phase")
    parser.add_argument("--connection-kills", type=int, default=6, help="connection terminations per phase")
    parser.add_argument("--seed", type=int, default=20261205)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        report = run(
            Path(root),
            flows_each_way=args.flows // 2,
            workers=args.workers,
            kills=args.kills,
            connection_kills=args.connection_kills,
            seed=args.seed,
        )
    lost = sum(report.missing.values())
    duplicated = sum(report.duplicates.values())
    print(
        f"{report.flows} flows, {report.workers} workers: {report.kills} SIGKILLs, "
        f"{report.connection_kills} connection kills ({report.terminated_connections} connections), "
        f"{report.runs} process runs, {report.seconds:.1f} s"
    )
    print(f"lost {lost}, duplicated {duplicated}")
    for what, n in {**report.missing, **report.duplicates}.items():
        print(f"  {what}: {n}")
    return 0 if lost == duplicated == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
