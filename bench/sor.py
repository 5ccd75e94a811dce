"""SOR register at national size: import time and peak memory, lookup latency, quality-report time.

Generates a synthetic SOR XML export of about 100,000 units (plus SOR-EDI CSV and an EER bundle, with
planted defects), writes it to a temporary folder and measures in fresh child processes so that peak RSS
belongs to one task only:
  * import: streaming `read_sor_xml` + SOR-EDI + EER + `Register.build`, wall time and peak RSS;
  * baseline: "lxml etree.parse of the whole file" (what a non-streaming reader does before reading one
    value), wall time and peak RSS; the ratio shows what the streaming reader costs or saves;
  * lookups: EAN -> Party, SOR -> effective EAN, routing decision; p50/p99 per call in microseconds;
  * report: rules R01-R16 + JSON + HTML rendering.
Figures are also compared with the issue's goals: import < 60 s, < 1 GB, lookups < 50 us.

    .venv/bin/python bench/sor.py [--units 100000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TODAY = date(2026, 11, 21)
GOAL_IMPORT_S = 60.0
GOAL_MEMORY_MB = 1024.0
GOAL_LOOKUP_US = 50.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def child_import(folder: Path) -> dict[str, object]:
    from medcom_bridge.shell.register import load_register

    start = time.perf_counter()
    register = load_register(folder / "sor.xml", folder / "edi.csv", folder / "eer.json")
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "peak_mb": peak_mb(), "units": len(register)}


def child_baseline(folder: Path) -> dict[str, object]:
    from lxml import etree

    start = time.perf_counter()
    tree = etree.parse(str(folder / "sor.xml"), etree.XMLParser(huge_tree=True, resolve_entities=False))
    count = sum(1 for _ in tree.iter("{*}SorIdentifier"))
    return {"seconds": time.perf_counter() - start, "peak_mb": peak_mb(), "identifiers": count}


def child_lookups_and_report(folder: Path) -> dict[str, object]:
    from medcom_bridge.registry.quality import report
    from medcom_bridge.registry.report_html import render
    from medcom_bridge.registry.routing import decide
    from medcom_bridge.shell.register import load_register

    register = load_register(folder / "sor.xml", folder / "edi.csv", folder / "eer.json")
    rng = random.Random(1)
    eans = list(register.owned_eans())
    sors = [u.sor for u in register.units()]
    kinds = ["xdis91", "carecommunication", "acknowledgement", "xctl03"]
    figures: dict[str, object] = {}
    calls: dict[str, Callable[[], object]] = {
        "party(ean)": lambda: register.party(rng.choice(eans)),
        "effective_ean(sor)": lambda: register.effective_ean(rng.choice(sors)),
        "decide(ean, kind)": lambda: decide(register, rng.choice(eans), rng.choice(kinds)),
    }
    for name, call in calls.items():
        samples = []
        for _ in range(50_000):
            t0 = time.perf_counter_ns()
            call()
            samples.append(time.perf_counter_ns() - t0)
        samples.sort()
        figures[name] = {
            "p50_us": samples[len(samples) // 2] / 1000,
            "p99_us": samples[int(len(samples) * 0.99)] / 1000,
            "per_s": 1e9 / (sum(samples) / len(samples)),
        }
    start = time.perf_counter()
    result = report(register, today=TODAY, generated="bench")
    checked = time.perf_counter() - start
    json.dumps(result.to_json())
    html = render(result, register)
    figures["report"] = {
        "rules_s": checked,
        "total_with_json_html_s": time.perf_counter() - start,
        "findings": len(result.findings),
        "html_mb": len(html.encode()) / 1e6,
    }
    return figures


def run_child(mode: str, folder: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--folder", str(folder)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", choices=["import", "baseline", "lookups"])
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.child:
        fn = {"import": child_import, "baseline": child_baseline, "lookups": child_lookups_and_report}[
            args.child
        ]
        print(json.dumps(fn(args.folder)))
        return

    from medcom_bridge.registry.synthetic import generate

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        data = generate(args.units, seed=args.seed, today=TODAY)
        (folder / "sor.xml").write_bytes(data.sor_xml)
        (folder / "edi.csv").write_bytes(data.edi_csv)
        (folder / "eer.json").write_bytes(data.eer_json)
        print(
            f"synthetic data: {data.units} units, {data.numbers} location numbers, "
            f"SOR XML {len(data.sor_xml) / 1e6:.1f} MB, SOR-EDI {len(data.edi_csv) / 1e6:.1f} MB, "
            f"EER {len(data.eer_json) / 1e6:.2f} MB, {len(data.planted)} planted defects "
            f"(generated in {time.perf_counter() - start:.1f} s)"
        )
        imp = run_child("import", folder)
        base = run_child("baseline", folder)
        seconds, mb = float(imp["seconds"]), float(imp["peak_mb"])
        bsec, bmb = float(base["seconds"]), float(base["peak_mb"])
        print(
            f"import (SOR XML + SOR-EDI + EER -> Register): {seconds:.2f} s, {imp['units']} units, "
            f"{int(imp['units']) / seconds:,.0f} units/s, peak RSS {mb:.0f} MB"
        )
        print(f"baseline lxml etree.parse (whole tree, no model): {bsec:.2f} s, peak RSS {bmb:.0f} MB")
        print(f"  ratio to baseline: time x{seconds / bsec:.2f}, memory x{mb / bmb:.2f}")
        print(
            f"  ratio to goal: time {seconds / GOAL_IMPORT_S:.2f} of 60 s, memory {mb / GOAL_MEMORY_MB:.2f} of 1 GB"
        )
        look = run_child("lookups", folder)
        for name, fig in look.items():
            if name == "report":
                continue
            f = fig
            print(
                f"lookup {name}: p50 {f['p50_us']:.2f} us, p99 {f['p99_us']:.2f} us, {f['per_s']:,.0f}/s "
                f"(p99 is {f['p99_us'] / GOAL_LOOKUP_US:.2f} of the 50 us goal)"
            )
        rep = look["report"]
        print(
            f"quality report: rules {rep['rules_s']:.2f} s, with JSON + HTML {rep['total_with_json_html_s']:.2f} s, "
            f"{rep['findings']} findings, HTML {rep['html_mb']:.2f} MB"
        )


if __name__ == "__main__":
    main()
