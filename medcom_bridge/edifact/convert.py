"""EDIFACT <-> OIOXML conversion exactly as MedCom's converter does it (pure: models in, models out).

`to_edifact(message)` turns an OIOXML model (XDIS91, XBIN01, XCTL01/02/03) into its EDIFACT twin
(DIS91 D9134L, BIN01 B0131X, CTL0n C0n30Q); `to_oioxml(interchange)` goes back. One function per segment
group, in the order of MedCom's XSLTs (`XML2EDI/XD9134L.xslt`, `XB0131X.xslt`, `XC0n30Q.xslt` and their
EDI2XML twins), so the code can be read next to them. Where MedCom's converter refuses (an `FEJL` element in
its XSLT, too many FTX in an S14 group) we raise `EdifactConversionError` with a `Cause` and a message that
names the limit; its other quirks are kept and listed in NOTES.md.

Patient data never goes into an error message: messages name elements and limits, not values (code values
from MedCom's lists are not patient data and are quoted).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import re
from collections.abc import Sequence

from medcom_bridge.edifact import codes
from medcom_bridge.edifact.ftx import Ftx, breakable, plain, read_formatted, to_ftx
from medcom_bridge.edifact.syntax import Interchange, Segment, is_group, seg
from medcom_bridge.oioxml.model import (
    MINUS_POSITIVE_RECEIPT,
    PLUS_POSITIVE_RECEIPT,
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
from medcom_bridge.oioxml.text import BREAK, FormattedText, Node

# The FTX budget of one S14 group (XD9134L.xslt: maxOccurs of the XFTX elements).
MAX_FTX_FIRST_S14 = 8  # the first S14 also carries the subject (FTX+OE)
MAX_FTX_S14 = 9
MAX_FTX_SUBJECT = 1
CENTURY_PIVOT = 80  # UNB yy below this is 20yy, else 19yy


class Cause(enum.Enum):
    """Why a conversion was refused (the value is the rule id printed with the reason)."""

    TOO_MANY_FTX = "edifact-ftx-limit"
    CODE_UNKNOWN = "edifact-code-unknown"
    PATIENT_ID = "edifact-patient-id"
    ACK_CODE = "edifact-ack-code"
    NOT_LATIN1 = "edifact-not-latin1"
    OBJECT_SIZE = "edifact-object-size"
    UNSUPPORTED = "edifact-unsupported"
    STRUCTURE = "edifact-structure"
    DATE = "edifact-date"


class EdifactConversionError(ValueError):
    """A message MedCom's converter would not convert (or would convert into a broken one)."""

    def __init__(self, cause: Cause, path: str, message: str) -> None:
        super().__init__(f"{cause.value} {path}: {message}")
        self.cause = cause
        self.path = path
        self.message = message


def _refuse(cause: Cause, path: str, message: str) -> EdifactConversionError:
    return EdifactConversionError(cause, path, message)


# =========================================================================================== OIOXML -> EDIFACT
def to_edifact(message: AnyEmessage) -> Interchange:
    """The EDIFACT twin of an OIOXML message (no whitespace between segments, as MedCom writes it)."""
    body = message.body
    if isinstance(body, ClinicalEmail):
        letter = _dis91(body)
        sender, receiver = body.sender.ean_identifier, body.receiver.ean_identifier
    elif isinstance(body, BinaryLetter):
        letter = _bin01(body)
        sender, receiver = body.sender.ean_identifier, body.receiver.ean_identifier
    else:
        letter = _ctl(body)
        sender, receiver = body.sender.ean_identifier, body.receiver.ean_identifier
    control = isinstance(body, PositiveReceipt | NegativeReceipt | NegativeVansReceipt)
    env = message.envelope
    unb: list[str | tuple[str, ...]] = [
        ("UNOC", "3"),
        (sender, "14"),
        (receiver, "14"),
        (env.sent.strftime("%y%m%d"), env.sent.strftime("%H%M")),
        env.identifier,
    ]
    if control:
        if env.acknowledgement_code != MINUS_POSITIVE_RECEIPT:
            raise _refuse(
                Cause.ACK_CODE,
                "Envelope/AcknowledgementCode",
                f"{env.acknowledgement_code!r} is not allowed in a CONTRL; receipts carry 'minuspositivkvitt'",
            )
    else:
        ack = codes.ACK_REQUEST.get(env.acknowledgement_code)
        if ack is None:
            raise _refuse(
                Cause.ACK_CODE,
                "Envelope/AcknowledgementCode",
                f"{env.acknowledgement_code!r} has no EDIFACT code; use 'pluspositivkvitt' or 'minuspositivkvitt'",
            )
        unb += ["", "", "", ack]
    segments = [_pack(seg("UNB", *unb)), *letter, seg("UNZ", "1", env.identifier)]
    ic = Interchange(tuple(segments))
    _check_latin1(ic)
    return ic


def _check_latin1(ic: Interchange) -> None:
    try:
        "".join([c for s in ic.segments for e in s.elements for c in e]).encode("latin-1")
        return
    except UnicodeEncodeError:
        pass  # find the segment, to say where
    for i, s in enumerate(ic.segments, 1):
        for e in s.elements:
            for c in e:
                if not c.isascii():
                    try:
                        c.encode("latin-1")
                    except UnicodeEncodeError:
                        raise _refuse(
                            Cause.NOT_LATIN1,
                            f"segment {i} ({s.tag})",
                            "a character outside ISO-8859-1 (UNOC:3 carries only Latin-1)",
                        ) from None


def _pack(s: Segment) -> Segment:
    """Drop trailing empty components and elements, as MedCom's writer does (`AbstractSyntaxTree#pack`)."""
    if all(e and e[-1] for e in s.elements):
        return s
    elements = []
    for e in s.elements:
        comps = list(e)
        while comps and comps[-1] == "":
            comps.pop()
        elements.append(tuple(comps) or ("",))  # an empty element reads back as one empty component
    while elements and elements[-1] == ("",):
        elements.pop()
    return Segment(s.tag, tuple(elements), s.payload)


def _message(header: tuple[str, str, str], letter_id: str, body: list[Segment]) -> list[Segment]:
    msg_type, version, kind = header
    unh = seg("UNH", letter_id, (msg_type, "D", "93A", "ZZ" if msg_type == "CONTRL" else "UN", version), kind)
    packed = [_pack(s) for s in body]
    return [unh, *packed, seg("UNT", str(len(packed) + 2), letter_id)]


def _dt203(value: dt.datetime) -> str:
    return value.strftime("%Y%m%d%H%M")


def _identifier(party: Sender | Receiver, path: str) -> tuple[str, str, str]:
    code = codes.IDENTIFIER_CODE.get(party.identifier_code)
    if code is None:
        raise _refuse(
            Cause.CODE_UNKNOWN,
            f"{path}/IdentifierCode",
            f"{party.identifier_code!r} has no EDIFACT code; allowed: {', '.join(codes.IDENTIFIER_CODE)}",
        )
    return (party.identifier, *code)


def _adr(p: Sender | Receiver | Patient) -> list[Segment]:
    if (p.street_name, p.suburb_name, p.district_name, p.post_code_identifier) == (None,) * 4:
        return []
    return [
        seg(
            "ADR",
            "",
            ("US", p.street_name or "", p.suburb_name or ""),
            p.district_name or "",
            p.post_code_identifier or "",
        )
    ]


def _speciality(code: str | None, path: str, absent: str) -> str:
    if code is None:
        return absent
    number = codes.SPECIALITY_NUMBER.get(code)
    if number is None:
        raise _refuse(
            Cause.CODE_UNKNOWN,
            f"{path}/MedicalSpecialityCode",
            f"{code!r} has no EDIFACT speciality number in MedCom's converter table",
        )
    return number


def _sender_group(s: Sender, kind: str, underscores: bool) -> list[Segment]:
    department = s.department_name or ("_" if underscores and s.unit_name is not None else "")
    out = [
        seg("S01", "01"),
        seg(
            "NAD",
            "SSP",
            _identifier(s, "Sender"),
            "",
            (s.organisation_name, department, s.unit_name or "", "", "", "US"),
        ),
        *_adr(s),
    ]
    if s.telephone_subscriber_identifier is not None:
        out.append(seg("CON", "", (s.telephone_subscriber_identifier, "TE")))
    absent = codes.NO_SPECIALITY_DIS91 if kind == "DIS91" else ""
    out += [
        seg("SEQ", "", "1"),
        seg(
            "SPR",
            "ORG",
            (_speciality(s.medical_speciality_code, "Sender", absent), "SKS", "SST"),
            (kind, "SKS", "SST"),
        ),
    ]
    return out


def _receiver_group(r: Receiver, underscores: bool) -> list[Segment]:
    department = r.department_name or ("_" if underscores and r.unit_name is not None else "")
    return [
        seg("S01", "01"),
        seg(
            "NAD",
            "PO",
            _identifier(r, "Receiver"),
            "",
            (r.organisation_name or "_", department, r.unit_name or "", "", "", "US"),
        ),
        *_adr(r),
        seg("SEQ", "", "2"),
    ]


def _pna(p: Patient | BinaryLetterPatient) -> list[Segment]:
    if (p.civil_registration_number is None) == (p.alternative_identifier is None):
        raise _refuse(
            Cause.PATIENT_ID,
            "Patient",
            "a patient needs exactly one of CivilRegistrationNumber and AlternativeIdentifier",
        )
    cpr = p.civil_registration_number
    out = [
        seg(
            "PNA",
            "PAT",
            (cpr, "", "", "CPR", "IM") if cpr is not None else "",
            "",
            "",
            ("SU", p.person_surname_name),
            ("FO" if p.person_given_name is not None else "", p.person_given_name or ""),
        )
    ]
    if p.alternative_identifier is not None:
        out.append(seg("RFF", ("XPI", p.alternative_identifier)))
    return out


def _ftx_segments(ftxs: Sequence[Ftx]) -> list[Segment]:
    return [seg("FTX", f.qualifier, f.format_code, "", f.lines) for f in ftxs]


def _limit(ftxs: list[Ftx], limit: int, path: str) -> list[Ftx]:
    if len(ftxs) > limit:
        raise _refuse(
            Cause.TOO_MANY_FTX,
            path,
            f"needs {len(ftxs)} FTX segments; MedCom's converter allows at most {limit} in this S14 group "
            f"(5 lines of 70 characters each)",
        )
    return ftxs


def _dis91(ce: ClinicalEmail) -> list[Segment]:
    if ce.cc_receiver is not None:
        raise _refuse(Cause.UNSUPPORTED, "ClinicalEmail/CCReceiver", "XD9134L has no CCReceiver")
    lt, p = ce.letter, ce.patient
    status = codes.LETTER_STATUS.get(lt.status_code)
    if status is None:
        raise _refuse(
            Cause.CODE_UNKNOWN, "Letter/StatusCode", f"{lt.status_code!r}: use nytbrev or rettetbrev"
        )
    body = [
        seg("BGM", "EPI", "", "9", "NA"),
        seg("DTM", ("137", _dt203(lt.authorisation), "203")),
        *_sender_group(ce.sender, "DIS91", underscores=False),
        *_receiver_group(ce.receiver, underscores=False),
        seg("S02", "02"),
        seg("GIS", status),
        seg("RFF", ("SRI", lt.identifier)),
    ]
    info = ce.additional_information
    if info is not None and info.priority is not None:
        body.append(seg("RFF", (codes.PRIORITY.get(info.priority, ""), "NC")))
    body += [seg("DTM", ("182", _dt203(lt.authorisation), "203")), seg("S07", "07"), *_pna(p), *_adr(p)]
    if p.occupancy_text is not None:
        body.append(seg("EMP", "1", "", ("", "", "", p.occupancy_text)))
    pas = codes.EPISODE_STATUS.get(p.episode_of_care_status_code)
    if pas is None:
        raise _refuse(
            Cause.CODE_UNKNOWN,
            "Patient/EpisodeOfCareStatusCode",
            f"{p.episode_of_care_status_code!r}: allowed {', '.join(codes.EPISODE_STATUS)}",
        )
    episode = lt.episode_of_care_identifier
    body += [
        seg("S11", "11"),
        seg("GIS", "N"),
        seg("RFF", ("REI", episode) if episode is not None else ("AHI", "1")),
        seg("SEQ", "", "1"),
        seg("PAS", pas),
    ]
    body += _clinical_groups(ce)
    if ce.reference:
        body.append(seg("S14", "14"))
        for i, ref in enumerate(ce.reference, 1):
            body += _ftx_segments(to_ftx(*_reference_lines(ref, i)))
    return _message(codes.KINDS["dis91"], lt.identifier, body)


def _clinical_groups(ce: ClinicalEmail) -> list[Segment]:
    """`constructClinicalInfo`: one S14 per ClinicalInformation (at least one), the subject in the first."""
    subject = ce.additional_information.subject if ce.additional_information else None
    infos = ce.clinical_information
    out: list[Segment] = []
    for index in range(max(1, len(infos))):
        path = f"ClinicalInformation[{index + 1}]"
        out.append(seg("S14", "14"))
        text: tuple[Node, ...] = infos[index].text01.content if index < len(infos) else ()
        if index == 0 and subject is not None:
            out += _ftx_segments(
                _limit(to_ftx("OE", (subject,)), MAX_FTX_SUBJECT, "AdditionalInformation/Subject")
            )
            if infos:
                out += _ftx_segments(_limit(to_ftx("NC", text), MAX_FTX_FIRST_S14, path))
        else:
            out += _ftx_segments(_limit(to_ftx("NC", text), MAX_FTX_S14, path))
    return out


def _reference_lines(ref: Reference, index: int) -> tuple[str, list[Node]]:
    path = f"Reference[{index}]"
    if ref.bin is not None:
        b = ref.bin
        kind = codes.OBJECT_CODE.get(b.object_code)
        ext = codes.EXTENSION.get(b.object_extension_code)
        if kind is None or ext is None:
            bad = "ObjectCode" if kind is None else "ObjectExtensionCode"
            value = b.object_code if kind is None else b.object_extension_code
            raise _refuse(
                Cause.CODE_UNKNOWN, f"{path}/BIN/{bad}", f"{value!r} is not in MedCom's DIS91 table"
            )
        lines: list[Node] = [ref.ref_description, BREAK, b.object_identifier, BREAK, kind, BREAK, ext, BREAK]
        return "BIN", [*lines, str(b.original_object_size)]
    if ref.url is not None:
        return "URL", [ref.ref_description, BREAK, ref.url]
    return "SUP", [ref.ref_description, BREAK]


def _bin01(bl: BinaryLetter) -> list[Segment]:
    lt = bl.letter
    body = [
        seg("BGM", "OBJ", "", "9", "NA"),
        seg("DTM", ("137", _dt203(lt.authorisation), "203")),
        *_sender_group(bl.sender, "BIN01", underscores=True),
        *_receiver_group(bl.receiver, underscores=True),
        seg("S02", "02"),
        seg("GIS", "N"),  # XB0131X.xslt writes N whatever the StatusCode
        seg("RFF", ("SRI", lt.identifier)),
        seg("DTM", ("182", _dt203(lt.authorisation), "203")),
        seg("S07", "07"),
    ]
    if bl.system_information:
        body += [
            seg("PNA", "PAT", "", "", "", ("SU", "Data"), ("FO" if bl.contents else "", bl.contents or "")),
            seg("RFF", ("XPI", "SYSTEMPOST")),
        ]
    if bl.patient is not None:
        body += _pna(bl.patient)
    if bl.binary_object:
        body.append(seg("S11", "11"))
    for i, obj in enumerate(bl.binary_object, 1):
        path = f"BinaryObject[{i}]"
        kind = codes.OBJECT_CODE.get(obj.object_code)
        ext = codes.EXTENSION_BIN01.get(obj.object_extension_code)
        if kind is None or ext is None:
            bad = "ObjectCode" if kind is None else "ObjectExtensionCode"
            value = obj.object_code if kind is None else obj.object_extension_code
            raise _refuse(Cause.CODE_UNKNOWN, f"{path}/{bad}", f"{value!r} is not in MedCom's BIN01 table")
        try:
            data = base64.b64decode(re.sub(r"[^A-Za-z0-9+/=]", "", obj.object_base64_encoded))
        except (binascii.Error, ValueError):
            raise _refuse(Cause.OBJECT_SIZE, f"{path}/Object_Base64Encoded", "not base64") from None
        size = obj.original_object_size
        if len(data) != size:
            raise _refuse(
                Cause.OBJECT_SIZE,
                f"{path}/OriginalObjectSize",
                f"says {size} bytes but the object has {len(data)}; UNO must declare the exact size",
            )
        uno = seg(
            "UNO",
            str(i),
            ("AID", obj.object_identifier.replace("-", "")),
            ("OBJ", kind, ext, "91"),
            (str(size), "14", "1", "A"),
        )
        body += [Segment(uno.tag, uno.elements, data), seg("UNP", str(size), str(i))]
    return _message(codes.KINDS["bin01"], lt.identifier, body)


def _refuse_ftx(code: str | None, text: FormattedText | None, kind: str, path: str) -> list[Segment]:
    if code is None and text is None:
        return []
    if code is None:
        if kind == "ctl01":  # XC0130Q has no default for an absent RefuseCode
            raise _refuse(
                Cause.CODE_UNKNOWN, f"{path}/RefuseCode", "CTL01 needs a RefuseCode with a RefuseText"
            )
        qualifier = "NC"
    else:
        q = codes.REFUSE_CODE.get(code)
        if q is None:
            raise _refuse(
                Cause.CODE_UNKNOWN, f"{path}/RefuseCode", f"{code!r}: allowed {', '.join(codes.REFUSE_CODE)}"
            )
        qualifier = q
    return _ftx_segments(to_ftx(qualifier, text.content if text is not None else ()))


def _ctl(body: PositiveReceipt | NegativeReceipt | NegativeVansReceipt) -> list[Segment]:
    kind = {NegativeVansReceipt: "ctl01", NegativeReceipt: "ctl02", PositiveReceipt: "ctl03"}[type(body)]
    status = "7" if kind == "ctl03" else "4"
    oe = body.original_emessage
    segments = [
        seg(
            "UCI",
            oe.original_envelope_identifier,
            (oe.original_sender.ean_identifier, "14"),
            (oe.original_receiver.ean_identifier, "14"),
            status,
        ),
        *_refuse_ftx(oe.refuse_code, oe.refuse_text, kind, "OriginalEmessage"),
    ]
    for i, ol in enumerate(oe.original_letter, 1):
        version = ol.original_version_code
        segments.append(
            seg(
                "UCM",
                ol.original_letter_identifier,
                (codes.VERSION_TYPE.get(version, codes.UNKNOWN_TYPE), "D", "93A", "UN", version),
                status,
            )
        )
        segments += _refuse_ftx(ol.refuse_code, ol.refuse_text, kind, f"OriginalLetter[{i}]")
    return _message(codes.KINDS[kind], body.letter.identifier, segments)


# =========================================================================================== EDIFACT -> OIOXML
class _Letter:
    """One message's segments grouped as MedCom's reader groups them: segments before the first Sxx
    (`top`), then one list per Sxx group (the Sxx segment first)."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.top: list[Segment] = []
        self.groups: list[list[Segment]] = []
        for s in segments:
            if is_group(s.tag):
                self.groups.append([s])
            elif self.groups:
                self.groups[-1].append(s)
            else:
                self.top.append(s)

    def groups_named(self, tag: str) -> list[list[Segment]]:
        return [g for g in self.groups if g[0].tag == tag]

    def first(self, tag: str) -> list[Segment] | None:
        found = self.groups_named(tag)
        return found[0] if found else None


def _in(group: Sequence[Segment] | None, tag: str) -> list[Segment]:
    return [s for s in group[1:] if s.tag == tag] if group else []


def _one(group: Sequence[Segment] | None, tag: str) -> Segment | None:
    found = _in(group, tag)
    return found[0] if found else None


def _nonempty(value: str) -> str | None:
    return value or None


def _value(values: dict[str, str], key: str, path: str, what: str) -> str:
    found = values.get(key)
    if found is None:
        raise _refuse(Cause.CODE_UNKNOWN, path, f"{key!r} is not a known {what}")
    return found


def _date203(value: str, path: str) -> dt.datetime:
    if len(value) != 12 or not value.isdigit() or not value.isascii():
        raise _refuse(Cause.DATE, path, f"{value!r} is not a date-time yyyymmddhhmm (format 203)")
    try:
        return dt.datetime(
            int(value[:4]), int(value[4:6]), int(value[6:8]), int(value[8:10]), int(value[10:])
        )
    except ValueError:
        raise _refuse(Cause.DATE, path, f"{value!r} is not a valid date-time") from None


def _envelope(ic: Interchange) -> Envelope:
    unb = ic.unb
    d, t = unb.value(4, 1), unb.value(4, 2)
    if len(d) != 6 or len(t) != 4 or not (d + t).isdigit() or not (d + t).isascii():
        raise _refuse(Cause.DATE, "UNB/0017", f"{d}:{t} is not yymmdd:hhmm")
    # MedCom's reader puts 00-20 in 20xx and 21-99 in 19xx, so today's letters would read as 1921-1999;
    # we keep its 19xx only for the EDIFACT era (80-99): NOTES.md.
    century = 2000 if int(d[:2]) < CENTURY_PIVOT else 1900
    try:
        sent = dt.datetime(century + int(d[:2]), int(d[2:4]), int(d[4:]), int(t[:2]), int(t[2:]))
    except ValueError:
        raise _refuse(Cause.DATE, "UNB/0017", f"{d}:{t} is not a valid date and time") from None
    ack = unb.value(9, 1)
    if ack not in ("0", "1", ""):
        raise _refuse(Cause.ACK_CODE, "UNB/0031", f"{ack!r}: use 1 (receipt wanted) or 0")
    return Envelope(sent, unb.value(5), PLUS_POSITIVE_RECEIPT if ack == "1" else MINUS_POSITIVE_RECEIPT)


def _message_of(ic: Interchange) -> tuple[str, tuple[Segment, ...]]:
    messages = list(ic.messages())
    if len(messages) != 1:
        raise _refuse(
            Cause.STRUCTURE,
            "UNH",
            f"{len(messages)} messages; MedCom sends exactly one letter per interchange",
        )
    _, segments = messages[0]
    version = segments[0].value(2, 5)
    kind = codes.KIND_OF_VERSION.get(version)
    if kind is None or segments[0].value(2, 1) != codes.KINDS[kind][0]:
        raise _refuse(
            Cause.UNSUPPORTED,
            "UNH/S009",
            f"{segments[0].value(2, 1)}:{version} is not DIS91 D9134L, BIN01 B0131X or CTL01-03 C0n30Q",
        )
    return kind, segments


def to_oioxml(ic: Interchange) -> AnyEmessage:
    """The OIOXML twin of an EDIFACT interchange holding one DIS91, BIN01 or CTL."""
    kind, segments = _message_of(ic)
    envelope = _envelope(ic)
    letter = _Letter(segments[1:-1])
    letter_id = segments[0].value(1)
    if kind == "dis91":
        return Emessage(envelope, _read_dis91(ic, letter, letter_id))
    if kind == "bin01":
        return Emessage(envelope, _read_bin01(ic, letter, letter_id))
    receipt = _read_ctl(ic, kind, letter, letter_id)
    if isinstance(receipt, PositiveReceipt):
        return Emessage(envelope, receipt)
    if isinstance(receipt, NegativeReceipt):
        return Emessage(envelope, receipt)
    return Emessage(envelope, receipt)


def _unexpected(letter: _Letter, allowed_top: set[str], allowed_groups: set[str]) -> None:
    for s in letter.top:
        if s.tag not in allowed_top:
            raise _refuse(Cause.STRUCTURE, s.tag, f"unexpected segment {s.tag}")
    for g in letter.groups:
        if g[0].tag not in allowed_groups:
            raise _refuse(Cause.STRUCTURE, g[0].tag, f"unexpected segment group {g[0].tag}")


def _read_party_fields(group: list[Segment], path: str) -> dict[str, str | None]:
    nad = _one(group, "NAD")
    fields: dict[str, str | None] = {}
    if nad is not None:
        fields["identifier"] = _nonempty(nad.value(2, 1))
        if len(nad.elements) > 1 and len(nad.elements[1]) > 1:
            fields["identifier_code"] = _value(
                codes.IDENTIFIER_QUALIFIER, nad.value(2, 2), f"{path}/NAD/C082/1131", "NAD identifier code"
            )
        fields["organisation_name"] = _nonempty(nad.value(4, 1))
        fields["department_name"] = _nonempty(nad.value(4, 2))
        fields["unit_name"] = _nonempty(nad.value(4, 3))
    adr = _one(group, "ADR")
    if adr is not None:
        fields["street_name"] = _nonempty(adr.value(2, 2))
        fields["suburb_name"] = _nonempty(adr.value(2, 3))
        fields["district_name"] = _nonempty(adr.value(3, 1))
        fields["post_code_identifier"] = _nonempty(adr.value(4, 1))
    return fields


def _party_group(letter: _Letter, qualifier: str) -> list[Segment]:
    for g in letter.groups_named("S01"):
        nad = _one(g, "NAD")
        if nad is not None and nad.value(1) == qualifier:
            return g
    raise _refuse(Cause.STRUCTURE, "S01/NAD", f"no S01 group with NAD+{qualifier}")


def _required(fields: dict[str, str | None], name: str, path: str) -> str:
    value = fields.get(name)
    if value is None:
        raise _refuse(Cause.STRUCTURE, path, f"{name} is missing (the OIOXML twin requires it)")
    return value


def _read_sender(ic: Interchange, letter: _Letter, table: dict[str, str]) -> Sender:
    g = _party_group(letter, "SSP")
    f = _read_party_fields(g, "S01[SSP]")
    con = _one(g, "CON")
    spr = _one(g, "SPR")
    spec = spr.value(2, 1) if spr is not None else ""
    return Sender(
        ean_identifier=ic.sender,
        identifier=_required(f, "identifier", "S01[SSP]/NAD/C082/3039"),
        identifier_code=_required(f, "identifier_code", "S01[SSP]/NAD/C082/1131"),
        organisation_name=_required(f, "organisation_name", "S01[SSP]/NAD/C080/3036"),
        department_name=f.get("department_name"),
        unit_name=f.get("unit_name"),
        street_name=f.get("street_name"),
        suburb_name=f.get("suburb_name"),
        district_name=f.get("district_name"),
        post_code_identifier=f.get("post_code_identifier"),
        telephone_subscriber_identifier=con.value(2, 1) if con is not None else None,
        medical_speciality_code=_value(table, spec, "S01[SSP]/SPR", "speciality number") if spec else None,
    )


def _read_receiver(ic: Interchange, letter: _Letter) -> Receiver:
    f = _read_party_fields(_party_group(letter, "PO"), "S01[PO]")
    return Receiver(
        ean_identifier=ic.recipient,
        identifier=_required(f, "identifier", "S01[PO]/NAD/C082/3039"),
        identifier_code=_required(f, "identifier_code", "S01[PO]/NAD/C082/1131"),
        organisation_name=f.get("organisation_name"),
        department_name=f.get("department_name"),
        unit_name=f.get("unit_name"),
        street_name=f.get("street_name"),
        suburb_name=f.get("suburb_name"),
        district_name=f.get("district_name"),
        post_code_identifier=f.get("post_code_identifier"),
    )


def _status(letter: _Letter) -> str:
    gis = _one(letter.first("S02"), "GIS")
    return _value(codes.GIS_STATUS, gis.value(1) if gis else "", "S02/GIS", "letter status (N or M)")


def _authorisation(letter: _Letter) -> dt.datetime:
    dtm = next((s for s in letter.top if s.tag == "DTM"), None)
    if dtm is None:
        raise _refuse(Cause.STRUCTURE, "DTM", "the DTM+137 (authorisation) segment is missing")
    return _date203(dtm.value(1, 2), "DTM/C507/2380")


def _read_patient_ids(s07: list[Segment] | None) -> tuple[Segment, str | None, str | None]:
    pna = _one(s07, "PNA")
    if pna is None:
        raise _refuse(Cause.STRUCTURE, "S07/PNA", "the patient (PNA+PAT) is missing")
    rffs = _in(s07, "RFF")
    cpr = _nonempty(pna.value(2, 1))
    if not rffs and cpr is None:
        raise _refuse(
            Cause.PATIENT_ID, "S07/PNA", "a patient needs a CPR number or an alternative id (RFF+XPI)"
        )
    alt = rffs[0].value(1, 2) if rffs else None
    return pna, cpr, alt


def _read_dis91(ic: Interchange, letter: _Letter, letter_id: str) -> ClinicalEmail:
    _unexpected(letter, {"BGM", "DTM"}, {"S01", "S02", "S05", "S07", "S11", "S14"})
    s02, s07, s11 = letter.first("S02"), letter.first("S07"), letter.first("S11")
    if s02 is None or s07 is None:
        raise _refuse(Cause.STRUCTURE, "S02" if s02 is None else "S07", "the segment group is missing")
    for g in letter.groups_named("S14"):
        if not _in(g, "FTX"):
            raise _refuse(Cause.STRUCTURE, "S14", "an S14 group without FTX")
    rei = next((s for s in _in(s11, "RFF") if s.value(1) == "REI"), None)
    lt = Letter(
        identifier=letter_id,
        version_code="XD9134L",
        statistical_code="XDIS91",
        authorisation=_authorisation(letter),
        type_code="XDIS91",
        status_code=_status(letter),
        episode_of_care_identifier=rei.value(1, 2) if rei is not None else None,
    )
    pna, cpr, alt = _read_patient_ids(s07)
    adr = _one(s07, "ADR")
    emp = _one(s07, "EMP")
    pas = _one(s11, "PAS")
    if pas is None:
        raise _refuse(Cause.STRUCTURE, "S11/PAS", "the episode-of-care status (PAS) is missing")
    patient = Patient(
        person_surname_name=pna.value(5, 2),
        episode_of_care_status_code=_value(
            codes.PAS_STATUS, pas.value(1), "S11/PAS", "episode-of-care status"
        ),
        civil_registration_number=cpr,
        alternative_identifier=alt,
        person_given_name=_nonempty(pna.value(6, 2)),
        street_name=_nonempty(adr.value(2, 2)) if adr else None,
        suburb_name=_nonempty(adr.value(2, 3)) if adr else None,
        district_name=_nonempty(adr.value(3, 1)) if adr else None,
        post_code_identifier=_nonempty(adr.value(4, 1)) if adr else None,
        occupancy_text=emp.value(3, 4) if emp else None,
    )
    rffs = _in(s02, "RFF")
    priority = codes.RFF_PRIORITY.get(rffs[1].value(1)) if len(rffs) > 1 else None
    s14s = letter.groups_named("S14")
    subject_ftx = [g[1] for g in s14s if len(g) > 1 and g[1].tag == "FTX" and g[1].value(1) == "OE"]
    info = None
    if subject_ftx or len(rffs) > 1:
        info = AdditionalInformation(priority, subject_ftx[0].value(4, 1) if subject_ftx else None)
    clinical = []
    references = []
    for g in s14s:
        ftxs = _in(g, "FTX")
        text = [f for f in ftxs if f.value(1) not in ("BIN", "SUP", "URL", "OE")]
        if text:
            clinical.append(ClinicalInformation(read_formatted((f.value(2), _lines(f)) for f in text)))
        references += [_read_reference(f) for f in ftxs if f.value(1) in ("BIN", "SUP", "URL")]
    return ClinicalEmail(
        letter=lt,
        sender=_read_sender(ic, letter, codes.SPECIALITY_CODE),
        receiver=_read_receiver(ic, letter),
        patient=patient,
        additional_information=info,
        clinical_information=tuple(clinical),
        reference=tuple(references),
    )


def _lines(ftx: Segment) -> tuple[str, ...]:
    """The text components of an FTX (element 4), as MedCom's reader sees them: a trailing empty one dropped."""
    comps = ftx.elements[3] if len(ftx.elements) > 3 else ()
    return comps[:-1] if comps and comps[-1] == "" else comps


def _read_reference(ftx: Segment) -> Reference:
    description = ftx.value(4, 1)
    qualifier = ftx.value(1)
    if qualifier == "URL":
        return Reference(description, url=plain(_lines(ftx)[1:]))
    if qualifier == "SUP":
        return Reference(description, sup=True)
    size = ftx.value(4, 5)
    if not size.isdigit() or not size.isascii():
        raise _refuse(Cause.STRUCTURE, "S14/FTX+BIN", f"object size {size!r} is not a number")
    return Reference(
        description,
        bin=BinReference(
            object_identifier=ftx.value(4, 2),
            object_code=_value(codes.OBJECT_TYPE, ftx.value(4, 3), "S14/FTX+BIN", "object type"),
            object_extension_code=_value(
                codes.EXTENSION_CODE, ftx.value(4, 4), "S14/FTX+BIN", "object extension"
            ),
            original_object_size=int(size),
        ),
    )


def _base64_lines(data: bytes) -> str:
    """Ruby's Base64.encode64: 60 characters a line, each line ending in a newline."""
    return "".join(chunk + "\n" for chunk in _chunks(base64.b64encode(data).decode("ascii"), 60))


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _read_bin01(ic: Interchange, letter: _Letter, letter_id: str) -> BinaryLetter:
    _unexpected(letter, {"BGM", "DTM"}, {"S01", "S02", "S07", "S11"})
    lt = Letter(
        identifier=letter_id,
        version_code="XB0131X",
        statistical_code="XBIN01",
        authorisation=_authorisation(letter),
        type_code="XBIN01",
        status_code=_status(letter),
    )
    s07 = letter.first("S07")
    pna = _one(s07, "PNA")
    system = pna is not None and pna.value(5, 2) == "Data"
    patient = None
    contents = None
    if system and pna is not None:
        c = pna.value(6, 2)
        contents = None if c in ("", "_") else c
    else:
        pna, cpr, alt = _read_patient_ids(s07)
        patient = BinaryLetterPatient(pna.value(5, 2), cpr, alt, _nonempty(pna.value(6, 2)))
    objects = []
    s11 = letter.first("S11")
    for uno in _in(s11, "UNO"):
        uid = uno.value(2, 2)
        if uno.payload is None:
            raise _refuse(Cause.STRUCTURE, "S11/UNO", "the binary object (OBJ) is missing")
        size = uno.value(4, 1)
        objects.append(
            BinaryObject(
                object_identifier=f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:32]}",
                object_code=_value(codes.OBJECT_TYPE, uno.value(3, 2), "S11/UNO/OBJ", "object type"),
                object_extension_code=_value(
                    codes.EXTENSION_CODE_BIN01, uno.value(3, 3), "S11/UNO/OBJ", "object extension"
                ),
                original_object_size=int(size),
                object_base64_encoded=_base64_lines(uno.payload),
            )
        )
    return BinaryLetter(
        letter=lt,
        sender=_read_sender(ic, letter, codes.SPECIALITY_CODE_BIN01),
        receiver=_read_receiver(ic, letter),
        patient=patient,
        binary_object=tuple(objects),
        system_information=system,
        contents=contents,
    )


def _read_refusal(segments: Sequence[Segment], after: int) -> tuple[str | None, FormattedText | None]:
    """The FTX right after segment `after` (MedCom reads only that one) -> (RefuseCode, RefuseText)."""
    if after + 1 < len(segments) and segments[after + 1].tag == "FTX":
        ftx = segments[after + 1]
        code = _value(codes.REFUSE_QUALIFIER, ftx.value(1), "FTX/4451", "refuse code")
        return code, FormattedText(tuple(breakable(_lines(ftx))))
    return None, None


def _read_ctl(
    ic: Interchange, kind: str, letter: _Letter, letter_id: str
) -> PositiveReceipt | NegativeReceipt | NegativeVansReceipt:
    segments = letter.top
    for s in segments:
        if s.tag not in ("UCI", "UCM", "FTX"):
            raise _refuse(Cause.STRUCTURE, s.tag, f"unexpected segment {s.tag} in a CONTRL")
    if letter.groups:
        raise _refuse(Cause.STRUCTURE, letter.groups[0][0].tag, "unexpected segment group in a CONTRL")
    uci_at = [i for i, s in enumerate(segments) if s.tag == "UCI"]
    if len(uci_at) != 1:
        raise _refuse(Cause.STRUCTURE, "UCI", f"{len(uci_at)} UCI segments; exactly one expected")
    uci = segments[uci_at[0]]
    negative = kind != "ctl03"
    code, text = _read_refusal(segments, uci_at[0])
    if code is not None and not negative:
        raise _refuse(Cause.STRUCTURE, "FTX", "a positive CONTRL (CTL03) cannot carry a refusal")
    letters = []
    for i, s in enumerate(segments):
        if s.tag != "UCM":
            continue
        lcode, ltext = _read_refusal(segments, i)
        if lcode is not None and not negative:
            raise _refuse(Cause.STRUCTURE, "FTX", "a positive CONTRL (CTL03) cannot carry a refusal")
        letters.append(OriginalLetter(s.value(1), s.value(2, 5), lcode, ltext))
    oe = OriginalEmessage(
        original_envelope_identifier=uci.value(1),
        original_sender=EanParty(uci.value(2)),
        original_receiver=EanParty(uci.value(3)),
        original_letter=tuple(letters),
        refuse_code=code,
        refuse_text=text,
    )
    n = kind[-1]
    rl = ReceiptLetter(letter_id, f"XC0{n}30Q", f"XCTL0{n}")
    parties = (EanParty(ic.sender), EanParty(ic.recipient))
    if kind == "ctl01":
        return NegativeVansReceipt(rl, *parties, oe)
    if kind == "ctl02":
        return NegativeReceipt(rl, *parties, oe)
    return PositiveReceipt(rl, *parties, oe)
