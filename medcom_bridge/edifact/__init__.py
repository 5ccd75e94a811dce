"""EDIFACT DIS91 (D9134L), BIN01 (B0131X) and CTL01/02/03 (C0n30Q): codec, validator, and the exact
conversion to and from their OIOXML twins as MedCom's own converter does it. Pure: bytes and models in,
bytes and models out; no files, clock or globals.

Modules
-------
* `syntax` — UNOC:3 interchanges: `parse(bytes) -> Interchange` (UNA, release character, UNB..UNZ, UNO binary
  objects as bytes) and `serialize(Interchange) -> bytes`, byte-exact; `EdifactSyntaxError(rule, path, message)`.
* `validation` — `validate_bytes(bytes) -> Report` with rule ids and segment paths (`S14/FTX[3]`).
* `convert` — `to_edifact(AnyEmessage) -> Interchange`, `to_oioxml(Interchange) -> AnyEmessage`;
  `EdifactConversionError(cause: Cause, path, message)` where MedCom's converter refuses.
* `ftx` — the FTX text rules (70-character lines, continuation, empty lines, format codes).
* `facts` — `facts(Interchange) -> Facts`: what the hub routes and correlates on.
* `codes` — MedCom's code tables (identifier codes, specialities, episode status, object types, kinds).

API for the hub (all pure)
--------------------------
* `edifact_twin(message_or_bytes) -> bytes` — the EDIFACT twin of an OIOXML message (a parsed
  `oioxml.model.Emessage`, or OIOXML bytes parsed once here).
* `oioxml_twin(interchange_or_bytes) -> AnyEmessage` — the OIOXML twin of an EDIFACT DIS91/BIN01/CTL; serialize
  it with `oioxml.codec.serialize`.
* `read_facts(interchange_or_bytes) -> Facts` — `kind` (dis91, bin01, ctl01..ctl03), `version`, `sender_ean`,
  `receiver_ean`, `envelope_id` (UNB 0020), `letter_id` (UNH 0062), `ack_requested`, `referenced_objects`
  (DIS91 FTX+BIN ids), `contained_objects` (BIN01 UNO ids; both 32 upper-case hex digits, as XDIS91 writes
  them), and for a CTL `acknowledges`: the original `envelope_id`, `letter_ids`, `sender_ean`/`receiver_ean`,
  `positive` (CTL03) and `refuse_code` (OIOXML RefuseCode of a CTL01/02).
* `is_edifact(bytes) -> bool` — whether bytes look like an EDIFACT interchange (UNA or UNB first).
* `ENVELOPE_DOCUMENT[kind] -> (Name, Version)` — the VANSEnvelope Document of each kind
  (`MCM:DIS91`/`D9134L`, `MCM:BIN01`/`B0131X`, `MCM:CTL0n`/`C0n30Q`; Format `EDIFACT`).

Errors: `syntax.EdifactSyntaxError` for bytes that are not an interchange, `convert.EdifactConversionError`
for a message MedCom's converter would refuse, `oioxml.codec.OioxmlError` for unreadable OIOXML; all are
`ValueError`s whose text names rule, place and limit, never patient data. Decisions where MedCom's converter
and its documents disagree: NOTES.md beside this file.
"""

from __future__ import annotations

from medcom_bridge.edifact import codes
from medcom_bridge.edifact.convert import EdifactConversionError, to_edifact, to_oioxml
from medcom_bridge.edifact.facts import Acknowledged, Facts, facts
from medcom_bridge.edifact.syntax import EdifactSyntaxError, Interchange, parse, serialize
from medcom_bridge.oioxml.model import AnyEmessage

EDIFACT_KINDS = tuple(codes.KINDS)
ENVELOPE_FORMAT = "EDIFACT"
ENVELOPE_DOCUMENT: dict[str, tuple[str, str]] = {k: (f"MCM:{v[2]}", v[1]) for k, v in codes.KINDS.items()}

__all__ = [
    "EDIFACT_KINDS",
    "ENVELOPE_DOCUMENT",
    "ENVELOPE_FORMAT",
    "Acknowledged",
    "EdifactConversionError",
    "EdifactSyntaxError",
    "Facts",
    "Interchange",
    "edifact_twin",
    "is_edifact",
    "oioxml_twin",
    "read_facts",
]


def is_edifact(data: bytes) -> bool:
    head = data.lstrip(b" \t\r\n")[:3]
    return head in (b"UNA", b"UNB")


def edifact_twin(message: AnyEmessage | bytes) -> bytes:
    """OIOXML (model or bytes) -> EDIFACT bytes, exactly as MedCom's converter writes them."""
    if isinstance(message, bytes):
        from medcom_bridge.oioxml.codec import parse as parse_oioxml

        message = parse_oioxml(message)
    return serialize(to_edifact(message))


def oioxml_twin(interchange: Interchange | bytes) -> AnyEmessage:
    """EDIFACT (parsed or bytes) -> the OIOXML model MedCom's converter would produce."""
    if isinstance(interchange, bytes):
        interchange = parse(interchange)
    return to_oioxml(interchange)


def read_facts(interchange: Interchange | bytes) -> Facts:
    """The identification facts (parties, ids, objects, what a CTL acknowledges) of an EDIFACT message."""
    if isinstance(interchange, bytes):
        interchange = parse(interchange)
    return facts(interchange)
