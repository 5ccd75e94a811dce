"""Measure how often our OIOXML validator and the official XSDs (lxml XMLSchema) agree.

Usage: .venv/bin/python bench/oioxml_xsd_agreement.py
Runs the whole mutation corpus of tests/oioxml/mutations.py (every XDIS91/XBIN01/XCTL sample; every
element deleted, repeated, swapped, renamed, moved to another namespace, given an attribute, stray text,
an unknown child, ~45 replacement values per leaf, nested formatting in texts) and prints the agreement
figure and each kind of disagreement. The test suite runs a fixed seventh of the same corpus.
Verdicts: XSD = valid under any official edition of the namespace; ours = no schema-rule error
(MedCom conventions beyond the XSD, e.g. one letter per Emessage, are counted apart).
"""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from medcom_bridge.oioxml.validation import is_semantic, validate_bytes  # noqa: E402
from tests.oioxml.mutations import mutations, sample_files  # noqa: E402
from tests.oioxml.xsd import xsd_verdicts  # noqa: E402


def main() -> None:
    started = time.perf_counter()
    total = agree = xsd_valid = 0
    disagreements: collections.Counter[tuple[str, bool]] = collections.Counter()
    for path in sample_files():
        for desc, doc in mutations(path.read_bytes()):
            xsd_ok = any(xsd_verdicts(doc).values())
            report = validate_bytes(doc)
            ours = not any(f.severity == "error" and not is_semantic(f.rule) for f in report.findings)
            total += 1
            xsd_valid += xsd_ok
            if xsd_ok == ours:
                agree += 1
            else:
                disagreements[(f"{path.name}: {desc.split('#')[0][:60]}", xsd_ok)] += 1
    print(f"samples: {len(sample_files())}, mutated documents: {total:,} ({xsd_valid:,} valid per the XSDs)")
    print(f"agreement with lxml XMLSchema: {agree:,}/{total:,} = {agree / total:.2%}")
    for (what, xsd_ok), n in disagreements.most_common(30):
        print(f"  {n:5} x {what} (XSD says {'valid' if xsd_ok else 'invalid'})")
    print(f"time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
