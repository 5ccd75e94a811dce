"""MedCom's OIOXML schemas for XDIS91, XBIN01 and XCTL01/02/03 as Python tables, and a checker for them.

The tables restate the content models of the official XSDs (os2korrespondance and MedCom EDIFACT
converter 2015 editions, `../shared/data/oioxml/xsd/`) for the five messages we handle; the code lists
come from the generated `codes.py`. Nothing is read from schema files at run time.

The checker walks an lxml tree and reports what the XSD would reject — missing, repeated, misplaced or
unknown elements, text where only elements belong, undeclared attributes, bad lengths, codes, dates,
times and numbers — as findings that say where and what is expected. A child sequence is first matched
with one compiled regular expression (fast path); only when that fails does a greedy matcher explain why
(the schemas are deterministic, so one element of look-ahead suffices). Likewise a leaf's value is first
given a cheap test compiled per edition (a length range, a code set, a regular expression); the type's
`check`, which words the finding, runs only when that test fails (and only then is the leaf's path built).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from lxml import etree

from medcom_bridge.findings import Finding, error
from medcom_bridge.oioxml.codes import CODES, REFUSE_CODES
from medcom_bridge.oioxml.model import NS_2005, NS_2006, NS_2012, NS_2020
from medcom_bridge.oioxml.text import BREAK, SPACE, FixedFont, Style, Styled
from medcom_bridge.privacy import is_patient_field, masked
from medcom_bridge.xmlsafe import read_prolog

XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSI_ALLOWED = frozenset({f"{{{XSI}}}schemaLocation", f"{{{XSI}}}noNamespaceSchemaLocation"})


@dataclass(frozen=True, slots=True)
class Edition:
    """One schema edition of one namespace: `NEW` (os2korrespondance) or `OLD` (EDIFACT converter 2015)."""

    name: str
    folder: str  # namespace date folder, key into CODES
    date_timezone_allowed: bool  # OLD uses xs:date; NEW uses dateNoTZ
    local_elements: bool  # the 2015 edition of 2012/03/28 has no Local_Elements
    code_sets: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, hash=False)
    # Compiled checker tables of this edition (see `compiled`).
    tables: dict[tuple[ComplexT, str], Table] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        # The checker asks for a code list per element: one dict lookup, not a tuple-keyed one.
        for (folder, name, type_name), values in CODES.items():
            if folder == self.folder and name == self.name:
                self.code_sets[type_name] = values

    @property
    def label(self) -> str:
        return "MedCom EDIFACT converter 2015 edition" if self.name == "OLD" else "current edition"

    def codes(self, type_name: str) -> frozenset[str]:
        return self.code_sets[type_name]


# The editions to try for each namespace, strictest (the one we produce) first.
EDITIONS: dict[str, tuple[Edition, ...]] = {
    NS_2006: (Edition("NEW", "2006/07/01", False, True), Edition("OLD", "2006/07/01", True, True)),
    NS_2012: (Edition("NEW", "2012/03/28", False, True), Edition("OLD", "2012/03/28", True, False)),
    NS_2005: (Edition("NEW", "2005/08/07", False, True), Edition("OLD", "2005/08/07", True, True)),
    NS_2020: (Edition("NEW", "2020/05/06", False, True),),
}


# ------------------------------------------------------------------------------------------ simple types
# A simple type checks the element's text and returns None or "what is wrong; what is expected".
Check = Callable[[str, Edition], str | None]


# A test that proves a value valid without calling `check` (the hot path; `check` explains failures):
# ("len", (lo, hi)) a length range, ("in", values) a set, ("re", pattern) a full match,
# ("codes", type name) the edition's code list, ("fixed", (value, type name or None)).
Fast = tuple[str, Any]


@dataclass(frozen=True, slots=True)
class SimpleT:
    check: Check
    collapse: bool = False  # xs:date, xs:positiveInteger, xs:boolean collapse whitespace; xs:string keeps it
    fast: Fast | None = None  # None: always call `check`


def _stray_text(text: str, path: str) -> str:
    shown = "" if is_patient_field(path) else f" {_q(text)}"
    return f"text{shown} is not allowed here; only elements"


def _q(value: str, limit: int = 60) -> str:
    shown = value if len(value) <= limit else value[:limit] + "…"
    return repr(shown)


def string(lo: int, hi: int | None) -> SimpleT:
    def check(v: str, ed: Edition) -> str | None:
        n = len(v)
        if n < lo:
            return "is empty; omit an optional element instead of leaving it empty" if n == 0 else None
        if hi is not None and n > hi:
            return f"{_q(v)} has {n} characters; at most {hi} are allowed"
        return None

    return SimpleT(check, fast=("len", (lo, _NO_LIMIT if hi is None else hi)))


_NO_LIMIT = 1 << 62


def exact_length(length: int, what: str) -> SimpleT:
    def check(v: str, ed: Edition) -> str | None:
        if len(v) != length:
            return f"{_q(v)} has {len(v)} characters; {what} has exactly {length}"
        return None

    return SimpleT(check, fast=("len", (length, length)))


def pattern(regex: str, expected: str) -> SimpleT:
    compiled = re.compile(regex)

    def check(v: str, ed: Edition) -> str | None:
        if compiled.fullmatch(v) is None:
            return f"{_q(v)} is not {expected}"
        return None

    return SimpleT(check, fast=("re", compiled))


def fixed(value: str, what: str, enum_type: str | None = None) -> SimpleT:
    def check(v: str, ed: Edition) -> str | None:
        if v != value:
            return f"{_q(v)} is not {what}; use {value!r}"
        if enum_type is not None and value not in ed.codes(enum_type):
            # The 2020/05/06 receipts restrict a VersionCodeType list that lacks the receipt codes.
            return f"{value!r} is not in this schema's {enum_type} list, so no document of this namespace can be valid"
        return None

    return SimpleT(check, fast=("fixed", (value, enum_type)))


def _suggest(values: frozenset[str] | tuple[str, ...], v: str) -> str:
    ordered = sorted(values)
    if len(ordered) <= 7:
        return (
            "use " + " or ".join(repr(x) for x in ordered)
            if len(ordered) <= 2
            else "use one of " + ", ".join(repr(x) for x in ordered)
        )
    close = [x for x in ordered if x.lower().startswith(v.strip().lower()[:3])] if v.strip() else []
    hint = f" (close: {', '.join(repr(x) for x in close[:5])})" if close else ""
    return f"use one of the {len(ordered)} codes of the schema{hint}"


def enum(type_name: str, what: str) -> SimpleT:
    def check(v: str, ed: Edition) -> str | None:
        values = ed.codes(type_name)
        if v not in values:
            return f"{_q(v)} is not an allowed {what}; {_suggest(values, v)}"
        return None

    return SimpleT(check, fast=("codes", type_name))


def literal_enum(values: tuple[str, ...], what: str) -> SimpleT:
    allowed = frozenset(values)

    def check(v: str, ed: Edition) -> str | None:
        if v not in allowed:
            return f"{_q(v)} is not an allowed {what}; {_suggest(values, v)}"
        return None

    return SimpleT(check, fast=("in", allowed))


_DATE = re.compile(
    r"(-?(?:[1-9][0-9]{3,}|0[0-9]{3}))-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"(Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
)


def _date_check(v: str, ed: Edition) -> str | None:
    m = _DATE.fullmatch(v)
    if m is None:
        return f"{_q(v)} is not a date; write YYYY-MM-DD, e.g. '2024-09-23'"
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if year == 0:
        return f"{_q(v)} has year 0000, which XML Schema does not allow"
    if day > 28 and day > _days_in_month(year, month):
        return f"{_q(v)} is not a day of the calendar"
    if m.group(4) and not ed.date_timezone_allowed:
        return f"{_q(v)} has a timezone; OIOXML dates are local Danish time without timezone: write {m.group(0)[: -len(m.group(4))]!r}"
    return None


def _days_in_month(year: int, month: int) -> int:
    if month != 2:
        return _MONTH_DAYS[month]
    y = year if year > 0 else year + 1  # XSD 1.0: -0001 is the year before 0001 (a leap year)
    return 29 if calendar.isleap(y) else 28


_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# Days 01-28 exist in every month and year 0000 is excluded: a match is valid in both editions.
DATE = SimpleT(
    _date_check,
    collapse=True,
    fast=("re", re.compile(r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])")),
)
_TIME = re.compile(r"(([0-1][0-9])|(2[0-3])):[0-5][0-9]")


def _time_check(v: str, ed: Edition) -> str | None:
    if _TIME.fullmatch(v):
        return None
    hint = f"; write {v[:5]!r}" if _TIME.fullmatch(v[:5]) else ", e.g. '09:45'"
    return f"{_q(v)} is not a time hh:mm (00:00-23:59, no seconds){hint}"


TIME = SimpleT(_time_check, fast=("re", _TIME))


def _positive_integer(v: str, ed: Edition) -> str | None:
    if re.fullmatch(r"[+-]?[0-9]+", v) is None:
        return f"{_q(v)} is not a whole number of bytes"
    if int(v) < 1:
        return f"{_q(v)} is not a positive number; the size in bytes must be at least 1"
    return None


POSITIVE_INTEGER = SimpleT(_positive_integer, collapse=True, fast=("re", re.compile(r"[1-9][0-9]*")))


def _true(v: str, ed: Edition) -> str | None:
    if v != "true":
        return f"{_q(v)} is not allowed; the only value is 'true' (omit the element otherwise)"
    return None


TRUE = SimpleT(_true, collapse=True, fast=("in", frozenset({"true"})))


# ------------------------------------------------------------------------------------------ complex types
@dataclass(frozen=True, slots=True)
class El:
    name: str
    type: Type
    min: int = 1
    max: int | None = 1  # None = unbounded


@dataclass(frozen=True, slots=True)
class Seq:
    items: tuple[Particle, ...]
    min: int = 1
    max: int | None = 1


@dataclass(frozen=True, slots=True)
class Choice:
    items: tuple[Particle, ...]
    min: int = 1
    max: int | None = 1


Particle = El | Seq | Choice


@dataclass(frozen=True, slots=True)
class EmptyT:
    """`<xs:complexType/>`: no content at all (Break, Space)."""


@dataclass(frozen=True, slots=True)
class AnyT:
    """`xs:anyType` (Local_Elements): anything; kept, not interpreted."""


@dataclass(eq=False, slots=True)
class MixedT:
    """Mixed content: text and any number of the given elements in any order."""

    children: tuple[El, ...]
    decls: dict[str, El] = field(init=False)
    by_prefix: dict[str, MixedTable] = field(init=False)

    def __post_init__(self) -> None:
        self.decls = {c.name: c for c in self.children}
        self.by_prefix = {}

    def table(self, prefix: str) -> MixedTable:
        """`{ns}Name` -> (name, is empty, inner table): one dict lookup per child in the hot loop."""
        found = self.by_prefix.get(prefix)
        if found is None:
            tags: dict[str, tuple[str, bool, MixedTable | None]] = {}
            for name, d in self.decls.items():
                inner = d.type.table(prefix) if isinstance(d.type, MixedT) else None
                tags[prefix + name] = (name, isinstance(d.type, EmptyT), inner)
            found = (tags, self)
            self.by_prefix[prefix] = found
        return found


@dataclass(eq=False, slots=True)
class ComplexT:
    """Element-only content described by a particle; compiled to a regex over one letter per child."""

    content: Particle
    decls: dict[str, El] = field(init=False)
    codes: dict[str, str] = field(init=False)
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.decls = {}
        _collect(self.content, self.decls)
        self.codes = {name: chr(0x41 + i) for i, name in enumerate(self.decls)}
        self.regex = re.compile(_regex(self.content, self.codes))


Type = SimpleT | ComplexT | MixedT | EmptyT | AnyT

# ------------------------------------------------------------------------------------------ compiled tables
# The checker's hot loop does one dict lookup per child: `{ns}Name` -> a slot saying what to do with it.
# Tables are compiled once per (type, namespace, edition) and linked, so a whole Emessage type is one tree
# of dicts; a simple type's fast test is resolved against the edition's code lists at compile time.
_LEN, _IN, _RE, _CALL, _COMPLEX, _MIXED, _EMPTY, _ANY = range(8)
# (name, kind, argument of the kind, declared type, regex letter, repeated)
Slot = tuple[str, int, Any, Any, str, bool]
Table = dict[str, Slot]
MixedTable = tuple[dict[str, tuple[str, bool, Any]], MixedT]


def compiled(t: ComplexT, prefix: str, edition: Edition) -> Table:
    key = (t, prefix)
    found = edition.tables.get(key)
    if found is None:
        found = {prefix + name: _slot(d, t.codes[name], prefix, edition) for name, d in t.decls.items()}
        edition.tables[key] = found
    return found


def _slot(d: El, letter: str, prefix: str, edition: Edition) -> Slot:
    ty = d.type
    kind: int
    arg: Any = None
    if isinstance(ty, SimpleT):
        kind, arg = _fast(ty, edition)
    elif isinstance(ty, ComplexT):
        kind, arg = _COMPLEX, compiled(ty, prefix, edition)
    elif isinstance(ty, MixedT):
        kind, arg = _MIXED, ty.table(prefix)
    elif isinstance(ty, EmptyT):
        kind = _EMPTY
    else:
        kind = _ANY
    return (d.name, kind, arg, ty, letter, d.max != 1)


def _fast(ty: SimpleT, edition: Edition) -> tuple[int, Any]:
    if ty.fast is None:
        return _CALL, None
    how, arg = ty.fast
    if how == "len":
        return _LEN, range(arg[0], arg[1] + 1)  # `len(v) in range` is one C-level test
    if how == "in":
        return _IN, arg
    if how == "re":
        return _RE, arg
    if how == "codes":
        values = edition.code_sets.get(arg)
        # A type this edition lacks: `check` raises as it always did, so keep calling it.
        return (_IN, values) if values is not None else (_CALL, None)
    value, enum_type = arg
    if enum_type is None or value in edition.code_sets.get(enum_type, ()):
        return _IN, frozenset((value,))
    return _CALL, None


def _collect(p: Particle, out: dict[str, El]) -> None:
    if isinstance(p, El):
        out.setdefault(p.name, p)
    else:
        for item in p.items:
            _collect(item, out)


def _quant(lo: int, hi: int | None) -> str:
    if (lo, hi) == (1, 1):
        return ""
    if hi is None:
        return f"{{{lo},}}"
    return f"{{{lo},{hi}}}"


def _regex(p: Particle, codes: dict[str, str]) -> str:
    if isinstance(p, El):
        return codes[p.name] + _quant(p.min, p.max)
    if isinstance(p, Seq):
        body = "".join(_regex(i, codes) for i in p.items)
    else:
        body = "|".join(_regex(i, codes) for i in p.items)
    return f"(?:{body}){_quant(p.min, p.max)}"


def _nullable(p: Particle) -> bool:
    if p.min == 0:
        return True
    if isinstance(p, El):
        return False
    if isinstance(p, Seq):
        return all(_nullable(i) for i in p.items)
    return any(_nullable(i) for i in p.items)


def _first(p: Particle) -> list[str]:
    if isinstance(p, El):
        return [p.name]
    out: list[str] = []
    if isinstance(p, Seq):
        for item in p.items:
            out += [n for n in _first(item) if n not in out]
            if not _nullable(item):
                break
    else:
        for item in p.items:
            out += [n for n in _first(item) if n not in out]
    return out


# ------------------------------------------------------------------------------------------ the schemas
S35 = string(1, 35)
S70 = string(1, 70)
S14 = string(1, 14)

_DATETIME = ComplexT(Seq((El("Date", DATE), El("Time", TIME))))

ENVELOPE = ComplexT(
    Seq(
        (
            El("Sent", _DATETIME),
            El("Identifier", S14),
            El("AcknowledgementCode", enum("AcknowledgementCodeType", "acknowledgement code")),
        )
    )
)

_BREAKABLE = MixedT((El("Space", EmptyT(), 0, None), El("Break", EmptyT(), 0, None)))
_SPACE_BREAK = (El("Space", EmptyT(), 0, None), El("Break", EmptyT(), 0, None))
_STYLES = tuple(El(s, _BREAKABLE, 0, None) for s in ("Right", "Center", "Bold", "Italic", "Underline"))
_FIXED_FONT = MixedT(_SPACE_BREAK + _STYLES)
FORMATTED_TEXT = MixedT(_SPACE_BREAK + _STYLES + (El("FixedFont", _FIXED_FONT, 0, None),))


def _post_code(v: str, ed: Edition) -> str | None:
    # minLength is 1 in 2006/07/01 but 0 in 2012/03/28 (XBIN01) and 2005/08/07.
    if not v and ed.folder == "2006/07/01":
        return "is empty; omit an optional element instead of leaving it empty"
    if len(v) > 9:
        return f"{_q(v)} has {len(v)} characters; at most 9 are allowed"
    return None


POST_CODE = SimpleT(_post_code, fast=("len", (1, 9)))

_ORG = {
    "EANIdentifier": S35,
    "Identifier": string(1, 17),
    "IdentifierCode": enum("IdentifierCodeType", "identifier code"),
    "OrganisationName": S35,
    "DepartmentName": S35,
    "UnitName": S35,
    "StreetName": S35,
    "SuburbName": S35,
    "DistrictName": S35,
    "PostCodeIdentifier": POST_CODE,
    "TelephoneSubscriberIdentifier": string(1, 25),
    "MedicalSpecialityCode": enum("MedicalSpecialityCodeType", "medical speciality code"),
}


def _fields(spec: str) -> tuple[El, ...]:
    """'A B? C' -> elements with their _ORG types; '?' = optional."""
    out = []
    for token in spec.split():
        name = token.rstrip("?")
        out.append(El(name, _ORG[name], 0 if token.endswith("?") else 1))
    return tuple(out)


_SENDER = ComplexT(
    Seq(
        _fields(
            "EANIdentifier Identifier IdentifierCode OrganisationName DepartmentName? UnitName? StreetName? "
            "SuburbName? DistrictName? PostCodeIdentifier? TelephoneSubscriberIdentifier? MedicalSpecialityCode?"
        )
    )
)
_RECEIVER = ComplexT(
    Seq(
        _fields(
            "EANIdentifier Identifier IdentifierCode OrganisationName? DepartmentName? UnitName? StreetName? "
            "SuburbName? DistrictName? PostCodeIdentifier?"
        )
    )
)
_CPR = El("CivilRegistrationNumber", pattern("[0-9]{10}", "a CPR number: 10 digits without dash"))
_ALT_ID = El("AlternativeIdentifier", exact_length(10, "an alternative (replacement) identifier"))
_PATIENT = ComplexT(
    Seq(
        (
            Choice((_CPR, _ALT_ID)),
            El("PersonSurnameName", S70),
            El("PersonGivenName", S70, 0),
            El("StreetName", S35, 0),
            El("SuburbName", S35, 0),
            El("DistrictName", S35, 0),
            El("PostCodeIdentifier", POST_CODE, 0),
            El("OccupancyText", S35, 0),
            El(
                "EpisodeOfCareStatusCode",
                enum("EpisodeOfCareStatusCode01Type", "episode-of-care status"),
            ),
        )
    )
)
_OBJECT_CODE = El("ObjectCode", enum("ObjectCodeType", "object code"))
_OBJECT_EXT = El("ObjectExtensionCode", enum("ObjectExtensionCodeType", "object extension code"))
_OBJECT_SIZE = El("OriginalObjectSize", POSITIVE_INTEGER)


def _letter(kind: str, version: str, status: El, *extra: El) -> ComplexT:
    """LetterType restricted to one message: its version and type code, the allowed status codes."""
    what = kind.upper()
    return ComplexT(
        Seq(
            (
                El("Identifier", S14),
                El("VersionCode", fixed(version, f"the {what} version", "VersionCodeType")),
                El("StatisticalCode", string(1, 8)),
                El("Authorisation", _DATETIME),
                El("TypeCode", fixed(what, f"the {what} type code", "TypeCodeType")),
                status,
                *extra,
            )
        )
    )


_PRIORITY = literal_enum(("rutine", "høj_prioritet"), "priority")
_REFERENCE = ComplexT(
    Seq(
        (
            El("RefDescription", S70),
            Choice(
                (
                    El("URL", string(1, 350)),
                    El("SUP", TRUE),
                    El(
                        "BIN",
                        ComplexT(
                            Seq(
                                (
                                    El("ObjectIdentifier", S35),
                                    _OBJECT_CODE,
                                    _OBJECT_EXT,
                                    _OBJECT_SIZE,
                                )
                            )
                        ),
                    ),
                )
            ),
        )
    )
)


def _clinical_email(version: str, additional_information: bool) -> ComplexT:
    """ClinicalEmail; XD9133L (2005/08/07) has no AdditionalInformation, XD9134L (2006/07/01) added it."""
    additional = (
        (
            El(
                "AdditionalInformation",
                ComplexT(Seq((El("Priority", _PRIORITY, 0), El("Subject", S70, 0)))),
                0,
            ),
        )
        if additional_information
        else ()
    )
    return ComplexT(
        Seq(
            (
                El(
                    "Letter",
                    _letter(
                        "xdis91",
                        version,
                        El("StatusCode", enum("StatusCodeType", "status code")),
                        El("EpisodeOfCareIdentifier", S35, 0),
                    ),
                ),
                El("Sender", _SENDER),
                El("Receiver", _RECEIVER),
                El("Patient", _PATIENT),
                *additional,
                El("ClinicalInformation", ComplexT(Seq((El("Text01", FORMATTED_TEXT),))), 0, 10),
                El("Reference", _REFERENCE, 0, 10),
            )
        )
    )


CLINICAL_EMAIL = _clinical_email("XD9134L", additional_information=True)
CLINICAL_EMAIL_2005 = _clinical_email("XD9133L", additional_information=False)


_UUID = pattern(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
    "a UUID with dashes (8-4-4-4-12 hex digits), e.g. 'c39ea6b2-6052-45e4-a207-415e0205ab6f'",
)


def _binary_letter(version: str, sender: ComplexT, object_identifier: SimpleT) -> ComplexT:
    """BinaryLetter; XB0130X (2005/08/07) wants the sender's address and speciality and takes any object
    identifier of 1-35 characters; XB0131X has an optional address and a UUID with dashes."""
    return ComplexT(
        Seq(
            (
                El(
                    "Letter",
                    _letter(
                        "xbin01",
                        version,
                        El(
                            "StatusCode",
                            fixed("nytbrev", "allowed in XBIN01 (only new letters)", "StatusCodeType"),
                        ),
                    ),
                ),
                El("Sender", sender),
                El("Receiver", _RECEIVER),
                Choice(
                    (
                        El(
                            "Patient",
                            ComplexT(
                                Seq(
                                    (
                                        Choice((_CPR, _ALT_ID)),
                                        El("PersonSurnameName", S70),
                                        El("PersonGivenName", S70, 0),
                                    )
                                )
                            ),
                        ),
                        Seq((El("SystemInformation", TRUE), El("Contents", S70, 0))),
                    )
                ),
                El(
                    "BinaryObject",
                    ComplexT(
                        Seq(
                            (
                                El("ObjectIdentifier", object_identifier),
                                _OBJECT_CODE,
                                _OBJECT_EXT,
                                _OBJECT_SIZE,
                                El("Object_Base64Encoded", string(0, None)),
                            )
                        )
                    ),
                    1,
                    10,
                ),
            )
        )
    )


BINARY_LETTER = _binary_letter("XB0131X", _SENDER, _UUID)
BINARY_LETTER_2005 = _binary_letter(
    "XB0130X",
    ComplexT(
        Seq(
            _fields(
                "EANIdentifier Identifier IdentifierCode OrganisationName DepartmentName? UnitName? StreetName "
                "SuburbName? DistrictName PostCodeIdentifier TelephoneSubscriberIdentifier? MedicalSpecialityCode"
            )
        )
    ),
    S35,
)

_EAN_ONLY = ComplexT(Seq((El("EANIdentifier", S35),)))
_REFUSE_CODE = El("RefuseCode", literal_enum(REFUSE_CODES, "refuse code"), 0)
_REFUSE_TEXT = El("RefuseText", _BREAKABLE, 0)


def _receipt(version: str, what: str, negative: bool) -> ComplexT:
    refuse = (_REFUSE_CODE, _REFUSE_TEXT) if negative else ()
    original_letter = ComplexT(
        Seq(
            (
                El("OriginalLetterIdentifier", S14),
                El("OriginalVersionCode", string(1, 7)),
                *refuse,
            )
        )
    )
    return ComplexT(
        Seq(
            (
                El(
                    "Letter",
                    ComplexT(
                        Seq(
                            (
                                El("Identifier", S14),
                                El("VersionCode", fixed(version, f"the {what} version", "VersionCodeType")),
                                El("StatisticalCode", string(1, 8)),
                            )
                        )
                    ),
                ),
                El("Sender", _EAN_ONLY),
                El("Receiver", _EAN_ONLY),
                El(
                    "OriginalEmessage",
                    ComplexT(
                        Seq(
                            (
                                El("OriginalEnvelopeIdentifier", S14),
                                El("OriginalSender", _EAN_ONLY),
                                El("OriginalReceiver", _EAN_ONLY),
                                *refuse,
                                El("OriginalLetter", original_letter, 0, 99),
                            )
                        )
                    ),
                ),
            )
        )
    )


POSITIVE_RECEIPT = _receipt("XC0330Q", "XCTL03", negative=False)
NEGATIVE_RECEIPT = _receipt("XC0230Q", "XCTL02", negative=True)
NEGATIVE_VANS_RECEIPT = _receipt("XC0130Q", "XCTL01", negative=True)

# Which bodies each namespace's Emessage may carry (of the ones we handle).
_RECEIPTS = {
    "PositiveReceipt": ("xctl03", POSITIVE_RECEIPT),
    "NegativeReceipt": ("xctl02", NEGATIVE_RECEIPT),
    "NegativeVansReceipt": ("xctl01", NEGATIVE_VANS_RECEIPT),
}
BODIES: dict[str, dict[str, tuple[str, ComplexT]]] = {
    NS_2006: {"ClinicalEmail": ("xdis91", CLINICAL_EMAIL)},
    NS_2012: {"BinaryLetter": ("xbin01", BINARY_LETTER)},
    # 2005/08/07 also holds the editions before XD9134L/XB0131X, which MedCom's earlier flows still use.
    NS_2005: {
        **_RECEIPTS,
        "ClinicalEmail": ("xdis91", CLINICAL_EMAIL_2005),
        "BinaryLetter": ("xbin01", BINARY_LETTER_2005),
    },
    NS_2020: _RECEIPTS,
}
# Letters read in an older edition than the one we write: (namespace, body) -> (version code, current one).
OLDER_EDITIONS: dict[tuple[str, str], tuple[str, str]] = {
    (NS_2005, "ClinicalEmail"): ("XD9133L", "XD9134L"),
    (NS_2005, "BinaryLetter"): ("XB0130X", "XB0131X"),
}


def emessage_type(body: str, body_type: ComplexT, local_elements: bool) -> ComplexT:
    """`Emessage`: Envelope, then (letter, Local_Elements?)+ — we accept one letter (see validation)."""
    tail: tuple[Particle, ...] = (El(body, body_type),)
    if local_elements:
        tail += (El("Local_Elements", AnyT(), 0),)
    return ComplexT(Seq((El("Envelope", ENVELOPE), Seq(tail, 1, None))))


_EMESSAGE_CACHE: dict[tuple[str, str, bool], ComplexT] = {}


def emessage_for(namespace: str, body: str, local_elements: bool) -> ComplexT:
    key = (namespace, body, local_elements)
    found = _EMESSAGE_CACHE.get(key)
    if found is None:
        found = emessage_type(body, BODIES[namespace][body][1], local_elements)
        _EMESSAGE_CACHE[key] = found
    return found


# ------------------------------------------------------------------------------------------ the checker
Values = dict[str, Any]


class Checker:
    """Check one tree against one edition in a single pass, collecting the values as it goes.

    `complex()` returns the element's values: leaf text by element name (repeated elements as lists,
    nested elements as dicts, formatted text as node lists); the model is built from these without
    touching the tree again. Findings accumulate in `findings`; values are collected even when
    something is wrong, so that `parse` can read a message the schema rejects.
    """

    __slots__ = ("edition", "findings", "kind", "ns", "plen", "prefix")

    def __init__(self, kind: str, namespace: str, edition: Edition) -> None:
        self.kind = kind
        self.ns = namespace
        self.prefix = "{" + namespace + "}"
        self.plen = len(self.prefix)
        self.edition = edition
        self.findings: list[Finding] = []

    def fail(self, rule: str, path: str, message: str) -> None:
        self.findings.append(error(f"{self.kind}-{rule}", path, message))

    def check_attributes(self, root: etree._Element, data: bytes | None = None) -> None:
        """Undeclared attributes anywhere. Looking is costly (an XPath over the tree), so when the raw
        bytes show that only the root start tag has attributes (its xmlns), only the root is checked."""
        elements: list[etree._Element]
        ascii_compatible = data is not None and b"\x00" not in data[:64]
        if data is not None and ascii_compatible and _only_root_has_attributes(data):
            elements = [root]
        else:
            elements = cast(list[etree._Element], _WITH_ATTRIBUTES(root))
        for el in elements:
            for name in el.attrib:
                if name not in _XSI_ALLOWED:
                    self.fail(
                        "attribute",
                        _path_of(el, root),
                        f"attribute {_attr_name(str(name))!r} is not allowed on {_local(str(el.tag))}",
                    )

    def complex(self, el: etree._Element, t: ComplexT, path: str) -> Values:
        return self._complex(el, compiled(t, self.prefix, self.edition), t, path)

    def _complex(self, el: etree._Element, table: Table, t: ComplexT, path: str) -> Values:
        text = el.text
        if text and not text.isspace():
            self.fail("text", path or "Emessage", _stray_text(text.strip(), path))
        values: Values = {}
        letters = ""
        known = True
        get = table.get
        for child in el:
            tail = child.tail
            if tail and not tail.isspace():
                self.fail("text", path or "Emessage", _stray_text(tail.strip(), path))
            tag = child.tag
            slot = get(tag)
            if slot is None:
                if tag.__class__ is not str:  # a comment or processing instruction: allowed anywhere
                    continue
                known = False
                self.fail("structure", path or "Emessage", _unknown_element(str(tag), self.ns, t.decls))
                continue
            name, kind, arg, ty, letter, repeated = slot
            letters += letter
            result: Any
            if kind < _COMPLEX:  # a simple type: check the text, keep it as the value
                if len(child):
                    value = self.leaf_with_children(child, name, path)
                else:
                    text = child.text
                    value = "" if text is None else text
                if kind == _LEN:
                    ok = len(value) in arg
                elif kind == _IN:
                    ok = value in arg
                elif kind == _RE:
                    ok = arg.fullmatch(value) is not None
                else:
                    ok = False
                if not ok:
                    checked = " ".join(value.split()) if ty.collapse else value
                    problem = ty.check(checked, self.edition)
                    if problem:
                        cpath = _child_path(path, name, values, repeated)
                        if is_patient_field(cpath):  # every check quotes the value as _q(checked)
                            problem = problem.replace(_q(checked), masked(checked))
                        self.fail(_kebab(name), cpath, problem)
                result = value
            elif kind == _COMPLEX:
                if repeated:
                    cpath = f"{path}/{name}[{len(values.get(name, ())) + 1}]"
                else:
                    cpath = f"{path}/{name}" if path else name
                result = self._complex(child, arg, ty, cpath)
            elif kind == _MIXED:
                result = self._mixed(child, arg, _child_path(path, name, values, repeated))
            elif kind == _EMPTY:
                if _not_empty(child):
                    self.fail(
                        "structure",
                        _child_path(path, name, values, repeated),
                        f"{name} must be empty: write <{name}/>",
                    )
                result = True
            else:  # AnyT: kept as the element itself
                result = child
            if repeated:
                found = values.get(name)
                if found is None:
                    values[name] = [result]
                else:
                    found.append(result)
            elif name not in values:
                values[name] = result
            else:
                values.setdefault("#extra", []).append((name, result))
        if known and t.regex.fullmatch(letters) is None:
            names = [_local(str(c.tag)) for c in el if isinstance(c.tag, str)]
            self.fail("structure", path or "Emessage", _explain(t.content, names))
        return values

    def leaf_with_children(self, el: etree._Element, name: str, path: str) -> str:
        for child in el:
            if isinstance(child.tag, str):
                self.fail(
                    "structure",
                    f"{path}/{name}",
                    f"{name} holds a value, not elements (found {_local(child.tag)})",
                )
        return _text_of(el)

    def mixed(self, el: etree._Element, t: MixedT, path: str) -> list[Any]:
        """Formatted text: check the markup and return its nodes (text.py types)."""
        return self._mixed(el, t.table(self.prefix), path)

    def _mixed(self, el: etree._Element, table: MixedTable, path: str) -> list[Any]:
        out: list[Any] = []
        text = el.text
        if text:
            out.append(text)
        tags, t = table
        for child in el:
            tag = child.tag
            if tag.__class__ is str:
                slot = tags.get(tag)
                if slot is None:
                    allowed = ", ".join(t.decls)
                    nested = _local(str(tag)) in _STYLE_NAMES
                    self.fail(
                        "formatting",
                        path,
                        f"element {_display(str(tag), self.ns)} is not allowed in this text; allowed: {allowed}"
                        + (" (styles cannot be nested)" if nested else ""),
                    )
                else:
                    name, empty, inner = slot
                    if empty:
                        if _not_empty(child):
                            self.fail("structure", f"{path}/{name}", f"{name} must be empty: write <{name}/>")
                        out.append(BREAK if name == "Break" else SPACE)
                    else:
                        nodes = tuple(self._mixed(child, inner, f"{path}/{name}"))
                        out.append(
                            FixedFont(nodes) if name == "FixedFont" else Styled(cast(Style, name), nodes)
                        )
            tail = child.tail
            if tail:
                if out and out[-1].__class__ is str:
                    out[-1] += tail
                else:
                    out.append(tail)
        return out


_WITH_ATTRIBUTES = etree.XPath("//*[@*]")


def _only_root_has_attributes(data: bytes) -> bool:
    """True when no attribute value (`="` or `='`) follows the root start tag, so no element below the
    root has attributes. Text with such characters (or a '>' inside a root attribute value) only makes
    this False: the exact path. A lone '=' (base64 padding in XBIN01) is no attribute. UTF-7 can hide
    '=' and quotes ('+AD0-'), so such a document always takes the exact path."""
    start = data.find(b"<Emessage")
    end = data.find(b">", start) if start >= 0 else -1
    if end < 0:
        return False
    equals = data.find(b"=", end)  # memchr: most letters have no '=' at all after the root tag
    if equals >= 0 and _ATTRIBUTE_VALUE.search(data, equals) is not None:
        return False
    encoding = read_prolog(data).encoding
    return not (encoding and encoding.replace("-", "").replace("_", "") in ("utf7", "unicode11utf7"))


_ATTRIBUTE_VALUE = re.compile(rb"=[ \t\r\n]*[\"']")


def _child_path(path: str, name: str, values: Values, repeated: bool) -> str:
    if not repeated:
        return f"{path}/{name}" if path else name
    return f"{path}/{name}[{len(values.get(name, ())) + 1}]"


def _unknown_element(tag: str, ns: str, decls: dict[str, El]) -> str:
    hint = _HINTS.get(_local(tag), "")
    return f"element {_display(tag, ns)} is not allowed here; allowed: {', '.join(decls)}{hint}"


_HINTS = {
    "CCReceiver": " (XD9134L has no CCReceiver: send a separate letter to the copy receiver)",
}


def _path_of(el: etree._Element, root: etree._Element) -> str:
    names = []
    node: etree._Element | None = el
    while node is not None and node is not root:
        names.append(_local(str(node.tag)))
        node = node.getparent()
    return "/".join(reversed(names)) or "Emessage"


_STYLE_NAMES = frozenset({"Right", "Center", "Bold", "Italic", "Underline", "FixedFont"})


def _not_empty(el: etree._Element) -> bool:
    """Comments are allowed in empty content; text (even whitespace) and elements are not."""
    if not len(el):
        return bool(el.text)
    return any(isinstance(c.tag, str) for c in el) or bool(_text_of(el))


def _text_of(el: etree._Element) -> str:
    """Character data of an element, skipping comments and processing instructions."""
    parts = [el.text or ""]
    for child in el:
        parts.append(child.tail or "")
    return "".join(parts)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _display(tag: str, ns: str) -> str:
    if tag.startswith("{" + ns + "}"):
        return _local(tag)
    if tag.startswith("{"):
        return f"{_local(tag)} (namespace {tag[1:].partition('}')[0]})"
    return f"{tag} (no namespace; expected {ns})"


def _attr_name(name: str) -> str:
    if name.startswith("{" + XSI + "}"):
        return "xsi:" + _local(name)
    return name


_KEBAB = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _kebab(name: str) -> str:
    return _KEBAB.sub("-", name).replace("_", "-").lower()


def _explain(content: Particle, names: list[str]) -> str:
    """Why `names` does not match `content`: the first missing, misplaced or surplus element."""
    pos, problem = _match(content, names, 0)
    if problem is None and pos < len(names):
        extra = names[pos]
        before = f" after {names[pos - 1]}" if pos else ""
        order = ", ".join(_order(content))
        if extra in names[:pos]:
            return f"{extra} occurs too often or out of order{before}; schema order: {order}"
        return f"{extra} is out of order{before}; schema order: {order}"
    return problem or "content does not match the schema"


def _order(p: Particle) -> list[str]:
    if isinstance(p, El):
        return [p.name + ("?" if p.min == 0 else "") + ("*" if p.max is None or p.max > 1 else "")]
    out: list[str] = []
    if isinstance(p, Choice):
        return ["(" + " | ".join(" ".join(_order(i)) for i in p.items) + ")"]
    for item in p.items:
        out += _order(item)
    return out


def _match(p: Particle, names: list[str], pos: int) -> tuple[int, str | None]:
    n = len(names)
    count = 0
    while p.max is None or count < p.max:
        here = names[pos] if pos < n else None
        if isinstance(p, El):
            if here != p.name:
                break
            pos += 1
        else:
            if here is None or here not in _first(p):
                if _nullable_body(p) and count < p.min:
                    count += 1
                    continue
                break
            if isinstance(p, Seq):
                for item in p.items:
                    pos, problem = _match(item, names, pos)
                    if problem:
                        return pos, problem
            else:
                branch = next(i for i in p.items if here in _first(i))
                pos, problem = _match(branch, names, pos)
                if problem:
                    return pos, problem
        count += 1
    if count < p.min:
        found = f"; found {names[pos]}" if pos < n else ""
        if isinstance(p, El):
            return pos, f"missing required element {p.name}{found}"
        return pos, f"missing one of {', '.join(_first(p))}{found}"
    return pos, None


def _nullable_body(p: Seq | Choice) -> bool:
    if isinstance(p, Seq):
        return all(_nullable(i) for i in p.items)
    return any(_nullable(i) for i in p.items)
