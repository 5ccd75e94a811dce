"""Validation findings shared by every validator (FHIR, OIOXML, envelope, register).

A finding is what a person needs to fix a message: how bad it is, which rule (MedCom's own id where one
exists), where (an element path), and what was found versus what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from medcom_bridge.privacy import scrub

Severity = Literal["error", "warning", "information"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "information")


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    rule: str
    path: str
    message: str

    def __post_init__(self) -> None:
        # Whichever rule wrote the message, a CPR number in it never leaves (privacy.py says why).
        object.__setattr__(self, "message", scrub(self.message))

    def to_json(self) -> dict[str, str]:
        return {"severity": self.severity, "rule": self.rule, "path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.severity} {self.rule} {self.path}: {self.message}"


def error(rule: str, path: str, message: str) -> Finding:
    return Finding("error", rule, path, message)


def warning(rule: str, path: str, message: str) -> Finding:
    return Finding("warning", rule, path, message)


def information(rule: str, path: str, message: str) -> Finding:
    return Finding("information", rule, path, message)


@dataclass(frozen=True, slots=True)
class Report:
    """The verdict on one document: its kind, its version (if known) and every finding."""

    kind: str
    version: str | None
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def valid(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    def rules(self, severity: Severity | None = None) -> set[str]:
        """The rule ids found (of one severity, or all): handy in tests and statistics."""
        return {f.rule for f in self.findings if severity is None or f.severity == severity}
