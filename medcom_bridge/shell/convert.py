"""The imperative shell of `medcom-bridge convert` (architecture.md §3.1): files, clock, ids and register in;
the pure converter in the middle; VANSEnvelope files and one JSON line per output out.

Receipts need the correlation the hub would have stored. The command is stateless, so it rebuilds it from the
messages given alongside: `--to acknowledgement` takes the XCTLs plus the CareCommunication they answer;
`--to xctl` takes the Acknowledgement plus the XDIS91 (and XBIN01) it answers.
"""

from __future__ import annotations

import json
import secrets
import string
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medcom_bridge.convert.context import Context, ConversionError
from medcom_bridge.directory import Directory, StaticDirectory
from medcom_bridge.findings import Finding, Report

if TYPE_CHECKING:
    from medcom_bridge.oioxml.model import BinaryLetter, ClinicalEmail, Emessage

TARGETS = ("carecommunication", "xdis91", "acknowledgement", "xctl", "edifact", "oioxml")
_ALPHABET = string.ascii_uppercase + string.digits


def new_letter_id() -> str:
    """OIOXML envelope/letter identifier: 14 random upper-case alphanumerics (as OS2korrespondance does)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(14))


def live_context(directory: Directory) -> Context:
    return Context(new_uuid=lambda: str(uuid.uuid4()), new_letter_id=new_letter_id, directory=directory)


def load_directory(sor: Path | None, edi: Path | None) -> Directory:
    """The register from an official SOR XML export (+ SOR-EDI CSV), or an empty one.

    Raises `shell.register.RegisterLoadError` (one line: file, line, what was expected)."""
    if sor is None:
        return StaticDirectory()
    from medcom_bridge.shell.register import load_register

    return load_register(sor, edi)


@dataclass(slots=True)
class Input:
    file: str
    kind: str
    payload: bytes


@dataclass(slots=True)
class Output:
    kind: str
    payload: bytes
    letter_id: str
    envelope_id: str
    sender_ean: str
    receiver_ean: str
    report: Report


@dataclass(slots=True)
class Outcome:
    outputs: list[Output] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_input(file: str, data: bytes) -> Input:
    """Detect the kind; unwrap a VANSEnvelope to its payload. Raises ValueError with the reason."""
    from medcom_bridge.documents import detect_kind
    from medcom_bridge.envelope.vans import EnvelopeError, unwrap

    kind = detect_kind(data)
    if kind == "vansenvelope":
        try:
            envelope = unwrap(data)
        except EnvelopeError as exc:
            raise ValueError(f"VANSEnvelope: {exc}") from None
        message = envelope.message
        if message is None:
            raise ValueError("the VANSEnvelope is a receipt and carries no message")
        data = message.data
        kind = detect_kind(data)
    return Input(file, kind, data)


def _fhir(payload: bytes) -> dict[str, Any]:
    from medcom_bridge.fhir.codec import parse

    bundle, _ = parse(payload)
    return bundle


def _fhir_bytes(bundle: dict[str, Any], fmt: str) -> bytes:
    from medcom_bridge.fhir.codec import to_json, to_xml

    return to_xml(bundle, pretty=True) if fmt == "xml" else to_json(bundle, pretty=True)


def _ean(bundle: dict[str, Any], which: str) -> str:
    from medcom_bridge.convert.fhirview import BundleView, as_dict, as_list, identifier
    from medcom_bridge.convert.tables import SYSTEM_GLN, SYSTEM_GLN_OLD

    view = BundleView(bundle)
    header = view.first("MessageHeader") or {}
    if which == "sender":
        org = view.resolve(header.get("sender"))
    else:
        dest = as_list(header.get("destination"))
        org = view.resolve(as_dict(dest[0]).get("receiver")) if dest else None
    return identifier(org, SYSTEM_GLN, SYSTEM_GLN_OLD) or ""


def convert(inputs: Sequence[Input], to: str, fhir_format: str, context: Context) -> Outcome:
    """Run the conversion the inputs and `--to` call for; problems are collected, never raised."""
    from medcom_bridge.shell import edifact

    outcome = Outcome()
    try:
        if edifact.handles(inputs, to):
            edifact.convert(inputs, to, fhir_format, context, outcome)
            return outcome
        inputs = edifact.as_oioxml(inputs)  # DIS91/BIN01/CTL read as their OIOXML twins
        {
            "carecommunication": _to_carecommunication,
            "xdis91": _to_xdis91,
            "acknowledgement": _to_acknowledgement,
            "xctl": _to_xctl,
        }[to](inputs, fhir_format, context, outcome)
    except ConversionError as exc:
        outcome.problems.append(str(exc))
    except ValueError as exc:  # parse errors of the codecs name rule and place in their message
        outcome.problems.append(f"cannot convert: {exc}")
    return outcome


def _of(inputs: Sequence[Input], *kinds: str) -> list[Input]:
    return [i for i in inputs if i.kind in kinds]


def _unexpected(inputs: Sequence[Input], allowed: set[str], to: str, outcome: Outcome) -> None:
    for i in inputs:
        if i.kind not in allowed:
            outcome.problems.append(f"{i.file}: a {i.kind} cannot be converted --to {to}")


def _to_carecommunication(inputs: Sequence[Input], fmt: str, ctx: Context, outcome: Outcome) -> None:
    from medcom_bridge.convert.oioxml_to_fhir import xdis91_to_carecommunication
    from medcom_bridge.oioxml.codec import parse_xbin01, parse_xdis91
    from medcom_bridge.oioxml.model import uuid_without_dashes

    _unexpected(inputs, {"xdis91", "xbin01"}, "carecommunication", outcome)
    letters = [(i, parse_xdis91(i.payload)) for i in _of(inputs, "xdis91")]
    binaries = [(i, parse_xbin01(i.payload)) for i in _of(inputs, "xbin01")]
    if not letters:
        outcome.problems.append("--to carecommunication needs an XDIS91 (and its XBIN01, if any)")
        return
    unclaimed = list(binaries)
    for source, letter in letters:
        wanted = {
            uuid_without_dashes(r.bin.object_identifier).lower() for r in letter.body.reference if r.bin
        }
        mine = [
            b
            for _, b in binaries
            if any(uuid_without_dashes(o.object_identifier).lower() in wanted for o in b.body.binary_object)
        ]
        unclaimed = [(i, b) for i, b in unclaimed if not any(b is m for m in mine)]
        if len(letters) == 1:
            mine += [b for _, b in unclaimed]
        missing = _missing_objects(letter, mine)
        if missing:
            # The hub may send a letter without its late XBIN01 (use cases S1.A2/S1.A3, after the pairing
            # timer); this stateless command has no timer, and the result would fail our own validator.
            outcome.problems.append(
                f"{source.file}: XDIS91 letter {letter.body.letter.identifier} refers to "
                + ", ".join(missing)
                + " in an XBIN01 that was not given; pass the XBIN01 alongside the XDIS91. Not converted"
            )
            continue
        result = xdis91_to_carecommunication(letter, mine, context=ctx)
        bundle = result.bundle
        outcome.outputs.append(
            Output(
                "carecommunication",
                _fhir_bytes(bundle, fmt),
                bundle["entry"][0]["resource"]["id"],
                bundle["id"],
                letter.body.sender.ean_identifier,
                letter.body.receiver.ean_identifier,
                result.report,
            )
        )


def _missing_objects(
    letter: Emessage[ClinicalEmail], binaries: Sequence[Emessage[BinaryLetter]]
) -> list[str]:
    """The XBIN01 objects the XDIS91 references that none of `binaries` carries, described for a person."""
    from medcom_bridge.oioxml.model import same_object_id

    carried = [o.object_identifier for b in binaries for o in b.body.binary_object]
    return [
        f"object {r.bin.object_identifier} ({r.bin.object_code}, .{r.bin.object_extension_code})"
        for r in letter.body.reference
        if r.bin is not None and not any(same_object_id(c, r.bin.object_identifier) for c in carried)
    ]


def _to_xdis91(inputs: Sequence[Input], fmt: str, ctx: Context, outcome: Outcome) -> None:
    from medcom_bridge.convert.fhir_to_oioxml import convert_carecommunication

    _unexpected(inputs, {"carecommunication"}, "xdis91", outcome)
    sources = _of(inputs, "carecommunication")
    if not sources:
        outcome.problems.append("--to xdis91 needs a CareCommunication")
    for source in sources:
        bundle = _fhir(source.payload)
        result = convert_carecommunication(bundle, context=ctx)
        for out in result.outputs:
            outcome.outputs.append(
                Output(
                    out.kind,
                    out.data,
                    out.letter_id,
                    out.envelope_id,
                    result.correlation.xdis91.sender_ean if result.correlation else _ean(bundle, "sender"),
                    result.correlation.xdis91.receiver_ean
                    if result.correlation
                    else _ean(bundle, "receiver"),
                    out.report,
                )
            )


def _to_acknowledgement(inputs: Sequence[Input], fmt: str, ctx: Context, outcome: Outcome) -> None:
    from medcom_bridge.convert.receipts import correlation_from_xctls, xctl_to_acknowledgement
    from medcom_bridge.oioxml.codec import parse

    _unexpected(inputs, {"xctl01", "xctl02", "xctl03", "carecommunication"}, "acknowledgement", outcome)
    originals = _of(inputs, "carecommunication")
    receipts = [parse(i.payload) for i in _of(inputs, "xctl01", "xctl02", "xctl03")]
    if len(originals) != 1 or not receipts:
        outcome.problems.append(
            "--to acknowledgement needs the XCTL receipts and the one CareCommunication they answer "
            "(its ids are the correlation the hub would have stored)"
        )
        return
    bundle = _fhir(originals[0].payload)
    correlation, xdis_receipt, xbin_receipts = correlation_from_xctls(bundle, receipts)  # type: ignore[arg-type]
    result = xctl_to_acknowledgement(xdis_receipt, xbin_receipts, correlation, context=ctx)
    if result is None:
        outcome.problems.append(
            "a receipt is missing (use cases table 4: no Acknowledgement is sent; the sender resends)"
        )
        return
    ack = result.bundle
    outcome.outputs.append(
        Output(
            "acknowledgement",
            _fhir_bytes(ack, fmt),
            ack["entry"][0]["resource"]["id"],
            ack["id"],
            correlation.xdis91.receiver_ean,
            correlation.xdis91.sender_ean,
            result.report,
        )
    )


def _to_xctl(inputs: Sequence[Input], fmt: str, ctx: Context, outcome: Outcome) -> None:
    from medcom_bridge.convert.receipts import acknowledgement_to_xctl, correlation_from_oioxml
    from medcom_bridge.oioxml.codec import parse_xbin01, parse_xdis91

    _unexpected(inputs, {"acknowledgement", "xdis91", "xbin01"}, "xctl", outcome)
    acks = _of(inputs, "acknowledgement")
    letters = [parse_xdis91(i.payload) for i in _of(inputs, "xdis91")]
    if len(acks) != 1 or len(letters) != 1:
        outcome.problems.append(
            "--to xctl needs the Acknowledgement and the one XDIS91 (with its XBIN01s) it answers "
            "(their ids are the correlation the hub would have stored)"
        )
        return
    ack = _fhir(acks[0].payload)
    correlation = correlation_from_oioxml(
        ack, letters[0], [parse_xbin01(i.payload) for i in _of(inputs, "xbin01")]
    )
    result = acknowledgement_to_xctl(ack, correlation, context=ctx)
    for out, letter in zip(result.outputs, correlation.letters, strict=True):
        outcome.outputs.append(
            Output(
                out.kind,
                out.data,
                out.letter_id,
                out.envelope_id,
                letter.receiver_ean,
                letter.sender_ean,
                out.report,
            )
        )


def write_outputs(
    outcome: Outcome, out_dir: Path, now: datetime, echo: Callable[[str], None]
) -> tuple[list[str], list[Finding]]:
    """Wrap each valid output in its own VANSEnvelope, write it, print its JSON line; return invalid ones."""
    from medcom_bridge.envelope.vans import EnvelopeError, wrap

    problems: list[str] = []
    errors: list[Finding] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for out in outcome.outputs:
        if not out.report.valid:
            errors += out.report.errors
            # The converter's warnings often name the cause (e.g. convert-sor-unknown: pass --sor), the
            # validator's errors only the effect: show the cause first.
            causes = [f for f in out.report.findings if f.severity == "warning"]
            unknown_sor = [f for f in causes if f.rule == "convert-sor-unknown"]
            lead = f"{out.kind} {out.letter_id}: the converted message is invalid; not written"
            if unknown_sor:
                lead += " (give --sor FILE, a SOR XML export that knows the parties' location numbers)"
            # One short line to act on, then one line per cause and per error (never one 1,000-character line).
            problems.append("\n".join([lead + ":", *(f"  {f}" for f in [*causes, *out.report.errors[:5]])]))
            continue
        try:
            envelope = wrap(
                out.payload,
                sender_ean=out.sender_ean,
                receiver_ean=out.receiver_ean,
                envelope_id=str(uuid.uuid4()),
                message_id=str(uuid.uuid4()),
                sent=now,
                kind=out.kind
                if out.kind in ("carecommunication", "acknowledgement", "xdis91", "xbin01")
                else None,
            )
        except EnvelopeError as exc:  # e.g. a location number with a wrong check digit in the source message
            problems.append(f"{out.kind} {out.letter_id}: cannot wrap in a VANSEnvelope: {exc}")
            continue
        path = out_dir / f"{out.kind}-{out.letter_id}.xml"  # a VANSEnvelope is XML, whatever it carries
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(envelope)
        tmp.replace(path)
        echo(
            json.dumps(
                {
                    "file": str(path),
                    "kind": out.kind,
                    "letter_id": out.letter_id,
                    "envelope_id": out.envelope_id,
                },
                ensure_ascii=False,
            )
        )
    return problems, errors


def now_utc() -> datetime:
    return datetime.now(UTC)


def run(
    files: Sequence[tuple[str, bytes]],
    to: str,
    fhir_format: str,
    directory: Directory,
    out_dir: Path,
    echo: Callable[..., Any],
) -> int:
    """The whole command after argument parsing; returns the exit code (0 ok, 1 not convertible, 2 usage)."""
    inputs: list[Input] = []
    problems: list[str] = []
    for name, data in files:
        try:
            inputs.append(read_input(name, data))
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    context = live_context(directory)
    outcome = convert(inputs, to, fhir_format, context) if inputs else Outcome()
    not_written, _ = write_outputs(outcome, out_dir, now_utc(), echo)
    for problem in [*problems, *outcome.problems, *not_written]:
        echo(problem, err=True)
    return 1 if problems or outcome.problems or not_written else 0
