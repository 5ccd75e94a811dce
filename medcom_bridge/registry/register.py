"""The register: SOR units, their location numbers and SOR-EDI/EER registrations, indexed for lookups.

`Register` is what the converter and the hub get injected (it implements `medcom_bridge.directory.Directory`).
Every lookup is a dictionary access on values resolved at build time, so it costs microseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from medcom_bridge.directory import Party
from medcom_bridge.registry.eer import EerImport
from medcom_bridge.registry.model import (
    EerEndpoint,
    EerOrganization,
    ImportIssue,
    LocationNumber,
    Registration,
    Source,
    Unit,
)
from medcom_bridge.registry.sor_edi import EdiImport
from medcom_bridge.registry.sor_xml import SorImport

_EMPTY: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What one location number can receive and send, per source and combined."""

    receive: frozenset[str]
    send: frozenset[str]


_NOTHING = Capabilities(_EMPTY, _EMPTY)


class Register:
    """In-memory SOR + SOR-EDI + EER model with the lookups the converter, router and report need."""

    def __init__(
        self,
        units: Iterable[Unit],
        registrations: Iterable[Registration] = (),
        *,
        endpoints: Iterable[EerEndpoint] = (),
        organizations: Iterable[EerOrganization] = (),
        has_edi: bool = False,
        has_eer: bool = False,
        issues: Iterable[ImportIssue] = (),
    ) -> None:
        self._units: dict[str, Unit] = {}
        self._owners: dict[str, list[Unit]] = {}
        self._providers: dict[str, list[Unit]] = {}
        self._shak: dict[str, Unit] = {}
        duplicates: list[ImportIssue] = []
        for unit in units:
            if unit.sor in self._units:
                first = self._units[unit.sor].line
                duplicates.append(
                    ImportIssue(
                        "sor-xml-duplicate",
                        "error",
                        unit.line,
                        f"SOR code {unit.sor} appears again; the unit at line {first} is used and this one ignored",
                        sor=unit.sor,
                    )
                )
                continue
            self._units[unit.sor] = unit
            if unit.own is not None:
                self._owners.setdefault(unit.own.ean, []).append(unit)
            if unit.provider_id:
                self._providers.setdefault(unit.provider_id, []).append(unit)
            if unit.shak:
                self._shak.setdefault(unit.shak, unit)
        self._registrations: dict[str, list[Registration]] = {}
        receive: dict[str, set[str]] = {}
        send: dict[str, set[str]] = {}
        self._eans_by_source: dict[Source, set[str]] = {"edi": set(), "eer": set()}
        for reg in registrations:
            self._registrations.setdefault(reg.ean, []).append(reg)
            (receive if reg.direction == "receive" else send).setdefault(reg.ean, set()).add(reg.code)
            self._eans_by_source[reg.source].add(reg.ean)
        # Combined capabilities are what routing asks for on every message: resolve them once.
        self._caps: dict[tuple[str, Source | None], Capabilities] = {
            (ean, None): Capabilities(frozenset(receive.get(ean, _EMPTY)), frozenset(send.get(ean, _EMPTY)))
            for ean in self._registrations
        }
        self.endpoints: tuple[EerEndpoint, ...] = tuple(endpoints)
        self.organizations: tuple[EerOrganization, ...] = tuple(organizations)
        self._endpoint_by_gln: dict[str, EerEndpoint] = {}
        for ep in self.endpoints:
            self._endpoint_by_gln.setdefault(ep.gln, ep)
        self._eer_names = {o.sor: o.name for o in self.organizations if o.name}
        self.has_edi = has_edi
        self.has_eer = has_eer
        self.issues: tuple[ImportIssue, ...] = (*issues, *duplicates)

    @classmethod
    def build(cls, sor: SorImport, edi: EdiImport | None = None, eer: EerImport | None = None) -> Register:
        registrations: list[Registration] = list(edi.registrations) if edi else []
        if eer is not None:
            registrations += eer.registrations()
        issues = [*sor.issues, *(edi.issues if edi else ()), *(eer.issues if eer else ())]
        return cls(
            sor.units,
            registrations,
            endpoints=eer.endpoints if eer else (),
            organizations=eer.organizations if eer else (),
            has_edi=edi is not None,
            has_eer=eer is not None,
            issues=issues,
        )

    # -- SOR lookups -------------------------------------------------------------------------------
    def unit(self, sor: str) -> Unit | None:
        return self._units.get(sor)

    def units(self) -> Iterator[Unit]:
        return iter(self._units.values())

    def __len__(self) -> int:
        return len(self._units)

    def effective_ean(self, sor: str) -> str | None:
        """The location number a unit is reached at: its own, else the one it inherits."""
        unit = self._units.get(sor)
        return unit.effective_ean if unit else None

    def owners(self, ean: str) -> tuple[Unit, ...]:
        """Every unit that holds `ean` as its own number (EanLocationCodeEntity), in file order."""
        return tuple(self._owners.get(ean, ()))

    def owner(self, ean: str) -> Unit | None:
        """The unit that owns `ean`: the first open owner in file order (a parent before its children)."""
        owners = self._owners.get(ean)
        if not owners:
            return None
        return next((u for u in owners if u.to_date is None), owners[0])

    def location_number(self, ean: str) -> LocationNumber | None:
        owner = self.owner(ean)
        return owner.own if owner else None

    def owned_eans(self) -> Iterator[str]:
        return iter(self._owners)

    def by_provider(self, provider_id: str) -> tuple[Unit, ...]:
        """Units carrying a ydernummer (ProviderIdentifier)."""
        return tuple(self._providers.get(provider_id, ()))

    def providers(self) -> Iterator[tuple[str, list[Unit]]]:
        return iter(self._providers.items())

    def by_shak(self, shak: str) -> Unit | None:
        return self._shak.get(shak)

    def party(self, ean: str) -> Party | None:
        """Directory protocol: SOR code, name and phone of the unit owning `ean` (EER as a fallback)."""
        owner = self.owner(ean)
        if owner is not None:
            return Party(ean=ean, sor=owner.sor, name=owner.name or None, phone=owner.phone)
        endpoint = self._endpoint_by_gln.get(ean)
        if endpoint is not None and endpoint.managing_sor:
            return Party(ean=ean, sor=endpoint.managing_sor, name=self._eer_names.get(endpoint.managing_sor))
        return None

    # -- SOR-EDI / EER -----------------------------------------------------------------------------
    def registrations(self, ean: str) -> tuple[Registration, ...]:
        return tuple(self._registrations.get(ean, ()))

    def registered_eans(self, source: Source | None = None) -> Iterator[str]:
        """Location numbers with registrations (from one source, or any)."""
        return iter(self._registrations if source is None else self._eans_by_source[source])

    def capabilities(self, ean: str, source: Source | None = None) -> Capabilities:
        """What `ean` can receive and send: from one source, or both combined (source=None)."""
        key = (ean, source)
        cached = self._caps.get(key)
        if cached is not None:
            return cached
        regs = self._registrations.get(ean)
        if regs is None:
            return _NOTHING
        receive = frozenset(
            r.code for r in regs if r.direction == "receive" and (source is None or r.source == source)
        )
        send = frozenset(
            r.code for r in regs if r.direction == "send" and (source is None or r.source == source)
        )
        caps = Capabilities(receive or _EMPTY, send or _EMPTY)
        self._caps[key] = caps
        return caps

    def receives(self, ean: str) -> frozenset[str]:
        caps = self._caps.get((ean, None))
        return caps.receive if caps is not None else _EMPTY

    def sends(self, ean: str) -> frozenset[str]:
        return self.capabilities(ean).send

    def endpoint(self, gln: str) -> EerEndpoint | None:
        return self._endpoint_by_gln.get(gln)
