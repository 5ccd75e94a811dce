"""Throughput of the FHIR codec over MedCom's official examples (certification sends and worked flows).

Prints, per format and direction: messages/s, MB/s, p50/p99 per message, and the ratio to a named baseline:
the bare parser/serializer underneath (stdlib `json.loads`/`json.dumps`, lxml `fromstring`/`tostring`), so
the figure says what the FHIR layer (type table, findings, Decimal, ordering) costs on top. Figures are CPU
time of this process.

    .venv/bin/python bench/fhir_codec.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from medcom_bridge.fhir import codec  # noqa: E402
from medcom_bridge.fhir.model import Bundle, get_all  # noqa: E402

DATA = REPO.parent / "shared" / "data"


def load() -> tuple[list[bytes], list[bytes]]:
    files = sorted((DATA / "fhir" / "examples").glob("send-v*/*")) + sorted(
        p for p in (DATA / "conversion" / "flows").glob("*.xml") if p.name.startswith(("Care", "Ack"))
    )
    docs = [p.read_bytes() for p in files]
    models = [codec.parse(d)[0] for d in docs]
    return [codec.to_json(m) for m in models], [codec.to_xml(m) for m in models]


def measure(fn: Callable[[Any], Any], inputs: list[Any], rounds: int) -> tuple[float, float, float]:
    """(messages/s, p50 ms, p99 ms) over `rounds` passes, in CPU time of this process: what one core does,
    independent of other load on a shared machine (as bench/validate.py)."""
    times: list[float] = []
    start = time.process_time()
    for _ in range(rounds):
        for item in inputs:
            t0 = time.process_time()
            fn(item)
            times.append(time.process_time() - t0)
    total = time.process_time() - start
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return len(times) / total, statistics.median(times) * 1000, p99 * 1000


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--rounds", type=int, default=20)
    opts = args.parse_args(argv)
    json_docs, xml_docs = load()
    json_models = [codec.parse_json(d) for d in json_docs]
    xml_models = [codec.parse_xml(d) for d in xml_docs]
    plain = [json.loads(d) for d in json_docs]
    trees = [etree.fromstring(d) for d in xml_docs]
    size = sum(map(len, json_docs)) / len(json_docs) / 1e6
    xml_size = sum(map(len, xml_docs)) / len(xml_docs) / 1e6
    cases: list[tuple[str, Callable[[Any], Any], list[Any], Callable[[Any], Any], list[Any], str, float]] = [
        ("parse json", codec.parse_json, json_docs, json.loads, json_docs, "json.loads", size),
        ("parse xml", codec.parse_xml, xml_docs, etree.fromstring, xml_docs, "lxml.fromstring", xml_size),
        (
            "to_json",
            codec.to_json,
            json_models,
            lambda o: json.dumps(o, ensure_ascii=False),
            plain,
            "json.dumps",
            size,
        ),
        ("to_xml", codec.to_xml, xml_models, etree.tostring, trees, "lxml.tostring", xml_size),
    ]
    print(
        f"{len(json_docs)} messages, mean {size * 1000:.1f} kB (JSON) / {xml_size * 1000:.1f} kB (XML); {opts.rounds} rounds"
    )
    for name, fn, inputs, base_fn, base_inputs, base_name, mb in cases:
        rate, p50, p99 = measure(fn, inputs, opts.rounds)
        base_rate, _, _ = measure(base_fn, base_inputs, opts.rounds)
        print(
            f"{name:11} {rate:8.0f} msg/s {rate * mb:6.1f} MB/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
            f"  ({base_rate / rate:4.1f}x the time of bare {base_name})"
        )
    bundles = [m for m in json_models if m.get("resourceType") == "Bundle"]

    def view(model: dict[str, Any]) -> None:
        bundle = Bundle(model)
        for _, full_url, resource in bundle.entries:
            for ref in get_all(resource, "sender.reference") + get_all(resource, "subject.reference"):
                bundle.resolve(ref, from_full_url=full_url)

    rate, p50, p99 = measure(view, bundles, opts.rounds)
    print(
        f"{'Bundle view':11} {rate:8.0f} msg/s (index + resolve sender/subject of every entry)  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
    )
    tracemalloc.start()
    for d in json_docs:
        codec.to_xml(codec.parse_json(d))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory for one parse_json+to_xml pass over all messages: {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
