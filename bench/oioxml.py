"""Benchmark the OIOXML codec and validator on one core.

Usage: .venv/bin/python bench/oioxml.py [--seconds N]

Prints messages/s, p50/p99 latency and peak memory for
* parse + validate (`validate_bytes`: safe parse, all schema rules, model, semantic rules),
* schema rules only (safe parse + the checks the XSD makes: the like-for-like comparison),
* parse only (`parse`: bytes -> model),
* serialize (model -> ISO-8859-1 bytes),
and the ratio to the baseline "lxml XMLSchema": parsing the same bytes with lxml and validating them
against MedCom's official EMessage.xsd (os2korrespondance edition), loaded once beforehand.
Inputs: a typical 2-3 KB XDIS91 (MedCom's samples), an XCTL03, and an XBIN01 with a 4 KB PDF.
The operations of one input are timed round-robin with the baseline (one call each per round), so a busy
shared machine slows all of them alike and the ratios stay comparable between runs; run it 3 times.
The XSDs are read from ../shared/data (benchmark only; the product never reads schema files).
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from medcom_bridge.oioxml.codec import parse, serialize  # noqa: E402
from medcom_bridge.oioxml.model import BODY_ELEMENT  # noqa: E402
from medcom_bridge.oioxml.validation import check_schema, validate_bytes  # noqa: E402
from medcom_bridge.xmlsafe import parse_xml  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "oioxml"
INPUTS = {
    "XDIS91 (os2 formatted text)": ("XDIS91_os2korr_formatted_text.xml", "2006/07/01"),
    "XDIS91 (MedCom flow1)": ("XDIS91_medcom_flow1_to_fhir.xml", "2006/07/01"),
    "XCTL03 (MedCom flow2)": ("XCTL03_medcom_flow2_from_fhir_for_XDIS91.xml", "2005/08/07"),
    "XBIN01 (MedCom flow1, 4 KB PDF)": ("XBIN01_medcom_flow1_to_fhir.xml", "2012/03/28"),
}


def measure(fns: list[Callable[[], object]], seconds: float) -> list[tuple[float, float, float]]:
    """(ops/s, p50 µs, p99 µs) of each function, calling them in turn for `seconds` in total.

    Round-robin, one call each per round: on a shared machine every function, the baseline included,
    sees the same load, so the ratios stay steady even when the absolute figures move."""
    for fn in fns:
        for _ in range(50):
            fn()
    samples: list[list[float]] = [[] for _ in fns]
    clock = time.process_time  # CPU time: other processes on a shared machine do not count against us
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for fn, out in zip(fns, samples, strict=True):
            t0 = clock()
            fn()
            out.append(clock() - t0)
    result = []
    for out in samples:
        out.sort()
        p50 = out[len(out) // 2] * 1e6
        p99 = out[int(len(out) * 0.99)] * 1e6
        result.append((1e6 / p50, p50, p99))
    return result


def peak_kib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def run(label: str, name: str, folder: str, seconds: float) -> None:
    data = (DATA / "samples" / name).read_bytes()
    schema = etree.XMLSchema(etree.parse(str(DATA / "xsd" / "os2korrespondance" / folder / "EMessage.xsd")))
    assert schema.validate(etree.fromstring(data)), name
    assert validate_bytes(data).valid, name
    message = parse(data)

    def baseline() -> bool:
        return schema.validate(etree.fromstring(data))

    ns, body, kind = message.namespace, BODY_ELEMENT[type(message.body)], message.kind
    rows: list[tuple[str, Callable[[], object]]] = [
        ("lxml XMLSchema (base)", baseline),
        ("parse + validate", lambda: validate_bytes(data)),
        ("  schema rules only", lambda: check_schema(parse_xml(data), ns, body, kind, data)),
        ("parse to model", lambda: parse(data)),
        ("serialize", lambda: serialize(message)),
    ]
    figures = measure([fn for _, fn in rows], seconds * len(rows))
    base_p50 = figures[0][1]
    for i, ((op, fn), (rate, p50, p99)) in enumerate(zip(rows, figures, strict=True)):
        print(
            f"{label if i == 0 else '':34} {op:22} {rate:9,.0f} {p50:8.1f} {p99:8.1f} {peak_kib(fn):9.1f} "
            f"{p50 / base_p50:17.2f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = ap.parse_args()
    print(
        f"{'input':34} {'operation':22} {'msg/s':>9} {'p50 µs':>8} {'p99 µs':>8} {'peak KiB':>9} "
        f"{'vs lxml XMLSchema':>18}"
    )
    for label, (name, folder) in INPUTS.items():
        run(label, name, folder, args.seconds)
    print(
        "msg/s = 1 / p50 on one core (CPU time per message); ratio = our p50 / lxml XMLSchema p50, "
        "measured round-robin with it"
    )
    print("goal: parse + validate >= 5,000 XDIS91/s and <= 3x lxml XMLSchema")


if __name__ == "__main__":
    main()
