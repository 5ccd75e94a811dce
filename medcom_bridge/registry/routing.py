"""Use case R1 (conversion-solution.md §3): in which format does a receiver get a message?

Deliver FHIR when the receiver is registered for the FHIR type (FDIS91 for letters, FCTL for receipts), else
OIOXML (XDIS91 / XCTL01-03), else EDIFACT (DIS91 / CTL01-03). For an OIOXML target also say whether the
receiver is approved for XBIN01: R1.A1 converts and delivers XDIS91 + XBIN01 anyway, and the receiver's
rejection of the XBIN01 becomes part of the negative Acknowledgement. Every decision carries its reason so
the hub can record why it converted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from medcom_bridge.registry.message_types import RECEIPTS_EDIFACT, RECEIPTS_OIOXML

Format = Literal["fhir", "oioxml", "edifact"]

# Document kinds of architecture.md §3.1 (plus EDIFACT names) -> (format they are in, letter or receipt).
_KINDS: dict[str, tuple[Format, Literal["letter", "receipt"]]] = {
    "carecommunication": ("fhir", "letter"),
    "acknowledgement": ("fhir", "receipt"),
    "xdis91": ("oioxml", "letter"),
    "xbin01": ("oioxml", "letter"),
    "xctl01": ("oioxml", "receipt"),
    "xctl02": ("oioxml", "receipt"),
    "xctl03": ("oioxml", "receipt"),
    "dis91": ("edifact", "letter"),
    "bin01": ("edifact", "letter"),
    "ctl01": ("edifact", "receipt"),
    "ctl02": ("edifact", "receipt"),
    "ctl03": ("edifact", "receipt"),
}

# In order of preference: (format, SOR-EDI codes that make the receiver capable of it).
_PREFERENCE: dict[str, tuple[tuple[Format, frozenset[str]], ...]] = {
    "letter": (
        ("fhir", frozenset({"FDIS91"})),
        ("oioxml", frozenset({"XDIS91"})),
        ("edifact", frozenset({"DIS91"})),
    ),
    "receipt": (
        ("fhir", frozenset({"FCTL"})),
        ("oioxml", RECEIPTS_OIOXML),
        ("edifact", RECEIPTS_EDIFACT),
    ),
}


class Capable(Protocol):
    """What routing needs from the register (implemented by `Register`)."""

    def receives(self, ean: str) -> frozenset[str]: ...


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    receiver: str
    kind: str
    source_format: Format
    target_format: Format | None  # None: the receiver cannot take this message in any format
    convert: bool
    xbin01_approved: bool
    reason: str

    @property
    def deliverable(self) -> bool:
        return self.target_format is not None


class UnknownMessageKind(ValueError):
    pass


def decide(register: Capable, receiver_ean: str, kind: str) -> RoutingDecision:
    """Decide the format `kind` (e.g. 'xdis91', 'carecommunication', 'xctl03') is delivered in to `receiver_ean`."""
    key = kind.lower()
    if key not in _KINDS:
        raise UnknownMessageKind(
            f"unknown message kind '{kind}'; expected one of {', '.join(sorted(_KINDS))}"
        )
    source_format, role = _KINDS[key]
    receives = register.receives(receiver_ean)
    xbin01 = "XBIN01" in receives
    if not receives:
        return RoutingDecision(
            receiver_ean,
            key,
            source_format,
            None,
            False,
            False,
            f"{receiver_ean} has no message types registered in SOR-EDI/EER; cannot deliver {kind}",
        )
    preference = _PREFERENCE[role]
    for index, (target, codes) in enumerate(preference):
        matched = sorted(codes & receives)
        if not matched:
            continue
        convert = target != source_format
        action = f"convert {source_format} -> {target}" if convert else f"deliver {source_format} unchanged"
        reason = f"{receiver_ean} receives {', '.join(matched)}"
        missing = sorted(set().union(*(c for _, c in preference[:index])))
        if missing:
            reason += f" but not {'/'.join(missing)}"
        reason += f": {action}"
        if target == "oioxml" and role == "letter":
            reason += (
                "; approved for XBIN01"
                if xbin01
                else "; NOT approved for XBIN01 (R1.A1: attachments are still sent as XBIN01 and the receiver's "
                "rejection becomes a negative Acknowledgement)"
            )
        return RoutingDecision(receiver_ean, key, source_format, target, convert, xbin01, reason)
    wanted = ", ".join(sorted(set().union(*(c for _, c in _PREFERENCE[role]))))
    return RoutingDecision(
        receiver_ean,
        key,
        source_format,
        None,
        False,
        xbin01,
        f"{receiver_ean} is registered for {', '.join(sorted(receives))} but none of {wanted}; cannot deliver {kind}",
    )
