"""Throughput of the CareCommunication builder (new/reply/forward/acknowledgement) and the thread renderer.

Inputs are MedCom's certification examples (send-v5). Prints messages/s and p50/p99 per message for each
operation and the ratio to a named baseline: `copy.deepcopy` of the received bundle (what a reply or
forward costs beyond copying the thread it carries) and, for the renderer, `codec.to_json` of the same
bundle (what an HTML page costs compared with writing the message out). Peak memory of one pass last.

    .venv/bin/python bench/fhir_builder.py [--rounds N]
"""

from __future__ import annotations

import argparse
import copy
import itertools
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from medcom_bridge.fhir import codec  # noqa: E402
from medcom_bridge.fhir.builder import acknowledgement, forward, new_message, reply  # noqa: E402
from medcom_bridge.fhir.content import Attachment, Classification, TextSegment  # noqa: E402
from medcom_bridge.fhir.parties import Author, Organization, Patient  # noqa: E402
from medcom_bridge.fhir.render import render_thread  # noqa: E402

DATA = REPO.parent / "shared" / "data"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
AUTHOR = Author(family="Jensen", given=("Kim",), role_code="sygeplejerske", phone="87875455")
TO = Organization(sor="1017421000016003", ean="5790002408496", name="2100 Lægehuset Østerbro")
_counter = itertools.count(1)


def ids() -> str:
    return f"00000000-0000-4000-8000-{next(_counter):012x}"


def measure(fn: Callable[[Any], Any], inputs: list[Any], rounds: int) -> tuple[float, float, float]:
    times: list[float] = []
    start = time.perf_counter()
    for _ in range(rounds):
        for item in inputs:
            t0 = time.perf_counter()
            fn(item)
            times.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    times.sort()
    return len(times) / total, statistics.median(times) * 1000, times[int(len(times) * 0.99)] * 1000


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--rounds", type=int, default=20)
    opts = args.parse_args(argv)
    received = [
        codec.parse(p.read_bytes())[0] for p in sorted((DATA / "fhir" / "examples" / "send-v5").iterdir())
    ]
    segment = TextSegment(text="Tak for beskeden.\nVenlig hilsen Kim", author=AUTHOR)
    pdf = Attachment(title="Epikrise", content_type="application/pdf", data=b"%PDF-1.4\n" + b"x" * 200_000)

    def make_new(_: Any) -> dict[str, Any]:
        return new_message(
            sender=Organization(sor="441211000016000", ean="5790001987244", name="Klinik"),
            receiver=TO,
            patient=Patient(cpr="2509479989", family="Elmer", given=("Bruno",)),
            classification=Classification(category="examination-results", topic="Svar"),
            text=segment,
            attachments=[pdf],
            now=NOW,
            new_id=ids,
        )

    cases: list[tuple[str, Callable[[Any], Any], Callable[[Any], Any], str]] = [
        ("new_message", make_new, copy.deepcopy, "copy.deepcopy"),
        ("reply", lambda b: reply(b, text=segment, now=NOW, new_id=ids), copy.deepcopy, "copy.deepcopy"),
        (
            "forward",
            lambda b: forward(b, to=TO, text=segment, now=NOW, new_id=ids),
            copy.deepcopy,
            "copy.deepcopy",
        ),
        ("ack", lambda b: acknowledgement(b, now=NOW, new_id=ids), copy.deepcopy, "copy.deepcopy"),
        ("render", render_thread, codec.to_json, "codec.to_json"),
    ]
    # A forward to the GP itself is refused; leave out the one example addressed to it.
    forwardable = [b for b in received if TO.sor not in str(b["entry"][0]["resource"]["destination"])]
    mean_kb = sum(len(codec.to_json(b)) for b in received) / len(received) / 1000
    print(f"{len(received)} received messages (mean {mean_kb:.1f} kB JSON); {opts.rounds} rounds")
    for name, fn, base, base_name in cases:
        inputs = forwardable if name == "forward" else received
        rate, p50, p99 = measure(fn, inputs, opts.rounds)
        base_rate, _, _ = measure(base, inputs, opts.rounds)
        print(
            f"{name:12} {rate:8.0f} msg/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
            f"  ({base_rate / rate:5.1f}x the time of {base_name})"
        )
    tracemalloc.start()
    for bundle in received:
        render_thread(reply(bundle, text=segment, now=NOW, new_id=ids))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory for one reply+render pass over all messages: {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
