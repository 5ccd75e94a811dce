"""Benchmark of the hub's EDIFACT leg (issue 13): complete flows to and from an EDIFACT-only party, with the
same flows to and from an OIOXML-only party measured in the same run as the baseline.

    .venv/bin/python bench/hub_edifact.py              # 200 complete flows per run (half each way), 2 rounds
    .venv/bin/python bench/hub_edifact.py --flows 60   # quicker

A complete flow (`build_hub` on SQLite: real envelope reader, register, converter, receipt builders), half each
way, alternating:
* FHIR -> EDIFACT: a builder-made CareCommunication with a 20 kB PDF from a FHIR-only municipality -> DIS91 +
  BIN01 delivered -> the practice's CTL03 for each -> one Acknowledgement delivered to the municipality;
* EDIFACT -> FHIR: MedCom's Flow1 XDIS91 + XBIN01 (fresh ids) written as DIS91 + BIN01 -> one CareCommunication
  -> its Acknowledgement -> two CTL03 delivered to the practice.
Baseline: the same letters as OIOXML to and from an OIOXML-only party (S2 and S1 as in `bench/hub.py`). The
parties' systems (`demo.EndSystem`) run between the hub's runs and are not timed. Printed: flows/s (hub time
only), the ratio EDIFACT / OIOXML (1.0 = the EDIFACT leg costs nothing), and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medcom_bridge import demo
from medcom_bridge.cli.hub import run_until_idle
from medcom_bridge.directory import Party
from medcom_bridge.edifact import edifact_twin
from medcom_bridge.envelope import vans
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.runner import Hub, Summary
from medcom_bridge.hub.wiring import build_hub

MUNICIPALITY, PRACTICE = demo.MUNICIPALITY, demo.HOSPITAL
_SPEC = importlib.util.spec_from_file_location("bench_hub", Path(__file__).with_name("hub.py"))
assert _SPEC is not None and _SPEC.loader is not None
_HUB_BENCH = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_HUB_BENCH)  # the letters of bench/hub.py's complete flows


def letters(n: int, ids: Callable[[], str], edifact: bool) -> list[tuple[str, bytes]]:
    """(mailbox, VANSEnvelope) of n flows, those of `bench/hub.py`: CareCommunications to the practice and
    Flow1 pairs from it; with `edifact` the practice's XDIS91 + XBIN01 are written as their DIS91 + BIN01."""
    out: list[tuple[str, bytes]] = _HUB_BENCH._letters(n, ids)
    if not edifact:
        return out
    twins = []
    for mailbox, data in out:
        if mailbox == PRACTICE.ean:
            envelope = vans.unwrap(data)
            twin = edifact_twin(envelope.payload)
            data = demo.wrap(twin, mailbox, envelope.receiver.value, now=demo.DEMO_NOW, new_id=ids)
        twins.append((mailbox, data))
    return twins


def run(n: int, root: Path, edifact: bool) -> float:
    """Complete flows/s (hub time) for n flows with the practice speaking EDIFACT or OIOXML only."""
    root.mkdir(parents=True)
    types = demo.EDIFACT_TYPES if edifact else demo.OIOXML_TYPES
    (root / "sor.xml").write_bytes(demo.sor_xml([MUNICIPALITY, PRACTICE]))
    (root / "edi.csv").write_bytes(demo.edi_csv([(MUNICIPALITY.ean, demo.FHIR_TYPES), (PRACTICE.ean, types)]))
    clock = ManualClock(demo.DEMO_NOW)
    hub = build_hub(root / "spool", root / "sor.xml", root / "edi.csv", None, clock)
    ids = demo.id_factory(str(root))
    for i, (mailbox, data) in enumerate(letters(n, ids, edifact)):
        demo.drop(root / "spool", mailbox, f"l{i:06d}", data)
    systems = [demo.EndSystem(root / "spool", Party(p.ean), ids) for p in (MUNICIPALITY, PRACTICE)]
    letters_taken, letters_s = timed_run(hub)
    clock.advance(minutes=5)
    for system in systems:  # the parties answer: not timed
        system.answer_all(now=clock.now())
    receipts_taken, receipts_s = timed_run(hub)
    answers = sum(len(list((root / "spool" / p.ean / "in").glob("*.xml"))) for p in (MUNICIPALITY, PRACTICE))
    hub.store.close()
    assert letters_taken.converted == n and not letters_taken.errors and not receipts_taken.errors
    assert answers == n // 2 + (n - n // 2) * 2, answers  # one Ack per letter out, two receipts per letter in
    return n / (letters_s + receipts_s)


def timed_run(hub: Hub) -> tuple[Summary, float]:
    """Run the hub until it is idle: what it did and how long it took (seconds)."""
    start = time.perf_counter()
    summary = run_until_idle(hub)
    return summary, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flows", type=int, default=200, help="complete flows per run (half each way)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved OIOXML/EDIFACT runs")
    args = parser.parse_args()
    print(f"complete flows: {args.flows} per run, half FHIR -> practice, half practice -> FHIR; SQLite")
    measured: dict[str, list[float]] = {"oioxml": [], "edifact": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name in ("oioxml", "edifact"):
                measured[name].append(run(args.flows, Path(tmp) / f"{name}{r}", name == "edifact"))
    for name, values in measured.items():
        print(f"practice takes {name:8s} {', '.join(f'{v:,.1f}' for v in values)} flows/s")
    best = {name: max(values) for name, values in measured.items()}
    print(f"ratio EDIFACT / OIOXML (best of each): {best['edifact'] / best['oioxml']:.2f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
