"""What every conversion needs from outside, passed in so the core stays pure (no clock, no randomness, no files)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medcom_bridge.convert.correlation import CorrelationRecord
from medcom_bridge.directory import Directory, StaticDirectory
from medcom_bridge.findings import Finding, Report
from medcom_bridge.oioxml.model import AnyEmessage
from medcom_bridge.privacy import scrub


@dataclass(frozen=True, slots=True)
class Context:
    """`new_uuid` gives lower-case UUID v4 strings; `new_letter_id` gives OIOXML envelope/letter identifiers
    (1-14 characters); `directory` answers EAN -> SOR code, name, phone (the SOR register)."""

    new_uuid: Callable[[], str]
    new_letter_id: Callable[[], str]
    directory: Directory = field(default_factory=StaticDirectory)


class ConversionError(ValueError):
    """The input lacks something the conversion cannot do without; `rule`/`path` say what and where."""

    def __init__(self, rule: str, path: str, message: str) -> None:
        message = scrub(message)  # the reason is shown and stored: no CPR number in it (privacy.py)
        super().__init__(f"{rule} {path}: {message}")
        self.rule = rule
        self.path = path
        self.message = message

    def finding(self) -> Finding:
        return Finding("error", self.rule, self.path, self.message)


@dataclass(frozen=True, slots=True)
class FhirResult:
    """A converted CareCommunication or Acknowledgement (FHIR JSON object model) and its verdict."""

    bundle: dict[str, Any]
    report: Report
    correlation: CorrelationRecord | None = None


@dataclass(frozen=True, slots=True)
class OioxmlOutput:
    """One produced OIOXML document with the ids the VANSEnvelope and the receipts need."""

    kind: str
    data: bytes
    envelope_id: str
    letter_id: str
    report: Report
    message: AnyEmessage | None = None
    """The model `data` was serialized from, so a further conversion (to EDIFACT) need not parse it again."""


@dataclass(frozen=True, slots=True)
class OioxmlResult:
    """XDIS91 (+ XBIN01s) converted from a CareCommunication, or the XCTLs converted from an Acknowledgement."""

    outputs: tuple[OioxmlOutput, ...]
    report: Report
    correlation: CorrelationRecord | None = None

    def of_kind(self, kind: str) -> tuple[OioxmlOutput, ...]:
        return tuple(o for o in self.outputs if o.kind == kind)
