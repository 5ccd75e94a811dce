"""What the hub needs to know about an EDIFACT message without converting it: parties, ids, receipts.

`facts(interchange)` reads the UNB/UNH header and the few segments that identify a message in a flow:
the BIN object ids a DIS91 references (FTX+BIN) or a BIN01 carries (UNO), and for a CTL which envelope and
letters it answers and whether it is positive (CTL03) or a refusal (CTL01/02, with the refuse code).
Object ids are given as MedCom's XDIS91 writes them: 32 hex digits without dashes, upper case.
"""

from __future__ import annotations

from dataclasses import dataclass

from medcom_bridge.edifact import codes
from medcom_bridge.edifact.syntax import Interchange, Segment


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """What a CTL answers: the original interchange, its letters, and the verdict."""

    envelope_id: str
    sender_ean: str  # the original sender (who gets this receipt)
    receiver_ean: str  # the original receiver (who sends it)
    letter_ids: tuple[str, ...]
    positive: bool  # CTL03
    refuse_code: str | None  # OIOXML RefuseCode of the first refusal (envelope level first), if any
    refuse_text: str | None = None  # the refusals' FTX text, as a reader sees it (plain, one run per FTX)


@dataclass(frozen=True, slots=True)
class Facts:
    kind: str  # dis91, bin01, ctl01, ctl02, ctl03 (or 'edifact' for a message type we do not read)
    version: str  # UNH S009 0057: D9134L, B0131X, C0n30Q
    sender_ean: str  # UNB 0004
    receiver_ean: str  # UNB 0010
    envelope_id: str  # UNB 0020 (OIOXML Envelope/Identifier)
    letter_id: str  # UNH 0062 (OIOXML Letter/Identifier)
    ack_requested: bool  # UNB 0031 = 1 (pluspositivkvitt)
    referenced_objects: tuple[str, ...] = ()  # DIS91: FTX+BIN object ids
    contained_objects: tuple[str, ...] = ()  # BIN01: UNO object ids
    acknowledges: Acknowledged | None = None  # CTL only


def _ftx_text(ftx: Segment) -> str:
    """The text components of an FTX (element 4) as one line (a `\\` continuation or `.` empty line aside)."""
    comps = ftx.elements[3] if len(ftx.elements) > 3 else ()
    return " ".join(c.removesuffix("\\").strip() for c in comps if c and c != ".")


def _object_id(value: str) -> str:
    return value.replace("-", "").upper()


def facts(ic: Interchange) -> Facts:
    """The identification facts of the interchange's (first) message."""
    message: tuple[Segment, ...] = ()
    for _, m in ic.messages():
        message = m
        break
    unh = message[0] if message else Segment("UNH")
    version = unh.value(2, 5)
    kind = codes.KIND_OF_VERSION.get(version, "edifact")
    body = message[1:-1]
    referenced = tuple(_object_id(s.value(4, 2)) for s in body if s.tag == "FTX" and s.value(1) == "BIN")
    contained = tuple(_object_id(s.value(2, 2)) for s in body if s.tag == "UNO")
    acknowledged = None
    if kind.startswith("ctl"):
        uci = next((s for s in body if s.tag == "UCI"), Segment("UCI"))
        refusals = [s.value(1) for s in body if s.tag == "FTX"]
        said = [_ftx_text(s) for s in body if s.tag == "FTX"]
        acknowledged = Acknowledged(
            envelope_id=uci.value(1),
            sender_ean=uci.value(2),
            receiver_ean=uci.value(3),
            letter_ids=tuple(s.value(1) for s in body if s.tag == "UCM"),
            positive=kind == "ctl03",
            refuse_code=codes.REFUSE_QUALIFIER.get(refusals[0]) if refusals else None,
            refuse_text=" ".join(t for t in said if t.strip()) or None,
        )
    return Facts(
        kind=kind,
        version=version,
        sender_ean=ic.sender,
        receiver_ean=ic.recipient,
        envelope_id=ic.control_reference,
        letter_id=unh.value(1),
        ack_requested=ic.acknowledgement_request == "1",
        referenced_objects=referenced,
        contained_objects=contained,
        acknowledges=acknowledged,
    )
