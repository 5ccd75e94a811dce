"""Peak memory of the hub carrying one 100 MB letter (issue 9: goal <= 400 MB).

A CareCommunication with 10 attachments of 10 MB each goes from a FHIR-only municipality to an OIOXML-only
hospital: `medcom-bridge process` (a child process: whole-process peak RSS) takes it, converts it to XDIS91 +
XBIN01 and delivers both. Baselines printed beside it: the child's idle peak (imports, register, migrations:
`process` over an empty spool) and the bytes of the letter itself.

    .venv/bin/python bench/hub_memory.py [--attachments 10] [--mb 10]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medcom_bridge import demo
from medcom_bridge.fhir.builder import new_message
from medcom_bridge.fhir.codec import to_json
from medcom_bridge.fhir.content import Attachment, Classification, TextSegment
from medcom_bridge.fhir.parties import Author, Organization, Patient


def letter(attachments: int, size: int) -> bytes:
    def org(p: demo.Party) -> Organization:
        assert p.sor is not None
        return Organization(sor=p.sor, ean=p.ean, name=p.name)

    ids = demo.id_factory("memory")
    bundle = new_message(
        sender=org(demo.MUNICIPALITY),
        receiver=org(demo.HOSPITAL),
        patient=Patient(cpr="2509479989", family="Elmer", given=("Bruno",)),
        classification=Classification(category="other", topic="Epikrise"),
        text=TextSegment(
            text="Bilag vedlagt.",
            author=Author(family="Hansen", given=("Hanne",), role_text="Sygeplejerske", phone="66131372"),
        ),
        attachments=[
            Attachment(
                title=f"Bilag{i}.pdf",
                content_type="application/pdf",
                data=b"%PDF-1.4\n" + os.urandom(size - 9),
            )
            for i in range(attachments)
        ],
        now=demo.DEMO_NOW,
        new_id=ids,
    )
    payload = to_json(bundle)
    muni, hosp = demo.MUNICIPALITY.ean, demo.HOSPITAL.ean
    return demo.wrap(payload, muni, hosp, now=demo.DEMO_NOW, new_id=ids)


def run_process(root: Path) -> tuple[int, float, str]:
    """Peak RSS (KiB) and seconds of one `process` child, and its last output line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "medcom_bridge",
            "process",
            "--spool",
            str(root / "spool"),
            "--sor",
            str(root / "sor.xml"),
            "--edi",
            str(root / "edi.csv"),
            "--now",
            "2026-03-02T09:00:00Z",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        raise SystemExit(f"process failed: {done.stderr[-2000:]}")
    # ru_maxrss of children is the largest child so far: run the larger job last.
    return max(peak, before), seconds, done.stdout.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attachments", type=int, default=10)
    parser.add_argument(
        "--mb",
        type=float,
        default=7.5,
        help="size of each attachment in MB (10 x 7.5 MB: a 100 MB FHIR letter)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "sor.xml").write_bytes(demo.sor_xml([demo.MUNICIPALITY, demo.HOSPITAL]))
        (root / "edi.csv").write_bytes(
            demo.edi_csv([(demo.MUNICIPALITY.ean, demo.FHIR_TYPES), (demo.HOSPITAL.ean, demo.OIOXML_TYPES)])
        )
        (root / "spool").mkdir()
        idle, _, _ = run_process(root)
        data = letter(args.attachments, int(args.mb * 1_000_000))
        demo.drop(root / "spool", demo.MUNICIPALITY.ean, "big", data)
        peak, seconds, summary = run_process(root)
        delivered = sorted(
            p.stat().st_size for p in (root / "spool" / demo.HOSPITAL.ean / "in").glob("*.xml")
        )
    print(f"letter: {args.attachments} x {args.mb} MB attachments, envelope {len(data) / 1e6:.0f} MB")
    print(f"process: {summary}")
    print(f"delivered: {[round(s / 1e6, 1) for s in delivered]} MB in {seconds:.1f} s")
    print(
        f"peak RSS {peak / 1024:.0f} MB (idle process {idle / 1024:.0f} MB; goal <= 400 MB): "
        f"{peak / 1024 / (len(data) / 2**20):.1f}x the envelope"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
