"""Benchmark of the hub's EDIFACT leg (issue 13): complete flows to and from an EDIFACT-only party, with the
same flows to and from an OIOXML-only party measured in the same run as the baseline.

    .venv/bin/python bench/hub_edifact.py              # 200 complete flows each way
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
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medcom_bridge import demo
from medcom_bridge.cli.hub import run_until_idle
from medcom_bridge.directory import Party
from medcom_bridge.edifact import edifact_twin
from medcom_bridge.hub.clock import ManualClock
from medcom_bridge.hub.wiring import build_hub

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
FLOWS = DATA / "conversion" / "flows"
FLOW1_OBJECT = "c39ea6b2-6052-45e4-a207-415e0205ab6f"
FLOW1_IDS = ((b"KuvNrerwerwe99", b"Brevt23400929"), (b"MEDBIN62529", b"031120PWE62528"))
MUNICIPALITY, PRACTICE = demo.MUNICIPALITY, demo.HOSPITAL


def letters(n: int, ids: Callable[[], str], edifact: bool) -> list[tuple[str, bytes]]:
    """(mailbox, VANSEnvelope) of n flows: CareCommunications to the practice and Flow1 pairs from it."""
    xdis = (FLOWS / "XDIS91_medcom_flow1_to_fhir.xml").read_bytes()
    xbin = (FLOWS / "XBIN01_medcom_flow1_to_fhir.xml").read_bytes()
    muni, practice = MUNICIPALITY.ean, PRACTICE.ean
    out: list[tuple[str, bytes]] = []
    for k in range(n):
        if k % 2 == 0:
            cc = demo.carecommunication(
                MUNICIPALITY,
                PRACTICE,
                now=demo.DEMO_NOW,
                new_id=ids,
                attachment=b"%PDF-1.4\n" + b"x" * 20_000,
            )
            out.append((muni, demo.wrap(cc, muni, practice, now=demo.DEMO_NOW, new_id=ids)))
            continue
        obj = str(uuid.uuid4())
        for part, (doc, old_ids) in enumerate(zip((xdis, xbin), FLOW1_IDS, strict=True)):
            for i, old in enumerate(old_ids):
                doc = doc.replace(old, f"B{k:07d}{i}{part}".encode())
            doc = doc.replace(FLOW1_OBJECT.replace("-", "").encode(), obj.replace("-", "").encode())
            doc = doc.replace(FLOW1_OBJECT.encode(), obj.encode())
            payload = edifact_twin(doc) if edifact else doc
            out.append((practice, demo.wrap(payload, practice, muni, now=demo.DEMO_NOW, new_id=ids)))
    return out


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
    t0 = time.perf_counter()
    first = run_until_idle(hub)
    t1 = time.perf_counter()
    clock.advance(minutes=5)
    for system in systems:
        system.answer_all(now=clock.now())
    t2 = time.perf_counter()
    second = run_until_idle(hub)
    t3 = time.perf_counter()
    answers = sum(len(list((root / "spool" / p.ean / "in").glob("*.xml"))) for p in (MUNICIPALITY, PRACTICE))
    hub.store.close()
    assert first.converted == n and not first.errors and not second.errors, (first, second)
    assert answers == n // 2 + (n - n // 2) * 2, answers  # one Ack per letter out, two receipts per letter in
    return n / ((t1 - t0) + (t3 - t2))


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
