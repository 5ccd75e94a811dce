"""Throughput of the VANSEnvelope codec: wrap, unwrap and validate (envelope rules only) on real payloads.

Payloads: every OIOXML sample of a kind we carry, every official FHIR example and worked-flow message, plus one
synthetic 20 MB XBIN01-sized FHIR message (large attachments are what makes an envelope big). Prints
messages/s, MB/s, p50/p99 per message, peak traced memory, and the ratio to a named baseline:
  * unwrap vs "lxml fromstring + base64 decode of Data": the least any reader must do;
  * wrap vs "lxml build + tostring + base64 encode": the least any writer must do.
The ratio is what our checks (structure, GLN, UUIDs, payload kind, FHIR name/MIME) cost on top; issue 14's
goal for unwrap is 1.5x. Figures are CPU time of this process.

    .venv/bin/python bench/envelope.py [--rounds N]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from medcom_bridge.envelope import VANS_NS, unwrap, wrap  # noqa: E402
from medcom_bridge.envelope.vans import read  # noqa: E402

DATA = REPO.parent / "shared" / "data"
IDS = {
    "sender_ean": "5790001659592",
    "receiver_ean": "5790000121526",
    "envelope_id": "3f2b8c1e-9d4a-4e6b-8f1c-2a7d5e9b0c41",
    "message_id": "a1c5e7f9-2b4d-4f6a-8c0e-1d3f5a7b9c2e",
}
SENT = datetime(2026, 1, 20, 9, 30, 15)


def payloads() -> list[bytes]:
    files = [
        p
        for p in sorted((DATA / "oioxml" / "samples").glob("X*.xml"))
        if not p.name.startswith(("XDIS22", "XDIS90"))
    ]
    files += sorted((DATA / "fhir" / "examples").glob("send-v*/*"))
    files += sorted(
        p for p in (DATA / "conversion" / "flows").glob("*.xml") if p.name.startswith(("Care", "Ack"))
    )
    return [p.read_bytes() for p in files]


def big_payload() -> bytes:
    """A CareCommunication with ~20 MB of attachment data (the size class of a scanned document set)."""
    doc = json.loads(
        (DATA / "fhir" / "examples" / "send-v5").glob("Bundle-S-A-*.json").__next__().read_bytes()
    )
    blob = base64.b64encode(b"%PDF-1.7 " + bytes(range(256)) * 58_000).decode()
    for entry in doc["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Communication":
            resource["payload"].append(
                {"contentAttachment": {"contentType": "application/pdf", "data": blob}}
            )
    return json.dumps(doc).encode()


def baseline_unwrap(data: bytes) -> bytes:
    root = etree.fromstring(data, etree.XMLParser(huge_tree=True))
    return base64.b64decode(root.findtext(f"{{{VANS_NS}}}Message/{{{VANS_NS}}}Data") or "")


def baseline_wrap(payload: bytes) -> bytes:
    root = etree.Element(f"{{{VANS_NS}}}VANSEnvelope", nsmap={None: VANS_NS})  # type: ignore[dict-item]
    for name in ("SenderID", "ReceiverID", "EnvelopeIdentifier", "SentDateTime"):
        etree.SubElement(root, f"{{{VANS_NS}}}{name}").text = "x"
    message = etree.SubElement(root, f"{{{VANS_NS}}}Message")
    etree.SubElement(message, f"{{{VANS_NS}}}Data").text = base64.b64encode(payload).decode()
    return etree.tostring(root, encoding="UTF-8")


def measure(
    fn: Callable[[bytes], object], inputs: list[bytes], rounds: int
) -> tuple[float, float, float, float, int]:
    """(messages/s, MB/s, p50 ms, p99 ms, peak bytes) over `rounds` passes, in CPU time of this process: what
    one core does, independent of other load on a shared machine (as bench/validate.py and bench/convert.py)."""
    times: list[float] = []
    size = sum(len(i) for i in inputs)
    best = float("inf")  # the fastest pass: on a shared machine a slow pass measures the neighbours
    for _ in range(rounds):
        start = time.process_time()
        for item in inputs:
            t0 = time.process_time()
            fn(item)
            times.append(time.process_time() - t0)
        best = min(best, time.process_time() - start)
    total = best
    tracemalloc.start()
    for item in inputs:
        fn(item)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return len(inputs) / total, size / total / 1e6, statistics.median(times) * 1e3, p99 * 1e3, peak


def report(
    label: str,
    ours: tuple[float, float, float, float, int],
    base: tuple[float, float, float, float, int],
    base_name: str,
) -> None:
    rate, mbs, p50, p99, peak = ours
    print(
        f"{label:28} {rate:9.0f} msg/s {mbs:8.1f} MB/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
        f"peak {peak / 1e6:7.1f} MB  | {base_name}: {base[0]:9.0f} msg/s, ratio ours/baseline time {base[0] / rate:5.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    small = payloads()
    envelopes = [wrap(p, sent=SENT, **IDS) for p in small]
    big = [big_payload()]
    big_envelopes = [wrap(p, sent=SENT, **IDS) for p in big]
    print(
        f"{len(small)} real payloads, {sum(map(len, small)) / 1e6:.1f} MB; 1 synthetic payload of {len(big[0]) / 1e6:.1f} MB"
    )

    def wrap_one(p: bytes) -> bytes:
        return wrap(p, sent=SENT, **IDS)

    def envelope_rules(e: bytes) -> object:
        return read(e).findings

    report(
        "wrap (real)",
        measure(wrap_one, small, args.rounds),
        measure(baseline_wrap, small, args.rounds),
        "lxml+b64",
    )
    report(
        "unwrap (real)",
        measure(unwrap, envelopes, args.rounds),
        measure(baseline_unwrap, envelopes, args.rounds),
        "lxml+b64",
    )
    report(
        "envelope rules (real)",
        measure(envelope_rules, envelopes, args.rounds),
        measure(baseline_unwrap, envelopes, args.rounds),
        "lxml+b64",
    )
    rounds = max(1, args.rounds // 10)
    report("wrap (20 MB)", measure(wrap_one, big, rounds), measure(baseline_wrap, big, rounds), "lxml+b64")
    report(
        "unwrap (20 MB)",
        measure(unwrap, big_envelopes, rounds),
        measure(baseline_unwrap, big_envelopes, rounds),
        "lxml+b64",
    )


if __name__ == "__main__":
    main()
