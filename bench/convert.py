"""Benchmark of the converter (issue 4): conversions per second, p50/p99 latency and peak memory, both directions.

    .venv/bin/python bench/convert.py            # typical messages + the 100 MB message
    .venv/bin/python bench/convert.py --quick    # fewer rounds, 10 MB instead of 100 MB

A conversion is the whole pure path the hub runs: bytes in, parse, map, validate the result, serialize, bytes
out (XDIS91 + XBIN01 -> CareCommunication JSON; CareCommunication JSON -> XDIS91 + XBIN01). Each case runs in
its own process so that its peak RSS (ru_maxrss) is its own. Baselines: the issue's goals, 1,000 typical
conversions per second on one core and a peak below 1 GB for the 100 MB message; ratio > 1 meets the goal.
Rates, p50 and p99 are CPU time of the converting process (independent of other load on a shared machine, as
in bench/validate.py); the wall-clock rate is printed alongside.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import itertools
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from queue import Empty
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOAL_PER_SECOND = 1000.0
GOAL_PEAK_MB = 1024.0


def _context() -> Any:
    from medcom_bridge.convert.context import Context
    from medcom_bridge.directory import Party, StaticDirectory

    counter = itertools.count(1)
    parties = StaticDirectory(
        {
            "5790001382445": Party("5790001382445", "359001000016000", "MedCom testcenter", "65432030"),
            "5790000121441": Party("5790000121441", "328051000016008", "Social og Sundhed Odense Kommune"),
        }
    )
    return Context(
        new_uuid=lambda: str(uuid.UUID(int=next(counter), version=4)),
        new_letter_id=lambda: f"B{next(counter):013d}",
        directory=parties,
    )


def _text(size: int) -> str:
    line = "Patienten er set i dag. Blodtryk 130/85, puls 72. Æ ø å — videre plan aftalt med egen læge."
    out = []
    while sum(len(x) + 1 for x in out) < size:
        out.append(line)
    return "\n".join(out)[:size]


def oioxml_input(text_size: int, attachments: int, attachment_size: int) -> tuple[bytes, list[bytes]]:
    from medcom_bridge.convert import rules
    from medcom_bridge.oioxml.codec import serialize
    from medcom_bridge.oioxml.model import (
        AdditionalInformation,
        BinaryLetter,
        BinaryLetterPatient,
        BinaryObject,
        BinReference,
        ClinicalEmail,
        ClinicalInformation,
        Emessage,
        Envelope,
        Letter,
        Patient,
        Receiver,
        Reference,
        Sender,
    )
    from medcom_bridge.oioxml.text import from_plain_text

    sent = dt.datetime(2025, 6, 1, 9, 30)
    sender = Sender("5790001382445", "359001000016000", "sorkode", "MedCom testcenter")
    receiver = Receiver("5790000121441", "328051000016008", "sorkode", "Odense")
    blob = os.urandom(attachment_size)
    objects = [
        BinaryObject(
            str(uuid.UUID(int=i + 1, version=4)),
            "vektor_grafik",
            "pdf",
            len(blob),
            base64.b64encode(blob).decode(),
        )
        for i in range(attachments)
    ]
    refs = tuple(
        Reference(
            f"Bilag {i}",
            bin=BinReference(o.object_identifier.replace("-", ""), "vektor_grafik", "pdf", len(blob)),
        )
        for i, o in enumerate(objects)
    )
    patient = Patient(
        "Berggren", "indlagt", civil_registration_number="2512489996", person_given_name="Nancy"
    )
    letter = ClinicalEmail(
        Letter("L1", "XD9134L", "XDIS91", sent, "XDIS91", "nytbrev", uuid.uuid4().hex),
        sender,
        receiver,
        patient,
        AdditionalInformation("høj_prioritet", "Forundersøgelse"),
        (ClinicalInformation(from_plain_text(_text(text_size))),),
        refs,
    )
    xdis = serialize(Emessage(Envelope(sent, "E1"), letter))
    xbins = []
    if objects:
        body = BinaryLetter(
            Letter("L2", "XB0131X", "XBIN01", sent, "XBIN01"),
            sender,
            receiver,
            BinaryLetterPatient("Berggren", "2512489996"),
            tuple(objects),
        )
        xbins.append(serialize(Emessage(Envelope(sent, "E2"), body)))
    del rules
    return xdis, xbins


def fhir_input(text_size: int, attachments: int, attachment_size: int) -> bytes:
    from medcom_bridge.fhir.builder import new_message
    from medcom_bridge.fhir.codec import to_json
    from medcom_bridge.fhir.content import Attachment, Classification, TextSegment
    from medcom_bridge.fhir.parties import Author, Organization, Patient

    counter = itertools.count(1)
    now = dt.datetime(2025, 6, 1, 9, 30, tzinfo=dt.UTC)
    blob = os.urandom(attachment_size)
    bundle = new_message(
        sender=Organization(sor="359001000016000", ean="5790001382445", name="MedCom testcenter"),
        receiver=Organization(sor="328051000016008", ean="5790000121441", name="Odense"),
        patient=Patient(cpr="2512489996", family="Berggren", given=("Nancy",)),
        classification=Classification(category="regarding-referral", topic="Forundersøgelse", priority="asap"),
        text=TextSegment(text=_text(text_size), author=Author(family="Burns", given=("Michael",), role_code="sygeplejerske", phone="12345678"), date=now),
        now=now,
        new_id=lambda: str(uuid.UUID(int=next(counter), version=4)),
        attachments=[Attachment(title=f"Bilag {i}", content_type="application/pdf", data=blob) for i in range(attachments)],
    )  # fmt: skip
    return to_json(bundle)


def to_fhir(xdis: bytes, xbins: list[bytes]) -> int:
    from medcom_bridge.convert.oioxml_to_fhir import xdis91_to_carecommunication
    from medcom_bridge.fhir.codec import to_json
    from medcom_bridge.oioxml.codec import parse_xbin01, parse_xdis91

    result = xdis91_to_carecommunication(
        parse_xdis91(xdis), [parse_xbin01(x) for x in xbins], context=_context()
    )
    if not result.report.valid:
        raise SystemExit(f"invalid output: {result.report.errors[:3]}")
    return len(to_json(result.bundle))


def to_oioxml(data: bytes) -> int:
    from medcom_bridge.convert.fhir_to_oioxml import convert_carecommunication
    from medcom_bridge.fhir.codec import parse_json

    result = convert_carecommunication(parse_json(data), context=_context())
    if not all(o.report.valid for o in result.outputs):
        raise SystemExit(f"invalid output: {[o.report.errors[:3] for o in result.outputs]}")
    return sum(len(o.data) for o in result.outputs)


def _build(direction: str, text_size: int, attachments: int, attachment_size: int, folder: str) -> None:
    """Runs in its own process: writes the input files. Building a 100 MB message (random bytes, base64,
    serialization) has a peak of its own that must not be counted as the converter's."""
    if direction == "xdis91->fhir":
        xdis, xbins = oioxml_input(text_size, attachments, attachment_size)
        Path(folder, "xdis91.xml").write_bytes(xdis)
        for i, xbin in enumerate(xbins):
            Path(folder, f"xbin01-{i}.xml").write_bytes(xbin)
    else:
        Path(folder, "carecommunication.json").write_bytes(
            fhir_input(text_size, attachments, attachment_size)
        )


def _case(direction: str, folder: str, rounds: int, queue: Any) -> None:
    """Runs in a child process: read the input (held in memory, as the hub holds a message), warm up, time
    `rounds` conversions, report peak RSS."""
    if direction == "xdis91->fhir":
        xdis = Path(folder, "xdis91.xml").read_bytes()
        xbins = [p.read_bytes() for p in sorted(Path(folder).glob("xbin01-*.xml"))]
        size = len(xdis) + sum(map(len, xbins))

        def once() -> int:
            return to_fhir(xdis, xbins)
    else:
        data = Path(folder, "carecommunication.json").read_bytes()
        size = len(data)

        def once() -> int:
            return to_oioxml(data)

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    once()  # warm-up (imports, caches)
    times = []
    wall = []
    for _ in range(rounds):
        start, start_wall = time.process_time(), time.perf_counter()
        once()
        times.append(time.process_time() - start)
        wall.append(time.perf_counter() - start_wall)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"size": size, "times": times, "wall": wall, "peak_mb": peak, "input_rss_mb": base_rss})


def run_case(
    direction: str, text_size: int, attachments: int, attachment_size: int, rounds: int
) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="medcom-bench-") as folder:
        builder = ctx.Process(
            target=_build, args=(direction, text_size, attachments, attachment_size, folder)
        )
        builder.start()
        builder.join()
        if builder.exitcode != 0:
            raise SystemExit(f"building the input failed (exit code {builder.exitcode})")
        queue = ctx.Queue()
        proc = ctx.Process(target=_case, args=(direction, folder, rounds, queue))
        proc.start()
        while True:  # a child that dies (e.g. out of memory) must not leave us waiting forever
            try:
                result: dict[str, Any] = queue.get(timeout=5)
                break
            except Empty:
                if not proc.is_alive():
                    raise SystemExit(f"the {direction} case died (exit code {proc.exitcode})") from None
        proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and a 10 MB big message")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--typical", action="store_true", help="only the typical messages")
    args = parser.parse_args()
    rounds = 200 if args.quick else 1000
    big_each = (1 if args.quick else 10) * 1024 * 1024
    cases = [
        ("typical, no attachment", 5 * 1024, 0, 0, rounds),
        ("typical, 1 attachment (50 KB)", 5 * 1024, 1, 50 * 1024, rounds),
        (f"big, 10 attachments x {big_each // 2**20} MB", 5 * 1024, 10, big_each, 3),
    ]
    if args.typical:
        cases = cases[:2]
    figures: dict[str, Any] = {}
    print(
        f"medcom-bridge converter benchmark (python {sys.version.split()[0]}, one process per case, one core)"
    )
    print(
        f"baselines: goal {GOAL_PER_SECOND:.0f} typical conversions/s; goal peak < {GOAL_PEAK_MB:.0f} MB for 100 MB"
    )
    for name, text_size, n, each, count in cases:
        for direction in ("xdis91->fhir", "fhir->xdis91"):
            r = run_case(direction, text_size, n, each, count)
            times = sorted(r["times"])
            p50 = statistics.median(times) * 1000
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
            per_second = len(times) / sum(times)
            wall_per_second = len(r["wall"]) / sum(r["wall"])
            key = f"{name} {direction}"
            figures[key] = {
                "input_bytes": r["size"],
                "per_second": round(per_second, 1),
                "wall_per_second": round(wall_per_second, 1),
                "p50_ms": round(p50, 3),
                "p99_ms": round(p99, 3),
                "peak_rss_mb": round(r["peak_mb"], 1),
                "rss_after_input_mb": round(r["input_rss_mb"], 1),
            }
            p50_rate = 1000 / p50
            figures[key]["per_second_at_p50"] = round(p50_rate, 1)
            ratio = (
                f"x{per_second / GOAL_PER_SECOND:.2f} (at p50: {p50_rate:.0f}/s, x{p50_rate / GOAL_PER_SECOND:.2f}) "
                f"of goal {GOAL_PER_SECOND:.0f}/s"
                if name.startswith("typical")
                else f"peak x{GOAL_PEAK_MB / r['peak_mb']:.2f} under goal {GOAL_PEAK_MB:.0f} MB"
            )
            print(
                f"{key:52s} in {r['size'] / 1024:10.1f} KB  {per_second:8.1f}/s (wall {wall_per_second:7.1f}/s)  p50 {p50:8.2f} ms  "
                f"p99 {p99:8.2f} ms  peak {r['peak_mb']:7.1f} MB (input {r['input_rss_mb']:6.1f})  {ratio}"
            )
    load = os.getloadavg()[0]
    print(
        f"(CPU-time figures of one process: what one core does; wall clock alongside; load average {load:.1f})"
    )
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
