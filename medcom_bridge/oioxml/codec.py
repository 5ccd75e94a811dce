"""Parse OIOXML bytes into the typed model and serialize the model back (pure: bytes in, values out).

Reading honours the declared encoding (ISO-8859-1, windows-1252, UTF-8 ...) through
`medcom_bridge.xmlsafe.parse_xml` (no DTD, no entities, no network, size limit). MedCom's own worked example
declares ISO-8859-1 over UTF-8 bytes; by the decisions table of oioxml-legacy.md such bytes are read as
UTF-8 and the caller gets an `encoding-mismatch` warning.

Writing produces what MedCom's systems expect: an XML declaration, ISO-8859-1, schema element order,
characters outside Latin-1 as character references, dates and times without timezone, indentation only
between elements (never inside formatted text, where whitespace is content).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, cast

from lxml import etree

from medcom_bridge.findings import Finding, warning
from medcom_bridge.oioxml.model import (
    NS_2005,
    NS_2006,
    NS_2012,
    NS_2020,
    AdditionalInformation,
    AnyEmessage,
    BinaryLetter,
    BinaryLetterPatient,
    BinaryObject,
    BinReference,
    ClinicalEmail,
    ClinicalInformation,
    EanParty,
    Emessage,
    Envelope,
    Letter,
    NegativeReceipt,
    NegativeVansReceipt,
    OriginalEmessage,
    OriginalLetter,
    Patient,
    PositiveReceipt,
    ReceiptLetter,
    Receiver,
    Reference,
    Sender,
)
from medcom_bridge.oioxml.schema import BODIES, EDITIONS, Checker, emessage_for
from medcom_bridge.oioxml.text import (
    Break,
    FormattedText,
    Node,
    Simple,
    Space,
    Styled,
)
from medcom_bridge.privacy import scrub
from medcom_bridge.xmlsafe import XmlError, parse_xml, read_prolog

SUPPORTED_NAMESPACES = (NS_2006, NS_2012, NS_2005, NS_2020)
BODY_NAMES = ("ClinicalEmail", "BinaryLetter", "PositiveReceipt", "NegativeReceipt", "NegativeVansReceipt")
_LATIN1_NAMES = frozenset({"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "windows-1252", "cp1252"})
_DECL_ENCODING = re.compile(rb"""(<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""")


class OioxmlError(ValueError):
    """The document cannot be read into the model. `rule`, `path` and `message` form a finding."""

    def __init__(self, rule: str, path: str, message: str) -> None:
        message = scrub(message)  # shown, logged and stored as a failure reason (privacy.py)
        super().__init__(f"{rule} {path}: {message}")
        self.rule = rule
        self.path = path
        self.message = message


# ===================================================================================== reading
def read_root(data: bytes) -> tuple[etree._Element, tuple[Finding, ...]]:
    """Parse bytes safely, applying the encoding-mismatch rule. Raises XmlError for unreadable XML."""
    prolog = read_prolog(data)
    declared = prolog.encoding
    if declared in _LATIN1_NAMES and _is_multibyte_utf8(data):
        fixed = _DECL_ENCODING.sub(rb"\1\2UTF-8\2", data, count=1)
        note = warning(
            "encoding-mismatch",
            "/",
            f"the XML declaration says {declared!r} but the bytes are UTF-8 (e.g. 'ø' is written as two bytes); "
            'read as UTF-8 — the sender should declare encoding="UTF-8" or write ISO-8859-1 bytes',
        )
        return parse_xml(fixed), (note,)
    return parse_xml(data, prolog=prolog), ()


def _is_multibyte_utf8(data: bytes) -> bool:
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse(data: bytes) -> AnyEmessage:
    """Read an XDIS91, XBIN01 or XCTL01/02/03 into the model.

    Raises XmlError (not readable XML) or OioxmlError (not one of our messages, or a required part is
    missing/unreadable). Values are not judged here: use `validation.validate_bytes` for the verdict.
    """
    root, _ = read_root(data)
    return parse_element(root)


def parse_xdis91(data: bytes) -> Emessage[ClinicalEmail]:
    """`parse`, insisting on an XDIS91 (OioxmlError `oioxml-kind` otherwise)."""
    message = parse(data)
    if not isinstance(message.body, ClinicalEmail):
        raise OioxmlError(
            "oioxml-kind", "/", f"expected XDIS91 (ClinicalEmail), found {message.kind.upper()}"
        )
    return message


def parse_xbin01(data: bytes) -> Emessage[BinaryLetter]:
    """`parse`, insisting on an XBIN01 (OioxmlError `oioxml-kind` otherwise)."""
    message = parse(data)
    if not isinstance(message.body, BinaryLetter):
        raise OioxmlError("oioxml-kind", "/", f"expected XBIN01 (BinaryLetter), found {message.kind.upper()}")
    return message


def parse_element(root: etree._Element) -> AnyEmessage:
    """Read a parsed Emessage into the model (one pass of the schema checker collects the values)."""
    ns, body_el, _, _ = split_emessage(root)
    body = _nn(body_el.tag)
    checker = Checker(BODIES[ns][body][0], ns, EDITIONS[ns][0])
    values = checker.complex(root, emessage_for(ns, body, True), "")
    # Values may be wrong (the model holds them; validation judges them), but elements must be where the
    # model can find them: a misplaced, unknown or stray part is refused rather than dropped.
    for f in checker.findings:
        if f.rule.endswith(_STRUCTURAL):
            raise OioxmlError(f.rule, f.path, f.message)
    return build_message(ns, body, values)


_STRUCTURAL = ("-structure", "-text", "-formatting")


def split_emessage(
    root: etree._Element,
) -> tuple[str, etree._Element, etree._Element, etree._Element | None]:
    """(namespace, body, Envelope, Local_Elements) of an Emessage; OioxmlError when it is not one we read."""
    tag = root.tag if isinstance(root.tag, str) else ""
    if _nn(tag) != "Emessage":
        raise OioxmlError(
            "oioxml-root", "/", f"root element is {_nn(tag)!r}; an OIOXML message is an Emessage"
        )
    ns = tag[1:].partition("}")[0] if tag.startswith("{") else ""
    envelope = local = body = None
    bodies = 0
    for child in root:
        if not isinstance(child.tag, str):
            continue
        name = _nn(child.tag)
        if name == "Envelope":
            envelope = envelope if envelope is not None else child
        elif name == "Local_Elements":
            local = local if local is not None else child
        else:
            bodies += 1
            body = body if body is not None else child
    if body is None:
        raise OioxmlError("oioxml-structure", "Emessage", "no letter after the Envelope")
    body_name = _nn(body.tag)
    if ns not in SUPPORTED_NAMESPACES or body_name not in BODY_NAMES or not _body_fits(ns, body_name):
        raise OioxmlError("oioxml-unsupported", body_name, unsupported_message(ns, body_name, body))
    if bodies > 1:
        raise OioxmlError(
            "oioxml-one-letter",
            "Emessage",
            f"the Emessage holds {bodies} letters; MedCom sends one letter per Emessage and so do we — "
            "split them into separate Emessages",
        )
    if envelope is None:
        raise OioxmlError("oioxml-structure", "Emessage", "missing required element Envelope")
    return ns, body, envelope, local


def _body_fits(ns: str, body: str) -> bool:
    return body in BODIES.get(ns, {})


def unsupported_message(ns: str, body: str, body_el: etree._Element | None = None) -> str:
    version = ""
    if body_el is not None:
        for v in body_el.iter("{*}VersionCode"):
            version = f" {v.text}" if v.text else ""
            break
    supported = (
        "medcom-bridge reads XDIS91 XD9134L (ClinicalEmail, namespace …/2006/07/01/), XBIN01 XB0131X "
        "(BinaryLetter, …/2012/03/28/), their older editions XD9133L and XB0130X (…/2005/08/07/) and "
        "XCTL01/02/03 (…/2005/08/07/ or …/2020/05/06/)"
    )
    return f"{body}{version} in namespace {ns or '(none)'} is not supported; {supported}"


def _nn(tag: object) -> str:
    return cast(str, tag).rpartition("}")[2]


# ----------------------------------------------------------------------------------- values -> model
# The checker hands over plain values: str for a leaf, dict for an element with children, a list for a
# repeated element, node lists for formatted text. Missing required parts raise OioxmlError.
V = dict[str, Any]


def _req(v: V, name: str, path: str) -> Any:
    found = v.get(name)
    if found is None:
        raise OioxmlError("oioxml-structure", path, f"missing required element {name}")
    return found


def _reqs(v: V, name: str, path: str) -> str:
    return cast(str, _req(v, name, path))


def _datetime(v: V, name: str, path: str) -> dt.datetime:
    d = v.get(name)
    if d is None:
        raise OioxmlError("oioxml-structure", path, f"missing required element {name}")
    date = d.get("Date")
    time = d.get("Time")
    if date is None or time is None:
        raise OioxmlError(
            "oioxml-structure",
            f"{path}/{name}",
            f"missing required element {'Date' if date is None else 'Time'}",
        )
    m = _DATE_RE.fullmatch(date)
    if m is None:  # xs:date collapses whitespace; the plain form above is the common case
        date = " ".join(date.split())
        m = _DATE_RE.fullmatch(date)
    t = _TIME_RE.fullmatch(time)
    if m is None or t is None:
        raise OioxmlError(
            "oioxml-datetime",
            f"{path}/{name}",
            f"cannot read date {date!r} / time {time!r}; expected YYYY-MM-DD and hh:mm",
        )
    zone = m.group(4)
    tz: dt.tzinfo | None = None
    if zone:
        if zone == "Z":
            tz = dt.UTC
        else:
            sign = -1 if zone[0] == "-" else 1
            tz = dt.timezone(sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        return dt.datetime(
            int(m.group(1)), int(m.group(2)), int(m.group(3)), int(t.group(1)), int(t.group(2)), tzinfo=tz
        )
    except ValueError as exc:
        raise OioxmlError(
            "oioxml-datetime", f"{path}/{name}", f"{date} {time} is not a valid date and time: {exc}"
        ) from None


_DATE_RE = re.compile(r"(\d{4})-(\d\d)-(\d\d)(Z|[+-]\d\d:\d\d)?")
_TIME_RE = re.compile(r"(\d\d):(\d\d)")


def _int(v: V, name: str, path: str) -> int:
    raw = " ".join(_reqs(v, name, path).split())
    try:
        return int(raw)
    except ValueError:
        raise OioxmlError("oioxml-structure", f"{path}/{name}", f"{raw!r} is not a whole number") from None


def _true(value: str | None) -> bool:
    return value is not None and value.strip() in ("true", "1")


def _formatted(raw: list[Any] | None) -> FormattedText | None:
    return None if raw is None else FormattedText(tuple(raw))


def _letter(v: V, path: str) -> Letter:
    return Letter(
        identifier=v["Identifier"],
        version_code=v["VersionCode"],
        statistical_code=v["StatisticalCode"],
        authorisation=_datetime(v, "Authorisation", path),
        type_code=v["TypeCode"],
        status_code=v["StatusCode"],
        episode_of_care_identifier=v.get("EpisodeOfCareIdentifier"),
    )


def _sender(v: V, path: str) -> Sender:
    g = v.get
    return Sender(
        ean_identifier=v["EANIdentifier"],
        identifier=v["Identifier"],
        identifier_code=v["IdentifierCode"],
        organisation_name=v["OrganisationName"],
        department_name=g("DepartmentName"),
        unit_name=g("UnitName"),
        street_name=g("StreetName"),
        suburb_name=g("SuburbName"),
        district_name=g("DistrictName"),
        post_code_identifier=g("PostCodeIdentifier"),
        telephone_subscriber_identifier=g("TelephoneSubscriberIdentifier"),
        medical_speciality_code=g("MedicalSpecialityCode"),
    )


def _receiver(v: V, path: str) -> Receiver:
    g = v.get
    return Receiver(
        ean_identifier=v["EANIdentifier"],
        identifier=v["Identifier"],
        identifier_code=v["IdentifierCode"],
        organisation_name=g("OrganisationName"),
        department_name=g("DepartmentName"),
        unit_name=g("UnitName"),
        street_name=g("StreetName"),
        suburb_name=g("SuburbName"),
        district_name=g("DistrictName"),
        post_code_identifier=g("PostCodeIdentifier"),
    )


def _patient_id(v: V, path: str) -> tuple[str | None, str | None]:
    cpr, alt = v.get("CivilRegistrationNumber"), v.get("AlternativeIdentifier")
    if cpr is None and alt is None:
        raise OioxmlError(
            "oioxml-structure",
            path,
            "missing required element CivilRegistrationNumber or AlternativeIdentifier",
        )
    return cpr, alt


def _clinical_email(v: V) -> ClinicalEmail:
    path = "ClinicalEmail"
    p = v["Patient"]
    ppath = f"{path}/Patient"
    cpr, alt = _patient_id(p, ppath)
    additional = None
    if "AdditionalInformation" in v:
        a = cast(V, v["AdditionalInformation"])
        additional = AdditionalInformation(priority=a.get("Priority"), subject=a.get("Subject"))
    clinical = tuple(
        ClinicalInformation(FormattedText(tuple(ci["Text01"]))) for ci in v.get("ClinicalInformation", ())
    )
    references = []
    for i, r in enumerate(v.get("Reference", ()), 1):
        rpath = f"{path}/Reference[{i}]"
        bin_ref = None
        if "BIN" in r:
            b = r["BIN"]
            bpath = f"{rpath}/BIN"
            bin_ref = BinReference(
                object_identifier=b["ObjectIdentifier"],
                object_code=b["ObjectCode"],
                object_extension_code=b["ObjectExtensionCode"],
                original_object_size=_int(b, "OriginalObjectSize", bpath),
            )
        if bin_ref is None and "SUP" not in r and "URL" not in r:
            raise OioxmlError("oioxml-structure", rpath, "missing one of URL, SUP, BIN")
        references.append(
            Reference(
                ref_description=r["RefDescription"],
                url=r.get("URL"),
                sup=_true(r.get("SUP")),
                bin=bin_ref,
            )
        )
    return ClinicalEmail(
        letter=_letter(v["Letter"], f"{path}/Letter"),
        sender=_sender(v["Sender"], f"{path}/Sender"),
        receiver=_receiver(v["Receiver"], f"{path}/Receiver"),
        patient=Patient(
            person_surname_name=p["PersonSurnameName"],
            episode_of_care_status_code=p["EpisodeOfCareStatusCode"],
            civil_registration_number=cpr,
            alternative_identifier=alt,
            person_given_name=p.get("PersonGivenName"),
            street_name=p.get("StreetName"),
            suburb_name=p.get("SuburbName"),
            district_name=p.get("DistrictName"),
            post_code_identifier=p.get("PostCodeIdentifier"),
            occupancy_text=p.get("OccupancyText"),
        ),
        additional_information=additional,
        clinical_information=clinical,
        reference=tuple(references),
        cc_receiver=None,
    )


def _binary_letter(v: V) -> BinaryLetter:
    path = "BinaryLetter"
    patient = None
    if "Patient" in v:
        p = cast(V, v["Patient"])
        cpr, alt = _patient_id(p, f"{path}/Patient")
        patient = BinaryLetterPatient(
            person_surname_name=p["PersonSurnameName"],
            civil_registration_number=cpr,
            alternative_identifier=alt,
            person_given_name=p.get("PersonGivenName"),
        )
    elif "SystemInformation" not in v:
        raise OioxmlError("oioxml-structure", path, "missing required element Patient (or SystemInformation)")
    objects = []
    for i, o in enumerate(v.get("BinaryObject", ()), 1):
        opath = f"{path}/BinaryObject[{i}]"
        objects.append(
            BinaryObject(
                object_identifier=o["ObjectIdentifier"],
                object_code=o["ObjectCode"],
                object_extension_code=o["ObjectExtensionCode"],
                original_object_size=_int(o, "OriginalObjectSize", opath),
                object_base64_encoded=o["Object_Base64Encoded"],
            )
        )
    if not objects:
        raise OioxmlError("oioxml-structure", path, "missing required element BinaryObject")
    letter = v["Letter"]
    return BinaryLetter(
        letter=_letter(letter, f"{path}/Letter"),
        sender=_sender(v["Sender"], f"{path}/Sender"),
        receiver=_receiver(v["Receiver"], f"{path}/Receiver"),
        patient=patient,
        binary_object=tuple(objects),
        system_information=_true(v.get("SystemInformation")),
        contents=v.get("Contents"),
    )


def _ean(v: V, name: str, path: str) -> EanParty:
    return EanParty(_reqs(_req(v, name, path), "EANIdentifier", f"{path}/{name}"))


def _receipt(v: V, name: str) -> tuple[ReceiptLetter, EanParty, EanParty, OriginalEmessage]:
    lv = v["Letter"]
    opath = f"{name}/OriginalEmessage"
    o = v["OriginalEmessage"]
    letters = tuple(
        OriginalLetter(
            original_letter_identifier=ol["OriginalLetterIdentifier"],
            original_version_code=ol["OriginalVersionCode"],
            refuse_code=ol.get("RefuseCode"),
            refuse_text=_formatted(ol.get("RefuseText")),
        )
        for i, ol in enumerate(o.get("OriginalLetter", ()), 1)
    )
    original = OriginalEmessage(
        original_envelope_identifier=o["OriginalEnvelopeIdentifier"],
        original_sender=_ean(o, "OriginalSender", opath),
        original_receiver=_ean(o, "OriginalReceiver", opath),
        original_letter=letters,
        refuse_code=o.get("RefuseCode"),
        refuse_text=_formatted(o.get("RefuseText")),
    )
    letter = ReceiptLetter(
        identifier=lv["Identifier"],
        version_code=lv["VersionCode"],
        statistical_code=lv["StatisticalCode"],
    )
    return letter, _ean(v, "Sender", name), _ean(v, "Receiver", name), original


def build_message(ns: str, body: str, values: V) -> AnyEmessage:
    """Model from the checker's values of an Emessage (see `schema.Checker.complex`)."""
    ev = cast(V, _req(values, "Envelope", "Emessage"))
    envelope = Envelope(
        sent=_datetime(ev, "Sent", "Envelope"),
        identifier=_reqs(ev, "Identifier", "Envelope"),
        acknowledgement_code=_reqs(ev, "AcknowledgementCode", "Envelope"),
    )
    local = values.get("Local_Elements")
    local_bytes = etree.tostring(local, with_tail=False) if local is not None else None
    b = cast(V, _req(values, body, "Emessage"))
    try:
        return _build_body(ns, body, envelope, b, local_bytes)
    except KeyError as exc:
        # Only reachable for a document whose structure the checker already reported.
        raise OioxmlError("oioxml-structure", body, f"missing required element {exc.args[0]}") from None


def _build_body(ns: str, body: str, envelope: Envelope, b: V, local_bytes: bytes | None) -> AnyEmessage:
    if body == "ClinicalEmail":
        return Emessage(envelope, _clinical_email(b), ns, local_bytes)
    if body == "BinaryLetter":
        return Emessage(envelope, _binary_letter(b), ns, local_bytes)
    if body == "PositiveReceipt":
        return Emessage(envelope, PositiveReceipt(*_receipt(b, body)), ns, local_bytes)
    if body == "NegativeReceipt":
        return Emessage(envelope, NegativeReceipt(*_receipt(b, body)), ns, local_bytes)
    return Emessage(envelope, NegativeVansReceipt(*_receipt(b, body)), ns, local_bytes)


# ===================================================================================== writing
XML_DECLARATION = b'<?xml version="1.0" encoding="ISO-8859-1"?>\n'
# Characters XML 1.0 cannot carry at all (not even as references).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ILLEGAL_ASCII = tuple(chr(c) for c in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)))


def _first_illegal(value: str) -> str | None:
    """The first character of `value` XML 1.0 cannot carry, or None. Printable text has none (controls,
    surrogates and U+FFFE/U+FFFF are not printable); long ASCII (base64) is searched per control character."""
    if value.isascii() and len(value) > 256:
        if not any(c in value for c in _ILLEGAL_ASCII):
            return None
    elif value.isprintable():
        return None
    found = _ILLEGAL.search(value)
    return found.group() if found is not None else None


def _escape(value: str) -> str:
    """Character data: &, <, > and CR as references; OioxmlError for a character XML 1.0 cannot carry.
    str.translate with a dict maps in Python, character by character, and a regex class scans slowly too;
    `in`, `isprintable` and `replace` run at C speed (a 10 MB base64 object is one leaf)."""
    bad = _first_illegal(value)
    if bad is not None:
        raise OioxmlError(
            "oioxml-characters",
            "/",
            f"character U+{ord(bad):04X} cannot be written in XML 1.0; remove it or replace it",
        )
    if "&" not in value and "<" not in value and ">" not in value and "\r" not in value:
        return value
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def serialize(message: AnyEmessage, *, indent: bool = True) -> bytes:
    """The message as ISO-8859-1 XML bytes with declaration, in schema element order.

    Characters outside Latin-1 become character references. Raises OioxmlError for what cannot be
    written: a CCReceiver (not in XD9134L), a Reference/patient without exactly one choice, or
    characters XML 1.0 cannot carry (control characters).
    """
    out = _Out(indent)
    out.open("Emessage", f' xmlns="{_attr(message.namespace)}"')
    out.envelope(message.envelope)
    body = message.body
    if isinstance(body, ClinicalEmail):
        out.clinical_email(body)
    elif isinstance(body, BinaryLetter):
        out.binary_letter(body)
    else:
        out.receipt(body)
    if message.local_elements is not None:
        out.raw(_local_elements(message.local_elements))
    out.close("Emessage")
    text = "".join(out.parts)  # every character was checked by `_escape` (tags and names are ours)
    data = XML_DECLARATION + text.encode("iso-8859-1", "xmlcharrefreplace")
    if _is_multibyte_utf8(data):
        # Rare Latin-1 text (e.g. 'Ã' + '¸') is also valid UTF-8, and a reader applying the encoding-mismatch
        # rule (ours included) would take it for UTF-8. Writing U+0080-U+00BF as references breaks every such
        # two-byte sequence, so what we write always reads back as written.
        data = XML_DECLARATION + _LATIN1_CONTINUATION.sub(lambda m: f"&#{ord(m.group())};", text).encode(
            "iso-8859-1", "xmlcharrefreplace"
        )
    return data


_LATIN1_CONTINUATION = re.compile("[\x80-\xbf]")


def build_tree(message: AnyEmessage) -> etree._Element:
    """The message as an lxml tree, exactly as `serialize` writes it (used by `validate_message`)."""
    return parse_xml(serialize(message, indent=False))


def _attr(value: str) -> str:
    return _escape(value).replace('"', "&quot;")


def _local_elements(raw: bytes) -> str:
    try:
        el = parse_xml(raw)
    except XmlError as exc:
        raise OioxmlError("oioxml-local-elements", "Local_Elements", exc.message) from None
    return etree.tostring(el, encoding="unicode", with_tail=False)


def _date(d: dt.datetime) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def _time(d: dt.datetime) -> str:
    return f"{d.hour:02d}:{d.minute:02d}"


# Indentation by depth (our deepest element is 5 levels down; Local_Elements is written as one piece).
_PADS = tuple("\n" + "  " * depth for depth in range(32))
_NO_PADS = ("",) * 32


class _Out:
    """Appends XML text; element-only content is indented, formatted text is written verbatim."""

    __slots__ = ("depth", "indent", "pads", "parts")

    def __init__(self, indent: bool) -> None:
        self.parts: list[str] = []
        self.indent = indent
        self.depth = 0
        self.pads = _PADS if indent else _NO_PADS

    def _pad(self) -> str:
        return self.pads[self.depth] if self.parts else ""

    def open(self, name: str, attributes: str = "") -> None:
        parts = self.parts
        parts.append(f"{self.pads[self.depth] if parts else ''}<{name}{attributes}>")
        self.depth += 1

    def close(self, name: str) -> None:
        self.depth -= 1
        self.parts.append(f"{self.pads[self.depth]}</{name}>")
        if self.depth == 0 and self.indent:
            self.parts.append("\n")

    def leaf(self, name: str, value: str) -> None:
        # Every leaf follows its parent's start tag, so `parts` is never empty here.
        self.parts.append(f"{self.pads[self.depth]}<{name}>{_escape(value)}</{name}>")

    def opt(self, name: str, value: str | None) -> None:
        if value is not None:
            self.leaf(name, value)

    def raw(self, xml: str) -> None:
        self.parts.append(self._pad() + xml)

    def datetime(self, name: str, value: dt.datetime) -> None:
        self.open(name)
        self.leaf("Date", _date(value))
        self.leaf("Time", _time(value))
        self.close(name)

    def text(self, name: str, text: FormattedText) -> None:
        self.parts.append(f"{self._pad()}<{name}>")
        _write_nodes(self.parts, text.content)
        self.parts.append(f"</{name}>")

    def envelope(self, e: Envelope) -> None:
        self.open("Envelope")
        self.datetime("Sent", e.sent)
        self.leaf("Identifier", e.identifier)
        self.leaf("AcknowledgementCode", e.acknowledgement_code)
        self.close("Envelope")

    def letter(self, letter: Letter, episode: bool) -> None:
        self.open("Letter")
        self.leaf("Identifier", letter.identifier)
        self.leaf("VersionCode", letter.version_code)
        self.leaf("StatisticalCode", letter.statistical_code)
        self.datetime("Authorisation", letter.authorisation)
        self.leaf("TypeCode", letter.type_code)
        self.leaf("StatusCode", letter.status_code)
        if episode:
            self.opt("EpisodeOfCareIdentifier", letter.episode_of_care_identifier)
        elif letter.episode_of_care_identifier is not None:
            raise OioxmlError(
                "xbin01-structure",
                "BinaryLetter/Letter",
                "XBIN01 has no EpisodeOfCareIdentifier; leave it None",
            )
        self.close("Letter")

    def sender(self, s: Sender) -> None:
        self.open("Sender")
        self.leaf("EANIdentifier", s.ean_identifier)
        self.leaf("Identifier", s.identifier)
        self.leaf("IdentifierCode", s.identifier_code)
        self.leaf("OrganisationName", s.organisation_name)
        self.opt("DepartmentName", s.department_name)
        self.opt("UnitName", s.unit_name)
        self.opt("StreetName", s.street_name)
        self.opt("SuburbName", s.suburb_name)
        self.opt("DistrictName", s.district_name)
        self.opt("PostCodeIdentifier", s.post_code_identifier)
        self.opt("TelephoneSubscriberIdentifier", s.telephone_subscriber_identifier)
        self.opt("MedicalSpecialityCode", s.medical_speciality_code)
        self.close("Sender")

    def receiver(self, r: Receiver) -> None:
        self.open("Receiver")
        self.leaf("EANIdentifier", r.ean_identifier)
        self.leaf("Identifier", r.identifier)
        self.leaf("IdentifierCode", r.identifier_code)
        self.opt("OrganisationName", r.organisation_name)
        self.opt("DepartmentName", r.department_name)
        self.opt("UnitName", r.unit_name)
        self.opt("StreetName", r.street_name)
        self.opt("SuburbName", r.suburb_name)
        self.opt("DistrictName", r.district_name)
        self.opt("PostCodeIdentifier", r.post_code_identifier)
        self.close("Receiver")

    def patient_id(self, cpr: str | None, alt: str | None, path: str) -> None:
        if (cpr is None) == (alt is None):
            raise OioxmlError(
                "oioxml-patient-identifier",
                path,
                "exactly one of civil_registration_number and alternative_identifier must be set",
            )
        if cpr is not None:
            self.leaf("CivilRegistrationNumber", cpr)
        else:
            self.leaf("AlternativeIdentifier", cast(str, alt))

    def clinical_email(self, m: ClinicalEmail) -> None:
        if m.cc_receiver is not None:
            raise OioxmlError(
                "xdis91-ccreceiver",
                "ClinicalEmail/CCReceiver",
                "XD9134L has no CCReceiver; send a separate letter to the copy receiver",
            )
        self.open("ClinicalEmail")
        self.letter(m.letter, episode=True)
        self.sender(m.sender)
        self.receiver(m.receiver)
        p = m.patient
        self.open("Patient")
        self.patient_id(p.civil_registration_number, p.alternative_identifier, "ClinicalEmail/Patient")
        self.leaf("PersonSurnameName", p.person_surname_name)
        self.opt("PersonGivenName", p.person_given_name)
        self.opt("StreetName", p.street_name)
        self.opt("SuburbName", p.suburb_name)
        self.opt("DistrictName", p.district_name)
        self.opt("PostCodeIdentifier", p.post_code_identifier)
        self.opt("OccupancyText", p.occupancy_text)
        self.leaf("EpisodeOfCareStatusCode", p.episode_of_care_status_code)
        self.close("Patient")
        if m.additional_information is not None:
            self.open("AdditionalInformation")
            self.opt("Priority", m.additional_information.priority)
            self.opt("Subject", m.additional_information.subject)
            self.close("AdditionalInformation")
        for ci in m.clinical_information:
            self.open("ClinicalInformation")
            self.text("Text01", ci.text01)
            self.close("ClinicalInformation")
        for ref in m.reference:
            if (ref.url is not None) + ref.sup + (ref.bin is not None) != 1:
                raise OioxmlError(
                    "xdis91-reference",
                    "ClinicalEmail/Reference",
                    "exactly one of url, sup and bin must be set",
                )
            self.open("Reference")
            self.leaf("RefDescription", ref.ref_description)
            if ref.url is not None:
                self.leaf("URL", ref.url)
            elif ref.sup:
                self.leaf("SUP", "true")
            elif ref.bin is not None:
                self.open("BIN")
                self.leaf("ObjectIdentifier", ref.bin.object_identifier)
                self.leaf("ObjectCode", ref.bin.object_code)
                self.leaf("ObjectExtensionCode", ref.bin.object_extension_code)
                self.leaf("OriginalObjectSize", str(ref.bin.original_object_size))
                self.close("BIN")
            self.close("Reference")
        self.close("ClinicalEmail")

    def binary_letter(self, m: BinaryLetter) -> None:
        self.open("BinaryLetter")
        self.letter(m.letter, episode=False)
        self.sender(m.sender)
        self.receiver(m.receiver)
        if m.patient is not None:
            p = m.patient
            self.open("Patient")
            self.patient_id(p.civil_registration_number, p.alternative_identifier, "BinaryLetter/Patient")
            self.leaf("PersonSurnameName", p.person_surname_name)
            self.opt("PersonGivenName", p.person_given_name)
            self.close("Patient")
        elif m.system_information:
            self.leaf("SystemInformation", "true")
            self.opt("Contents", m.contents)
        else:
            raise OioxmlError("xbin01-patient", "BinaryLetter", "set patient, or system_information=True")
        for o in m.binary_object:
            self.open("BinaryObject")
            self.leaf("ObjectIdentifier", o.object_identifier)
            self.leaf("ObjectCode", o.object_code)
            self.leaf("ObjectExtensionCode", o.object_extension_code)
            self.leaf("OriginalObjectSize", str(o.original_object_size))
            self.leaf("Object_Base64Encoded", o.object_base64_encoded)
            self.close("BinaryObject")
        self.close("BinaryLetter")

    def receipt(self, m: PositiveReceipt | NegativeReceipt | NegativeVansReceipt) -> None:
        name = type(m).__name__
        negative = not isinstance(m, PositiveReceipt)
        self.open(name)
        self.open("Letter")
        self.leaf("Identifier", m.letter.identifier)
        self.leaf("VersionCode", m.letter.version_code)
        self.leaf("StatisticalCode", m.letter.statistical_code)
        self.close("Letter")
        self.ean("Sender", m.sender.ean_identifier)
        self.ean("Receiver", m.receiver.ean_identifier)
        o = m.original_emessage
        self.open("OriginalEmessage")
        self.leaf("OriginalEnvelopeIdentifier", o.original_envelope_identifier)
        self.ean("OriginalSender", o.original_sender.ean_identifier)
        self.ean("OriginalReceiver", o.original_receiver.ean_identifier)
        self.refusal(o.refuse_code, o.refuse_text, negative, f"{name}/OriginalEmessage")
        for ol in o.original_letter:
            self.open("OriginalLetter")
            self.leaf("OriginalLetterIdentifier", ol.original_letter_identifier)
            self.leaf("OriginalVersionCode", ol.original_version_code)
            self.refusal(ol.refuse_code, ol.refuse_text, negative, f"{name}/OriginalEmessage/OriginalLetter")
            self.close("OriginalLetter")
        self.close("OriginalEmessage")
        self.close(name)

    def ean(self, name: str, ean: str) -> None:
        self.open(name)
        self.leaf("EANIdentifier", ean)
        self.close(name)

    def refusal(self, code: str | None, text: FormattedText | None, negative: bool, path: str) -> None:
        if not negative:
            if code is not None or text is not None:
                raise OioxmlError(
                    "xctl03-refuse", path, "a positive receipt (XCTL03) carries no RefuseCode/RefuseText"
                )
            return
        self.opt("RefuseCode", code)
        if text is not None:
            self.text("RefuseText", text)


def _write_nodes(
    parts: list[str], nodes: tuple[Node, ...] | tuple[Simple, ...] | tuple[Simple | Styled, ...]
) -> None:
    for node in nodes:
        if isinstance(node, str):
            parts.append(_escape(node))
        elif isinstance(node, Break):
            parts.append("<Break/>")
        elif isinstance(node, Space):
            parts.append("<Space/>")
        else:
            name = node.style if isinstance(node, Styled) else "FixedFont"
            parts.append(f"<{name}>")
            _write_nodes(parts, node.content)
            parts.append(f"</{name}>")
