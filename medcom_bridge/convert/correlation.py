"""The correlation record every conversion yields (use cases §4.1; conversion-solution.md §6).

Without it a receipt in the other format cannot be matched to its message: an XCTL names the OIOXML envelope
and letter ids, an Acknowledgement names the FHIR MessageHeader.id, and the two were never the same value.
The hub stores the record as JSON (`to_json` / `from_json`) for the life of the flow (3 months).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["oioxml-to-fhir", "fhir-to-oioxml"]


@dataclass(frozen=True, slots=True)
class OioxmlLetter:
    """One OIOXML message of the flow: what an XCTL for it must name (OriginalEmessage)."""

    kind: Literal["xdis91", "xbin01"]
    envelope_id: str
    letter_id: str
    version_code: str
    sender_ean: str
    receiver_ean: str

    def to_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "envelope_id": self.envelope_id,
            "letter_id": self.letter_id,
            "version_code": self.version_code,
            "sender_ean": self.sender_ean,
            "receiver_ean": self.receiver_ean,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> OioxmlLetter:
        kind = data["kind"]
        if kind not in ("xdis91", "xbin01"):
            raise ValueError(f"unknown OIOXML letter kind {kind!r}")
        return OioxmlLetter(
            kind,
            str(data["envelope_id"]),
            str(data["letter_id"]),
            str(data["version_code"]),
            str(data["sender_ean"]),
            str(data["receiver_ean"]),
        )


@dataclass(frozen=True, slots=True)
class FhirParty:
    """Sender or receiver of the FHIR message, as an Acknowledgement must name it (GLN + SOR + name)."""

    ean: str
    sor: str | None = None
    name: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"ean": self.ean, "sor": self.sor, "name": self.name}

    @staticmethod
    def from_json(data: dict[str, Any]) -> FhirParty:
        return FhirParty(str(data["ean"]), data.get("sor"), data.get("name"))


@dataclass(frozen=True, slots=True)
class CorrelationRecord:
    """XDIS91 envelope id <-> Bundle.id (negative receipts), XDIS91 letter id <-> MessageHeader.id (all receipts),
    XDIS91 VersionCode; the same for each XBIN01; plus what an Acknowledgement needs to be built later."""

    direction: Direction
    bundle_id: str
    message_header_id: str
    xdis91: OioxmlLetter
    xbin01: tuple[OioxmlLetter, ...] = ()
    fhir_sender: FhirParty | None = None
    fhir_receiver: FhirParty | None = None
    #: The latest Provenance of the CareCommunication: an Acknowledgement carries a copy of it.
    provenance: dict[str, Any] | None = None
    #: Attachments the converter could not fill (S1.A2/S1.A3): negative receipts get the hub's text.
    incomplete: bool = False
    #: Attachment types outside the six were converted anyway (S1.A4): negative receipts get the hub's text.
    foreign_types: bool = False
    attachment_ids: tuple[str, ...] = field(default_factory=tuple)

    @property
    def letters(self) -> tuple[OioxmlLetter, ...]:
        return (self.xdis91, *self.xbin01)

    def to_json(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "bundle_id": self.bundle_id,
            "message_header_id": self.message_header_id,
            "xdis91": self.xdis91.to_json(),
            "xbin01": [x.to_json() for x in self.xbin01],
            "fhir_sender": self.fhir_sender.to_json() if self.fhir_sender else None,
            "fhir_receiver": self.fhir_receiver.to_json() if self.fhir_receiver else None,
            "provenance": self.provenance,
            "incomplete": self.incomplete,
            "foreign_types": self.foreign_types,
            "attachment_ids": list(self.attachment_ids),
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> CorrelationRecord:
        direction = data["direction"]
        if direction not in ("oioxml-to-fhir", "fhir-to-oioxml"):
            raise ValueError(f"unknown correlation direction {direction!r}")
        return CorrelationRecord(
            direction=direction,
            bundle_id=str(data["bundle_id"]),
            message_header_id=str(data["message_header_id"]),
            xdis91=OioxmlLetter.from_json(data["xdis91"]),
            xbin01=tuple(OioxmlLetter.from_json(x) for x in data.get("xbin01", [])),
            fhir_sender=FhirParty.from_json(data["fhir_sender"]) if data.get("fhir_sender") else None,
            fhir_receiver=FhirParty.from_json(data["fhir_receiver"]) if data.get("fhir_receiver") else None,
            provenance=data.get("provenance"),
            incomplete=bool(data.get("incomplete", False)),
            foreign_types=bool(data.get("foreign_types", False)),
            attachment_ids=tuple(str(a) for a in data.get("attachment_ids", [])),
        )
