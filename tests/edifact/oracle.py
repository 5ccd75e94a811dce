"""MedCom's EDIFACT converter as a differential oracle, many files per Ruby process.

`available()` says whether Ruby with Nokogiri is installed (CI installs it; see .ci/run). `run(mode, inputs)`
writes the inputs to a temporary folder, converts all of them in one or two Ruby processes
(tests/edifact/oracle_batch.rb loads MedCom's library once) and returns, per input, what the converter printed
and its ERROR lines. `compare_*` decide agreement the way the issue asks: EDIFACT segment for segment (line
breaks between segments aside), OIOXML after lxml C14N with indentation removed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

HERE = Path(__file__).resolve().parent
CONVERTER = HERE.parents[1].parent / "shared" / "data" / "edifact" / "medcom-edifact-converter"
_STUB = "module Diffy; class Diff; def initialize(*a); end; def each; end; end; end\n"


@dataclass(frozen=True)
class Answer:
    output: bytes
    errors: tuple[str, ...]

    @property
    def crashed(self) -> bool:
        return any(e.startswith("CRASH") for e in self.errors)

    @property
    def refused(self) -> bool:
        return bool(self.errors)


def available() -> bool:
    if shutil.which("ruby") is None or not CONVERTER.is_dir():
        return False
    probe = subprocess.run(["ruby", "-e", 'require "nokogiri"'], capture_output=True, check=False)
    return probe.returncode == 0


def run(mode: str, inputs: list[bytes], processes: int = 2) -> list[Answer]:
    """mode '-e' (OIOXML -> EDIFACT) or '-x' (EDIFACT -> OIOXML); one answer per input, in order."""
    with tempfile.TemporaryDirectory(prefix="medcom-oracle-") as tmp:
        folder = Path(tmp)
        (folder / "diffy.rb").write_text(_STUB)
        paths = []
        for i, data in enumerate(inputs):
            p = folder / f"in{i:06d}.dat"
            p.write_bytes(data)
            paths.append(p)
        batches = [paths[k::processes] for k in range(processes) if paths[k::processes]]

        def convert(batch: list[Path]) -> None:
            subprocess.run(
                ["ruby", f"-I{CONVERTER / 'lib'}", f"-I{folder}", str(HERE / "oracle_batch.rb"), mode]
                + [str(p) for p in batch],
                check=True,
                capture_output=True,
                env={**os.environ, "LANG": "C.UTF-8"},
            )

        with ThreadPoolExecutor(len(batches) or 1) as pool:
            list(pool.map(convert, batches))
        answers = []
        for p in paths:
            out = Path(f"{p}.out").read_bytes()
            err = Path(f"{p}.err").read_text("utf-8", "replace")
            answers.append(Answer(out, tuple(line for line in err.splitlines() if line.strip())))
        return answers


def segments(edifact: bytes) -> list[bytes]:
    """Segments of an EDIFACT text for comparison: line breaks between segments removed."""
    return edifact.replace(b"\r", b"").replace(b"\n", b"").split(b"'")


def canonical(xml: bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    return etree.tostring(etree.fromstring(xml, parser), method="c14n")
