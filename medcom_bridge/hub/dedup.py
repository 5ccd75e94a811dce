"""Reliable messaging: is an inbound message new, a re-delivery, a resend, or an envelope id reused?

The receiver's cache check of `fhir-carecommunication.md` §8 (MedCom Rules_Messaging, MR7/MR8) and of the
VANSEnvelope governance (032), which apply the same logic to (envelope id, letter id):

| envelope id seen? | letter id seen? | verdict |
|---|---|---|
| no | no | NEW: process and acknowledge |
| yes | yes | REDELIVERY: do not process again; repeat the first answer |
| no | yes | RESEND: a resend of a known message; do not process or show twice; same answer content |
| yes | no | ENVELOPE_REUSED: an error; a negative answer is allowed |

"Envelope id" is the VANSEnvelope EnvelopeIdentifier (and, inside, OIOXML Envelope/Identifier or FHIR
Bundle.id); "letter id" is OIOXML Letter/Identifier or FHIR MessageHeader.id.
"""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    NEW = "new"
    REDELIVERY = "redelivery"
    RESEND = "resend"
    ENVELOPE_REUSED = "envelope_reused"

    @property
    def duplicate(self) -> bool:
        return self in (Verdict.REDELIVERY, Verdict.RESEND)


def classify(envelope_seen: bool, letter_seen: bool) -> Verdict:
    if envelope_seen and letter_seen:
        return Verdict.REDELIVERY
    if letter_seen:
        return Verdict.RESEND
    if envelope_seen:
        return Verdict.ENVELOPE_REUSED
    return Verdict.NEW


def envelope_namespace() -> str:
    return "envelope"


def letter_namespace(kind: str) -> str:
    """Letter ids are unique per message family, not across them: an XDIS91 and an XCTL03 may share one."""
    return f"letter:{kind}"
