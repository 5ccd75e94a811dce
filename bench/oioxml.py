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


def measure(fn: Callable[[], object], seconds: float) -> tuple[float, float, float]:
    """(ops/s, p50 µs, p99 µs) over batches of calls for `seconds`."""
    for _ in range(50):
        fn()
    samples: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        # CPU time, not wall time: other processes on a shared machine do not count against us.
        t0 = time.process_time()
        fn()
        samples.append(time.process_time() - t0)
    samples.sort()
    p50 = samples[len(samples) // 2] * 1e6
    p99 = samples[int(len(samples) * 0.99)] * 1e6
    return 1e6 / p50, p50, p99


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

    base_rate, base_p50, base_p99 = measure(baseline, seconds)
    print(
        f"{label:34} {'lxml XMLSchema (base)':22} {base_rate:9,.0f} {base_p50:8.1f} {base_p99:8.1f} "
        f"{peak_kib(baseline):9.1f} {'1.00x':>18}"
    )
    ns, body, kind = message.namespace, BODY_ELEMENT[type(message.body)], message.kind
    rows: list[tuple[str, Callable[[], object]]] = [
        ("parse + validate", lambda: validate_bytes(data)),
        ("  schema rules only", lambda: check_schema(parse_xml(data), ns, body, kind, data)),
        ("parse to model", lambda: parse(data)),
        ("serialize", lambda: serialize(message)),
    ]
    for op, fn in rows:
        rate, p50, p99 = measure(fn, seconds)
        print(
            f"{'':34} {op:22} {rate:9,.0f} {p50:8.1f} {p99:8.1f} {peak_kib(fn):9.1f} {p50 / base_p50:17.2f}x"
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
    print("msg/s = 1 / p50 on one core (CPU time per message); ratio = our p50 / lxml XMLSchema p50")
    print("goal: parse + validate >= 5,000 XDIS91/s and <= 3x lxml XMLSchema")


if __name__ == "__main__":
    main()
