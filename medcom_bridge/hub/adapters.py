"""The real parts behind the hub's seams (`pipeline.py`): the VANSEnvelope reader, the SOR-EDI router, the
converter and the receipt builders.

Each adapter is a thin translation between the hub's values (`Inbound`, `Part`, `Output`, ...) and the pure
domain modules; none of them touches files, the database or the clock (`now` and the id factory come in).

Ids the hub keys on (for dedup, pairing and receipt correlation):
* `Inbound.envelope_id` is the VANSEnvelope EnvelopeIdentifier (reliable messaging at VANS level);
* `letter_id` / `message_envelope_id` are the OIOXML Letter/Identifier and Envelope/Identifier, or the FHIR
  MessageHeader.id and Bundle.id: exactly what an XCTL (OriginalEmessage) or an Acknowledgement
  (response.identifier) names, so `Output.envelope_id` of an OIOXML output is its OIOXML Envelope/Identifier.
Every output is wrapped in a VANSEnvelope with new envelope and message ids.

EDIFACT (DIS91, BIN01, CTL01-03) goes in and out through its OIOXML twin (`hub.edifact_leg`): its ids are the
twin's, its conversions compose the OIOXML <-> FHIR conversion with MedCom's EDIFACT <-> OIOXML conversion,
and its receipts use the same tables.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from medcom_bridge.convert.context import Context, ConversionError
from medcom_bridge.convert.correlation import CorrelationRecord
from medcom_bridge.directory import Directory
from medcom_bridge.documents import validate_as
from medcom_bridge.edifact import EdifactConversionError
from medcom_bridge.envelope import vans
from medcom_bridge.findings import Finding, Report, error, information
from medcom_bridge.hub import edifact_leg
from medcom_bridge.hub.causes import RejectCause
from medcom_bridge.hub.events import ReceiptVerdict
from medcom_bridge.hub.flow import TWIN_ROUTES, Route
from medcom_bridge.hub.outcome import refusal_code, refusal_text
from medcom_bridge.hub.pipeline import (
    EDIFACT_KINDS,
    FHIR_KINDS,
    ConversionOutcome,
    Decision,
    IdFactory,
    Inbound,
    Output,
    Part,
    ReceiptOutcome,
    RouteOutcome,
    Unreadable,
)
from medcom_bridge.hub.store import Correlation
from medcom_bridge.identifiers import gln_ok
from medcom_bridge.oioxml.model import PLUS_POSITIVE_RECEIPT, AnyEmessage
from medcom_bridge.oioxml.receipts import IKKE_SPECIFICERET, REFUSE_TEXT_MAX
from medcom_bridge.oioxml.text import FormattedText, to_plain_text
from medcom_bridge.registry.routing import Capable, UnknownMessageKind, decide

OIOXML_LETTERS = frozenset({"xdis91", "xbin01"})
XCTL_KINDS = frozenset({"xctl01", "xctl02", "xctl03"})
#: Route reasons start with this in the trace and the refuse text (the cause itself is `RejectCause.ROUTE`).
REGISTER_PREFIX = "register: "
#: Stored with the correlation record: did the XDIS91 ask for a positive receipt (pluspositivkvitt)?
POSITIVE_RECEIPT_KEY = "hub_positive_receipt_requested"
#: Stored with the correlation record of a flow to or from EDIFACT: its route (the receipts take it back).
ROUTE_KEY = "hub_route"
_TWIN_ROUTES = frozenset(r.value for r in TWIN_ROUTES)
#: One EDIFACT FTX segment (5 x 70): the longest refuse text every receiver can show.
#: The hub's own text in a negative receipt for input it rejects (reason follows).
REJECTED_TEXT = "Meddelelsen er afvist af konverteringsløsningen"


def normalise_object_id(value: str) -> str:
    """Pairing key of an attachment: XDIS91 writes the UUID without dashes, XBIN01 with (use cases §4.5)."""
    return value.replace("-", "").strip().lower()


def letter_id_factory(new_id: IdFactory) -> IdFactory:
    """OIOXML identifiers are at most 14 characters: the first 14 hex digits of a fresh UUID, upper case."""
    return lambda: new_id().replace("-", "")[:14].upper()


def context_for(directory: Directory, new_id: IdFactory) -> Context:
    return Context(new_uuid=new_id, new_letter_id=letter_id_factory(new_id), directory=directory)


# ------------------------------------------------------------------------------------------------- identify


@dataclass(frozen=True, slots=True)
class _Ids:
    letter_id: str | None = None
    message_envelope_id: str | None = None
    version: str | None = None
    attachment_ids: tuple[str, ...] = ()
    acknowledges: str | None = None
    acknowledges_envelope: str | None = None
    receipt: ReceiptVerdict | None = None
    receipt_code: str | None = None
    receipt_text: str | None = None
    receipt_requested: bool = True


class EnvelopeIdentifier:
    """`Identifier`: unwrap the VANSEnvelope, detect the payload kind, read its ids, validate it.

    Bytes that are no VANSEnvelope with a message raise `Unreadable` (quarantine). A readable envelope with
    a broken or invalid payload is an `Inbound` with error findings: the sender gets a negative receipt.
    """

    def identify(self, data: bytes, *, mailbox: str) -> Inbound:
        reading = vans.read(data)
        envelope = reading.envelope
        if envelope is None:
            raise Unreadable(*_first_problem(reading.findings, "vans-structure", "not a VANSEnvelope"))
        if envelope.receipt is not None:
            raise Unreadable(
                "hub-envelope-receipt",
                "a VANSEnvelope receipt carries no message; the hub takes messages and business receipts only",
            )
        payload = reading.payload
        kind = reading.payload_kind or envelope.payload_kind
        if not payload or kind is None:
            raise Unreadable(
                *_first_problem(
                    reading.findings, "vans-payload-kind", reading.payload_problem or "no payload"
                )
            )
        findings: list[Finding] = [f for f in reading.findings if f.severity != "information"]
        if envelope.sender.value != mailbox:
            findings.append(
                error(
                    "hub-sender-mailbox",
                    "VANSEnvelope/SenderID",
                    f"sender {envelope.sender.value} is not the owner of mailbox {mailbox}; "
                    "a party sends from its own out/ folder",
                )
            )
        if kind in EDIFACT_KINDS:
            ids, report = _edifact_ids(kind, payload)
        else:
            ids, problems = _read_ids(kind, payload)
            findings += problems
            report = validate_as(kind, payload)
        findings += [f for f in report.findings if f.severity != "information"]
        return Inbound(
            kind=kind,
            sender_gln=envelope.sender.value,
            receiver_gln=envelope.receiver.value,
            envelope_id=envelope.envelope_id,
            letter_id=ids.letter_id,
            message_envelope_id=ids.message_envelope_id,
            version=ids.version or report.version,
            attachment_ids=ids.attachment_ids,
            acknowledges=ids.acknowledges,
            acknowledges_envelope=ids.acknowledges_envelope,
            receipt=ids.receipt,
            receipt_code=ids.receipt_code,
            receipt_text=ids.receipt_text,
            receipt_requested=ids.receipt_requested,
            findings=tuple(findings),
        )


def _first_problem(findings: Iterable[Finding], rule: str, message: str) -> tuple[str, str]:
    first = next((f for f in findings if f.severity == "error"), None)
    return (first.rule, f"{first.path}: {first.message}") if first else (rule, message)


def _read_ids(kind: str, payload: bytes) -> tuple[_Ids, list[Finding]]:
    """The ids of a payload; a payload the codec cannot read gives what `peek_original` finds and an error."""
    try:
        if kind in FHIR_KINDS:
            return _fhir_ids(kind, payload), []
        return _oioxml_ids(kind, payload), []
    except (ValueError, AttributeError, KeyError, TypeError, IndexError) as exc:
        problem = error(f"hub-{kind}-unreadable", kind, f"the {kind} cannot be read: {exc}"[:300])
    if kind in OIOXML_LETTERS:
        from medcom_bridge.oioxml.receipts import peek_original

        facts = peek_original(payload)
        if facts is not None:
            return _Ids(facts.letter_identifier, facts.envelope_identifier, facts.version_code), [problem]
    return _Ids(), [problem]


def _oioxml_ids(kind: str, payload: bytes) -> _Ids:
    from medcom_bridge.oioxml.codec import parse
    from medcom_bridge.oioxml.model import (
        BinaryLetter,
        ClinicalEmail,
        NegativeReceipt,
        NegativeVansReceipt,
        PositiveReceipt,
    )

    message = parse(payload)
    body = message.body
    requested = message.envelope.acknowledgement_code == PLUS_POSITIVE_RECEIPT
    if isinstance(body, ClinicalEmail):
        objects = tuple(normalise_object_id(r.bin.object_identifier) for r in body.reference if r.bin)
        return _Ids(
            body.letter.identifier,
            message.envelope.identifier,
            body.letter.version_code,
            objects,
            receipt_requested=requested,
        )
    if isinstance(body, BinaryLetter):
        objects = tuple(normalise_object_id(o.object_identifier) for o in body.binary_object)
        return _Ids(
            body.letter.identifier,
            message.envelope.identifier,
            body.letter.version_code,
            objects,
            receipt_requested=requested,
        )
    if isinstance(body, PositiveReceipt | NegativeReceipt | NegativeVansReceipt):
        original = body.original_emessage
        letters = original.original_letter
        code, text = kind, None
        if not isinstance(body, PositiveReceipt):
            code, text = _xctl_refusal(original.refusals())
        return _Ids(
            body.letter.identifier,
            message.envelope.identifier,
            body.letter.version_code,
            acknowledges=letters[0].original_letter_identifier if letters else None,
            acknowledges_envelope=original.original_envelope_identifier,
            receipt=ReceiptVerdict.POSITIVE if isinstance(body, PositiveReceipt) else ReceiptVerdict.NEGATIVE,
            receipt_code=code,
            receipt_text=text,
            receipt_requested=False,
        )
    raise ValueError(f"a {type(body).__name__} is not handled by the hub")


def _edifact_ids(kind: str, payload: bytes) -> tuple[_Ids, Report]:
    """The ids of a DIS91/BIN01/CTL (its OIOXML twin's) and the validator's report, from one parse."""
    facts, report = edifact_leg.identify(kind, payload)
    if facts is None:
        return _Ids(), report
    common = (facts.letter_id or None, facts.envelope_id or None, facts.version or report.version)
    acknowledged = facts.acknowledges
    if acknowledged is None:
        objects = tuple(normalise_object_id(o) for o in facts.referenced_objects + facts.contained_objects)
        return _Ids(*common, objects, receipt_requested=facts.ack_requested), report
    return _Ids(
        *common,
        acknowledges=acknowledged.letter_ids[0] if acknowledged.letter_ids else None,
        acknowledges_envelope=acknowledged.envelope_id or None,
        receipt=ReceiptVerdict.POSITIVE if acknowledged.positive else ReceiptVerdict.NEGATIVE,
        receipt_code=kind
        if acknowledged.positive
        else refusal_code(acknowledged.refuse_code or IKKE_SPECIFICERET),
        receipt_text=None if acknowledged.positive else refusal_text(acknowledged.refuse_text),
        receipt_requested=False,
    ), report


def _fhir_ids(kind: str, payload: bytes) -> _Ids:
    from medcom_bridge.fhir.codec import parse

    bundle, _ = parse(payload)
    header = _header(bundle)
    definition = str(header.get("definition") or "")
    version = definition.rpartition("|")[2] if "|" in definition else None
    letter_id = _str(header.get("id"))
    if kind == "acknowledgement":
        response = header.get("response") or {}
        code = _str(response.get("code"))
        return _Ids(
            letter_id,
            _str(bundle.get("id")),
            version,
            acknowledges=_str(response.get("identifier")),
            receipt=ReceiptVerdict.POSITIVE if code == "ok" else ReceiptVerdict.NEGATIVE,
            receipt_code=refusal_code(code or "unknown"),
            receipt_text=None if code == "ok" else refusal_text(_issues_text(bundle)),
            receipt_requested=False,
        )
    return _Ids(letter_id, _str(bundle.get("id")), version)


def _xctl_refusal(refusals: Sequence[tuple[str | None, FormattedText | None]]) -> tuple[str, str | None]:
    """The RefuseCode and text of a negative XCTL: the first code given on either level (envelope level
    first; `ikke_specificeret` when none is, as MedCom's converter reads an absent one), the texts joined."""
    code = next((c for c, _ in refusals if c), None) or IKKE_SPECIFICERET
    texts = [to_plain_text(t) for _, t in refusals if t is not None]
    return refusal_code(code), refusal_text(" / ".join(t for t in texts if t.strip()) or None)


def _issues_text(bundle: dict[str, Any]) -> str | None:
    """What a negative Acknowledgement's OperationOutcome says: per issue its code (the MedCom detail code
    when one is given) and its text (details.text or diagnostics)."""
    said: list[str] = []
    for entry in bundle.get("entry") or []:
        resource = (entry or {}).get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "OperationOutcome":
            continue
        for issue in resource.get("issue") or []:
            if not isinstance(issue, dict):
                continue
            found = issue.get("details")
            details: dict[str, Any] = found if isinstance(found, dict) else {}
            codings = [c for c in details.get("coding") or [] if isinstance(c, dict)]
            code = next((_str(c.get("code")) for c in codings if _str(c.get("code"))), None)
            code = code or _str(issue.get("code"))
            text = _str(details.get("text")) or _str(issue.get("diagnostics"))
            said.append(": ".join(x for x in (code, text) if x))
    return "; ".join(s for s in said if s) or None


def _header(bundle: dict[str, Any]) -> dict[str, Any]:
    entries = bundle.get("entry") or []
    resource = (entries[0] or {}).get("resource") if entries else None
    if not isinstance(resource, dict) or resource.get("resourceType") != "MessageHeader":
        raise ValueError("Bundle.entry[0] is not a MessageHeader")
    return resource


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------------------------------------------- route


class RegisterRouter:
    """`Router`: use case R1 from SOR-EDI (`registry.routing.decide`); the register's reason is kept. Every
    pair of formats is converted (EDIFACT as a VANS converts it)."""

    def __init__(self, register: Capable, referral_hubs: Iterable[str] = ()) -> None:
        self.register = register
        self.referral_hubs = frozenset(referral_hubs)

    def route(self, inbound: Inbound) -> RouteOutcome:
        referral = inbound.sender_gln in self.referral_hubs
        try:
            decision = decide(self.register, inbound.receiver_gln, inbound.kind)
        except UnknownMessageKind as exc:
            return RouteOutcome(None, f"{REGISTER_PREFIX}{exc}")
        if decision.target_format is None:
            return RouteOutcome(None, f"{REGISTER_PREFIX}{decision.reason}")
        reason = f"{REGISTER_PREFIX}{decision.reason}"
        target = _DECISION[decision.target_format] if decision.convert else Decision.PASS_THROUGH
        return RouteOutcome(target, reason, referral, decision.xbin01_approved)


_DECISION = {"fhir": Decision.TO_FHIR, "oioxml": Decision.TO_OIOXML, "edifact": Decision.TO_EDIFACT}


# -------------------------------------------------------------------------------------------------- convert


class HubConverter:
    """`Converter`: S1/S2 with `convert/`, S3/S4 receipts with the stored correlation record (§6). EDIFACT
    flows compose that with the EDIFACT twin (`edifact_leg`): DIS91 (+ BIN01) -> models -> CareCommunication,
    CareCommunication -> models -> DIS91 (+ BIN01), and one message at a time between OIOXML and EDIFACT."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def convert(
        self,
        flow_id: str,
        parts: Sequence[Part],
        *,
        now: datetime,
        new_id: IdFactory,
        route: Route | None = None,
    ) -> ConversionOutcome:
        context = context_for(self.directory, new_id)
        try:
            kinds = {p.inbound.kind for p in parts}
            if route in TWIN_ROUTES:
                return self._twin(parts, route, now, new_id)
            if "carecommunication" in kinds:
                return self._from_fhir(flow_id, parts, now, new_id, context, route)
            if kinds & {"xdis91", "dis91"}:
                return self._to_fhir(flow_id, parts, now, new_id, context, route)
            return ConversionOutcome(
                findings=(error("hub-convert-input", "flow", f"nothing to convert in {sorted(kinds)}"),)
            )
        except ConversionError as exc:
            return ConversionOutcome(findings=(exc.finding(),))
        except EdifactConversionError as exc:
            return ConversionOutcome(findings=(edifact_leg.refusal(exc),))
        except (vans.EnvelopeError, ValueError) as exc:
            return ConversionOutcome(findings=(error("hub-convert-input", "flow", str(exc)[:300]),))

    def _to_fhir(
        self,
        flow_id: str,
        parts: Sequence[Part],
        now: datetime,
        new_id: IdFactory,
        context: Context,
        route: Route | None,
    ) -> ConversionOutcome:
        """S1: XDIS91 (+ XBIN01), or the twins of DIS91 (+ BIN01), -> one CareCommunication."""
        from medcom_bridge.convert.oioxml_to_fhir import xdis91_to_carecommunication
        from medcom_bridge.fhir.codec import to_json

        letter = next(p for p in parts if p.inbound.kind in ("xdis91", "dis91"))
        xdis91 = edifact_leg.clinical(
            edifact_leg.read_twin(letter.inbound.kind, vans.unwrap(letter.data).payload)
        )
        xbin01 = [
            edifact_leg.binary(edifact_leg.read_twin(p.inbound.kind, vans.unwrap(p.data).payload))
            for p in parts
            if p.inbound.kind in ("xbin01", "bin01")
        ]
        result = xdis91_to_carecommunication(xdis91, xbin01, context=context)
        bundle = result.bundle
        header_id = str(bundle["entry"][0]["resource"]["id"])
        sender, receiver = xdis91.body.sender.ean_identifier, xdis91.body.receiver.ean_identifier
        findings = tuple(result.report.findings)
        if not result.report.valid:
            return ConversionOutcome(findings=findings)
        data = _wrap(to_json(bundle), sender, receiver, now, new_id, "carecommunication")
        output = Output(receiver, data, "carecommunication", str(bundle["id"]), header_id)
        record = result.correlation
        extra = {
            POSITIVE_RECEIPT_KEY: xdis91.envelope.acknowledgement_code == PLUS_POSITIVE_RECEIPT,
            **_route_fact(route),
        }
        return ConversionOutcome(
            (output,),
            _correlations(flow_id, record),
            findings,
            str(bundle["id"]),
            _record_bytes(record, extra),
        )

    def _from_fhir(
        self,
        flow_id: str,
        parts: Sequence[Part],
        now: datetime,
        new_id: IdFactory,
        context: Context,
        route: Route | None,
    ) -> ConversionOutcome:
        """S2: a CareCommunication -> XDIS91 + XBIN01 (schema-checked), or their EDIFACT twins DIS91 + BIN01
        (checked by our EDIFACT validator) for an EDIFACT-only receiver."""
        from medcom_bridge.convert.fhir_to_oioxml import (
            carecommunication_to_oioxml,
            convert_carecommunication,
        )
        from medcom_bridge.fhir.codec import parse

        letter = next(p for p in parts if p.inbound.kind == "carecommunication")
        bundle, _ = parse(vans.unwrap(letter.data).payload)
        if route is Route.FHIR_TO_EDIFACT:
            messages = carecommunication_to_oioxml(bundle, context=context)
            record: CorrelationRecord | None = messages.correlation
            # An EDIFACT-only receiver needs long text in several S14 groups (oioxml-legacy.md, 31,150).
            models: list[AnyEmessage] = [edifact_leg.fit_clinical_text(messages.xdis91), *messages.xbin01]
            written = [edifact_leg.to_edifact_message(m) for m in models]
            findings = tuple(messages.findings) + tuple(f for w in written for f in w.report.findings)
            valid = all(w.report.valid for w in written)
        else:
            result = convert_carecommunication(bundle, context=context)
            record = result.correlation
            written = [
                edifact_leg.Written(o.data, o.kind, o.envelope_id, o.letter_id, o.report)
                for o in result.outputs
            ]
            findings = tuple(result.report.findings) + tuple(f for o in written for f in o.report.findings)
            valid = all(o.report.valid for o in written)
        if record is None or not written or not valid:
            return ConversionOutcome(findings=findings or (error("hub-convert", "flow", "no output"),))
        sender, receiver = record.xdis91.sender_ean, record.xdis91.receiver_ean
        outputs = tuple(
            Output(
                receiver,
                _wrap(out.data, sender, receiver, now, new_id, out.kind),
                out.kind,
                out.envelope_id,
                out.letter_id,
            )
            for out in written
        )
        return ConversionOutcome(
            outputs,
            _correlations(flow_id, record),
            findings,
            record.bundle_id,
            _record_bytes(record, _route_fact(route)),
        )

    def _twin(
        self, parts: Sequence[Part], route: Route, now: datetime, new_id: IdFactory
    ) -> ConversionOutcome:
        """XDIS91/XBIN01 <-> DIS91/BIN01, one message per flow, as a VANS converts them."""
        part = next((p for p in parts if p.inbound.kind not in FHIR_KINDS), None)
        if part is None:
            return ConversionOutcome(findings=(error("hub-convert-input", "flow", "no message to convert"),))
        envelope = vans.unwrap(part.data)
        if route is Route.OIOXML_TO_EDIFACT:
            from medcom_bridge.oioxml.codec import parse

            message = parse(envelope.payload)
            written = edifact_leg.to_edifact_message(message)
        else:
            message, written = edifact_leg.to_oioxml_message(envelope.payload)
        if not written.report.valid:
            return ConversionOutcome(findings=written.report.findings)
        sender, receiver = envelope.sender.value, envelope.receiver.value
        data = _wrap(written.data, sender, receiver, now, new_id, written.kind)
        output = Output(receiver, data, written.kind, written.envelope_id, written.letter_id)
        requested = message.envelope.acknowledgement_code == PLUS_POSITIVE_RECEIPT
        record = json.dumps({ROUTE_KEY: route.value, POSITIVE_RECEIPT_KEY: requested}).encode()
        return ConversionOutcome((output,), (), written.report.findings, None, record)

    def answer(
        self,
        flow_id: str,
        receipts: Sequence[Part],
        correlations: Sequence[Correlation],
        *,
        now: datetime,
        new_id: IdFactory,
        record: bytes | None = None,
    ) -> ReceiptOutcome:
        if record is None:
            return ReceiptOutcome(
                findings=(error("hub-correlation-missing", "flow", "no correlation record stored"),)
            )
        stored = json.loads(record)
        route = stored.get(ROUTE_KEY)
        context = context_for(self.directory, new_id)
        try:
            if route in _TWIN_ROUTES:
                return _receipt_twin(receipts, now, new_id)
            correlation = CorrelationRecord.from_json(stored)
            if correlation.direction == "fhir-to-oioxml":
                return self._to_acknowledgement(receipts, correlation, now, new_id, context)
            edifact = route == Route.EDIFACT_TO_FHIR.value
            outcome = self._to_xctl(receipts, correlation, now, new_id, context, edifact=edifact)
            if outcome.verdict is ReceiptVerdict.POSITIVE and not stored.get(POSITIVE_RECEIPT_KEY, True):
                # minuspositivkvitt: the OIOXML sender asked for no positive receipt (negative ones always go).
                return replace(outcome, outputs=())
            return outcome
        except ConversionError as exc:
            return ReceiptOutcome(findings=(exc.finding(),))
        except EdifactConversionError as exc:
            return ReceiptOutcome(findings=(edifact_leg.refusal(exc),))
        except (vans.EnvelopeError, ValueError) as exc:
            return ReceiptOutcome(findings=(error("hub-receipt-input", "receipt", str(exc)[:300]),))

    def _to_acknowledgement(
        self,
        receipts: Sequence[Part],
        correlation: CorrelationRecord,
        now: datetime,
        new_id: IdFactory,
        context: Context,
    ) -> ReceiptOutcome:
        """Table 4: the receiver's XCTL (or CTL, read as its XCTL twin) for the XDIS91 and for each XBIN01 ->
        one Acknowledgement."""
        from medcom_bridge.convert.receipts import xctl_to_acknowledgement
        from medcom_bridge.fhir.codec import to_json

        by_letter: dict[tuple[str, str], Any] = {}
        ignored: list[Finding] = []
        for part in receipts:  # oldest first: a later receipt for the same letter wins
            if part.inbound.kind not in XCTL_KINDS | edifact_leg.CTL_KINDS:
                ignored.append(information("hub-receipt-kind", part.inbound.kind, "not an XCTL; ignored"))
                continue
            receipt = edifact_leg.read_twin(part.inbound.kind, vans.unwrap(part.data).payload)
            body = edifact_leg.receipt_body(receipt)
            if body is None:
                ignored.append(information("hub-receipt-kind", part.inbound.kind, "not a receipt; ignored"))
                continue
            original = body.original_emessage
            named = {ol.original_letter_identifier for ol in original.original_letter}
            for letter in correlation.letters:
                if original.original_envelope_identifier == letter.envelope_id or letter.letter_id in named:
                    by_letter[(letter.envelope_id, letter.letter_id)] = receipt
        key = (correlation.xdis91.envelope_id, correlation.xdis91.letter_id)
        result = xctl_to_acknowledgement(
            by_letter.get(key),
            [by_letter.get((x.envelope_id, x.letter_id)) for x in correlation.xbin01],
            correlation,
            context=context,
        )
        if result is None:
            return ReceiptOutcome(findings=tuple(ignored))
        ack = result.bundle
        header = ack["entry"][0]["resource"]
        code = header["response"]["code"]
        fhir_sender = correlation.xdis91.sender_ean  # the FHIR sender's location number
        ours = correlation.xdis91.receiver_ean
        data = _wrap(to_json(ack), ours, fhir_sender, now, new_id, "acknowledgement")
        output = Output(fhir_sender, data, "acknowledgement", str(ack["id"]), str(header["id"]), "answer")
        verdict = ReceiptVerdict.POSITIVE if code == "ok" else ReceiptVerdict.NEGATIVE
        return ReceiptOutcome((output,), True, verdict, tuple(result.report.findings) + tuple(ignored))

    def _to_xctl(
        self,
        receipts: Sequence[Part],
        correlation: CorrelationRecord,
        now: datetime,
        new_id: IdFactory,
        context: Context,
        *,
        edifact: bool = False,
    ) -> ReceiptOutcome:
        """Table 3: the receiver's Acknowledgement -> an XCTL for the XDIS91 and one for each XBIN01; for an
        EDIFACT sender (`edifact`) their CTL twins."""
        from medcom_bridge.convert.receipts import acknowledgement_to_xctl
        from medcom_bridge.fhir.codec import parse
        from medcom_bridge.oioxml.codec import parse as parse_oioxml

        acks = [p for p in receipts if p.inbound.kind == "acknowledgement"]
        if not acks:
            return ReceiptOutcome(
                findings=(information("hub-receipt-kind", "receipt", "no Acknowledgement yet"),)
            )
        ack, _ = parse(vans.unwrap(acks[-1].data).payload)
        result = acknowledgement_to_xctl(ack, correlation, context=context)
        written = [
            edifact_leg.Written(o.data, o.kind, o.envelope_id, o.letter_id, o.report) for o in result.outputs
        ]
        findings = tuple(result.report.findings)
        if edifact:
            models = [o.message or parse_oioxml(o.data) for o in result.outputs]
            written = [edifact_leg.to_edifact_message(m) for m in models]
            findings += tuple(f for w in written for f in w.report.findings)
            if not all(w.report.valid for w in written):
                return ReceiptOutcome(findings=findings)
        outputs = tuple(
            Output(
                letter.sender_ean,
                _wrap(out.data, letter.receiver_ean, letter.sender_ean, now, new_id, out.kind),
                out.kind,
                out.envelope_id,
                out.letter_id,
                "answer",
            )
            for out, letter in zip(written, correlation.letters, strict=True)
        )
        code = _header(ack).get("response", {}).get("code")
        verdict = ReceiptVerdict.POSITIVE if code == "ok" else ReceiptVerdict.NEGATIVE
        return ReceiptOutcome(outputs, True, verdict, findings)


def _receipt_twin(receipts: Sequence[Part], now: datetime, new_id: IdFactory) -> ReceiptOutcome:
    """A flow converted message by message between OIOXML and EDIFACT: its receipt (the one just taken, the
    last) goes back as its twin, XCTL0n <-> CTL0n, from the receiver to the sender."""
    part = receipts[-1]
    kind = part.inbound.kind
    envelope = vans.unwrap(part.data)
    if kind in edifact_leg.CTL_KINDS:
        receipt, written = edifact_leg.to_oioxml_message(envelope.payload)
    elif kind in XCTL_KINDS:
        from medcom_bridge.oioxml.codec import parse

        receipt = parse(envelope.payload)
        written = edifact_leg.to_edifact_message(receipt)
    else:
        return ReceiptOutcome(
            findings=(information("hub-receipt-kind", kind, "not an XCTL or CTL; ignored"),)
        )
    if not written.report.valid:
        return ReceiptOutcome(findings=written.report.findings)
    sender, receiver = envelope.sender.value, envelope.receiver.value
    data = _wrap(written.data, sender, receiver, now, new_id, written.kind)
    output = Output(receiver, data, written.kind, written.envelope_id, written.letter_id, "answer")
    verdict = ReceiptVerdict.POSITIVE if edifact_leg.is_positive(receipt) else ReceiptVerdict.NEGATIVE
    return ReceiptOutcome((output,), True, verdict, written.report.findings)


def _route_fact(route: Route | None) -> dict[str, str]:
    """The route kept with the correlation record, for flows whose receipts go back in EDIFACT or from it."""
    return {ROUTE_KEY: route.value} if route in (Route.FHIR_TO_EDIFACT, Route.EDIFACT_TO_FHIR) else {}


def _correlations(flow_id: str, record: CorrelationRecord | None) -> tuple[Correlation, ...]:
    if record is None:
        return ()
    return tuple(
        Correlation(
            flow_id,
            letter.kind,
            letter.envelope_id,
            letter.letter_id,
            letter.version_code,
            record.bundle_id,
            record.message_header_id,
        )
        for letter in record.letters
    )


def _record_bytes(record: CorrelationRecord | None, extra: dict[str, Any] | None = None) -> bytes | None:
    """The record as stored with the flow; `extra` holds the hub's own facts (ignored by `from_json`)."""
    return json.dumps({**record.to_json(), **(extra or {})}, sort_keys=True).encode() if record else None


def _wrap(
    payload: bytes, sender: str, receiver: str, now: datetime, new_id: IdFactory, kind: str | None
) -> bytes:
    return vans.wrap(
        payload,
        sender_ean=sender,
        receiver_ean=receiver,
        envelope_id=new_id(),
        message_id=new_id(),
        sent=now,
        kind=kind
        if kind in vans.OIOXML_NAMES or kind in vans.EDIFACT_DOCUMENTS or kind in vans.FHIR_NAME_PREFIXES
        else None,
    )


# -------------------------------------------------------------------------------------------------- answers


class ReceiptAnswers:
    """`Answers`: the hub's negative VANS receipt (XCTL01 for OIOXML, a `fatal-error` Acknowledgement for
    FHIR) and the repeat of a stored answer for a duplicate (fhir-carecommunication.md §8)."""

    def negative_vans_receipt(
        self,
        inbound: Inbound | None,
        data: bytes,
        cause: RejectCause,
        reason: str,
        *,
        mailbox: str,
        now: datetime,
        new_id: IdFactory,
    ) -> Output | None:
        if inbound is not None and inbound.is_receipt:
            return None  # a receipt is never answered with a receipt
        reading = vans.read(data)
        payload = reading.payload
        kind = inbound.kind if inbound is not None else reading.payload_kind
        if inbound is None and reading.envelope is None:
            return _unreadable_envelope_receipt(data, reason, mailbox, now, new_id)
        if not payload or kind is None:
            return None
        if not gln_ok(mailbox):
            return None  # nobody addressable to answer
        ours = inbound.receiver_gln if inbound is not None else _receiver_of(reading)
        if ours is not None and not gln_ok(ours):
            ours = None  # a mistyped ReceiverID: the letter's own receiver answers, if the payload names one
        if kind in OIOXML_LETTERS | edifact_leg.EDIFACT_LETTERS:
            return _xctl01(kind, payload, cause, reason, mailbox, ours, now, new_id)
        if kind == "carecommunication":
            return _fatal_ack(payload, cause, reason, mailbox, ours, now, new_id)
        return None

    def repeat(self, answer: bytes, *, now: datetime, new_id: IdFactory) -> bytes:
        """The same answer in a new VANSEnvelope; a FHIR answer also gets a new Bundle.id and MessageHeader.id
        (§8: "same content ... in a new ack bundle with a new Bundle.id and MH.id"); an XCTL keeps its ids."""
        envelope = vans.unwrap(answer)
        payload = envelope.payload
        kind = envelope.payload_kind
        if kind in FHIR_KINDS:
            from medcom_bridge.fhir.codec import parse

            bundle, _ = parse(payload)
            for old in (_str(bundle.get("id")), _str(_header(bundle).get("id"))):
                if old:  # ids are UUIDs: unique strings, so a textual swap touches only the id and its refs
                    payload = payload.replace(old.encode(), new_id().encode())
        return _wrap(payload, envelope.sender.value, envelope.receiver.value, now, new_id, kind)


def _unreadable_envelope_receipt(
    data: bytes, reason: str, mailbox: str, now: datetime, new_id: IdFactory
) -> Output | None:
    """A half-written or broken envelope whose header still names its sender (the owner of the mailbox it
    came from) and receiver: answered with an envelope-level NegativeVans receipt."""
    header = vans.peek_header(data)
    if header is None or header.sender != mailbox or not gln_ok(header.receiver):
        return None
    envelope_id = str(
        uuid.UUID(int=int.from_bytes(hashlib.sha256(new_id().encode()).digest()[:16], "big"), version=4)
    )
    try:
        receipt = vans.negative_vans(
            header, description=f"{REJECTED_TEXT}: {reason}", envelope_id=envelope_id, sent=now
        )
    except vans.EnvelopeError:
        return None
    return Output(mailbox, vans.serialize(receipt), "vans-receipt", envelope_id, None, "negative_receipt")


def _receiver_of(reading: vans.Reading) -> str | None:
    return reading.envelope.receiver.value if reading.envelope is not None else None


def _refusal(cause: RejectCause, reason: str) -> tuple[str, str]:
    from medcom_bridge.oioxml import receipts as r

    if cause is RejectCause.CONVERSION:
        return cause.refuse_code, r.CONVERSION_FAILED_TEXT
    return cause.refuse_code, f"{REJECTED_TEXT}: {reason}"[:REFUSE_TEXT_MAX]


def _xctl01(
    kind: str,
    payload: bytes,
    cause: RejectCause,
    reason: str,
    mailbox: str,
    ours: str | None,
    now: datetime,
    new_id: IdFactory,
) -> Output | None:
    """XCTL01 for a refused XDIS91/XBIN01; its twin CTL01 for a refused DIS91/BIN01."""
    from medcom_bridge.convert.rules import DANISH_TIME
    from medcom_bridge.oioxml.codec import serialize
    from medcom_bridge.oioxml.receipts import negative_vans_receipt, peek_original

    edifact = kind in edifact_leg.EDIFACT_LETTERS
    facts = edifact_leg.original_facts(payload) if edifact else peek_original(payload)
    if facts is None:
        return None
    code, text = _refusal(cause, reason)
    letter_ids = letter_id_factory(new_id)
    envelope_id, letter_id = letter_ids(), letter_ids()
    receipt = negative_vans_receipt(
        facts,
        refuse_code=code,
        refuse_text=text,
        now=now.astimezone(DANISH_TIME).replace(tzinfo=None),
        envelope_identifier=envelope_id,
        letter_identifier=letter_id,
    )
    sender = ours or facts.receiver_ean
    if not sender or not gln_ok(sender):
        return None
    if edifact:
        written = edifact_leg.to_edifact_message(receipt)
        payload_out, kind_out = written.data, written.kind
    else:
        payload_out, kind_out = serialize(receipt), "xctl01"
    data = _wrap(payload_out, sender, mailbox, now, new_id, kind_out)
    return Output(mailbox, data, kind_out, envelope_id, letter_id, "negative_receipt")


def _fatal_ack(
    payload: bytes,
    cause: RejectCause,
    reason: str,
    mailbox: str,
    ours: str | None,
    now: datetime,
    new_id: IdFactory,
) -> Output | None:
    from medcom_bridge.fhir.builder import acknowledgement
    from medcom_bridge.fhir.codec import parse, to_json
    from medcom_bridge.fhir.content import Issue

    if not ours:
        return None
    try:
        bundle, _ = parse(payload)
        _, text = _refusal(cause, reason)
        issue = Issue(severity="error", code=cause.issue_code, text=text)
        ack = acknowledgement(bundle, code="fatal-error", issues=[issue], now=now, new_id=new_id)
    except ValueError:  # BuildError and parse errors: too broken to be answered in FHIR
        return None
    header = ack["entry"][0]["resource"]
    data = _wrap(to_json(ack), ours, mailbox, now, new_id, "acknowledgement")
    return Output(mailbox, data, "acknowledgement", str(ack["id"]), str(header["id"]), "negative_receipt")
