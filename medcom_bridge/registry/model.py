"""The register's plain values: SOR units, their location numbers, message-type registrations.

Everything here is immutable and knows nothing about files: the readers (`sor_xml`, `sor_edi`, `eer`) build
these values from bytes and `Register` indexes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Level = Literal["IE", "SI", "OE"]
Direction = Literal["receive", "send"]
Source = Literal["edi", "eer"]

LEVEL_NAMES: dict[str, str] = {
    "IE": "institution owner",
    "SI": "health institution",
    "OE": "organisational unit",
}


class RegisterInputError(ValueError):
    """An input file the register cannot use at all; `where` says line or element, `message` what was expected."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True, slots=True)
class ImportIssue:
    """Something in an input that was skipped or read with a default; reported beside the quality rules."""

    rule: str
    severity: Literal["error", "warning", "information"]
    line: int | None
    message: str
    ean: str | None = None
    sor: str | None = None


@dataclass(frozen=True, slots=True)
class Address:
    street: str | None
    number: str | None
    postcode: str | None
    district: str | None

    def __str__(self) -> str:
        first = " ".join(p for p in (self.street, self.number) if p)
        second = " ".join(p for p in (self.postcode, self.district) if p)
        return ", ".join(p for p in (first, second) if p)


@dataclass(frozen=True, slots=True)
class LocationNumber:
    """SOR's `EanLocationCodeEntity`: a location number owned by a unit, with its SOR-EDI administration."""

    ean: str
    only_internal: bool = False
    non_active: bool = False
    system_supplier: str | None = None
    system_type: str | None = None
    communication_supplier: str | None = None
    region: str | None = None
    edi_administrator: str | None = None
    note: str | None = None
    from_date: date | None = None
    to_date: date | None = None

    def closed(self, today: date) -> bool:
        return self.to_date is not None and self.to_date <= today

    def active(self, today: date) -> bool:
        return not self.non_active and not self.closed(today)


@dataclass(frozen=True, slots=True)
class Unit:
    """One SOR entity (institution owner, health institution or organisational unit).

    `effective_ean` is resolved at import: the own number, else (when `inherits`) the nearest ancestor's own
    number; `ean_from` is the SOR code of the unit that owns the effective number.
    """

    sor: str
    name: str
    level: Level
    parent: str | None
    line: int | None = None
    type_code: str | None = None
    own: LocationNumber | None = None
    inherits: bool | None = None
    effective_ean: str | None = None
    ean_from: str | None = None
    provider_id: str | None = None
    shak: str | None = None
    pharmacy: str | None = None
    local_code: str | None = None
    phone: str | None = None
    phone_inherited: bool = False
    postal: Address | None = None
    from_date: date | None = None
    to_date: date | None = None
    replaces: tuple[str, ...] = ()
    replaced_by: tuple[str, ...] = ()

    def closed(self, today: date) -> bool:
        return self.to_date is not None and self.to_date <= today

    def active(self, today: date) -> bool:
        return not self.closed(today)


@dataclass(frozen=True, slots=True)
class Registration:
    """One message type a location number can receive or send, from SOR-EDI or the EER."""

    ean: str
    code: str
    direction: Direction
    source: Source
    version: str | None = None
    uri: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class EerEndpoint:
    """An EER `Endpoint`: a GLN, what it receives (payloadType) and the SOR unit managing it."""

    gln: str
    status: str | None
    managing_sor: str | None
    period_start: str | None
    payload_uris: tuple[str, ...]
    line: int | None = None


@dataclass(frozen=True, slots=True)
class EerOrganization:
    sor: str
    name: str | None
    level: str | None
    part_of: str | None
    endpoint_glns: tuple[str, ...]
    active: bool | None
