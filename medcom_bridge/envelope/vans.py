"""The VANSEnvelope 1.0.4: model, wrap, unwrap, serialize (spec: oioxml-legacy.md §(d), fhir-carecommunication.md §6).

Every message on the VANS network travels in one of these: sender/receiver location numbers, an envelope id
and a message id (the keys of reliable messaging), a `Document` block that names the payload
(`MCM:XDIS91`/`XD9134L`, `MCM:FDIS91#<category>`/`5.0`, ...) and the payload itself, base64 in `Data`.

Reading and checking are one pass (`read`), so `unwrap` (raise on the first error) and
`validation.validate_bytes` (report every finding) can never disagree about what a good envelope is.
MedCom publishes no rule ids for the envelope, so the rules here are named `vans-*`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

from lxml import etree

from medcom_bridge.documents import UnknownKind, detect_kind, kind_of_element
from medcom_bridge.edifact import ENVELOPE_DOCUMENT
from medcom_bridge.fhir import canonical
from medcom_bridge.findings import Finding, error, information, warning
from medcom_bridge.privacy import scrub
from medcom_bridge.registry.gln import problem as gln_problem
from medcom_bridge.xmlsafe import XmlError, is_wide_unicode_xml, local_name, parse_xml

VANS_NS = "urn:oio:medcom:vans-envelope:1.0.4"
VANS_VERSION = "1.0.4"
_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

EndPointKind = Literal["EAN", "CVR", "VANS"]
ReceiptOutcome = Literal["PositiveMessage", "NegativeMessage", "NegativeVans"]
END_POINT_KINDS: tuple[EndPointKind, ...] = ("EAN", "CVR", "VANS")
RECEIPT_OUTCOMES: tuple[ReceiptOutcome, ...] = ("NegativeVans", "NegativeMessage", "PositiveMessage")
DOCUMENT_FORMATS = ("XML", "EDIFACT", "HL7", "Binary", "Other")
TRANSPORT_TYPES = ("reliable", "unreliable")

MIME_TAG = "MCM:MIME"
MIME_FHIR_JSON = "application/fhir+json"
MIME_FHIR_XML = "application/fhir+xml"

# Document/Name of each OIOXML kind; Document/Version is the payload's own Letter/VersionCode.
OIOXML_NAMES = {
    "xdis91": "MCM:XDIS91",
    "xbin01": "MCM:XBIN01",
    "xctl01": "MCM:XCTL01",
    "xctl02": "MCM:XCTL02",
    "xctl03": "MCM:XCTL03",
}
# Document/Name and Document/Version of each EDIFACT kind (Format EDIFACT; architecture.md §3.1).
EDIFACT_DOCUMENTS = ENVELOPE_DOCUMENT
# FHIR names are `<prefix>#<postfix>`: the SOR-EDI system code, then the category or response code.
FHIR_NAME_PREFIXES = {"carecommunication": "MCM:FDIS91", "acknowledgement": "MCM:FCTL"}

# CodeSystem medcom-messaging-statisticalCodes, the MCM:FDIS91# entries (fhir-carecommunication.md §6).
FDIS91_STATISTICAL_CODES = frozenset(
    {
        "outpatient",
        "decease",
        "carecoordination",
        "assistive-devices",
        "medicine",
        "psychiatry-social-disability",
        "healthcare",
        "nursing",
        "telemedicine",
        "training",
        "discharge",
        "regarding-referral",
        "assessment",
        "home-care-assessment",
        "examination-results",
        "alcohol-and-drug-treatment",
        "acute-ambulant",
        "extended-care-responsibility",
        "other",
    }
)
# In the statistical code system but not a Communication category: accepted on input, never produced.
FDIS91_ACCEPTED_NOT_PRODUCED = "assessment"
FCTL_CODES = frozenset({"ok", "transient-error", "fatal-error"})

# Document/Version of the FHIR standards (governance page, Sept 2025; 4.0.x envelopes carried 4.0.0).
CARECOMMUNICATION_V5_VERSION = "5.0"
CARECOMMUNICATION_V4_VERSION = "4.0.0"
ACKNOWLEDGEMENT_VERSION = "2.0.0"
_CC_V4_DEFINITION = canonical.CC_DEFINITION_4

_FHIR_NS = canonical.FHIR_NS
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?")
_XML_SPACE = re.compile(r"[ \t\r\n]+")
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XS_INT = re.compile(r"[+-]?[0-9]+")
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_ROOT = "VANSEnvelope"


class EnvelopeError(ValueError):
    """An envelope that cannot be read or written: which rule, where, and what a correct value looks like.

    `envelope` holds what could be read when the error is about consistency rather than structure, so the
    hub can still answer the sender (e.g. a negative receipt naming the original message).
    """

    def __init__(self, rule: str, path: str, message: str, envelope: Envelope | None = None) -> None:
        message = scrub(message)  # shown, logged and stored as a failure reason (privacy.py)
        super().__init__(f"{rule} {path}: {message}")
        self.rule = rule
        self.path = path
        self.message = message
        self.envelope = envelope


# --------------------------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class EndPoint:
    """SenderID / ReceiverID: a location number (EAN/GLN), a CVR number or a VANS provider id."""

    value: str
    type: EndPointKind = "EAN"


@dataclass(frozen=True, slots=True)
class Document:
    """MetaInformation/Document: what the payload is and how big it is."""

    format: str
    name: str
    version: str | None
    size_in_bytes: int


@dataclass(frozen=True, slots=True)
class ServiceTag:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Transport:
    # None means the element is absent; the network then applies its default, which is reliable.
    type: str | None = "reliable"
    transform_message: bool = False
    service_tags: tuple[ServiceTag, ...] = ()

    def tag(self, name: str) -> str | None:
        """The value of the first service tag called `name`, or None."""
        return next((t.value for t in self.service_tags if t.name == name), None)


@dataclass(frozen=True, slots=True)
class Processing:
    provider_identifier: str
    service_identifier: str


@dataclass(frozen=True, slots=True)
class MetaInformation:
    identifier: str
    document: Document
    processing: Processing | None = None
    transport: Transport | None = None


@dataclass(frozen=True, slots=True)
class Message:
    meta: MetaInformation
    # Excluded from repr: the payload is patient data and must never end up in a log line.
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    description: str
    code: int | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """The envelope-level acknowledgement (not the business receipt XCTL / FHIR Acknowledgement)."""

    outcome: ReceiptOutcome
    original_envelope_id: str
    original_message: MetaInformation | None
    error: ErrorInfo | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    sender: EndPoint
    receiver: EndPoint
    envelope_id: str
    sent: datetime
    body: Message | Receipt

    @property
    def message(self) -> Message | None:
        return self.body if isinstance(self.body, Message) else None

    @property
    def receipt(self) -> Receipt | None:
        return self.body if isinstance(self.body, Receipt) else None

    @property
    def payload(self) -> bytes:
        """The decoded payload; empty for a receipt envelope."""
        return self.body.data if isinstance(self.body, Message) else b""

    @property
    def payload_kind(self) -> str | None:
        """The kind announced by Document/Name (unwrap has checked that the payload agrees)."""
        return kind_for_name(self.body.meta.document.name) if isinstance(self.body, Message) else None


# ------------------------------------------------------------------------------ naming the payload


def kind_for_name(name: str) -> str | None:
    """The payload kind a Document/Name announces (`MCM:FDIS91#other` -> carecommunication), or None."""
    for kind, known in OIOXML_NAMES.items():
        if name == known:
            return kind
    for kind, (edifact_name, _) in EDIFACT_DOCUMENTS.items():
        if name == edifact_name:
            return kind
    prefix = name.partition("#")[0]
    for kind, known in FHIR_NAME_PREFIXES.items():
        if prefix == known:
            return kind
    return None


def document_for(kind: str, payload: bytes, root: etree._Element | None = None) -> Document:
    """The Document block for a payload of `kind`, read from the payload itself.

    OIOXML: Name from the kind, Version = the letter's VersionCode. CareCommunication: `MCM:FDIS91#<category
    code>`, Version from MessageHeader.definition (5.x -> 5.0, 4.0 -> 4.0.0). Acknowledgement:
    `MCM:FCTL#<response code>`, 2.0.0. Raises EnvelopeError when the payload lacks what the name needs.
    `root`: the payload already parsed (XML), so it is not parsed twice.
    """
    path = f"{_ROOT}/Message/Data"
    if kind in OIOXML_NAMES:
        return Document("XML", OIOXML_NAMES[kind], _oioxml_version_code(payload, path, root), len(payload))
    if kind in EDIFACT_DOCUMENTS:
        return Document("EDIFACT", *EDIFACT_DOCUMENTS[kind], len(payload))
    if kind == "carecommunication":
        facts = _fhir_facts(payload, path, root)
        category = facts.category
        if not category:
            raise EnvelopeError(
                "vans-payload-category",
                path,
                "the CareCommunication has no Communication.category.coding.code, which Document/Name "
                "needs (MCM:FDIS91#<category code>)",
            )
        if category not in FDIS91_STATISTICAL_CODES or category == FDIS91_ACCEPTED_NOT_PRODUCED:
            raise EnvelopeError(
                "vans-payload-category",
                path,
                f"category {category!r} has no MCM:FDIS91 statistical code; use a code of the "
                "medcom-careCommunication-categories value set, e.g. 'other'",
            )
        version = (
            CARECOMMUNICATION_V4_VERSION
            if facts.definition.startswith(_CC_V4_DEFINITION)
            else CARECOMMUNICATION_V5_VERSION
        )
        return Document("HL7", f"MCM:FDIS91#{category}", version, len(payload))
    if kind == "acknowledgement":
        code = _fhir_facts(payload, path, root).response_code
        if code not in FCTL_CODES:
            raise EnvelopeError(
                "vans-payload-response-code",
                path,
                f"MessageHeader.response.code is {code or 'missing'!r}; Document/Name needs one of "
                + ", ".join(sorted(FCTL_CODES)),
            )
        return Document("HL7", f"MCM:FCTL#{code}", ACKNOWLEDGEMENT_VERSION, len(payload))
    raise EnvelopeError(
        "vans-payload-kind",
        path,
        f"cannot wrap a payload of kind {kind!r}; supported: "
        + ", ".join([*OIOXML_NAMES, *EDIFACT_DOCUMENTS, *FHIR_NAME_PREFIXES]),
    )


def fhir_mime_type(payload: bytes) -> str:
    """application/fhir+json or application/fhir+xml, by the payload's first significant byte."""
    head = payload.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return MIME_FHIR_JSON if head == b"{" else MIME_FHIR_XML


def _parsed(payload: bytes, path: str, root: etree._Element | None) -> etree._Element:
    if root is not None:
        return root
    try:
        return parse_xml(payload)
    except XmlError as exc:
        raise EnvelopeError(exc.rule, path, f"payload: {exc}") from None


def _is_xml(payload: bytes) -> bool:
    """The test `documents.detect_kind` makes before parsing a payload as XML (on a prefix: no copy of a big
    payload; a longer run of leading blanks goes the general way, with the same verdict)."""
    return payload[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<" or is_wide_unicode_xml(payload)


def _oioxml_version_code(payload: bytes, path: str, root: etree._Element | None = None) -> str:
    root = _parsed(payload, path, root)
    for body in root:
        if local_name(body.tag) in ("", "Envelope"):
            continue
        for letter in body:
            if local_name(letter.tag) != "Letter":
                continue
            for child in letter:
                if local_name(child.tag) == "VersionCode" and (child.text or "").strip():
                    return (child.text or "").strip()
    raise EnvelopeError(
        "vans-payload-version",
        path,
        "the OIOXML letter has no Letter/VersionCode, which Document/Version must repeat (e.g. XD9134L)",
    )


@dataclass(frozen=True, slots=True)
class _FhirFacts:
    category: str
    definition: str
    response_code: str


def _fhir_facts(payload: bytes, path: str, root: etree._Element | None = None) -> _FhirFacts:
    """The three values the envelope needs from a FHIR message, from JSON or XML (`root`: already parsed)."""
    if fhir_mime_type(payload) == MIME_FHIR_JSON:
        return _fhir_json_facts(payload, path)
    root = _parsed(payload, path, root)
    ns = f"{{{_FHIR_NS}}}"
    category = definition = response = ""
    for resource in root.iterfind(f"{ns}entry/{ns}resource/*"):
        name = local_name(resource.tag)
        if name == "Communication" and not category:
            code = resource.find(f"{ns}category/{ns}coding/{ns}code")
            category = code.get("value", "") if code is not None else ""
        elif name == "MessageHeader":
            found = resource.find(f"{ns}definition")
            definition = found.get("value", "") if found is not None else definition
            code = resource.find(f"{ns}response/{ns}code")
            response = code.get("value", "") if code is not None else response
    return _FhirFacts(category, definition, response)


def _fhir_json_facts(payload: bytes, path: str) -> _FhirFacts:
    try:
        bundle = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise EnvelopeError("vans-payload-json", path, f"payload is not valid JSON: {exc}") from None
    category = definition = response = ""
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        if resource.get("resourceType") == "Communication" and not category:
            category = _first_str(resource, "category", "coding", "code")
        elif resource.get("resourceType") == "MessageHeader":
            definition = _first_str(resource, "definition") or definition
            response = _first_str(resource, "response", "code") or response
    return _FhirFacts(category, definition, response)


def _first_str(node: object, *keys: str) -> str:
    """Follow keys through dicts, taking the first item of any list on the way."""
    for key in keys:
        if isinstance(node, list):
            node = node[0] if node else None
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, list):
        node = node[0] if node else None
    return node if isinstance(node, str) else ""


# ------------------------------------------------------------------------------------------ write


def make_envelope(
    payload: bytes,
    *,
    sender_ean: str,
    receiver_ean: str,
    envelope_id: str,
    message_id: str,
    sent: datetime,
    kind: str | None = None,
    service_tags: Sequence[ServiceTag] = (),
    transform_message: bool = False,
    processing: Processing | None = None,
    sender_type: EndPointKind = "EAN",
    receiver_type: EndPointKind = "EAN",
) -> Envelope:
    """The envelope model for `payload`; `kind` (if given) must match what the payload is.

    Transport is always `reliable` (required for FHIR, the default for everything else); FHIR payloads get
    the MCM:MIME service tag. Raises EnvelopeError for a payload of the wrong or an unknown kind.
    """
    path = f"{_ROOT}/Message/Data"
    if not payload:
        raise EnvelopeError("vans-payload-empty", path, "the payload is empty")
    root = None
    try:
        if _is_xml(payload):  # parsed once: the kind and the Document facts from one tree
            root = parse_xml(payload)
            actual = kind_of_element(root)
        else:
            actual = detect_kind(payload)
    except XmlError as exc:
        raise EnvelopeError(exc.rule, path, f"payload: {exc}") from None
    except (UnknownKind, ValueError) as exc:
        raise EnvelopeError("vans-payload-kind", path, f"payload: {exc}") from None
    if kind is not None and kind != actual:
        raise EnvelopeError(
            "vans-payload-kind", path, f"asked to wrap a {kind} but the payload is a {actual}"
        )
    document = document_for(actual, payload, root)
    tags = list(service_tags)
    if actual in FHIR_NAME_PREFIXES and not any(t.name == MIME_TAG for t in tags):
        tags.insert(0, ServiceTag(MIME_TAG, fhir_mime_type(payload)))
    envelope = Envelope(
        sender=EndPoint(sender_ean, sender_type),
        receiver=EndPoint(receiver_ean, receiver_type),
        envelope_id=envelope_id,
        sent=sent,
        body=Message(
            MetaInformation(
                identifier=message_id,
                document=document,
                processing=processing,
                transport=Transport("reliable", transform_message, tuple(tags)),
            ),
            payload,
        ),
    )
    check_envelope(envelope)
    return envelope


def wrap(
    payload: bytes,
    *,
    sender_ean: str,
    receiver_ean: str,
    envelope_id: str,
    message_id: str,
    sent: datetime,
    kind: str | None = None,
    service_tags: Sequence[ServiceTag] = (),
    transform_message: bool = False,
    processing: Processing | None = None,
    sender_type: EndPointKind = "EAN",
    receiver_type: EndPointKind = "EAN",
) -> bytes:
    """Wrap a MedCom message in a VANSEnvelope 1.0.4 (UTF-8 XML bytes); see `make_envelope`."""
    return serialize(
        make_envelope(
            payload,
            sender_ean=sender_ean,
            receiver_ean=receiver_ean,
            envelope_id=envelope_id,
            message_id=message_id,
            sent=sent,
            kind=kind,
            service_tags=service_tags,
            transform_message=transform_message,
            processing=processing,
            sender_type=sender_type,
            receiver_type=receiver_type,
        )
    )


def acknowledge(
    envelope: Envelope, *, envelope_id: str, sent: datetime, error: ErrorInfo | None = None
) -> Envelope:
    """The envelope-level receipt for a received message envelope, addressed back to its sender.

    Positive without `error`, NegativeMessage with it. (NegativeVans is the network's own answer.)
    """
    message = envelope.message
    if message is None:
        raise EnvelopeError("vans-receipt", _ROOT, "a receipt envelope is never acknowledged")
    outcome: ReceiptOutcome = "PositiveMessage" if error is None else "NegativeMessage"
    return Envelope(
        sender=envelope.receiver,
        receiver=envelope.sender,
        envelope_id=envelope_id,
        sent=sent,
        body=Receipt(outcome, envelope.envelope_id, message.meta, error),
    )


@dataclass(frozen=True, slots=True)
class Header:
    """The ids of an envelope's header, read from bytes that may not be a whole document."""

    sender: str
    receiver: str
    envelope_id: str


HEADER_PEEK_BYTES = 64 * 1024
_PEEK = {
    name: re.compile(
        rb"<(?:[A-Za-z_][\w.-]*:)?" + name.encode() + rb"(?:\s[^>]*)?>\s*([0-9A-Za-z-]{1,64})\s*<"
    )
    for name in ("SenderID", "ReceiverID", "EnvelopeIdentifier")
}


def peek_header(data: bytes) -> Header | None:
    """SenderID, ReceiverID and EnvelopeIdentifier from the start of a possibly truncated or broken envelope
    (a half-written file), so that its sender can still be told; None when any of them is not there. Reads
    only the first `HEADER_PEEK_BYTES` and parses nothing (no entities, no DTD: plain patterns)."""
    head = data[:HEADER_PEEK_BYTES]
    found = {name: pattern.search(head) for name, pattern in _PEEK.items()}
    if not all(found.values()):
        return None
    sender, receiver, envelope_id = (found[n].group(1).decode("ascii") for n in _PEEK)  # type: ignore[union-attr]
    return Header(sender, receiver, envelope_id)


def negative_vans(header: Header, *, description: str, envelope_id: str, sent: datetime) -> Envelope:
    """The envelope-level NegativeVans receipt for an envelope that could not be read (no MetaInformation is
    known, which only NegativeVans allows), from its receiver back to its sender."""
    if not _UUID.fullmatch(header.envelope_id):
        raise EnvelopeError(
            "vans-receipt",
            f"{_ROOT}/EnvelopeIdentifier",
            "the original envelope id is not a UUID: no receipt",
        )
    return Envelope(
        sender=EndPoint(header.receiver),
        receiver=EndPoint(header.sender),
        envelope_id=envelope_id,
        sent=sent,
        body=Receipt("NegativeVans", header.envelope_id, None, ErrorInfo(description[:255])),
    )


def check_envelope(envelope: Envelope) -> None:
    """Refuse a model that would serialize to an envelope the XSD or our rules reject."""
    for finding in _model_findings(envelope):
        raise EnvelopeError(finding.rule, finding.path, finding.message)


def _model_findings(envelope: Envelope) -> Iterable[Finding]:
    yield from _endpoint_findings(envelope.sender, f"{_ROOT}/SenderID")
    yield from _endpoint_findings(envelope.receiver, f"{_ROOT}/ReceiverID")
    yield from _uuid_findings(envelope.envelope_id, f"{_ROOT}/EnvelopeIdentifier")
    if not 1 <= envelope.sent.year <= 9999:  # pragma: no cover - datetime cannot hold other years
        yield error("vans-datetime", f"{_ROOT}/SentDateTime", "year out of range")
    body = envelope.body
    if isinstance(body, Message):
        path = f"{_ROOT}/Message/MetaInformation"
        yield from _meta_findings(body.meta, path)
        if body.meta.document.size_in_bytes != len(body.data):
            yield error(
                "vans-size",
                f"{path}/Document/SizeInBytes",
                f"{body.meta.document.size_in_bytes} does not match the payload ({len(body.data)} bytes)",
            )
        return
    path = f"{_ROOT}/Receipt/{body.outcome}"
    if body.outcome not in RECEIPT_OUTCOMES:
        yield error("vans-structure", f"{_ROOT}/Receipt", f"unknown receipt {body.outcome!r}")
    yield from _uuid_findings(body.original_envelope_id, f"{path}/OriginalEnvelopeIdentifier")
    if (body.error is None) != (body.outcome == "PositiveMessage"):
        yield error("vans-receipt", path, "a negative receipt needs an Error; a positive one has none")
    if body.error is not None:
        if not 1 <= len(body.error.description) <= 512:
            yield error("vans-structure", f"{path}/Error/Description", "must be 1-512 characters")
        if body.error.code is not None and body.error.code < 1:
            yield error("vans-structure", f"{path}/Error/Code", "must be a positive integer")
    if body.original_message is None:
        if body.outcome != "NegativeVans":
            yield error("vans-receipt", f"{path}/OriginalMessage", f"{body.outcome} needs OriginalMessage")
    else:
        yield from _meta_findings(body.original_message, f"{path}/OriginalMessage")


def _endpoint_findings(endpoint: EndPoint, path: str) -> Iterable[Finding]:
    if endpoint.type not in END_POINT_KINDS:
        yield error(
            "vans-structure",
            f"{path}/@EndPointType",
            f"{endpoint.type!r} is not allowed; use EAN, CVR or VANS",
        )
    value = endpoint.value
    if not 1 <= len(value) <= 18 or _collapse(value) != value or _NOT_XML_CHAR.search(value):
        yield error("vans-structure", path, f"{value!r} must be 1-18 characters without surrounding space")
    elif endpoint.type == "EAN" and (problem := gln_problem(value)) is not None:
        yield error("vans-endpoint-ean", path, f"{problem}; expected a location number such as 5790000121526")


def _uuid_findings(value: str, path: str) -> Iterable[Finding]:
    if not _UUID.fullmatch(value):
        yield error(
            "vans-uuid",
            path,
            f"{value!r} is not a UUID; expected 8-4-4-4-12 hex digits, "
            "e.g. 068dadff-12bb-406d-8c86-083974dc0180",
        )


def _text_findings(value: str, path: str, limit: int = 255) -> Iterable[Finding]:
    if not 1 <= len(value) <= limit:
        yield error("vans-structure", path, f"must be 1-{limit} characters, found {len(value)}")
    elif _NOT_XML_CHAR.search(value):
        yield error("vans-structure", path, "contains a control character that XML cannot carry")


def _meta_findings(meta: MetaInformation, path: str) -> Iterable[Finding]:
    yield from _uuid_findings(meta.identifier, f"{path}/Identifier")
    if meta.processing is not None:
        yield from _text_findings(
            meta.processing.provider_identifier, f"{path}/Processing/ProviderIdentifier"
        )
        yield from _text_findings(meta.processing.service_identifier, f"{path}/Processing/ServiceIdentifier")
    doc = meta.document
    if doc.format not in DOCUMENT_FORMATS:
        yield error(
            "vans-structure",
            f"{path}/Document/Format",
            f"{doc.format!r} is not allowed; use one of {', '.join(DOCUMENT_FORMATS)}",
        )
    yield from _text_findings(doc.name, f"{path}/Document/Name")
    if doc.version is not None:
        yield from _text_findings(doc.version, f"{path}/Document/Version")
    if not 0 <= doc.size_in_bytes <= _INT_MAX:
        yield error("vans-size", f"{path}/Document/SizeInBytes", f"{doc.size_in_bytes} is out of range")
    transport = meta.transport
    if transport is not None:
        if transport.type is not None and transport.type not in TRANSPORT_TYPES:
            yield error("vans-structure", f"{path}/Transport/Type", "must be reliable or unreliable")
        if len(transport.service_tags) > 5:
            yield error("vans-structure", f"{path}/Transport/ServiceTag", "at most 5 service tags")
        for tag in transport.service_tags:
            yield from _text_findings(tag.name, f"{path}/Transport/ServiceTag/@name", 70)
            yield from _text_findings(tag.value, f"{path}/Transport/ServiceTag", 70)


def serialize(envelope: Envelope) -> bytes:
    """The envelope as UTF-8 XML, element order as in the XSD; raises EnvelopeError for an invalid model."""
    check_envelope(envelope)
    root = etree.Element(_q(_ROOT), nsmap={None: VANS_NS})  # type: ignore[dict-item]  # stubs omit the default ns
    _sub(root, "SenderID", envelope.sender.value).set("EndPointType", envelope.sender.type)
    _sub(root, "ReceiverID", envelope.receiver.value).set("EndPointType", envelope.receiver.type)
    _sub(root, "EnvelopeIdentifier", envelope.envelope_id)
    _sub(root, "SentDateTime", format_datetime(envelope.sent))
    body = envelope.body
    if isinstance(body, Message):
        message = _sub(root, "Message")
        _write_meta(_sub(message, "MetaInformation"), body.meta)
        _sub(message, "Data", base64.b64encode(body.data).decode("ascii"))
    else:
        outcome = _sub(_sub(root, "Receipt"), body.outcome)
        if body.error is not None:
            err = _sub(outcome, "Error")
            if body.error.code is not None:
                _sub(err, "Code", str(body.error.code))
            _sub(err, "Description", body.error.description)
        _sub(outcome, "OriginalEnvelopeIdentifier", body.original_envelope_id)
        if body.original_message is not None:
            _write_meta(_sub(outcome, "OriginalMessage"), body.original_message)
    etree.indent(root, space="  ")
    # Written by hand to match the official sample's declaration (lxml's own uses single quotes).
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8") + b"\n"


def _q(name: str) -> str:
    return f"{{{VANS_NS}}}{name}"


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, _q(name))
    if text is not None:
        child.text = text
    return child


def _write_meta(parent: etree._Element, meta: MetaInformation) -> None:
    _sub(parent, "Identifier", meta.identifier)
    if meta.processing is not None:
        processing = _sub(parent, "Processing")
        _sub(processing, "ProviderIdentifier", meta.processing.provider_identifier)
        _sub(processing, "ServiceIdentifier", meta.processing.service_identifier)
    document = _sub(parent, "Document")
    _sub(document, "Format", meta.document.format)
    _sub(document, "Name", meta.document.name)
    if meta.document.version is not None:
        _sub(document, "Version", meta.document.version)
    _sub(document, "SizeInBytes", str(meta.document.size_in_bytes))
    if meta.transport is not None:
        transport = _sub(parent, "Transport")
        if meta.transport.type is not None:
            _sub(transport, "Type", meta.transport.type)
        _sub(transport, "TransformMessage", "true" if meta.transport.transform_message else "false")
        for tag in meta.transport.service_tags:
            _sub(transport, "ServiceTag", tag.value).set("name", tag.name)


def format_datetime(value: datetime) -> str:
    """xs:dateTime: seconds, fraction only when present, offset only for an aware datetime."""
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    offset = value.utcoffset()
    if offset is not None:
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        text += f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return text


# ------------------------------------------------------------------------------------------- read


def unwrap(data: bytes) -> Envelope:
    """Read a VANSEnvelope and check it; raises EnvelopeError naming the first rule that fails.

    Checks: safe XML, structure as the XSD, location numbers, UUIDs, base64, SizeInBytes, and that the
    payload is what Document/Name announces (with the FHIR postfix, Version and MIME tag). The payload's own
    rules are not checked here: that is `validation.validate_bytes`.
    """
    reading = read(data)
    for finding in reading.findings:
        if finding.severity == "error":
            raise EnvelopeError(finding.rule, finding.path, finding.message, reading.envelope)
    if reading.envelope is None:  # pragma: no cover - read() reports an error whenever it has no envelope
        raise EnvelopeError("vans-structure", _ROOT, "not a VANSEnvelope")
    return reading.envelope


@dataclass(frozen=True, slots=True)
class Reading:
    """Everything one pass over an envelope found.

    `envelope` is None when a required part is broken. `message` is there when MetaInformation and Data
    were both readable; `payload` (the decoded Data) may be there even without them,
    e.g. beside a bad SenderID or SizeInBytes, so a validator can check the payload anyway. `payload_kind` is
    the detected kind of Data, and `payload_problem` says why it could not be detected.
    """

    is_envelope: bool
    envelope: Envelope | None
    message: Message | None
    payload: bytes | None
    payload_kind: str | None
    payload_problem: str
    findings: tuple[Finding, ...]


def read(data: bytes) -> Reading:
    """Read what can be read and report every finding (never raises for bad input)."""
    try:
        root = parse_xml(data)
    except XmlError as exc:
        finding = error(exc.rule, f"line {exc.line}" if exc.line else "/", exc.message)
        return Reading(False, None, None, None, None, "", (finding,))
    reader = _Reader()
    envelope = reader.envelope(root)
    return Reading(
        reader.is_envelope,
        envelope,
        reader.message_read,
        reader.payload,
        reader.payload_kind,
        reader.payload_problem,
        tuple(reader.findings),
    )


_VANS_PREFIX = f"{{{VANS_NS}}}"
_VANS_PREFIX_LEN = len(_VANS_PREFIX)


@dataclass(frozen=True, slots=True)
class _Slot:
    names: tuple[str, ...]  # more than one name: an xs:choice
    min: int = 1
    max: int = 1


class _Reader:
    """One pass over the tree: builds the model and collects findings (never raises for bad input)."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.is_envelope = False
        self.message_read: Message | None = None
        self.payload: bytes | None = None
        self.payload_kind: str | None = None
        self.payload_problem = ""
        self.payload_root: etree._Element | None = None

    def err(self, rule: str, path: str, message: str) -> None:
        self.findings.append(error(rule, path, message))

    # -- structure

    def children(
        self, parent: etree._Element, path: str, slots: Sequence[_Slot]
    ) -> dict[str, list[etree._Element]] | None:
        """Match the element children against an xs:sequence; None when they do not fit."""
        found: dict[str, list[etree._Element]] = {}
        ok = self.no_text(parent, path)
        position = 0
        counts = [0] * len(slots)
        for child in parent:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # comments and processing instructions are allowed anywhere
            if not tag.startswith(_VANS_PREFIX):
                name = local_name(tag)
                self.err(
                    "vans-namespace",
                    f"{path}/{name}",
                    f"element in namespace {etree.QName(child).namespace!r}; expected {VANS_NS!r}",
                )
                ok = False
                continue
            name = tag[_VANS_PREFIX_LEN:]
            index = position
            while index < len(slots) and name not in slots[index].names:
                index += 1
            if index == len(slots):
                expected = [n for s in slots[position:] for n in s.names]
                where = "out of order" if any(name in s.names for s in slots) else "not allowed here"
                self.err(
                    "vans-structure",
                    f"{path}/{name}",
                    f"element {name} is {where}; expected "
                    + (
                        " or ".join(expected) if expected else f"no more elements in {local_name(parent.tag)}"
                    ),
                )
                ok = False
                continue
            slot = slots[index]
            if counts[index] >= slot.max:
                self.err(
                    "vans-structure",
                    f"{path}/{name}",
                    f"element {name} may occur at most {slot.max} time(s)",
                )
                ok = False
                continue
            if len(slot.names) > 1 and any(n in found for n in slot.names if n != name):
                self.err(
                    "vans-structure",
                    f"{path}/{name}",
                    f"only one of {' or '.join(slot.names)} is allowed",
                )
                ok = False
                continue
            same = found.get(name)
            if same is None:
                found[name] = [child]
            else:
                same.append(child)
            counts[index] += 1
            position = index
        for index, slot in enumerate(slots):
            if counts[index] < slot.min:
                self.err(
                    "vans-structure",
                    f"{path}/{' | '.join(slot.names)}",
                    f"missing required element {' or '.join(slot.names)}",
                )
                ok = False
        return found if ok else None

    def no_text(self, element: etree._Element, path: str) -> bool:
        stray = [element.text, *(c.tail for c in element)]
        if any(t and t.strip() for t in stray):
            self.err(
                "vans-structure", path, f"{local_name(element.tag)} holds text; only elements are allowed"
            )
            return False
        return True

    def attributes(self, element: etree._Element, path: str, allowed: Sequence[str] = ()) -> None:
        for raw in element.attrib:
            name = raw.decode() if isinstance(raw, bytes) else raw
            if name not in allowed and not name.startswith(f"{{{_XSI_NS}}}"):
                self.err("vans-structure", f"{path}/@{name}", f"attribute {name} is not allowed here")

    def text(
        self,
        element: etree._Element,
        path: str,
        *,
        limit: int = 255,
        minimum: int = 1,
        attributes: Sequence[str] = (),
    ) -> str | None:
        """A simple-content element's string value, length-checked (xs:string keeps whitespace)."""
        self.attributes(element, path, attributes)
        if len(element):
            self.err("vans-structure", path, f"{local_name(element.tag)} must hold text only, no elements")
            return None
        value = element.text or ""
        if not minimum <= len(value) <= limit:
            self.err(
                "vans-structure",
                path,
                f"must be {minimum}-{limit} characters, found {len(value)}"
                + (" (empty)" if not value else ""),
            )
            return None
        return value

    def enum(self, element: etree._Element, path: str, allowed: Sequence[str]) -> str | None:
        value = self.text(element, path, minimum=0, limit=1 << 20)
        if value is None:
            return None
        value = value.strip()  # enumerations of xs:string compare the literal; surrounding space is a slip
        if value not in allowed:
            self.err("vans-structure", path, f"{value!r} is not allowed; use one of {', '.join(allowed)}")
            return None
        return value

    def one(self, found: dict[str, list[etree._Element]], name: str) -> etree._Element | None:
        items = found.get(name)
        return items[0] if items else None

    # -- simple types

    def endpoint(self, element: etree._Element, path: str) -> EndPoint | None:
        self.attributes(element, path, ("EndPointType",))
        kind = element.get("EndPointType")
        if kind is None:
            self.err(
                "vans-structure", f"{path}/@EndPointType", "missing attribute EndPointType (EAN, CVR or VANS)"
            )
        elif kind not in END_POINT_KINDS:
            self.err(
                "vans-structure", f"{path}/@EndPointType", f"{kind!r} is not allowed; use EAN, CVR or VANS"
            )
            kind = None
        if len(element):
            self.err("vans-structure", path, "must hold text only, no elements")
            return None
        value = _collapse(element.text or "")  # xs:token
        if not 1 <= len(value) <= 18:
            self.err("vans-structure", path, f"must be 1-18 characters, found {len(value)}")
            return None
        if kind is None:
            return None
        endpoint = EndPoint(value, kind)  # checked against END_POINT_KINDS above
        for finding in _endpoint_findings(endpoint, path):
            self.findings.append(finding)
        return endpoint

    def uuid(self, element: etree._Element, path: str) -> str | None:
        value = self.text(element, path, minimum=0, limit=1 << 20)
        if value is None:
            return None
        problems = list(_uuid_findings(value, path))
        self.findings.extend(problems)
        return None if problems else value

    def date_time(self, element: etree._Element, path: str) -> datetime | None:
        value = self.text(element, path, minimum=0, limit=64)
        if value is None:
            return None
        parsed = parse_datetime(value.strip())
        if parsed is None:
            self.err(
                "vans-datetime",
                path,
                f"{value!r} is not an xs:dateTime; expected e.g. 2020-08-26T17:12:13 or 2020-08-26T17:12:13+02:00",
            )
        return parsed

    # -- complex types

    def envelope(self, root: etree._Element) -> Envelope | None:
        path = _ROOT
        if local_name(root.tag) != _ROOT or etree.QName(root).namespace != VANS_NS:
            self.err(
                "vans-root",
                "/",
                f"root element is {local_name(root.tag)!r} in namespace {etree.QName(root).namespace!r}; "
                f"expected VANSEnvelope in {VANS_NS!r}",
            )
            return None
        self.is_envelope = True
        self.attributes(root, path)
        found = self.children(
            root,
            path,
            [
                _Slot(("SenderID",)),
                _Slot(("ReceiverID",)),
                _Slot(("EnvelopeIdentifier",)),
                _Slot(("SentDateTime",)),
                _Slot(("Message", "Receipt")),
            ],
        )
        if found is None:
            return None
        sender = self.endpoint(found["SenderID"][0], f"{path}/SenderID")
        receiver = self.endpoint(found["ReceiverID"][0], f"{path}/ReceiverID")
        envelope_id = self.uuid(found["EnvelopeIdentifier"][0], f"{path}/EnvelopeIdentifier")
        sent = self.date_time(found["SentDateTime"][0], f"{path}/SentDateTime")
        message = self.one(found, "Message")
        body: Message | Receipt | None
        if message is not None:
            body = self.message(message, f"{path}/Message")
        else:
            receipt = self.one(found, "Receipt")
            assert receipt is not None  # the choice slot is required
            body = self.receipt(receipt, f"{path}/Receipt")
        if sender is None or receiver is None or envelope_id is None or sent is None or body is None:
            return None
        return Envelope(sender, receiver, envelope_id, sent, body)

    def message(self, element: etree._Element, path: str) -> Message | None:
        self.attributes(element, path)
        found = self.children(element, path, [_Slot(("MetaInformation",)), _Slot(("Data",))])
        if found is None:
            return None
        meta = self.meta(found["MetaInformation"][0], f"{path}/MetaInformation")
        data = self.data(found["Data"][0], f"{path}/Data")
        self.payload = data
        if data:
            self.detect(data)
        if meta is None or data is None:
            return None
        size_path = f"{path}/MetaInformation/Document/SizeInBytes"
        if meta.document.size_in_bytes != len(data):
            self.err(
                "vans-size",
                size_path,
                f"SizeInBytes is {meta.document.size_in_bytes} but Data decodes to {len(data)} bytes; "
                f"use {len(data)}",
            )
        self.check_payload(meta, data, f"{path}/Data")
        self.message_read = Message(meta, data)
        return self.message_read

    def data(self, element: etree._Element, path: str) -> bytes | None:
        self.attributes(element, path)
        if len(element):
            self.err("vans-structure", path, "Data must hold base64 text only, no elements")
            return None
        data, problem = decode_base64(element.text or "")
        if data is None:
            self.err(
                "vans-base64",
                path,
                f"Data is not valid base64: {problem}; expected the standard alphabet A-Z a-z 0-9 + / "
                "in groups of 4 with '=' padding",
            )
        return data

    def meta(self, element: etree._Element, path: str) -> MetaInformation | None:
        self.attributes(element, path)
        found = self.children(
            element,
            path,
            [
                _Slot(("Identifier",)),
                _Slot(("Processing",), 0),
                _Slot(("Document",)),
                _Slot(("Transport",), 0),
            ],
        )
        if found is None:
            return None
        identifier = self.uuid(found["Identifier"][0], f"{path}/Identifier")
        processing_el = self.one(found, "Processing")
        processing = (
            self.processing(processing_el, f"{path}/Processing") if processing_el is not None else None
        )
        document = self.document(found["Document"][0], f"{path}/Document")
        transport_el = self.one(found, "Transport")
        transport = self.transport(transport_el, f"{path}/Transport") if transport_el is not None else None
        if (
            identifier is None
            or document is None
            or (processing_el is not None and processing is None)
            or (transport_el is not None and transport is None)
        ):
            return None
        return MetaInformation(identifier, document, processing, transport)

    def processing(self, element: etree._Element, path: str) -> Processing | None:
        self.attributes(element, path)
        found = self.children(element, path, [_Slot(("ProviderIdentifier",)), _Slot(("ServiceIdentifier",))])
        if found is None:
            return None
        provider = self.text(found["ProviderIdentifier"][0], f"{path}/ProviderIdentifier")
        service = self.text(found["ServiceIdentifier"][0], f"{path}/ServiceIdentifier")
        return Processing(provider, service) if provider is not None and service is not None else None

    def document(self, element: etree._Element, path: str) -> Document | None:
        self.attributes(element, path)
        found = self.children(
            element,
            path,
            [_Slot(("Format",)), _Slot(("Name",)), _Slot(("Version",), 0), _Slot(("SizeInBytes",))],
        )
        if found is None:
            return None
        fmt = self.enum(found["Format"][0], f"{path}/Format", DOCUMENT_FORMATS)
        name = self.text(found["Name"][0], f"{path}/Name")
        version_el = self.one(found, "Version")
        version = self.text(version_el, f"{path}/Version") if version_el is not None else None
        size = self.size(found["SizeInBytes"][0], f"{path}/SizeInBytes")
        if fmt is None or name is None or size is None or (version_el is not None and version is None):
            return None
        return Document(fmt, name, version, size)

    def size(self, element: etree._Element, path: str) -> int | None:
        value = self.text(element, path, minimum=0, limit=64)
        if value is None:
            return None
        value = value.strip()
        if not _XS_INT.fullmatch(value) or not _INT_MIN <= int(value) <= _INT_MAX:
            self.err("vans-size", path, f"{value!r} is not an xs:int; expected the payload's byte count")
            return None
        if int(value) < 0:
            self.err("vans-size", path, f"{value} is negative; expected the payload's byte count")
            return None
        return int(value)

    def transport(self, element: etree._Element, path: str) -> Transport | None:
        self.attributes(element, path)
        found = self.children(
            element, path, [_Slot(("Type",), 0), _Slot(("TransformMessage",)), _Slot(("ServiceTag",), 0, 5)]
        )
        if found is None:
            return None
        type_el = self.one(found, "Type")
        kind = self.enum(type_el, f"{path}/Type", TRANSPORT_TYPES) if type_el is not None else None
        transform = self.enum(
            found["TransformMessage"][0], f"{path}/TransformMessage", ("true", "false", "1", "0")
        )
        tags: list[ServiceTag] = []
        ok = transform is not None and (type_el is None or kind is not None)
        for tag_el in found.get("ServiceTag", []):
            tag_path = f"{path}/ServiceTag"
            name = tag_el.get("name")
            if name is None or not 1 <= len(name) <= 70:
                self.err("vans-structure", f"{tag_path}/@name", "ServiceTag needs a name of 1-70 characters")
                ok = False
                continue
            value = self.text(tag_el, f"{tag_path}[@name='{name}']", limit=70, attributes=("name",))
            if value is None:
                ok = False
                continue
            tags.append(ServiceTag(name, value))
        if not ok:
            return None
        return Transport(kind, transform in ("true", "1"), tuple(tags))

    def receipt(self, element: etree._Element, path: str) -> Receipt | None:
        self.attributes(element, path)
        found = self.children(element, path, [_Slot(RECEIPT_OUTCOMES)])
        if found is None:
            return None
        outcome: ReceiptOutcome = next(o for o in RECEIPT_OUTCOMES if o in found)
        inner = found[outcome][0]
        path = f"{path}/{outcome}"
        self.attributes(inner, path)
        slots = [
            *([] if outcome == "PositiveMessage" else [_Slot(("Error",))]),
            _Slot(("OriginalEnvelopeIdentifier",)),
            _Slot(("OriginalMessage",), 0 if outcome == "NegativeVans" else 1),
        ]
        parts = self.children(inner, path, slots)
        if parts is None:
            return None
        error_el = self.one(parts, "Error")
        problem = self.error_info(error_el, f"{path}/Error") if error_el is not None else None
        original_id = self.uuid(parts["OriginalEnvelopeIdentifier"][0], f"{path}/OriginalEnvelopeIdentifier")
        original_el = self.one(parts, "OriginalMessage")
        original = self.meta(original_el, f"{path}/OriginalMessage") if original_el is not None else None
        if (
            original_id is None
            or (error_el is not None and problem is None)
            or (original_el is not None and original is None)
        ):
            return None
        return Receipt(outcome, original_id, original, problem)

    def error_info(self, element: etree._Element, path: str) -> ErrorInfo | None:
        self.attributes(element, path)
        found = self.children(element, path, [_Slot(("Code",), 0), _Slot(("Description",))])
        if found is None:
            return None
        code: int | None = None
        code_el = self.one(found, "Code")
        if code_el is not None:
            raw = (self.text(code_el, f"{path}/Code", limit=64) or "").strip()
            if not raw.lstrip("+").isdigit() or int(raw) < 1:
                self.err("vans-structure", f"{path}/Code", f"{raw!r} is not a positive integer")
                return None
            code = int(raw)
        description = self.text(found["Description"][0], f"{path}/Description", limit=512)
        return ErrorInfo(description, code) if description is not None else None

    # -- the payload against its Document block

    def detect(self, data: bytes) -> None:
        try:
            if _is_xml(data):
                # Parsed once: the kind comes from the root, the Document facts from the same tree.
                self.payload_root = parse_xml(data)
                self.payload_kind, self.payload_problem = kind_of_element(self.payload_root), ""
            else:
                self.payload_kind, self.payload_problem = detect_kind(data), ""
        except XmlError as exc:
            self.payload_kind, self.payload_problem = None, f"{exc.rule}: {exc}"
        except (UnknownKind, ValueError) as exc:
            self.payload_kind, self.payload_problem = None, str(exc)

    def check_payload(self, meta: MetaInformation, data: bytes, path: str) -> None:
        doc = meta.document
        doc_path = path.rsplit("/", 1)[0] + "/MetaInformation/Document"
        if not data:
            self.err("vans-payload-empty", path, "Data is empty; an envelope carries exactly one message")
            return
        announced = kind_for_name(doc.name)
        actual, reason = self.payload_kind, self.payload_problem
        if actual == "vansenvelope":
            self.err(
                "vans-payload-kind", path, "Data holds another VANSEnvelope; an envelope carries one message"
            )
            return
        if announced is None and actual is None:
            return  # a name we do not know around content we do not know: opaque to the transport
        if announced is None:
            self.err(
                "vans-document-name",
                f"{doc_path}/Name",
                f"{doc.name!r} is not the name for this payload: Data holds a {actual}, "
                f"so Name should be {_expected_name(actual or '', data)}",
            )
            return
        if actual is None:
            self.err(
                "vans-payload-kind",
                path,
                f"Name {doc.name!r} announces a {announced} but Data is not one: {reason}",
            )
            return
        if announced != actual:
            self.err(
                "vans-document-name",
                f"{doc_path}/Name",
                f"Name {doc.name!r} announces a {announced} but Data holds a {actual}; "
                f"use {_expected_name(actual, data)}",
            )
            return
        try:
            expected = document_for(actual, data, self.payload_root)
        except EnvelopeError:
            expected = None  # e.g. no category: the payload's own validator says what is missing
        fmt = "HL7" if actual in FHIR_NAME_PREFIXES else "EDIFACT" if actual in EDIFACT_DOCUMENTS else "XML"
        if doc.format != fmt:
            self.err(
                "vans-document-format", f"{doc_path}/Format", f"{doc.format!r} for a {actual}; use {fmt}"
            )
        if actual in FHIR_NAME_PREFIXES:
            self.fhir_document(doc, meta.transport, actual, expected, data, doc_path)
        elif expected is not None and doc.version != expected.version:
            if doc.version is None:
                self.findings.append(
                    warning(
                        "vans-document-version",
                        f"{doc_path}/Version",
                        f"Version is missing; the payload's VersionCode is {expected.version}",
                    )
                )
            else:
                self.err(
                    "vans-document-version",
                    f"{doc_path}/Version",
                    f"{doc.version!r} differs from the payload's VersionCode; use {expected.version}",
                )

    def fhir_document(
        self,
        doc: Document,
        transport: Transport | None,
        kind: str,
        expected: Document | None,
        data: bytes,
        doc_path: str,
    ) -> None:
        prefix, hash_, postfix = doc.name.partition("#")
        allowed = FDIS91_STATISTICAL_CODES if kind == "carecommunication" else FCTL_CODES
        what = "the Communication category code" if kind == "carecommunication" else "the response code"
        expected_postfix = expected.name.partition("#")[2] if expected is not None else None
        if not hash_ or postfix not in allowed:
            self.err(
                "vans-document-name",
                f"{doc_path}/Name",
                f"{doc.name!r} must be {prefix}#<{what}>"
                + (f"; use {expected.name}" if expected is not None else ""),
            )
        elif kind == "carecommunication" and postfix == FDIS91_ACCEPTED_NOT_PRODUCED:
            self.findings.append(
                information(
                    "vans-document-name",
                    f"{doc_path}/Name",
                    f"statistical code {doc.name!r} is accepted; it is not a category code, so we write "
                    f"{expected.name if expected is not None else prefix + '#<category code>'}",
                )
            )
        elif expected_postfix is not None and postfix != expected_postfix:
            self.err(
                "vans-document-name",
                f"{doc_path}/Name",
                f"{doc.name!r} does not match {what} in the payload ({expected_postfix!r}); use {expected.name if expected else ''}",
            )
        if expected is not None and doc.version != expected.version:
            self.findings.append(
                warning(
                    "vans-document-version",
                    f"{doc_path}/Version",
                    f"{doc.version or 'missing'!r}; MedCom's governance prescribes {expected.version} for this "
                    "message version",
                )
            )
        meta_path = doc_path.rsplit("/", 1)[0]
        if transport is not None and transport.type == "unreliable":
            self.err(
                "vans-transport-reliable",
                f"{meta_path}/Transport/Type",
                "FHIR messages must travel reliable; use reliable (or leave Type out)",
            )
        mime = transport.tag(MIME_TAG) if transport is not None else None
        actual_mime = fhir_mime_type(data)
        if mime is None:
            self.err(
                "vans-mime",
                f"{meta_path}/Transport/ServiceTag[@name='{MIME_TAG}']",
                f"missing; a FHIR payload needs the service tag {MIME_TAG} = {actual_mime}",
            )
        elif mime != actual_mime:
            self.err(
                "vans-mime",
                f"{meta_path}/Transport/ServiceTag[@name='{MIME_TAG}']",
                f"{mime!r} but the payload is FHIR {'JSON' if actual_mime == MIME_FHIR_JSON else 'XML'}; "
                f"use {actual_mime}",
            )


def _expected_name(kind: str, data: bytes) -> str:
    if kind in OIOXML_NAMES:
        return OIOXML_NAMES[kind]
    if kind in EDIFACT_DOCUMENTS:
        return EDIFACT_DOCUMENTS[kind][0]
    if kind in FHIR_NAME_PREFIXES:
        try:
            return document_for(kind, data).name
        except EnvelopeError:
            return f"{FHIR_NAME_PREFIXES[kind]}#<code>"
    return "(no MedCom name: this payload kind is not carried by us)"


_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_TAIL = re.compile(rb"[A-Za-z0-9+/]{4}|[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=")


def decode_base64(text: str) -> tuple[bytes | None, str]:
    """Decode xs:base64Binary (XML whitespace anywhere is allowed): (bytes, "") or (None, what is wrong)."""
    if not text.isascii():
        return None, f"character {next(c for c in text if not c.isascii())!r} is not in the base64 alphabet"
    # bytes.translate runs at C speed; a regex substitution over a 100 MB Data element takes seconds.
    data = text.encode("ascii")
    if b"\n" in data or b" " in data or b"\r" in data or b"\t" in data:  # memchr: cheaper than a copy
        data = data.translate(None, b" \t\r\n")
    # Fast path: binascii's strict mode refuses every stray character and misplaced padding in one C pass;
    # the tail check adds non-zero padding bits. Anything it refuses is explained by the checks below.
    tail = data[-4:]
    if not len(data) % 4 and (not tail or _B64_TAIL.fullmatch(tail)):
        try:
            return binascii.a2b_base64(data, strict_mode=True), ""
        except binascii.Error:
            pass
    if len(data) % 4:
        return None, f"{len(data)} characters is not a multiple of 4"
    body, tail = data[:-4], data[-4:]
    stray = body.translate(None, _B64_ALPHABET) or tail.translate(None, _B64_ALPHABET + b"=")
    if stray:
        return None, f"character {chr(stray[0])!r} is not in the base64 alphabet"
    if tail and not _B64_TAIL.fullmatch(tail):
        return None, "misplaced '=' padding or padding bits that are not zero"
    return binascii.a2b_base64(data), ""


def _collapse(value: str) -> str:
    return _XML_SPACE.sub(" ", value).strip(" ")


def parse_datetime(value: str) -> datetime | None:
    """An xs:dateTime (without the rare year signs and 24:00:00), keeping a naive value naive."""
    match = _DATETIME.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    tz: timezone | None = None
    if zone == "Z":
        tz = UTC
    elif zone:
        sign = -1 if zone[0] == "-" else 1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 14 or minutes > 59:
            return None
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=tz,
        )
    except ValueError:
        return None
