"""EDIFACT benchmark (issue 13): DIS91 parse + validate, XDIS91 -> DIS91 and DIS91 -> XDIS91 per second,
p50/p99 latency, peak memory, and the ratio to MedCom's own converter on the same files, in one run.

    .venv/bin/python bench/edifact.py            # 3 s per measurement
    .venv/bin/python bench/edifact.py --quick    # 0.5 s per measurement

Files: MedCom's XDIS91/DIS91 samples that both converters accept (../shared/data). A conversion is bytes in,
parse, convert, serialize, bytes out. Rates, p50 and p99 are CPU time (independent of other load on a shared
machine). Baselines: the issue's goals (5,000/s parse + validate, 2,000/s each conversion) and MedCom's
converter (Ruby + Nokogiri + XSLT) on the same files, measured here twice: per command-line call (what a
VANS pays per message) and per file inside one warm Ruby process (its best case).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
GOALS = {"parse+validate": 5000.0, "XDIS91->DIS91": 2000.0, "DIS91->XDIS91": 2000.0}


def measure(
    name: str, inputs: list[bytes], op: Callable[[bytes], object], seconds: float
) -> dict[str, float]:
    for data in inputs:  # warm up, and fail loudly on a broken input
        op(data)
    times: list[float] = []
    deadline = time.process_time() + seconds
    i = 0
    while time.process_time() < deadline:
        data = inputs[i % len(inputs)]
        t0 = time.process_time_ns()
        op(data)
        times.append((time.process_time_ns() - t0) / 1e9)
        i += 1
    tracemalloc.start()
    for data in inputs:
        op(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times.sort()
    return {
        "rate": len(times) / sum(times),
        "p50": statistics.median(times) * 1e3,
        "p99": times[int(len(times) * 0.99)] * 1e3,
        "peak": peak / 1e6,
    }


def oracle_seconds(mode: str, inputs: list[bytes], rounds: int) -> tuple[float, float]:
    """(seconds per file in one warm Ruby process, seconds per command-line call)."""
    from tests.edifact import oracle

    batch = inputs * rounds
    t0 = time.perf_counter()
    oracle.run(mode, batch, processes=1)
    warm = (time.perf_counter() - t0) / len(batch)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.dat"
        path.write_bytes(inputs[0])
        tool = SHARED.parent / "tools" / "medcom-edifact-converter"
        t0 = time.perf_counter()
        calls = 5
        for _ in range(calls):
            subprocess.run([str(tool), mode, str(path)], capture_output=True, check=True)
        per_call = (time.perf_counter() - t0) / calls
    return warm, per_call


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seconds = 0.5 if args.quick else 3.0

    from medcom_bridge.edifact import edifact_twin, oioxml_twin
    from medcom_bridge.edifact.validation import validate_bytes
    from medcom_bridge.oioxml.codec import serialize
    from tests.edifact import oracle

    names = ["DIS91_1_edifactconv_pair", "DIS91_2_edifactconv_pair"]
    xml_files = [SHARED / "oioxml" / "samples" / f"X{n}.xml" for n in names] + [
        SHARED / "oioxml" / "samples" / f"{n}.xml"
        for n in (
            "XDIS91_medcom_flow1_to_fhir",
            "XDIS91_edifactconv_korr_x9134_fixedfont",
            "XDIS91_os2korr_special_characters",
        )
    ]
    xdis91 = [p.read_bytes() for p in xml_files]
    dis91 = [edifact_twin(x) for x in xdis91]
    print(
        f"files: {len(xdis91)} XDIS91 samples of MedCom's and their DIS91 twins ({sum(map(len, dis91))} bytes)"
    )

    def parse_validate(data: bytes) -> object:
        report = validate_bytes(data)
        assert report.valid, report.findings
        return report

    results = {
        "parse+validate": (measure("parse+validate", dis91, parse_validate, seconds), "-x", dis91),
        "XDIS91->DIS91": (measure("XDIS91->DIS91", xdis91, edifact_twin, seconds), "-e", xdis91),
        "DIS91->XDIS91": (
            measure("DIS91->XDIS91", dis91, lambda d: serialize(oioxml_twin(d)), seconds),
            "-x",
            dis91,
        ),
    }
    have_oracle = oracle.available()
    print(
        f"{'what':16} {'msg/s':>8} {'goal':>6} {'p50 ms':>7} {'p99 ms':>7} {'peak MB':>8}   vs MedCom's converter"
    )
    for name, (r, mode, inputs) in results.items():
        line = (
            f"{name:16} {r['rate']:8.0f} {r['rate'] / GOALS[name]:5.1f}x {r['p50']:7.3f} {r['p99']:7.3f} "
            f"{r['peak']:8.2f}"
        )
        if have_oracle:
            warm, per_call = oracle_seconds(mode, inputs, 20)
            line += (
                f"   {r['rate'] * warm:6.0f}x its warm process ({1 / warm:.0f}/s), "
                f"{r['rate'] * per_call:6.0f}x its command line ({per_call * 1e3:.0f} ms a call)"
            )
        print(line)
    if not have_oracle:
        print("(MedCom's converter not available: install ruby and ruby-nokogiri for the ratio)")


if __name__ == "__main__":
    main()
