"""The differential check against MedCom's converter, shared by the test and bench/edifact_differential.py.

For each generated OIOXML message: our `to_edifact` vs the converter's `-e` (byte for byte: neither writes line
breaks), then the converter's EDIFACT fed to our `to_oioxml` vs the converter's `-x` (lxml C14N, indentation
removed). Outcomes per direction:

* `agree` — both converted and the outputs are equal, or both refused;
* `oracle-crash` — MedCom's converter raised (a Ruby exception: its 70-byte-line bug, see NOTES.md); not
  counted against us;
* `disagree` — anything else (kept with the input for the report).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from medcom_bridge.edifact.convert import EdifactConversionError, to_edifact, to_oioxml
from medcom_bridge.edifact.syntax import EdifactSyntaxError, parse, serialize
from medcom_bridge.oioxml.codec import serialize as serialize_xml
from medcom_bridge.oioxml.model import AnyEmessage
from tests.edifact import oracle


@dataclass
class Outcome:
    counts: Counter[str] = field(default_factory=Counter)
    disagreements: list[tuple[str, bytes, str]] = field(default_factory=list)

    def add(self, direction: str, verdict: str, data: bytes = b"", detail: str = "") -> None:
        self.counts[f"{direction} {verdict}"] += 1
        if verdict == "disagree":
            self.disagreements.append((direction, data, detail))


def _ours_edifact(message: AnyEmessage) -> bytes | None:
    try:
        return serialize(to_edifact(message))
    except EdifactConversionError:
        return None


def _ours_oioxml(edifact: bytes) -> bytes | None:
    try:
        return serialize_xml(to_oioxml(parse(edifact)))
    except (EdifactConversionError, EdifactSyntaxError):
        return None


def check(messages: list[AnyEmessage], processes: int = 2) -> Outcome:
    outcome = Outcome()
    xmls = [serialize_xml(m) for m in messages]
    answers = oracle.run("-e", xmls, processes)
    edifacts: list[bytes] = []
    for message, xml, answer in zip(messages, xmls, answers, strict=True):
        ours = _ours_edifact(message)
        if answer.crashed:
            outcome.add("xml->edi", "oracle-crash")
        elif answer.refused or ours is None:
            verdict = "agree" if answer.refused and ours is None else "disagree"
            outcome.add(
                "xml->edi", verdict, xml, f"oracle errors {answer.errors}; ours refused: {ours is None}"
            )
        elif ours == answer.output:
            outcome.add("xml->edi", "agree")
        else:
            outcome.add("xml->edi", "disagree", xml, _first_difference(ours, answer.output))
        if not answer.refused and answer.output:
            edifacts.append(answer.output)
    for edifact, answer in zip(edifacts, oracle.run("-x", edifacts, processes), strict=True):
        ours = _ours_oioxml(edifact)
        if answer.crashed:
            outcome.add("edi->xml", "oracle-crash")
        elif ours is None or not answer.output.strip():
            verdict = "agree" if ours is None and answer.refused else "disagree"
            outcome.add(
                "edi->xml", verdict, edifact, f"oracle errors {answer.errors}; ours refused: {ours is None}"
            )
        elif oracle.canonical(ours) == oracle.canonical(answer.output):
            outcome.add("edi->xml", "agree")
        else:
            outcome.add(
                "edi->xml",
                "disagree",
                edifact,
                _first_difference(oracle.canonical(ours), oracle.canonical(answer.output), b">"),
            )
    return outcome


def _first_difference(ours: bytes, theirs: bytes, sep: bytes = b"'") -> str:
    a, b = ours.split(sep), theirs.split(sep)
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"part {i}: ours {x[:160]!r} vs MedCom {y[:160]!r}"
    return f"lengths differ: ours {len(a)} parts, MedCom {len(b)}"
