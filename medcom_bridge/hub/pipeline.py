"""The seams between the hub and the pure parts it drives: identify, route, convert, answer.

The hub (`medcom_bridge.hub.runner`) owns files, database and time; these protocols are what it asks of the
domain code. Each takes bytes and values and returns values, so the envelope reader, the SOR-EDI router and
the converter plug in without the hub knowing their formats:

* `Identifier` — unwrap the VANSEnvelope and say what is inside (`Inbound`): kind, parties, ids, the
  attachment ids used for XDIS91/XBIN01 pairing, what a receipt acknowledges, and whether it is valid.
* `Router` — use case R1: does the receiver take the sender's format (pass through), or must it be converted,
  and which way? `referral_hub` marks attachments from DNHF, which are never held for pairing (§4.5.2).
* `Converter` — the conversion of a flow's inbound parts (S1, S2) and of its receipts (S3, S4, §7).
* `Answers` — the hub's own receipts to a sender (negative VANS receipt, XCTL01 / negative Acknowledgement)
  and the re-wrapping of a stored answer for a duplicate (§8: same content, new envelope ids).

None of these may raise for bad input: they return findings / reasons. Only `Identifier` raises
`Unreadable`, for bytes that are not a message at all (those go to quarantine).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from medcom_bridge.findings import Finding
from medcom_bridge.hub.causes import RejectCause
from medcom_bridge.hub.events import ReceiptVerdict
from medcom_bridge.hub.flow import Route
from medcom_bridge.hub.store import Correlation

LETTER_KINDS = frozenset({"xdis91", "carecommunication", "dis91"})
ATTACHMENT_KINDS = frozenset({"xbin01", "bin01"})
RECEIPT_KINDS = frozenset({"xctl01", "xctl02", "xctl03", "acknowledgement", "ctl01", "ctl02", "ctl03"})
FHIR_KINDS = frozenset({"carecommunication", "acknowledgement"})
EDIFACT_KINDS = frozenset({"dis91", "bin01", "ctl01", "ctl02", "ctl03"})


def format_of(kind: str) -> str:
    """The format a message kind is written in: 'fhir', 'edifact' or 'oioxml' (the SOR-EDI formats of R1)."""
    return "fhir" if kind in FHIR_KINDS else "edifact" if kind in EDIFACT_KINDS else "oioxml"


IdFactory = Callable[[], str]


class Unreadable(ValueError):
    """Bytes the hub cannot read as a message. `rule` is a stable id for the quarantine reason and statistics."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


@dataclass(frozen=True, slots=True)
class Inbound:
    """What identification learnt about one inbound file. Ids only, never patient data."""

    kind: str
    """xdis91, xbin01, xctl01-03, carecommunication, acknowledgement, dis91, bin01, ctl01-03 (architecture.md
    §3.1 kinds)."""
    sender_gln: str
    receiver_gln: str
    envelope_id: str
    """The transport envelope id (VANSEnvelope EnvelopeIdentifier)."""
    letter_id: str | None = None
    """OIOXML Letter/Identifier, EDIFACT UNH 0062 (its twin's Letter/Identifier) or FHIR MessageHeader.id."""
    message_envelope_id: str | None = None
    """OIOXML Envelope/Identifier, EDIFACT UNB 0020 (its twin's Envelope/Identifier) or FHIR Bundle.id."""
    version: str | None = None
    """OIOXML VersionCode (XD9134L ...), the EDIFACT message version (D9134L ...) or the FHIR profile version."""
    attachment_ids: tuple[str, ...] = ()
    """XDIS91/DIS91: referenced BIN object ids; XBIN01/BIN01: contained object ids. Normalised: lower case,
    no dashes."""
    acknowledges: str | None = None
    """Receipts: the letter id they answer (OriginalLetterIdentifier, Acknowledgement response.identifier)."""
    acknowledges_envelope: str | None = None
    """Receipts: the envelope id they answer (OriginalEnvelopeIdentifier); used when no letter id is given."""
    receipt: ReceiptVerdict | None = None
    """Receipts: positive (XCTL03, ok) or negative (XCTL01/02, fatal-error, transient-error)."""
    receipt_code: str | None = None
    """Receipts: the code the receipt itself gives, for statistics and the operator: a negative XCTL01/02 or
    CTL01/02 its RefuseCode (`ikke_specificeret` when it gives none), an Acknowledgement its response code
    (`fatal-error`, `transient-error`, `ok`); a positive XCTL03/CTL03 its kind."""
    receipt_text: str | None = None
    """Receipts: the receiver's own explanation of a refusal (RefuseText, FTX, OperationOutcome issue), CPR
    numbers masked and shortened (`hub.outcome.refusal_text`): free text of the receiver, kept in the trace."""
    receipt_requested: bool = True
    """OIOXML `pluspositivkvitt`; FHIR messages always request one."""
    findings: tuple[Finding, ...] = ()

    @property
    def valid(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def is_receipt(self) -> bool:
        return self.kind in RECEIPT_KINDS

    @property
    def first_error(self) -> str | None:
        errors = [f for f in self.findings if f.severity == "error"]
        return f"{errors[0].rule} {errors[0].path}: {errors[0].message}" if errors else None


class Identifier(Protocol):
    def identify(self, data: bytes, *, mailbox: str) -> Inbound:
        """Identify the file taken from `mailbox`'s out/ folder; raise Unreadable when it is not a message."""
        ...


class Decision(StrEnum):
    """R1: deliver unchanged, or convert to the receiver's format (the source is the message's own)."""

    PASS_THROUGH = "pass_through"
    TO_FHIR = "to_fhir"
    TO_OIOXML = "to_oioxml"
    TO_EDIFACT = "to_edifact"

    @property
    def target(self) -> str | None:
        """The target format ('fhir', 'oioxml', 'edifact'), None for pass-through."""
        return None if self is Decision.PASS_THROUGH else self.value.removeprefix("to_")


@dataclass(frozen=True, slots=True)
class RouteOutcome:
    decision: Decision | None
    """None: the register cannot route this message; `reason` says why."""
    reason: str | None = None
    referral_hub: bool = False
    """The sender is the national referral hub (DNHF): its attachments pass without the 60-minute wait."""
    xbin01_approved: bool = True
    """R1.A1: an OIOXML receiver not approved for XBIN01 still gets XDIS91 + XBIN01 (noted in the trace)."""


class Router(Protocol):
    def route(self, inbound: Inbound) -> RouteOutcome: ...


@dataclass(frozen=True, slots=True)
class Output:
    """One file for a receiver's in/ folder: a complete VANSEnvelope."""

    receiver_gln: str
    data: bytes
    kind: str
    envelope_id: str
    letter_id: str | None = None
    role: str = "letter"


@dataclass(frozen=True, slots=True)
class ConversionOutcome:
    outputs: tuple[Output, ...] = ()
    correlations: tuple[Correlation, ...] = ()
    findings: tuple[Finding, ...] = ()
    bundle_id: str | None = None
    record: bytes | None = None
    """The converter's full correlation record (§6, JSON), stored with the flow and given back to `answer`."""

    @property
    def ok(self) -> bool:
        return bool(self.outputs) and not any(f.severity == "error" for f in self.findings)


@dataclass(frozen=True, slots=True)
class Part:
    """One stored inbound message of a flow, as the converter gets it."""

    inbound: Inbound
    data: bytes


@dataclass(frozen=True, slots=True)
class ReceiptOutcome:
    """The answer to the original sender built from the receiver's receipt(s) (§7), or nothing yet."""

    outputs: tuple[Output, ...] = ()
    complete: bool = False
    """False: keep waiting for the partner receipt (two XCTL -> one Acknowledgement)."""
    verdict: ReceiptVerdict | None = None
    findings: tuple[Finding, ...] = field(default_factory=tuple)


class Converter(Protocol):
    def convert(
        self,
        flow_id: str,
        parts: Sequence[Part],
        *,
        now: datetime,
        new_id: IdFactory,
        route: Route | None = None,
    ) -> ConversionOutcome:
        """Convert a flow's parts in the flow's direction (`route`; None: from the parts' kinds, OIOXML <->
        FHIR). A missing XBIN01 gives empty attachment payloads (S1.A2/A3)."""
        ...

    def answer(
        self,
        flow_id: str,
        receipts: Sequence[Part],
        correlations: Sequence[Correlation],
        *,
        now: datetime,
        new_id: IdFactory,
        record: bytes | None = None,
    ) -> ReceiptOutcome:
        """Aggregate/convert the receipts collected so far per the tables of §7; `record` is the newest
        `ConversionOutcome.record` of the flow."""
        ...


class Answers(Protocol):
    def negative_vans_receipt(
        self,
        inbound: Inbound | None,
        data: bytes,
        cause: RejectCause,
        reason: str,
        *,
        mailbox: str,
        now: datetime,
        new_id: IdFactory,
    ) -> Output | None:
        """The hub's negative VANS receipt to the sender, or None when no receipt can be addressed."""
        ...

    def repeat(self, answer: bytes, *, now: datetime, new_id: IdFactory) -> bytes:
        """A stored answer again, same content, new envelope (and Bundle/MessageHeader) ids (§8)."""
        ...
