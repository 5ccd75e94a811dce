"""Build OIOXML receipts for a received XDIS91 or XBIN01 (pure: `now` and the new identifiers come in).

* XCTL03 `PositiveReceipt` — the letter was received and accepted (sent when the original Envelope says
  `pluspositivkvitt`; see `wants_positive_receipt`).
* XCTL02 `NegativeReceipt` — the receiving system rejected the letter (always sent).
* XCTL01 `NegativeVansReceipt` — the network (VANS) could not deliver it.

Conventions (oioxml-legacy.md c): the receipt's Sender is the original's Receiver and vice versa; the
receipt never asks for a receipt (`minuspositivkvitt`); it names the original envelope and letter; a
refusal goes on the OriginalLetter level as OS2korrespondance does (readers check both levels).

A message too broken to be read into the model can still be answered: `peek_original(data)` collects the
few facts a receipt needs from whatever is readable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree

from medcom_bridge.oioxml.model import (
    MINUS_POSITIVE_RECEIPT,
    NS_2005,
    PLUS_POSITIVE_RECEIPT,
    XCTL01_VERSION,
    XCTL02_VERSION,
    XCTL03_VERSION,
    BinaryLetter,
    ClinicalEmail,
    EanParty,
    Emessage,
    Envelope,
    NegativeReceipt,
    NegativeVansReceipt,
    OriginalEmessage,
    OriginalLetter,
    PositiveReceipt,
    ReceiptLetter,
)
from medcom_bridge.oioxml.text import from_plain_text
from medcom_bridge.xmlsafe import XmlError, parse_xml

# RefuseCode values (schema enumeration) with their meaning.
IKKE_SPECIFICERET = "ikke_specificeret"  # unspecified (EDIFACT NC)
UKENDT_LOKATIONSNUMMER = "ukendt_lokationsnummer"  # unknown location number (LOK)
PROBLEM_MED_MODTAGER_ID = "problem_med_modtagerID"  # problem with the receiver id (MID)
PROBLEM_MED_VERSION = "problem_med_version"  # unsupported version (VER)
SYNTAKSFEJL = "syntaksfejl"  # syntax error (SYN)

# EDIFACT heritage: a refuse text is one FTX segment of 5 x 70 characters, the longest every receiver shows.
REFUSE_TEXT_MAX = 350

# The standard VANS text for a failed conversion (conversion use cases §4.4; a required literal).
CONVERSION_FAILED_TEXT = (
    "Konverteringen ml. XML/EDI og FHIR kunne ikke udføres korrekt pga. tekniske el. "
    "indholdsmæssige forhold i meddelelsen."
)


@dataclass(frozen=True, slots=True)
class OriginalFacts:
    """What a receipt needs to know about the letter it answers."""

    envelope_identifier: str
    letter_identifier: str
    version_code: str
    sender_ean: str
    receiver_ean: str
    acknowledgement_code: str = PLUS_POSITIVE_RECEIPT


Original = Emessage[ClinicalEmail] | Emessage[BinaryLetter] | OriginalFacts


def facts(original: Original) -> OriginalFacts:
    if isinstance(original, OriginalFacts):
        return original
    body = original.body
    return OriginalFacts(
        envelope_identifier=original.envelope.identifier,
        letter_identifier=body.letter.identifier,
        version_code=body.letter.version_code,
        sender_ean=body.sender.ean_identifier,
        receiver_ean=body.receiver.ean_identifier,
        acknowledgement_code=original.envelope.acknowledgement_code,
    )


def wants_positive_receipt(original: Original) -> bool:
    """Whether the sender asked for an XCTL03 (`pluspositivkvitt`)."""
    return facts(original).acknowledgement_code == PLUS_POSITIVE_RECEIPT


def _envelope(now: dt.datetime, envelope_identifier: str) -> Envelope:
    # OIOXML has minute precision and no timezone: keep the local wall-clock time.
    sent = now.replace(second=0, microsecond=0, tzinfo=None)
    return Envelope(sent=sent, identifier=envelope_identifier, acknowledgement_code=MINUS_POSITIVE_RECEIPT)


def positive_receipt(
    original: Original, *, now: dt.datetime, envelope_identifier: str, letter_identifier: str
) -> Emessage[PositiveReceipt]:
    """XCTL03 for `original`. `now` is local Danish time; identifiers are new, 1-14 characters."""
    f = facts(original)
    body = PositiveReceipt(
        letter=ReceiptLetter(letter_identifier, XCTL03_VERSION, "XCTL03"),
        sender=EanParty(f.receiver_ean),
        receiver=EanParty(f.sender_ean),
        original_emessage=OriginalEmessage(
            original_envelope_identifier=f.envelope_identifier,
            original_sender=EanParty(f.sender_ean),
            original_receiver=EanParty(f.receiver_ean),
            original_letter=(OriginalLetter(f.letter_identifier, f.version_code),),
        ),
    )
    return Emessage(_envelope(now, envelope_identifier), body, NS_2005)


def _original_emessage(f: OriginalFacts, refuse_code: str, refuse_text: str | None) -> OriginalEmessage:
    text = from_plain_text(refuse_text) if refuse_text else None
    return OriginalEmessage(
        original_envelope_identifier=f.envelope_identifier,
        original_sender=EanParty(f.sender_ean),
        original_receiver=EanParty(f.receiver_ean),
        original_letter=(OriginalLetter(f.letter_identifier, f.version_code, refuse_code, text),),
    )


def negative_receipt(
    original: Original,
    *,
    refuse_code: str,
    refuse_text: str | None,
    now: dt.datetime,
    envelope_identifier: str,
    letter_identifier: str,
) -> Emessage[NegativeReceipt]:
    """XCTL02 for `original` with a RefuseCode (see the constants) and a plain-text explanation
    (newlines become `<Break/>`)."""
    f = facts(original)
    body = NegativeReceipt(
        letter=ReceiptLetter(letter_identifier, XCTL02_VERSION, "XCTL02"),
        sender=EanParty(f.receiver_ean),
        receiver=EanParty(f.sender_ean),
        original_emessage=_original_emessage(f, refuse_code, refuse_text),
    )
    return Emessage(_envelope(now, envelope_identifier), body, NS_2005)


def negative_vans_receipt(
    original: Original,
    *,
    refuse_code: str,
    refuse_text: str | None,
    now: dt.datetime,
    envelope_identifier: str,
    letter_identifier: str,
    sender_ean: str | None = None,
) -> Emessage[NegativeVansReceipt]:
    """XCTL01 for `original`: the network could not deliver it. `sender_ean` is the VANS's own id
    (default: the original receiver's EAN, as when the hub answers on the receiver's behalf)."""
    f = facts(original)
    body = NegativeVansReceipt(
        letter=ReceiptLetter(letter_identifier, XCTL01_VERSION, "XCTL01"),
        sender=EanParty(sender_ean or f.receiver_ean),
        receiver=EanParty(f.sender_ean),
        original_emessage=_original_emessage(f, refuse_code, refuse_text),
    )
    return Emessage(_envelope(now, envelope_identifier), body, NS_2005)


def peek_original(data: bytes) -> OriginalFacts | None:
    """The receipt facts of a possibly invalid XDIS91/XBIN01, or None when even those are unreadable.

    Looks for the Envelope and Letter identifiers, the VersionCode and the Sender/Receiver EANs anywhere in
    the right places, ignoring every other error, so that a negative receipt can still be addressed.
    """
    try:
        root = parse_xml(data)
    except XmlError:
        return None

    def first(path: str) -> str | None:
        found = root.find(path)
        text = found.text if found is not None else None
        return text.strip() if text and text.strip() else None

    body = next(
        (
            c
            for c in root
            if isinstance(c.tag, str) and etree.QName(c).localname in ("ClinicalEmail", "BinaryLetter")
        ),
        None,
    )
    if body is None:
        return None
    values = {
        "envelope_identifier": first("{*}Envelope/{*}Identifier"),
        "acknowledgement_code": first("{*}Envelope/{*}AcknowledgementCode"),
    }
    for key, path in (
        ("letter_identifier", "{*}Letter/{*}Identifier"),
        ("version_code", "{*}Letter/{*}VersionCode"),
        ("sender_ean", "{*}Sender/{*}EANIdentifier"),
        ("receiver_ean", "{*}Receiver/{*}EANIdentifier"),
    ):
        found = body.find(path)
        text = found.text.strip() if found is not None and found.text else ""
        values[key] = text or None
    required = ("envelope_identifier", "letter_identifier", "version_code", "sender_ean", "receiver_ean")
    if any(values[k] is None for k in required):
        return None
    return OriginalFacts(
        envelope_identifier=values["envelope_identifier"] or "",
        letter_identifier=values["letter_identifier"] or "",
        version_code=(values["version_code"] or "")[:7],
        sender_ean=values["sender_ean"] or "",
        receiver_ean=values["receiver_ean"] or "",
        acknowledgement_code=values["acknowledgement_code"] or PLUS_POSITIVE_RECEIPT,
    )
