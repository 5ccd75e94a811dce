"""Why the hub refuses a message: one enum, and what each cause means in a negative receipt.

The cause travels with the decision from `hub.decide` to the receipt builder as a value, never as a prefix of
the human-readable reason (a reason without its prefix must not turn into "syntaksfejl"). The XCTL01 refuse
codes are MedCom's (XCTL01 `RefuseCode`, oioxml-legacy.md); the FHIR issue codes are the operation-outcome
codes an Acknowledgement `fatal-error` carries (fhir-carecommunication.md §8).
"""

from __future__ import annotations

from enum import StrEnum


class RejectCause(StrEnum):
    """Why a message was refused; the value is what statistics and the trace record as the cause."""

    INVALID = "invalid"
    """The message (or its envelope) breaks MedCom's rules."""
    ENVELOPE_REUSED = "envelope-reused"
    """An envelope id seen before with another letter id (reliable messaging, VANS 032)."""
    SENDER_MAILBOX = "hub-sender-mailbox"
    """The envelope names a sender other than the owner of the mailbox it came from."""
    ROUTE = "route"
    """The register cannot route it: receiver unknown, or registered for no format the hub can deliver."""
    CONVERSION = "conversion"
    """The conversion, or the validation of its result, failed."""
    UNREADABLE = "unreadable"
    """Not a message the hub can read (quarantined)."""
    HUB_ERROR = "hub-error"
    """The hub itself failed on this input (a bug): quarantined, never re-read forever."""

    @property
    def refuse_code(self) -> str:
        """XCTL01 RefuseCode."""
        from medcom_bridge.oioxml import receipts as r

        if self is RejectCause.CONVERSION:
            return r.IKKE_SPECIFICERET
        if self is RejectCause.ROUTE:
            return r.UKENDT_LOKATIONSNUMMER
        return r.SYNTAKSFEJL

    @property
    def issue_code(self) -> str:
        """The operation-outcome code of the `fatal-error` Acknowledgement's issue."""
        return "not-found" if self is RejectCause.ROUTE else "invalid"
