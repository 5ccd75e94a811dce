"""`medcom-bridge convert` with EDIFACT: `--to edifact`, `--to oioxml`, and EDIFACT input to the OIOXML and
FHIR targets (architecture.md §3.1). The conversions are the pure `medcom_bridge.edifact` ones; this module
only routes inputs and outputs for the command's shell (`shell/convert.py`).

* `--to edifact`: OIOXML (XDIS91, XBIN01, XCTL01-03) -> its EDIFACT twin; a CareCommunication goes through
  OIOXML first (XDIS91 + XBIN01 -> DIS91 + BIN01).
* `--to oioxml` (and `--to xdis91` given EDIFACT): EDIFACT -> its OIOXML twin.
* `--to carecommunication` given a DIS91 (+ BIN01): read as their OIOXML twins, then converted as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from medcom_bridge.documents import EDIFACT_KINDS
from medcom_bridge.findings import Report

if TYPE_CHECKING:
    from medcom_bridge.convert.context import Context
    from medcom_bridge.shell.convert import Input, Outcome, Output

TARGETS = ("edifact", "oioxml")
OIOXML_KINDS = ("xdis91", "xbin01", "xctl01", "xctl02", "xctl03")


def handles(inputs: Sequence[Input], to: str) -> bool:
    """Whether this module does the whole conversion (otherwise the inputs are only made OIOXML first)."""
    return to in TARGETS or (to == "xdis91" and any(i.kind in EDIFACT_KINDS for i in inputs))


def as_oioxml(inputs: Sequence[Input]) -> list[Input]:
    """EDIFACT inputs replaced by their OIOXML twins (ValueError with the reason when one cannot be)."""
    from medcom_bridge.edifact import codes, oioxml_twin
    from medcom_bridge.oioxml.codec import serialize
    from medcom_bridge.shell.convert import Input

    out = []
    for i in inputs:
        if i.kind in EDIFACT_KINDS:
            try:
                twin = serialize(oioxml_twin(i.payload))
            except ValueError as exc:
                raise ValueError(f"{i.file}: {exc}") from None
            out.append(Input(i.file, codes.OIOXML_KIND[i.kind], twin))
        else:
            out.append(i)
    return out


def convert(inputs: Sequence[Input], to: str, fhir_format: str, context: Context, outcome: Outcome) -> None:
    if to == "edifact":
        _to_edifact(inputs, fhir_format, context, outcome)
    else:
        _to_oioxml(inputs, outcome)


def _to_oioxml(inputs: Sequence[Input], outcome: Outcome) -> None:
    from medcom_bridge.oioxml.validation import validate_bytes
    from medcom_bridge.shell.convert import Output

    sources = [i for i in inputs if i.kind in EDIFACT_KINDS]
    if not sources:
        outcome.problems.append("--to oioxml needs EDIFACT input (DIS91, BIN01, CTL01-03)")
    for i in inputs:
        if i.kind not in EDIFACT_KINDS:
            outcome.problems.append(f"{i.file}: a {i.kind} is not EDIFACT; --to oioxml converts EDIFACT")
    for twin in as_oioxml(sources):
        outcome.outputs.append(_output(twin.kind, twin.payload, validate_bytes(twin.payload), Output))


def _to_edifact(inputs: Sequence[Input], fhir_format: str, context: Context, outcome: Outcome) -> None:
    from medcom_bridge.edifact import codes, edifact_twin
    from medcom_bridge.edifact.validation import validate_bytes
    from medcom_bridge.shell.convert import Input, Output, _to_xdis91

    oioxml: list[Input] = []
    for i in inputs:
        if i.kind in OIOXML_KINDS:
            oioxml.append(i)
        elif i.kind == "carecommunication":
            via = type(outcome)()
            _to_xdis91([i], fhir_format, context, via)
            outcome.problems += via.problems
            oioxml += [Input(i.file, o.kind, o.payload) for o in via.outputs if o.report.valid]
            outcome.problems += [
                f"{i.file}: the {o.kind} made on the way is invalid: {'; '.join(map(str, o.report.errors[:3]))}"
                for o in via.outputs
                if not o.report.valid
            ]
        else:
            outcome.problems.append(
                f"{i.file}: a {i.kind} cannot be converted --to edifact (OIOXML or a CareCommunication)"
            )
    if not oioxml and not outcome.problems:
        outcome.problems.append(
            "--to edifact needs OIOXML (XDIS91, XBIN01, XCTL01-03) or a CareCommunication"
        )
    for i in oioxml:
        try:
            data = edifact_twin(i.payload)
        except ValueError as exc:
            outcome.problems.append(f"{i.file}: cannot convert to EDIFACT: {exc}")
            continue
        outcome.outputs.append(_output(codes.EDIFACT_KIND[i.kind], data, validate_bytes(data), Output))


def _output(kind: str, payload: bytes, report: Report, output: type[Output]) -> Output:
    """An Output with the ids and parties read from the converted message itself."""
    from medcom_bridge.edifact import is_edifact, read_facts
    from medcom_bridge.oioxml.codec import parse

    if is_edifact(payload):
        f = read_facts(payload)
        return output(kind, payload, f.letter_id, f.envelope_id, f.sender_ean, f.receiver_ean, report)
    m = parse(payload)
    body = m.body
    return output(
        kind,
        payload,
        body.letter.identifier,
        m.envelope.identifier,
        body.sender.ean_identifier,
        body.receiver.ean_identifier,
        report,
    )
