"""Differential run against MedCom's own EDIFACT converter (issue 13): >= 10,000 generated letters,
attachments and receipts, both directions, agreement counts printed.

    .venv/bin/python bench/edifact_differential.py               # 10,000 messages
    .venv/bin/python bench/edifact_differential.py --cases 500   # a quick look

Each message (hypothesis strategies of tests/edifact/strategies.py, random seed printed) is converted by us
and by MedCom's converter (tests/edifact/oracle.py: one Ruby process per batch); EDIFACT must be equal byte
for byte, OIOXML equal after C14N, refusals on the same messages. Baseline: MedCom's converter itself; the
figure is the agreement rate (goal 100 %), with MedCom's own crashes counted apart. Needs ruby and
ruby-nokogiri. Disagreements are written to a folder for inspection.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()

    from tests.edifact import differential, oracle
    from tests.edifact.strategies import generate

    if not oracle.available():
        sys.exit("needs ruby and ruby-nokogiri (MedCom's converter)")
    run_seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"seed {run_seed}; {args.cases} messages in batches of {args.batch}")
    totals: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    disagreements: list[tuple[str, bytes, str]] = []
    started = time.perf_counter()
    done = 0
    while done < args.cases:
        n = min(args.batch, args.cases - done)
        found = generate(n, run_seed + done)
        kinds.update(m.kind for m in found)
        outcome = differential.check(found)
        totals.update(outcome.counts)
        disagreements += outcome.disagreements
        done += len(found)
        print(
            f"  {done} messages, {time.perf_counter() - started:.0f} s: {dict(sorted(totals.items()))}",
            flush=True,
        )
    print(f"messages by kind: {dict(sorted(kinds.items()))}")
    for direction in ("xml->edi", "edi->xml"):
        agree, crash, disagree = (totals[f"{direction} {v}"] for v in ("agree", "oracle-crash", "disagree"))
        compared = agree + disagree
        rate = 100.0 * agree / compared if compared else 0.0
        print(
            f"{direction}: {agree} agree, {disagree} disagree ({rate:.2f} % agreement), "
            f"{crash} where MedCom's converter crashed"
        )
    if disagreements:
        folder = Path(tempfile.mkdtemp(prefix="edifact-disagreements-"))
        for i, (direction, data, detail) in enumerate(disagreements):
            (folder / f"{i:05d}-{direction.replace('->', '-to-')}.in").write_bytes(data)
            (folder / f"{i:05d}.txt").write_text(detail)
        print(f"disagreements written to {folder}")


if __name__ == "__main__":
    main()
