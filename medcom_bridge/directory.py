"""The register as the pure core sees it: an injected lookup from location number (EAN/GLN) to party facts.

The converter needs SOR code, name and phone of sender and receiver; the router needs what a location number
can receive. Both ask through these small protocols, so the core never opens a file or a database: the shell
(CLI or hub) passes an implementation backed by the SOR import (`medcom_bridge.registry`) or a dict in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from medcom_bridge.fhir.canonical import SOR_ENDPOINT_PREFIX


@dataclass(frozen=True, slots=True)
class Party:
    """What the register knows about one location number."""

    ean: str
    sor: str | None = None
    name: str | None = None
    phone: str | None = None

    @property
    def endpoint(self) -> str | None:
        """The SOR endpoint URL used in MessageHeader.source/destination.endpoint."""
        return f"{SOR_ENDPOINT_PREFIX}{self.sor}" if self.sor else None


class Directory(Protocol):
    def party(self, ean: str) -> Party | None:
        """The party registered under `ean`, or None when the register does not know it."""
        ...


class StaticDirectory:
    """A Directory over a plain mapping: for tests, demos and small deployments."""

    def __init__(self, parties: Mapping[str, Party] | None = None) -> None:
        self._parties = dict(parties or {})

    def party(self, ean: str) -> Party | None:
        return self._parties.get(ean)

    def add(self, party: Party) -> None:
        self._parties[party.ean] = party
