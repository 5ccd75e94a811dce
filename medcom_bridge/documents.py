"""Which kind of MedCom document a byte string is, and validating any of them.

Kinds are the fixed names of `architecture.md` §3.1: carecommunication, acknowledgement, xdis91, xbin01,
xctl01, xctl02, xctl03, vansenvelope, and the EDIFACT kinds dis91, bin01, ctl01, ctl02, ctl03; the other MedCom
FHIR messages (hospitalnotification, homecareobservation, emptymessage) are recognised by their event code and
refused as not supported. Detection looks only at the outermost structure (root element, namespace, the
MessageHeader event code, the UNH message version) so that a broken message is still routed to the validator
that can say what is wrong with it.
"""

from __future__ import annotations

import json
import re

from lxml import etree

from medcom_bridge.fhir.canonical import FHIR_NS
from medcom_bridge.findings import Report, error
from medcom_bridge.xmlsafe import XmlError, is_wide_unicode_xml, local_name, parse_xml

KINDS = (
    "carecommunication",
    "acknowledgement",
    "xdis91",
    "xbin01",
    "xctl01",
    "xctl02",
    "xctl03",
    "vansenvelope",
    "dis91",
    "bin01",
    "ctl01",
    "ctl02",
    "ctl03",
    "hospitalnotification",
    "homecareobservation",
    "emptymessage",
)
EDIFACT_KINDS = ("dis91", "bin01", "ctl01", "ctl02", "ctl03")

VANS_NS = "urn:oio:medcom:vans-envelope:1.0.4"

# The element under Emessage that names the OIOXML message type.
_OIOXML_BODY_KIND = {
    "ClinicalEmail": "xdis91",
    "BinaryLetter": "xbin01",
    "NegativeVansReceipt": "xctl01",
    "NegativeReceipt": "xctl02",
    "PositiveReceipt": "xctl03",
}

# The other MedCom FHIR messages (medcom-messaging-eventCodes) get their own kind, so that they are refused
# as what they are instead of being judged as a broken CareCommunication: event -> (kind, MedCom's name).
_UNSUPPORTED_EVENTS = {
    "hospital-notification-message": ("hospitalnotification", "HospitalNotification"),
    "homecareobservation-message": ("homecareobservation", "HomeCareObservation"),
    "empty-message": ("emptymessage", "messaging empty-message"),
}
_EVENT_KIND = {
    "care-communication-message": "carecommunication",
    "acknowledgement-message": "acknowledgement",
    **{event: kind for event, (kind, _) in _UNSUPPORTED_EVENTS.items()},
}
# FHIR messages we recognise but do not handle: kind -> (MedCom's name, its event code).
UNSUPPORTED_FHIR = {kind: (name, event) for event, (kind, name) in _UNSUPPORTED_EVENTS.items()}

_JSON_EVENT = re.compile(rb'"code"\s*:\s*"(' + b"|".join(e.encode() for e in _EVENT_KIND) + rb')"')


class UnknownKind(ValueError):
    """The bytes are readable but not one of the kinds we know; the message says what was found."""


def detect_kind(data: bytes) -> str:
    """Return the kind of the document, or raise UnknownKind / XmlError / ValueError with a reason."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return _fhir_json_kind(data)
    if head.startswith((b"UNA", b"UNB")):
        from medcom_bridge.edifact.documents import edifact_kind

        return edifact_kind(data)
    if not head.startswith(b"<") and not is_wide_unicode_xml(data):
        raise UnknownKind("neither JSON (starts with '{'), XML (starts with '<') nor EDIFACT (UNA or UNB)")
    root = parse_xml(data)
    return kind_of_element(root)


def kind_of_element(root: etree._Element) -> str:
    name = local_name(root.tag)
    ns = etree.QName(root).namespace or ""
    if name == "VANSEnvelope":
        return "vansenvelope"
    if name == "Bundle" and ns == FHIR_NS:
        for code in root.iterfind(
            "{%s}entry/{%s}resource/{%s}MessageHeader/{%s}eventCoding/{%s}code" % ((FHIR_NS,) * 5)
        ):
            kind = _EVENT_KIND.get(code.get("value", ""))
            if kind:
                return kind
        return _kind_from_profiles(
            [p.get("value", "") for p in root.iterfind(f"{{{FHIR_NS}}}meta/{{{FHIR_NS}}}profile")]
        )
    if name == "Emessage":
        for child in root:
            kind = _OIOXML_BODY_KIND.get(local_name(child.tag))
            if kind:
                return kind
        bodies = [local_name(c.tag) for c in root if local_name(c.tag) != "Envelope"]
        raise UnknownKind(
            f"OIOXML Emessage with body {', '.join(bodies) or '(none)'}; supported: "
            + ", ".join(f"{b} ({k.upper()})" for b, k in _OIOXML_BODY_KIND.items())
        )
    raise UnknownKind(f"root element {name!r} in namespace {ns!r} is not a MedCom message we handle")


def _fhir_json_kind(data: bytes) -> str:
    match = _JSON_EVENT.search(data)
    if match:
        return _EVENT_KIND[match.group(1).decode()]
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        raise UnknownKind("JSON is not a FHIR Bundle (resourceType 'Bundle' expected)")
    meta = doc.get("meta")
    profiles = meta.get("profile", []) if isinstance(meta, dict) else []
    return _kind_from_profiles(
        [p for p in profiles if isinstance(p, str)] if isinstance(profiles, list) else []
    )


def _kind_from_profiles(profiles: list[str]) -> str:
    if any("acknowledgement" in p for p in profiles):
        return "acknowledgement"
    # A Bundle we cannot classify is judged as a CareCommunication: that validator explains what is missing.
    return "carecommunication"


def validate_document(data: bytes) -> Report:
    """Detect the kind of `data` and validate it; never raises for bad input."""
    try:
        kind = detect_kind(data)
    except XmlError as exc:
        return Report(
            "unknown", None, (error(exc.rule, f"line {exc.line}" if exc.line else "/", exc.message),)
        )
    except (UnknownKind, ValueError) as exc:
        return Report("unknown", None, (error("kind-unknown", "/", str(exc)),))
    return validate_as(kind, data)


def validate_as(kind: str, data: bytes) -> Report:
    """Validate `data` as the given kind (the domain modules are imported only when needed)."""
    if kind in ("carecommunication", "acknowledgement"):
        from medcom_bridge.fhir.validation import validate_bytes as validate_fhir

        return validate_fhir(data)
    if kind in ("xdis91", "xbin01", "xctl01", "xctl02", "xctl03"):
        from medcom_bridge.oioxml.validation import validate_bytes as validate_oioxml

        return validate_oioxml(data)
    if kind == "vansenvelope":
        from medcom_bridge.envelope.validation import validate_bytes as validate_envelope

        return validate_envelope(data)
    if kind in EDIFACT_KINDS:
        from medcom_bridge.edifact.validation import validate_bytes as validate_edifact

        return validate_edifact(data)
    if kind in UNSUPPORTED_FHIR:
        return Report(kind, None, (error("kind-unsupported", "Bundle", unsupported_fhir(kind)),))
    return Report("unknown", None, (error("kind-unknown", "/", f"unknown kind {kind!r}"),))


def unsupported_fhir(kind: str) -> str:
    name, event = UNSUPPORTED_FHIR[kind]
    return (
        f"a MedCom {name} (MessageHeader event {event!r}) is not supported; medcom-bridge handles "
        "CareCommunication (care-communication-message) and Acknowledgement (acknowledgement-message)"
    )


class NotRenderable(ValueError):
    """The document is readable but of a kind (or in a state) that has no HTML view; the message says why."""


def render_document(data: bytes) -> str:
    """Render a CareCommunication (JSON or XML) or an XDIS91, bare or in a VANSEnvelope, as one HTML page.

    Raises NotRenderable or UnknownKind (a kind without a view), XmlError or ValueError (a broken message)
    with a reason a person can act on.
    """
    kind = detect_kind(data)
    if kind == "carecommunication":
        from medcom_bridge.fhir.codec import FhirParseError, parse
        from medcom_bridge.fhir.render import RenderError, render_thread

        try:
            bundle, _ = parse(data)
            return render_thread(bundle)
        except (FhirParseError, RenderError) as exc:
            raise ValueError(f"not a readable CareCommunication: {exc}") from None
    if kind == "xdis91":
        from medcom_bridge.oioxml.render import render_xdis91_bytes

        return render_xdis91_bytes(data)
    if kind == "dis91":
        from medcom_bridge.edifact.documents import render_dis91

        return render_dis91(data)
    if kind == "vansenvelope":
        from medcom_bridge.envelope.vans import read

        reading = read(data)
        if reading.message is None or reading.payload_kind not in ("carecommunication", "xdis91", "dis91"):
            problem = reading.payload_problem or f"it carries {reading.payload_kind or 'no readable letter'}"
            raise NotRenderable(f"the VANSEnvelope holds nothing to render: {problem}")
        return render_document(reading.message.data)
    reason = f"{unsupported_fhir(kind)}; " if kind in UNSUPPORTED_FHIR else ""
    raise NotRenderable(
        f"{reason}{kind} messages have no HTML view; render takes a CareCommunication, an XDIS91 or a DIS91"
    )
