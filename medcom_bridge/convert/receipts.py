"""Receipts across the format boundary (use cases S3, S4, §4.3, §4.4; sheets "XCTL -> Acknowledgement" and
"Acknowledgement -> XCTL").

* FHIR sender, OIOXML receiver: the XCTL for the XDIS91 and the XCTL(s) for its XBIN01(s) become one
  Acknowledgement (table 4, `acknowledgement_code_for`, `xctl_to_acknowledgement`).
* OIOXML sender, FHIR receiver: one Acknowledgement becomes an XCTL for the XDIS91 and one for each XBIN01
  (table 3, `xctl_type_for`, `acknowledgement_to_xctl`).

The aggregation tables are pure functions over receipt outcomes; the converters add the ids the correlation
record kept (no receipt can be matched without it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

from medcom_bridge.convert import rules, tables, texts
from medcom_bridge.convert.context import Context, ConversionError, FhirResult, OioxmlOutput, OioxmlResult
from medcom_bridge.convert.correlation import CorrelationRecord, FhirParty, OioxmlLetter
from medcom_bridge.convert.fhirview import BundleView, as_dict, as_list, identifier
from medcom_bridge.convert.narrative import add_narratives
from medcom_bridge.convert.oioxml_to_fhir import organization
from medcom_bridge.convert.plaintext import formatted
from medcom_bridge.convert.plaintext import plain as plain_text
from medcom_bridge.convert.validate import validate_fhir_output, validate_oioxml_output
from medcom_bridge.fhir.canonical import SOR_ENDPOINT_PREFIX
from medcom_bridge.findings import Finding, Report, information, warning
from medcom_bridge.oioxml.codec import serialize
from medcom_bridge.oioxml.model import (
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
from medcom_bridge.oioxml.receipts import IKKE_SPECIFICERET
from medcom_bridge.oioxml.text import FormattedText

Json = dict[str, Any]
Outcome = Literal["positive", "negative", "missing"]
AckCode = Literal["ok", "transient-error", "fatal-error"]
XctlReceipt = Emessage[PositiveReceipt] | Emessage[NegativeReceipt] | Emessage[NegativeVansReceipt]

# --- Use cases §4.3: receipt types ------------------------------------------------------------------------------
#: XCTL type -> the Acknowledgement response.code it becomes. XCTL02 does not say whether the problem is
#: temporary, so it is `fatal-error` ("do not resend unchanged"); XCTL01 has no row in the use cases and is
#: `fatal-error` too (oioxml-legacy.md, decisions).
XCTL_TO_RESPONSE_CODE: dict[str, AckCode] = {"xctl01": "fatal-error", "xctl02": "fatal-error", "xctl03": "ok"}

#: Table 4 (FHIR sender, OIOXML receiver): (XCTL for XDIS91, XCTL for XBIN01) -> Acknowledgement.
#: None = "VANS neither maps nor sends a receipt"; the sender resends after its 120-minute timeout.
TABLE_4: dict[tuple[Outcome, Outcome], AckCode | None] = {
    ("positive", "positive"): "ok",
    ("positive", "negative"): "fatal-error",
    ("negative", "positive"): "fatal-error",
    ("negative", "negative"): "fatal-error",
    ("positive", "missing"): None,
    ("negative", "missing"): None,
    ("missing", "positive"): None,
    ("missing", "negative"): None,
    ("missing", "missing"): None,
}

#: Table 3 (OIOXML sender, FHIR receiver): Acknowledgement response.code -> the XCTL sent for XDIS91 and XBIN01.
TABLE_3: dict[AckCode, Literal["xctl02", "xctl03"]] = {
    "ok": "xctl03",
    "fatal-error": "xctl02",
    "transient-error": "xctl02",
}


def receipt_outcome(receipt: XctlReceipt | None) -> Outcome:
    if receipt is None:
        return "missing"
    return "positive" if isinstance(receipt.body, PositiveReceipt) else "negative"


def acknowledgement_code_for(xdis91: Outcome, xbin01: Sequence[Outcome] = ()) -> AckCode | None:
    """Table 4. Without attachments the XDIS91's receipt decides alone; with several XBIN01s (more than 10
    attachments) they count as one: missing if any is missing, else negative if any is negative."""
    if not xbin01:
        return None if xdis91 == "missing" else ("ok" if xdis91 == "positive" else "fatal-error")
    combined: Outcome = (
        "missing" if "missing" in xbin01 else "negative" if "negative" in xbin01 else "positive"
    )
    return TABLE_4[(xdis91, combined)]


def xctl_type_for(code: str) -> Literal["xctl02", "xctl03"]:
    """Table 3: ok -> XCTL03; fatal-error/transient-error -> XCTL02 (an unknown code counts as negative)."""
    for known, xctl in TABLE_3.items():
        if code == known:
            return xctl
    return "xctl02"


# --- Acknowledgement -> XCTL (use case S4; Flow2) --------------------------------------------------------------
def _ack_texts(view: BundleView) -> tuple[str, str]:
    """(RefuseCode, refuse text) from the Acknowledgement's OperationOutcome (sheet rows Refuse Code/Text)."""
    parts: list[str] = []
    refuse = IKKE_SPECIFICERET
    for outcome in view.of_type("OperationOutcome"):
        for issue in as_list(outcome.get("issue")):
            issue = as_dict(issue)
            details = as_dict(issue.get("details"))
            for coding in as_list(details.get("coding")):
                code = as_dict(coding).get("code")
                if isinstance(code, str) and code in tables.ISSUE_DETAIL_TO_REFUSE_CODE:
                    refuse = tables.ISSUE_DETAIL_TO_REFUSE_CODE[code]
            for value in (details.get("text"), issue.get("diagnostics")):
                if isinstance(value, str) and value.strip() and value.strip() not in parts:
                    parts.append(value.strip())
            if not details.get("text") and not issue.get("diagnostics"):
                codes = [as_dict(c).get("code") for c in as_list(details.get("coding"))]
                parts += [c for c in codes if isinstance(c, str) and c not in parts]
    return refuse, "; ".join(parts)


def acknowledgement_to_xctl(
    ack: Json, correlation: CorrelationRecord, *, context: Context, validate: bool = True
) -> OioxmlResult:
    """One Acknowledgement for a CareCommunication made from XDIS91 (+ XBIN01s) -> one XCTL per OIOXML letter.

    Positive -> XCTL03 for each; negative -> XCTL02 for each, carrying the Acknowledgement's error text; when
    the CareCommunication was deliberately incomplete (missing XBIN01, S1.A2/S1.A3) the hub's text of table 5
    is added to the negative receipts (the receiver's text is shortened first, never ours); likewise when
    attachment types outside the six were converted (S1.A4, Forudsætning 6).
    """
    findings: list[Finding] = []
    view = BundleView(ack)
    header = view.first("MessageHeader")
    if header is None:
        raise ConversionError(
            "convert-input-kind", "Bundle.entry", "no MessageHeader: not an Acknowledgement"
        )
    response = as_dict(header.get("response"))
    acked = response.get("identifier")
    if acked != correlation.message_header_id:
        raise ConversionError(
            "convert-receipt-correlation",
            "MessageHeader.response.identifier",
            f"acknowledges {acked!r}, but the correlation record is for MessageHeader {correlation.message_header_id!r}",
        )
    code = response.get("code")
    xctl = xctl_type_for(code if isinstance(code, str) else "fatal-error")
    timestamp = ack.get("timestamp")
    if not isinstance(timestamp, str):
        raise ConversionError("convert-missing-element", "Bundle.timestamp", "Bundle.timestamp is required")
    sent = rules.oioxml_datetime(timestamp)
    sender_ean = identifier(view.resolve(header.get("sender")), tables.SYSTEM_GLN, tables.SYSTEM_GLN_OLD)
    refuse_code, refuse_text = _ack_texts(view)
    # Table 5: conversion problems of ours (missing/late/invalid XBIN01, file types outside the six) get our text.
    hub_text = texts.CONVERSION_FAILED_TEXT if correlation.incomplete or correlation.foreign_types else None
    outputs: list[OioxmlOutput] = []
    for letter in correlation.letters:
        if sender_ean and sender_ean != letter.receiver_ean:
            findings.append(
                warning(
                    "convert-receipt-sender",
                    "MessageHeader.sender",
                    f"the Acknowledgement comes from {sender_ean}, the letter went to {letter.receiver_ean}",
                )
            )
        message = _xctl(
            xctl,
            letter,
            sent,
            context,
            refuse_code,
            rules.negative_receipt_text(refuse_text or None, hub_text) if xctl == "xctl02" else None,
        )
        data = serialize(message)
        report = validate_oioxml_output(data, xctl, enabled=validate)
        outputs.append(
            OioxmlOutput(
                xctl, data, message.envelope.identifier, message.body.letter.identifier, report, message
            )
        )
    all_findings = [*findings, *(f for o in outputs for f in o.report.findings)]
    return OioxmlResult(tuple(outputs), Report(xctl, None, tuple(all_findings)), correlation)


def _xctl(
    kind: Literal["xctl02", "xctl03"],
    letter: OioxmlLetter,
    sent: Any,
    context: Context,
    refuse_code: str,
    refuse_text: str | None,
) -> XctlReceipt:
    _, version, statistical = tables.XCTL_TYPES[kind]
    receipt_letter = ReceiptLetter(context.new_letter_id(), version, statistical)
    envelope = Envelope(sent, context.new_letter_id(), tables.NO_ACK_REQUESTED)
    original_letter = OriginalLetter(letter.letter_id, letter.version_code)
    sender, receiver = EanParty(letter.receiver_ean), EanParty(letter.sender_ean)
    if kind == "xctl03":
        original = OriginalEmessage(
            letter.envelope_id, EanParty(letter.sender_ean), EanParty(letter.receiver_ean), (original_letter,)
        )
        return Emessage(envelope, PositiveReceipt(receipt_letter, sender, receiver, original))
    original = OriginalEmessage(
        letter.envelope_id,
        EanParty(letter.sender_ean),
        EanParty(letter.receiver_ean),
        (original_letter,),
        refuse_code=refuse_code,
        refuse_text=formatted(refuse_text) if refuse_text else None,
    )
    return Emessage(envelope, NegativeReceipt(receipt_letter, sender, receiver, original))


# --- XCTL -> Acknowledgement (use case S3; Flow4) --------------------------------------------------------------
def _refusals(receipt: XctlReceipt, what: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for code, text in receipt.body.original_emessage.refusals():
        plain = plain_text(text) if isinstance(text, FormattedText) else ""
        out.append((code or IKKE_SPECIFICERET, f"{what}: {plain}" if plain else what))
    if not out:
        out.append((IKKE_SPECIFICERET, f"{what}: negativ kvittering uden begrundelse"))
    return out


def _endpoint(party: FhirParty) -> str | None:
    return f"{SOR_ENDPOINT_PREFIX}{party.sor}" if party.sor else None


def xctl_to_acknowledgement(
    xdis91_receipt: XctlReceipt | None,
    xbin01_receipts: Sequence[XctlReceipt | None],
    correlation: CorrelationRecord,
    *,
    context: Context,
    validate: bool = True,
) -> FhirResult | None:
    """The XCTLs for the XDIS91 and its XBIN01(s) made from one CareCommunication -> one Acknowledgement.

    Returns None while table 4 says nothing is sent (a receipt is missing); the hub calls again when the next
    receipt arrives. `xbin01_receipts` lines up with `correlation.xbin01`.
    """
    if len(xbin01_receipts) != len(correlation.xbin01):
        raise ConversionError(
            "convert-receipt-correlation",
            "XBIN01",
            f"{len(xbin01_receipts)} XBIN01 receipt slots for {len(correlation.xbin01)} XBIN01 letters",
        )
    code = acknowledgement_code_for(
        receipt_outcome(xdis91_receipt), [receipt_outcome(r) for r in xbin01_receipts]
    )
    if code is None:
        return None
    pairs = [(xdis91_receipt, correlation.xdis91), *zip(xbin01_receipts, correlation.xbin01, strict=True)]
    receipts: list[tuple[XctlReceipt, OioxmlLetter]] = [(r, letter) for r, letter in pairs if r is not None]
    findings: list[Finding] = []
    for receipt, letter in receipts:
        original = receipt.body.original_emessage
        named = {ol.original_letter_identifier for ol in original.original_letter}
        if original.original_envelope_identifier != letter.envelope_id or (
            named and letter.letter_id not in named
        ):
            raise ConversionError(
                "convert-receipt-correlation",
                "OriginalEmessage/OriginalEnvelopeIdentifier",
                f"the receipt answers envelope {original.original_envelope_identifier!r}, letters {sorted(named)}; "
                f"the correlation record expects {letter.envelope_id!r}/{letter.letter_id!r}",
            )
    if isinstance(xdis91_receipt, Emessage) and isinstance(xdis91_receipt.body, NegativeVansReceipt):
        findings.append(information("convert-xctl01", "NegativeVansReceipt", "XCTL01 maps to fatal-error"))

    our_party = correlation.fhir_receiver or FhirParty(correlation.xdis91.receiver_ean)
    their_party = correlation.fhir_sender or FhirParty(correlation.xdis91.sender_ean)
    our_party = _with_register(our_party, context)
    their_party = _with_register(their_party, context)
    new = context.new_uuid
    ours = organization(new(), our_party.ean, our_party.sor, our_party.name)
    theirs = organization(new(), their_party.ean, their_party.sor, their_party.name)
    latest = max(r.envelope.sent for r, _ in receipts)
    timestamp = rules.fhir_datetime(latest)
    header_id = new()
    resources: list[Json] = []
    outcome: Json | None = None
    if code != "ok":
        issues: list[Json] = []
        for receipt, letter in receipts:
            if isinstance(receipt.body, PositiveReceipt):
                continue
            what = "XDIS91" if letter.kind == "xdis91" else "XBIN01"
            for refuse, text in _refusals(receipt, what):
                issue_code, detail = tables.REFUSE_CODE_TO_ISSUE.get(refuse, ("processing", None))
                issue: Json = {"severity": "error", "code": issue_code, "details": {"text": text}}
                if detail:
                    issue["details"] = {"coding": [{"system": detail[0], "code": detail[1]}], "text": text}
                issues.append(issue)
        outcome = {
            "resourceType": "OperationOutcome",
            "id": new(),
            "meta": {"profile": [tables.PROFILE_ACK_OUTCOME]},
            "issue": issues,
        }
    response: Json = {"identifier": correlation.message_header_id, "code": code}
    if outcome is not None:
        response["details"] = {"reference": f"OperationOutcome/{outcome['id']}"}
    destination: Json = {
        "extension": [
            {
                "url": tables.EXT_DESTINATION_USE,
                "valueCoding": {"system": tables.SYSTEM_DESTINATION_USE, "code": "primary"},
            }
        ]
    }
    if _endpoint(their_party):
        destination["endpoint"] = _endpoint(their_party)
    destination["receiver"] = {"reference": f"Organization/{theirs['id']}"}
    header: Json = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "meta": {"profile": [tables.PROFILE_ACK_HEADER]},
        "eventCoding": {"system": tables.SYSTEM_EVENT, "code": "acknowledgement-message"},
        "destination": [destination],
        "sender": {"reference": f"Organization/{ours['id']}"},
        "source": {"endpoint": _endpoint(our_party)} if _endpoint(our_party) else {},
        "response": response,
    }
    resources.append(header)
    # The latest Provenance of the acknowledged message travels along (GOV); its agent is the original sender.
    if correlation.provenance:
        copied = {
            k: v for k, v in correlation.provenance.items() if k in ("target", "occurredDateTime", "recorded")
        }
        copied.update(
            {
                "resourceType": "Provenance",
                "id": new(),
                "meta": {"profile": [tables.PROFILE_MSG_PROVENANCE]},
                "target": [{"reference": f"MessageHeader/{correlation.message_header_id}"}],
                "activity": correlation.provenance.get("activity")
                or {"coding": [{"system": tables.SYSTEM_ACTIVITY, "code": "new-message"}]},
                "agent": [{"who": {"reference": f"Organization/{theirs['id']}"}}],
            }
        )
        resources.append(copied)
    resources.append(
        {
            "resourceType": "Provenance",
            "id": new(),
            "meta": {"profile": [tables.PROFILE_MSG_PROVENANCE]},
            "target": [{"reference": f"MessageHeader/{header_id}"}],
            "occurredDateTime": timestamp,
            "recorded": timestamp,
            "activity": {"coding": [{"system": tables.SYSTEM_ACTIVITY, "code": "acknowledgement"}]},
            "agent": [{"who": {"reference": f"Organization/{ours['id']}"}}],
            "entity": [
                {"role": "revision", "what": {"reference": f"MessageHeader/{correlation.message_header_id}"}}
            ],
        }
    )
    resources += [theirs, ours]
    if outcome is not None:
        resources.append(outcome)
    bundle: Json = {
        "resourceType": "Bundle",
        "id": new(),
        "meta": {"profile": [tables.PROFILE_ACK_MESSAGE]},
        "type": "message",
        "timestamp": timestamp,
        "entry": [
            {"fullUrl": f"{tables.FULLURL_ACK}{r['resourceType']}/{r['id']}", "resource": r}
            for r in resources
        ],
    }
    add_narratives(bundle)
    report = validate_fhir_output(bundle, findings, enabled=validate, kind="acknowledgement")
    return FhirResult(bundle=bundle, report=report, correlation=correlation)


def _with_register(party: FhirParty, context: Context) -> FhirParty:
    if party.sor and party.name:
        return party
    found = context.directory.party(party.ean)
    if found is None:
        return party
    return FhirParty(party.ean, party.sor or found.sor, party.name or found.name)


# --- Rebuilding the correlation from the messages themselves (stateless callers such as the CLI) ---------------
def correlation_from_xctls(
    carecommunication: Json, receipts: Sequence[XctlReceipt]
) -> tuple[CorrelationRecord, XctlReceipt | None, list[XctlReceipt | None]]:
    """The correlation record of a CareCommunication -> XDIS91 (+ XBIN01) conversion, rebuilt from the original
    CareCommunication and the XCTLs that answer its OIOXML letters (OriginalVersionCode tells XDIS91 from
    XBIN01). Returns the record and the receipts lined up as `xctl_to_acknowledgement` wants them."""
    view = BundleView(carecommunication)
    header = view.first("MessageHeader")
    if header is None or not isinstance(header.get("id"), str):
        raise ConversionError(
            "convert-input-kind", "Bundle.entry", "no MessageHeader id: not a CareCommunication"
        )
    sender = view.resolve(header.get("sender"))
    destinations = as_list(header.get("destination"))
    receiver = view.resolve(as_dict(destinations[0]).get("receiver")) if destinations else None
    xdis: tuple[OioxmlLetter, XctlReceipt] | None = None
    xbins: list[tuple[OioxmlLetter, XctlReceipt]] = []
    for receipt in receipts:
        original = receipt.body.original_emessage
        for ol in original.original_letter or (OriginalLetter(original.original_envelope_identifier, ""),):
            is_xbin = ol.original_version_code.upper().startswith("XB")
            letter = OioxmlLetter(
                "xbin01" if is_xbin else "xdis91",
                original.original_envelope_identifier,
                ol.original_letter_identifier,
                ol.original_version_code or tables.XDIS91_VERSION,
                original.original_sender.ean_identifier,
                original.original_receiver.ean_identifier,
            )
            if is_xbin:
                xbins.append((letter, receipt))
            elif xdis is None:
                xdis = (letter, receipt)
    if xdis is None:
        raise ConversionError(
            "convert-receipt-correlation",
            "OriginalLetter/OriginalVersionCode",
            "no receipt answers an XDIS91",
        )
    # One XBIN01 per 10 attachments with content was sent; a receipt not given is a missing one (table 4).
    comm = view.first("Communication") or {}
    with_data = sum(
        1 for p in as_list(comm.get("payload")) if as_dict(as_dict(p).get("contentAttachment")).get("data")
    )
    expected = -(-with_data // 10)
    receipts_for_xbin: list[XctlReceipt | None] = [r for _, r in xbins]
    while len(xbins) < expected:
        placeholder = dataclasses.replace(
            xdis[0], kind="xbin01", envelope_id="", letter_id="", version_code=""
        )
        xbins.append((placeholder, xdis[1]))
        receipts_for_xbin.append(None)
    sender_ean = identifier(sender, tables.SYSTEM_GLN, tables.SYSTEM_GLN_OLD) or xdis[0].sender_ean
    receiver_ean = identifier(receiver, tables.SYSTEM_GLN, tables.SYSTEM_GLN_OLD) or xdis[0].receiver_ean
    provenance = next(
        (
            p
            for p in view.of_type("Provenance")
            if any(
                str(as_dict(t).get("reference", "")).endswith(f"MessageHeader/{header['id']}")
                for t in as_list(p.get("target"))
            )
        ),
        None,
    )
    record = CorrelationRecord(
        direction="fhir-to-oioxml",
        bundle_id=str(carecommunication.get("id", "")),
        message_header_id=header["id"],
        xdis91=xdis[0],
        xbin01=tuple(letter for letter, _ in xbins),
        fhir_sender=FhirParty(sender_ean, identifier(sender, tables.SYSTEM_SOR), as_dict(sender).get("name")),
        fhir_receiver=FhirParty(
            receiver_ean, identifier(receiver, tables.SYSTEM_SOR), as_dict(receiver).get("name")
        ),
        provenance={
            k: provenance[k]
            for k in ("target", "occurredDateTime", "recorded", "activity")
            if k in provenance
        }
        if provenance
        else None,
    )
    return record, xdis[1], receipts_for_xbin


def correlation_from_oioxml(
    ack: Json, xdis91: Emessage[Any], xbin01: Sequence[Emessage[Any]] = ()
) -> CorrelationRecord:
    """The correlation record of an XDIS91 (+ XBIN01) -> CareCommunication conversion, rebuilt from the original
    OIOXML letters and the Acknowledgement (whose response.identifier names the converted MessageHeader)."""
    view = BundleView(ack)
    header = view.first("MessageHeader") or {}
    acked = as_dict(header.get("response")).get("identifier")
    if not isinstance(acked, str):
        raise ConversionError(
            "convert-receipt-correlation",
            "MessageHeader.response.identifier",
            "the Acknowledgement names no message",
        )

    def letter(em: Emessage[Any], kind: Literal["xdis91", "xbin01"]) -> OioxmlLetter:
        body = em.body
        return OioxmlLetter(
            kind,
            em.envelope.identifier,
            body.letter.identifier,
            body.letter.version_code,
            body.sender.ean_identifier,
            body.receiver.ean_identifier,
        )

    return CorrelationRecord(
        direction="oioxml-to-fhir",
        bundle_id="",
        message_header_id=acked,
        xdis91=letter(xdis91, "xdis91"),
        xbin01=tuple(letter(x, "xbin01") for x in xbin01),
    )
