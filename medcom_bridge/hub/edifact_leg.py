"""The hub's EDIFACT leg: DIS91, BIN01 and CTL01-03 in and out of the hub, through their OIOXML twins.

The hub converts only OIOXML <-> FHIR itself (`convert/`); EDIFACT reaches it and leaves it as the twin of an
OIOXML message, exactly as MedCom's converter (and so a VANS) writes it (`medcom_bridge.edifact`). So an
EDIFACT letter to a FHIR receiver is read into its XDIS91 (+ XBIN01) model and converted from there, a FHIR
letter to an EDIFACT-only receiver is converted to the XDIS91 (+ XBIN01) model and written as DIS91 (+ BIN01),
and receipts take the same way back (CTL -> XCTL -> Acknowledgement; Acknowledgement -> XCTL -> CTL). The
twins keep the OIOXML ids (UNB 0020 = Envelope/Identifier, UNH 0062 = Letter/Identifier), so receipts
correlate on the same ids either way.

Pure: models and bytes in, models, bytes and reports out. Every EDIFACT message written is checked by our
EDIFACT validator; every OIOXML twin read is checked against MedCom's schema before it is delivered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from medcom_bridge.documents import validate_as
from medcom_bridge.edifact import EdifactSyntaxError, Facts, codes, read_facts
from medcom_bridge.edifact.convert import (
    MAX_FTX_FIRST_S14,
    MAX_FTX_S14,
    Cause,
    EdifactConversionError,
    to_edifact,
    to_oioxml,
)
from medcom_bridge.edifact.ftx import to_ftx
from medcom_bridge.edifact.syntax import parse, serialize
from medcom_bridge.edifact.validation import validate
from medcom_bridge.findings import Finding, Report, error
from medcom_bridge.oioxml import codec as oioxml_codec
from medcom_bridge.oioxml.model import (
    AnyEmessage,
    BinaryLetter,
    ClinicalEmail,
    ClinicalInformation,
    Emessage,
    NegativeReceipt,
    NegativeVansReceipt,
    PositiveReceipt,
)
from medcom_bridge.oioxml.receipts import OriginalFacts
from medcom_bridge.oioxml.text import Break, FormattedText, Node

EDIFACT_LETTERS = frozenset({"dis91", "bin01"})
MAX_CLINICAL_INFORMATION = 10
"""ClinicalInformation blocks of one XDIS91 (its schema), i.e. S14 text groups of one DIS91."""
CTL_KINDS = frozenset({"ctl01", "ctl02", "ctl03"})
OIOXML_TWIN = codes.OIOXML_KIND
"""EDIFACT kind -> the OIOXML kind of its twin (dis91 -> xdis91 ...)."""
EDIFACT_TWIN = codes.EDIFACT_KIND
"""OIOXML kind -> the EDIFACT kind of its twin (xdis91 -> dis91 ...)."""


@dataclass(frozen=True, slots=True)
class Written:
    """A message written in the other format: its bytes, kind, OIOXML-twin ids and the validator's report."""

    data: bytes
    kind: str
    envelope_id: str
    letter_id: str
    report: Report


def identify(kind: str, payload: bytes) -> tuple[Facts | None, Report]:
    """Parse an EDIFACT payload once: its identification facts and the validator's report. Bytes that are no
    interchange give no facts and a report with the syntax error (the sender gets no CTL01: we cannot name
    what we would refuse)."""
    try:
        interchange = parse(payload)
    except EdifactSyntaxError as exc:
        return None, Report(kind, None, (error(exc.rule, exc.path, exc.message),))
    return read_facts(interchange), validate(interchange)


def original_facts(payload: bytes) -> OriginalFacts | None:
    """What a CTL01 for a refused DIS91/BIN01 names (envelope, letter, version, parties), or None when not even
    the UNB/UNH header names them. The version is the EDIFACT one (D9134L), so the CTL01's UCM names the
    message type the sender sent. Like `oioxml.receipts.peek_original`, a broken interchange (a wrong count,
    a missing UNZ) is still answered when its header can be read."""
    try:
        facts = read_facts(parse(payload))
    except EdifactSyntaxError:
        return _peek_header(payload)
    if not (facts.envelope_id and facts.letter_id and facts.sender_ean and facts.receiver_ean):
        return _peek_header(payload)
    return OriginalFacts(
        facts.envelope_id, facts.letter_id, facts.version, facts.sender_ean, facts.receiver_ean
    )


# MedCom's service characters (UNA:+.? '); ids as OIOXML writes them (1-14 letters and digits).
_UNB = re.compile(rb"UNB\+UNOC:3\+(\d{13}):14\+(\d{13}):14\+\d{6}:\d{4}\+([A-Za-z0-9]{1,14})[+']")
_UNH = re.compile(rb"'UNH\+([A-Za-z0-9]{1,14})\+[A-Z]{6}:D:93A:UN:([A-Z0-9]{6})[+']")
_HEADER_BYTES = 4096


def _peek_header(payload: bytes) -> OriginalFacts | None:
    head = payload[:_HEADER_BYTES]
    unb, unh = _UNB.search(head), _UNH.search(head)
    if unb is None or unh is None or unh.group(2).decode() not in codes.KIND_OF_VERSION:
        return None
    sender, receiver, envelope = (g.decode() for g in unb.groups())
    return OriginalFacts(envelope, unh.group(1).decode(), unh.group(2).decode(), sender, receiver)


def refusal(exc: EdifactConversionError) -> Finding:
    """Where MedCom's converter (and so the hub) refuses: the rule, the place and the limit."""
    return error(exc.cause.value, exc.path, exc.message)


def to_edifact_message(message: AnyEmessage) -> Written:
    """The EDIFACT twin of an OIOXML model (raises `EdifactConversionError` where MedCom's converter refuses)."""
    interchange = to_edifact(message)
    report = validate(interchange)
    kind = EDIFACT_TWIN[message.kind]
    ids = message.envelope.identifier, message.body.letter.identifier
    return Written(serialize(interchange), kind, *ids, report)


def fit_clinical_text(message: Emessage[ClinicalEmail]) -> Emessage[ClinicalEmail]:
    """The letter with its text in as many ClinicalInformation blocks as a DIS91 needs (one S14 group each,
    at most 8 FTX in the first beside the subject, 9 in the others), cut at line breaks: what
    oioxml-legacy.md's decision table asks for a receiver that needs it ("split into several
    ClinicalInformation blocks only when a receiver is configured to need it"). A text that fits is returned
    unchanged, so an ordinary letter is written exactly as MedCom's converter writes it. Raises
    `EdifactConversionError` when the text needs more than the 10 blocks an XDIS91 holds (31,150 characters)
    or one line alone is longer than a block."""
    body = message.body
    infos = body.clinical_information
    subject = body.additional_information.subject if body.additional_information else None
    first_limit = MAX_FTX_FIRST_S14 if subject is not None else MAX_FTX_S14
    limits = [first_limit if i == 0 else MAX_FTX_S14 for i in range(len(infos))]
    if all(len(to_ftx("NC", i.text01.content)) <= n for i, n in zip(infos, limits, strict=True)):
        return message
    blocks: list[list[Node]] = []
    for info in infos:
        blocks += _cut(info.text01.content, first_limit if not blocks else MAX_FTX_S14)
    if len(blocks) > MAX_CLINICAL_INFORMATION:
        raise EdifactConversionError(
            Cause.TOO_MANY_FTX,
            "ClinicalInformation",
            f"the text needs {len(blocks)} S14 groups; a DIS91 (and an XDIS91) holds at most "
            f"{MAX_CLINICAL_INFORMATION} (31,150 characters)",
        )
    fitted = tuple(ClinicalInformation(FormattedText(tuple(b))) for b in blocks)
    return replace(message, body=replace(body, clinical_information=fitted))


def _cut(content: tuple[Node, ...], first_limit: int) -> list[list[Node]]:
    """Consecutive lines (cut after each top-level Break) in blocks of at most the S14 group's FTX budget."""
    lines: list[list[Node]] = [[]]
    for node in content:
        lines[-1].append(node)
        if isinstance(node, Break):
            lines.append([])
    blocks: list[list[Node]] = [[]]
    limit = first_limit
    for line in lines:
        if blocks[-1] and len(to_ftx("NC", blocks[-1] + line)) > limit:
            blocks.append([])
            limit = MAX_FTX_S14
        blocks[-1] += line
    return [b for b in blocks if b]


def to_oioxml_message(payload: bytes) -> tuple[AnyEmessage, Written]:
    """The OIOXML twin of EDIFACT bytes: the model (for a further conversion) and the bytes checked against
    MedCom's schema (for delivery). Raises `EdifactSyntaxError` / `EdifactConversionError`."""
    message = to_oioxml(parse(payload))
    data = oioxml_codec.serialize(message)
    report = validate_as(message.kind, data)
    ids = message.envelope.identifier, message.body.letter.identifier
    return message, Written(data, message.kind, *ids, report)


def read_twin(kind: str, payload: bytes) -> AnyEmessage:
    """An OIOXML payload as its model, an EDIFACT one as its OIOXML twin's model (parsed once either way)."""
    if kind in OIOXML_TWIN:
        return to_oioxml(parse(payload))
    return oioxml_codec.parse(payload)


def clinical(message: AnyEmessage) -> Emessage[ClinicalEmail]:
    if not isinstance(message.body, ClinicalEmail):
        raise ValueError(f"expected a DIS91/XDIS91, found {message.kind}")
    return message


def binary(message: AnyEmessage) -> Emessage[BinaryLetter]:
    if not isinstance(message.body, BinaryLetter):
        raise ValueError(f"expected a BIN01/XBIN01, found {message.kind}")
    return message


def is_positive(receipt: AnyEmessage) -> bool:
    return isinstance(receipt.body, PositiveReceipt)


def receipt_body(message: AnyEmessage) -> PositiveReceipt | NegativeReceipt | NegativeVansReceipt | None:
    """The receipt an XCTL (or a CTL's twin) holds, None for a letter."""
    body = message.body
    return body if isinstance(body, PositiveReceipt | NegativeReceipt | NegativeVansReceipt) else None
