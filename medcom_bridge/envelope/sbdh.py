"""Reading the EHMI SBDH envelope (UN/CEFACT Standard Business Document Header, spec sor-ehmi.md §(f)).

The eDelivery successor of the VANSEnvelope: routing identities are `0088:<GLN>`, MedCom's own metadata sits
in `BusinessScope/Scope` entries (DOCUMENTID, PROCESSID, SENDERID/RECEIVERID = SOR codes, MESSAGEIDENTIFIER,
...), and the payload is base64 in `BinaryContent`. Only reading is implemented; the envelope receipt is an
SBDH with `Standard = ehmisbdh-acknowledgement`.

Tolerated quirks of MedCom's published samples: identifiers wrapped in whitespace and line breaks, and a
`BinaryContent` in the SBDH namespace instead of the PEPPOL one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from medcom_bridge.envelope.vans import EnvelopeError, decode_base64, parse_datetime
from medcom_bridge.xmlsafe import XmlError, local_name, parse_xml

SBDH_NS = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
PEPPOL_ENVELOPE_NS = "http://peppol.eu/xsd/ticc/envelope/1.0"
GLN_SCHEME = "0088:"
RECEIPT_STANDARD = "ehmisbdh-acknowledgement"
_ROOT = "StandardBusinessDocument"
_HEADER = f"{_ROOT}/StandardBusinessDocumentHeader"


@dataclass(frozen=True, slots=True)
class Party:
    identifier: str
    authority: str | None

    @property
    def gln(self) -> str | None:
        """The location number behind an ISO 6523 `0088:` identifier."""
        return self.identifier.removeprefix(GLN_SCHEME) if self.identifier.startswith(GLN_SCHEME) else None


@dataclass(frozen=True, slots=True)
class Scope:
    type: str
    instance_identifier: str
    identifier: str | None


@dataclass(frozen=True, slots=True)
class Sbdh:
    header_version: str
    sender: Party
    receiver: Party
    standard: str
    type_version: str
    instance_identifier: str
    type: str
    multiple_type: bool | None
    created: datetime | None
    # Hidden from repr: a PATIENTID scope holds a CPR number, the payload holds the letter.
    scopes: tuple[Scope, ...] = field(repr=False)
    payload: bytes = field(repr=False)
    mime_type: str | None = None
    encoding: str | None = None

    def scope(self, scope_type: str) -> str | None:
        """The InstanceIdentifier of the first scope of this type (DOCUMENTID, SENDERID, ...), or None."""
        return next((s.instance_identifier for s in self.scopes if s.type == scope_type), None)

    @property
    def is_receipt(self) -> bool:
        return self.standard == RECEIPT_STANDARD

    @property
    def sender_sor(self) -> str | None:
        return self.scope("SENDERID")

    @property
    def receiver_sor(self) -> str | None:
        return self.scope("RECEIVERID")

    @property
    def message_id(self) -> str | None:
        return self.scope("MESSAGEIDENTIFIER")


def read_sbdh(data: bytes) -> Sbdh:
    """Read an EHMI SBDH; raises EnvelopeError (rule `sbdh-*` or an `xml-*` rule) naming what is missing."""
    try:
        root = parse_xml(data)
    except XmlError as exc:
        raise EnvelopeError(exc.rule, f"line {exc.line}" if exc.line else "/", exc.message) from None
    if local_name(root.tag) != _ROOT or etree.QName(root).namespace != SBDH_NS:
        raise EnvelopeError(
            "sbdh-root",
            "/",
            f"root element is {local_name(root.tag)!r}; expected {_ROOT} in namespace {SBDH_NS!r}",
        )
    header = _child(root, "StandardBusinessDocumentHeader", _ROOT)
    ident = _child(header, "DocumentIdentification", _HEADER)
    ident_path = f"{_HEADER}/DocumentIdentification"
    created_text = _optional_text(ident, "CreationDateAndTime")
    created = parse_datetime(created_text) if created_text else None
    if created_text and created is None:
        raise EnvelopeError(
            "sbdh-datetime", f"{ident_path}/CreationDateAndTime", f"{created_text!r} is not an xs:dateTime"
        )
    multiple = _optional_text(ident, "MultipleType")
    scopes = tuple(
        Scope(
            _text(scope, "Type", f"{_HEADER}/BusinessScope/Scope"),
            _text(scope, "InstanceIdentifier", f"{_HEADER}/BusinessScope/Scope"),
            _optional_text(scope, "Identifier"),
        )
        for scope in header.iterfind(f"{{{SBDH_NS}}}BusinessScope/{{{SBDH_NS}}}Scope")
    )
    content = root.find(f"{{{PEPPOL_ENVELOPE_NS}}}BinaryContent")
    if content is None:
        content = root.find(f"{{{SBDH_NS}}}BinaryContent")
    payload = b""
    if content is not None:
        decoded, problem = decode_base64(content.text or "")
        if decoded is None:
            raise EnvelopeError("sbdh-base64", f"{_ROOT}/BinaryContent", f"not valid base64: {problem}")
        payload = decoded
    return Sbdh(
        header_version=_text(header, "HeaderVersion", _HEADER),
        sender=_party(header, "Sender"),
        receiver=_party(header, "Receiver"),
        standard=_text(ident, "Standard", ident_path),
        type_version=_text(ident, "TypeVersion", ident_path),
        instance_identifier=_text(ident, "InstanceIdentifier", ident_path),
        type=_text(ident, "Type", ident_path),
        multiple_type=None if multiple is None else multiple in ("true", "1"),
        created=created,
        scopes=scopes,
        payload=payload,
        mime_type=content.get("mimeType") if content is not None else None,
        encoding=content.get("encoding") if content is not None else None,
    )


def _child(parent: etree._Element, name: str, path: str) -> etree._Element:
    found = parent.find(f"{{{SBDH_NS}}}{name}")
    if found is None:
        raise EnvelopeError("sbdh-structure", f"{path}/{name}", f"missing required element {name}")
    return found


def _optional_text(parent: etree._Element, name: str) -> str | None:
    found = parent.find(f"{{{SBDH_NS}}}{name}")
    if found is None:
        return None
    # Published samples wrap ids across lines; no SBDH value has meaningful surrounding whitespace.
    return " ".join((found.text or "").split()) or None


def _text(parent: etree._Element, name: str, path: str) -> str:
    value = _optional_text(parent, name)
    if value is None:
        raise EnvelopeError("sbdh-structure", f"{path}/{name}", f"missing or empty required element {name}")
    return value


def _party(header: etree._Element, role: str) -> Party:
    element = _child(_child(header, role, _HEADER), "Identifier", f"{_HEADER}/{role}")
    value = " ".join((element.text or "").split())
    if not value:
        raise EnvelopeError(
            "sbdh-structure",
            f"{_HEADER}/{role}/Identifier",
            "empty; expected 0088:<GLN>, e.g. 0088:5790000121526",
        )
    return Party(value, element.get("Authority"))
