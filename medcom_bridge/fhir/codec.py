"""FHIR JSON and FHIR XML, both ways, through one in-memory model: the FHIR JSON object model.

A resource is a `dict[str, Any]` exactly as FHIR JSON defines it: `resourceType`, lists for repeating
elements, `_name` siblings for a primitive's id and extensions, `bool`, `int`, `decimal.Decimal` (so no
digit is lost) and the narrative `div` as an XHTML string. The XML side needs to know which elements repeat,
which primitives are boolean or numbers and the element order; that is the generated table in `_types.py`.

Reading is lenient but never silent: what does not fit the table is kept where the model can hold it and
reported as a finding with its FHIR path (`parse_with_findings`). Bytes that are not FHIR at all raise
`FhirParseError`, never another exception. Everything here is pure: bytes in, values out.
"""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal, InvalidOperation
from json.encoder import encode_basestring
from typing import Any, Literal, cast

from lxml import etree

from medcom_bridge.fhir.canonical import FHIR_NS, XHTML_NS
from medcom_bridge.findings import Finding, error, warning
from medcom_bridge.xmlsafe import DEFAULT_MAX_BYTES, XmlError, parse_plain_fragment
from medcom_bridge.xmlsafe import parse_xml as _safe_parse_xml

from ._types import PRIMITIVES, RESOURCES, TYPES

_F = "{" + FHIR_NS + "}"
_XDIV = "{" + XHTML_NS + "}div"
_FLEN = len(_F)

Format = Literal["json", "xml"]


class FhirParseError(ValueError):
    """The bytes are not a FHIR resource. `rule` is a stable id (json-syntax, xml-syntax,
    xml-doctype-forbidden, fhir-not-a-resource, ...), `path` where it went wrong ('' for the document)."""

    def __init__(self, rule: str, path: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"{self.rule} {self.path}: {self.message}" if self.path else f"{self.rule}: {self.message}"


class FhirSerializeError(ValueError):
    """The model holds something FHIR cannot carry (wrong Python type, a malformed div, a control character)."""

    def __init__(self, rule: str, path: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"{self.rule} {self.path}: {self.message}"


# ---------------------------------------------------------------------------------------------------------
# The type table, indexed for speed. Kinds decide how an element travels in XML.

_ATTR, _PRIM, _XHTML, _RES, _COMPLEX = range(5)
_NUMERIC = frozenset({"integer", "positiveInt", "unsignedInt", "integer64"})
_NON_STRING = _NUMERIC | {"boolean", "decimal", "xhtml"}


class _Field:
    __slots__ = ("choice", "kind", "name", "pos", "repeats", "seq", "type")

    def __init__(
        self, name: str, typ: str, repeats: bool, choice: str, kind: int, pos: int, seq: int
    ) -> None:
        self.seq = seq  # position in the table, one per choice variant
        self.name = name
        self.type = typ
        self.repeats = repeats
        self.choice = choice
        self.kind = kind
        self.pos = pos


def _kind(owner: str, name: str, typ: str) -> int:
    # Element.id and Extension.url are XML attributes (FHIR XML rules); Resource.id is an element.
    if (name == "id" and owner not in RESOURCES) or (owner == "Extension" and name == "url"):
        return _ATTR
    if typ == "xhtml":
        return _XHTML
    if typ in PRIMITIVES:
        return _PRIM
    if typ == "Resource":
        return _RES
    return _COMPLEX


def _index() -> dict[str, tuple[dict[str, _Field], tuple[_Field, ...]]]:
    out: dict[str, tuple[dict[str, _Field], tuple[_Field, ...]]] = {}
    for owner, elements in TYPES.items():
        fields: list[_Field] = []
        pos = 0
        last_choice = ""
        for name, typ, repeats, choice in elements:
            if not (choice and choice == last_choice):
                pos += 1
            last_choice = choice
            fields.append(_Field(name, typ, repeats, choice, _kind(owner, name, typ), pos, len(fields)))
        out[owner] = ({f.name: f for f in fields}, tuple(fields))
    return out


_INDEX = _index()

# Lexical forms (FHIR R4 datatypes page). Only the forms a receiver can misread are checked here; codes,
# bindings and profiles are the validator's business.
_LEXICAL = {
    "date": re.compile(
        r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?"
    ),
    "dateTime": re.compile(
        r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
        r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?"
    ),
    "instant": re.compile(
        r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])"
        r"T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
    ),
    "time": re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"),
    "id": re.compile(r"[A-Za-z0-9\-\.]{1,64}"),
    "code": re.compile(r"[^\s]+( [^\s]+)*"),
}
_RESOURCE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}")
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_INT_RANGE = {
    "integer": (-(2**31), 2**31 - 1),
    "positiveInt": (1, 2**31 - 1),
    "unsignedInt": (0, 2**31 - 1),
    "integer64": (-(2**63), 2**63 - 1),
}
# Characters XML 1.0 cannot carry; FHIR strings must not contain them either.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BAD_ASCII = tuple(chr(c) for c in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)))


def has_bad_chars(value: str) -> bool:
    """Whether `value` holds a character XML 1.0 cannot carry. Long values (attachments, letter text) are
    searched per character with `in` (memchr speed): `isprintable` and the regex cost ~1 ms per 70 kB."""
    if len(value) < 256:
        return not value.isprintable() and _BAD_CHARS.search(value) is not None
    for char in _BAD_ASCII:
        if char in value:
            return True
    return not value.isascii() and ("\ufffe" in value or "\uffff" in value)


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------------------------------------
# Sniffing


def _strip_head(data: bytes) -> bytes:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")


def parse(data: bytes) -> tuple[dict[str, Any], Format]:
    """Parse FHIR JSON or FHIR XML, chosen by the first non-blank byte ('{' or '<')."""
    resource, _, fmt = parse_with_findings(data)
    return resource, fmt


def parse_with_findings(data: bytes) -> tuple[dict[str, Any], list[Finding], Format]:
    """Parse either format and report what does not fit FHIR R4 (unknown elements, wrong types, order).

    Raises FhirParseError when the bytes are not a FHIR resource at all."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FhirParseError("fhir-not-bytes", "", f"expected bytes, got {type(data).__name__}")
    head = _strip_head(bytes(data[:1024]))
    if head.startswith((b"{", b"[")):
        resource, findings = parse_json_with_findings(bytes(data))
        return resource, findings, "json"
    if head.startswith(b"<"):
        resource, findings = parse_xml_with_findings(bytes(data))
        return resource, findings, "xml"
    if not head:
        raise FhirParseError("fhir-empty", "", "the document is empty")
    raise FhirParseError(
        "fhir-unknown-format", "", "neither FHIR JSON (starts with '{') nor FHIR XML (starts with '<')"
    )


# ---------------------------------------------------------------------------------------------------------
# JSON in


def parse_json(data: bytes) -> dict[str, Any]:
    """FHIR JSON to the model. Findings are dropped: use parse_json_with_findings to see them."""
    return parse_json_with_findings(data)[0]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number FHIR allows")


def parse_json_with_findings(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[dict[str, Any], list[Finding]]:
    if len(data) > max_bytes:
        raise FhirParseError(
            "json-too-large", "", f"document is {len(data)} bytes; the limit is {max_bytes} bytes"
        )
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FhirParseError(
            "json-encoding", "", f"FHIR JSON must be UTF-8: byte {exc.start} is not"
        ) from None
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) != len(items):
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    duplicates.append(key)
                seen.add(key)
        return obj

    try:
        obj = json.loads(text, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise FhirParseError(
            "json-syntax", "", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise FhirParseError("json-syntax", "", f"not readable as JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise FhirParseError(
            "fhir-not-a-resource", "", f"the top level is a JSON {type(obj).__name__}, not an object"
        )
    rtype = obj.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        raise FhirParseError("fhir-not-a-resource", "", "the top-level object has no resourceType")
    if not _RESOURCE_NAME.fullmatch(rtype):
        raise FhirParseError(
            "fhir-not-a-resource", "", f"{_describe(rtype)} is not a FHIR resource type name"
        )
    findings: list[Finding] = []
    if duplicates:
        # The last value wins, as in every JSON parser; which object it was is not tracked (speed).
        findings.append(
            error(
                "json-duplicate-key",
                rtype,
                f"propert{'ies' if len(set(duplicates)) > 1 else 'y'} {', '.join(sorted(set(duplicates)))} "
                "appear(s) twice in one object; the last value is used",
            )
        )
    try:
        _walk_json_resource(obj, rtype, findings)
    except RecursionError:
        raise FhirParseError("fhir-too-deep", rtype, "the resource is nested too deeply") from None
    return obj, findings


def _walk_json_resource(obj: dict[str, Any], path: str, findings: list[Finding]) -> None:
    rtype = obj.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        findings.append(error("fhir-not-a-resource", path, "a resource must have a resourceType"))
        return
    if rtype not in RESOURCES:
        findings.append(
            warning(
                "fhir-unsupported-resource-type",
                path,
                f"{rtype} is not a resource type MedCom messages use; its content is kept but not checked",
            )
        )
        return
    _walk_json(obj, rtype, path, findings, True)


def _walk_json(obj: dict[str, Any], owner: str, path: str, findings: list[Finding], resource: bool) -> None:
    # Hot path of every JSON parse: paths are only formatted when a finding is made or a child is entered.
    fields = _INDEX[owner][0]
    choices: dict[str, str] | None = None
    for key, value in obj.items():  # only values of existing keys are replaced, which is safe here
        field = fields.get(key)
        if field is None:
            if key == "resourceType" and resource:
                continue
            field = fields.get(key[1:]) if key.startswith("_") else None
            if field is None or field.kind != _PRIM:
                findings.append(
                    error(
                        "fhir-unknown-element",
                        f"{path}.{key}",
                        f"{owner} has no element '{key}'; it is kept but ignored",
                    )
                )
                continue
            _walk_json_primitive_ext(obj, key, value, field, f"{path}.{key}", findings)
            continue
        if field.choice:
            if choices is None:
                choices = {}
            other = choices.get(field.choice)
            if other is not None and other != key:
                findings.append(
                    error(
                        "fhir-choice-multiple",
                        f"{path}.{key}",
                        f"only one of {field.choice}[x] is allowed; found {other} and {key}",
                    )
                )
            choices[field.choice] = key
        kind = field.kind
        if field.repeats:
            if type(value) is not list:
                findings.append(
                    error(
                        "fhir-json-array-expected",
                        f"{path}.{key}",
                        f"'{key}' repeats, so it must be a JSON array",
                    )
                )
                value = obj[key] = [value]
            elif not value:
                findings.append(error("fhir-empty-value", f"{path}.{key}", "an array must not be empty"))
            if kind == _COMPLEX:
                typ = field.type
                for i, item in enumerate(value):
                    if type(item) is dict and item:
                        _walk_json(item, typ, f"{path}.{key}[{i}]", findings, False)
                    else:
                        _walk_json_value(item, field, f"{path}.{key}[{i}]", findings)
            else:
                for i, item in enumerate(value):
                    if item is None and kind == _PRIM:
                        if not _has_ext(obj.get("_" + key), i):
                            findings.append(
                                error(
                                    "fhir-json-null",
                                    f"{path}.{key}[{i}]",
                                    f"null is only allowed where '_{key}' has an entry",
                                )
                            )
                        continue  # a gap in a primitive array, filled by the `_key` array
                    if kind == _PRIM and _prim_ok(item, field.type):
                        continue
                    value[i] = _walk_json_value(item, field, f"{path}.{key}[{i}]", findings)
        elif type(value) is list:
            findings.append(
                error(
                    "fhir-json-array-unexpected",
                    f"{path}.{key}",
                    f"'{key}' does not repeat, so it must not be an array",
                )
            )
        elif kind == _COMPLEX and type(value) is dict and value:
            _walk_json(value, field.type, f"{path}.{key}", findings, False)
        elif not (kind in (_PRIM, _ATTR) and _prim_ok(value, field.type)):
            obj[key] = _walk_json_value(value, field, f"{path}.{key}", findings)


def _has_ext(ext: Any, i: int) -> bool:
    return type(ext) is list and i < len(ext) and ext[i] is not None


def _prim_ok(value: Any, typ: str) -> bool:
    """True when a JSON primitive is certainly fine as it is (the common case, decided without allocating)."""
    t = type(value)
    if t is str:
        if typ in _NON_STRING:
            return False
        if len(value) < 256:
            if not value.isprintable() and _BAD_CHARS.search(value):
                return False
        elif has_bad_chars(value):
            return False
        if not value.strip():
            return False
        lexical = _LEXICAL.get(typ)
        return lexical is None or lexical.fullmatch(value) is not None
    if t is bool:
        return typ == "boolean"
    if t is int:
        limits = _INT_RANGE.get(typ)
        return limits is not None and limits[0] <= value <= limits[1]
    if t is Decimal:
        return typ == "decimal"
    return False


def _walk_json_value(value: Any, field: _Field, path: str, findings: list[Finding]) -> Any:
    kind = field.kind
    if kind in (_PRIM, _ATTR, _XHTML):
        return _check_primitive(value, field.type, path, findings)
    if not isinstance(value, dict):
        findings.append(
            error("fhir-type", path, f"expected a JSON object ({field.type}), found {_describe(value)}")
        )
        return value
    if not value:
        findings.append(error("fhir-empty-value", path, "an object must not be empty"))
    if kind == _RES:
        _walk_json_resource(value, path, findings)
    else:
        _walk_json(value, field.type, path, findings, False)
    return value


def _walk_json_primitive_ext(
    obj: dict[str, Any], key: str, value: Any, field: _Field, path: str, findings: list[Finding]
) -> None:
    items = value if field.repeats and isinstance(value, list) else [value]
    if field.repeats and not isinstance(value, list):
        findings.append(error("fhir-json-array-expected", path, f"'{key}' must be an array like '{key[1:]}'"))
        obj[key] = items
    base = obj.get(key[1:])
    if field.repeats and isinstance(base, list) and len(base) != len(items):
        findings.append(
            error(
                "fhir-json-array-length",
                path,
                f"'{key}' has {len(items)} items but '{key[1:]}' has {len(base)}",
            )
        )
    for i, item in enumerate(items):
        if item is None and field.repeats:
            continue
        p = f"{path}[{i}]" if field.repeats else path
        if not isinstance(item, dict):
            findings.append(
                error("fhir-type", p, f"expected an object with id/extension, found {_describe(item)}")
            )
            continue
        _walk_json(item, "Element", p, findings, False)


def _check_primitive(value: Any, typ: str, path: str, findings: list[Finding]) -> Any:
    if typ == "boolean":
        if type(value) is not bool:
            findings.append(error("fhir-type", path, f"expected true or false, found {_describe(value)}"))
        return value
    if typ in _NUMERIC:
        if type(value) is not int:
            findings.append(
                error("fhir-type", path, f"expected a JSON integer ({typ}), found {_describe(value)}")
            )
        else:
            low, high = _INT_RANGE[typ]
            if not low <= value <= high:
                findings.append(
                    error("fhir-type", path, f"{value} is outside the range of {typ} ({low}..{high})")
                )
        return value
    if typ == "decimal":
        if type(value) is int:
            return Decimal(value)
        if not isinstance(value, Decimal):
            findings.append(
                error("fhir-type", path, f"expected a JSON number (decimal), found {_describe(value)}")
            )
        return value
    if not isinstance(value, str):
        findings.append(error("fhir-type", path, f"expected a JSON string ({typ}), found {_describe(value)}"))
        return value
    if typ == "xhtml":
        return _check_xhtml(value, path, findings)
    _check_text(value, typ, path, findings)
    return value


def _check_text(value: str, typ: str, path: str, findings: list[Finding]) -> None:
    if not value.strip() and typ != "xhtml":
        findings.append(error("fhir-empty-value", path, "a value must not be empty or only white space"))
        return
    if has_bad_chars(value):
        findings.append(
            error("fhir-string-chars", path, "the value contains control characters XML cannot carry")
        )
    lexical = _LEXICAL.get(typ)
    if lexical is not None and not lexical.fullmatch(value):
        findings.append(error("fhir-type", path, f"{_describe(value)} is not a valid FHIR {typ}"))


def _check_xhtml(value: str, path: str, findings: list[Finding]) -> str:
    """The div in its canonical spelling (how lxml writes it), so that the model does not depend on the
    wire format: `&quot;` in JSON and `"` after a trip through XML are the same narrative."""
    root = parse_plain_fragment(value)
    if root is None:
        try:
            root = _safe_parse_xml(value.encode("utf-8"))
        except XmlError as exc:
            findings.append(error("fhir-xhtml", path, f"the narrative div is not well-formed XHTML: {exc}"))
            return value
    if root.tag != _XDIV:
        findings.append(
            error("fhir-xhtml", path, f"the narrative must be a <div> in the XHTML namespace {XHTML_NS}")
        )
    return _div_string(root)


# ---------------------------------------------------------------------------------------------------------
# XML in


def parse_xml(data: bytes) -> dict[str, Any]:
    """FHIR XML to the model. Findings are dropped: use parse_xml_with_findings to see them."""
    return parse_xml_with_findings(data)[0]


def parse_xml_with_findings(data: bytes) -> tuple[dict[str, Any], list[Finding]]:
    try:
        root = _safe_parse_xml(bytes(data))
    except XmlError as exc:
        raise FhirParseError(exc.rule, "", str(exc)) from None
    if not isinstance(root.tag, str) or not root.tag.startswith(_F):
        raise FhirParseError(
            "fhir-not-a-resource",
            "",
            f"the root element {_describe(root.tag)} is not in the FHIR namespace {FHIR_NS}",
        )
    findings: list[Finding] = []
    rtype = root.tag[len(_F) :]
    if not _RESOURCE_NAME.fullmatch(rtype):
        raise FhirParseError(
            "fhir-not-a-resource", "", f"<{rtype}> is not a FHIR resource (resource names are capitalised)"
        )
    try:
        resource = _read_resource(root, rtype, findings)
    except RecursionError:
        raise FhirParseError("fhir-too-deep", rtype, "the resource is nested too deeply") from None
    return resource, findings


def _attrs(el: etree._Element) -> list[tuple[str, str]]:
    # lxml gives str for names and values of a parsed document; the stubs also allow bytes.
    return cast("list[tuple[str, str]]", el.attrib.items())


def _line(el: etree._Element) -> str:
    return f" (line {el.sourceline})" if el.sourceline else ""


def _read_resource(el: etree._Element, path: str, findings: list[Finding]) -> dict[str, Any]:
    rtype = el.tag[len(_F) :] if isinstance(el.tag, str) and el.tag.startswith(_F) else str(el.tag)
    obj: dict[str, Any] = {"resourceType": rtype}
    for name, _ in _attrs(el):
        findings.append(
            error(
                "fhir-unknown-attribute",
                f"{path}/@{name}",
                f"a resource element has no attributes{_line(el)}",
            )
        )
    if rtype not in RESOURCES:
        findings.append(
            warning(
                "fhir-unsupported-resource-type",
                path,
                f"{rtype} is not a resource type MedCom messages use; its content is kept but not checked{_line(el)}",
            )
        )
        _read_generic_children(el, obj)
        return obj
    _read_children(el, rtype, obj, path, findings)
    return obj


def _read_children(
    el: etree._Element, owner: str, obj: dict[str, Any], path: str, findings: list[Finding]
) -> None:
    # Hot path of every XML parse: child paths are only formatted for findings and descent.
    fields = _INDEX[owner][0]
    text = el.text
    if text and not text.isspace():
        findings.append(
            error("fhir-xml-text", path, f"text is not allowed here: {_describe(text.strip())}{_line(el)}")
        )
    last_pos = 0
    last_name = ""
    repeated: dict[str, tuple[list[Any], list[Any]]] | None = None
    choices: dict[str, str] | None = None
    for child in el:
        tag = child.tag
        tail = child.tail
        if tail and not tail.isspace():
            findings.append(
                error(
                    "fhir-xml-text",
                    path,
                    f"text is not allowed here: {_describe(tail.strip())}{_line(child)}",
                )
            )
        if type(tag) is not str:
            continue  # comments and processing instructions carry no data in FHIR
        if tag.startswith(_F):
            name = tag[_FLEN:]
            field = fields.get(name)
        elif tag == _XDIV and "div" in fields:
            name = "div"
            field = fields["div"]
        else:
            findings.append(
                error(
                    "fhir-xml-namespace",
                    f"{path}.{tag}",
                    f"element {tag} is not in the FHIR namespace; ignored{_line(child)}",
                )
            )
            continue
        if field is None or field.kind == _ATTR:
            findings.append(
                error(
                    "fhir-unknown-element",
                    f"{path}.{name}",
                    f"{owner} has no element '{name}'; it is kept but ignored{_line(child)}",
                )
            )
            _add(obj, name, _read_generic(child), repeat=name in obj)
            continue
        pos = field.pos
        if pos < last_pos:
            findings.append(
                error(
                    "fhir-xml-element-order",
                    f"{path}.{name}",
                    f"'{name}' must come before '{last_name}' (FHIR XML element order){_line(child)}",
                )
            )
        elif pos > last_pos:
            last_pos, last_name = pos, name
        if field.choice:
            if choices is None:
                choices = {}
            other = choices.get(field.choice)
            if other is not None and other != name:
                findings.append(
                    error(
                        "fhir-choice-multiple",
                        f"{path}.{name}",
                        f"only one of {field.choice}[x] is allowed; found {other} and {name}",
                    )
                )
            choices[field.choice] = name
        kind = field.kind
        if not field.repeats and (name in obj or (kind == _PRIM and "_" + name in obj)):
            findings.append(
                error(
                    "fhir-cardinality",
                    f"{path}.{name}",
                    f"'{name}' does not repeat; this second occurrence is ignored{_line(child)}",
                )
            )
            continue
        if kind == _PRIM:
            value, ext = _read_primitive(child, field, path, findings)
            if field.repeats:
                if repeated is None:
                    repeated = {}
                pair = repeated.get(name)
                if pair is None:
                    pair = repeated[name] = ([], [])
                    obj[name] = pair[0]  # keeps the document's key order; removed below if all empty
                pair[0].append(value)
                pair[1].append(ext)
            else:
                if value is not None:
                    obj[name] = value
                if ext is not None:
                    obj["_" + name] = ext
        elif kind == _COMPLEX:
            cpath = f"{path}.{name}"
            item: dict[str, Any] = {}
            if child.attrib:
                _read_attributes(child, field.type, item, cpath, findings)
            _read_children(child, field.type, item, cpath, findings)
            if not item:
                findings.append(
                    error("fhir-empty-value", cpath, f"an element must not be empty{_line(child)}")
                )
            if field.repeats:
                existing = obj.get(name)
                if existing is None:
                    obj[name] = [item]
                else:
                    existing.append(item)
            else:
                obj[name] = item
        elif kind == _XHTML:
            if tag == _XDIV:
                # Already parsed safely and in the XHTML namespace: its serialization is the canonical one.
                obj[name] = _div_string(child)
            else:
                findings.append(
                    error(
                        "fhir-xhtml",
                        f"{path}.{name}",
                        f"the narrative div must be in the XHTML namespace {XHTML_NS}{_line(child)}",
                    )
                )
                obj[name] = _div_string(child)
        else:
            res = _read_contained(child, f"{path}.{name}", findings)
            if res is not None:
                _add(obj, name, res, repeat=field.repeats)
    if repeated:
        for name, (values, exts) in repeated.items():
            if all(v is None for v in values):
                del obj[name]
            if any(e is not None for e in exts):
                obj["_" + name] = exts


def _add(obj: dict[str, Any], name: str, value: Any, *, repeat: bool) -> None:
    if repeat:
        existing = obj.get(name)
        if isinstance(existing, list):
            existing.append(value)
        elif existing is None:
            obj[name] = [value]
        else:
            obj[name] = [existing, value]
    else:
        obj[name] = value


def _read_attributes(
    el: etree._Element, owner: str, obj: dict[str, Any], path: str, findings: list[Finding]
) -> None:
    for attr, value in _attrs(el):
        if attr == "id" or (attr == "url" and owner == "Extension"):
            _check_text(value, "string" if attr == "id" else "uri", f"{path}.{attr}", findings)
            obj[attr] = value
        else:
            findings.append(
                error(
                    "fhir-unknown-attribute",
                    f"{path}/@{attr}",
                    f"attribute '{attr}' is not allowed here; ignored{_line(el)}",
                )
            )


def _read_primitive(
    el: etree._Element, field: _Field, parent: str, findings: list[Finding]
) -> tuple[Any, Any]:
    typ = field.type
    attrib = _attrs(el)
    if len(el) == 0 and len(attrib) == 1 and not el.text:
        text = attrib[0][1] if attrib[0][0] == "value" else None
        if text is not None:  # the common case: <name value="..."/>
            if typ in _NON_STRING:
                return _convert(text, typ, parent, field.name, findings), None
            if _prim_ok(text, typ):
                return text, None
    path = f"{parent}.{field.name}"
    value: Any = None
    ext: dict[str, Any] | None = None
    for attr, text in attrib:
        if attr == "value":
            value = _convert(text, typ, parent, field.name, findings)
        elif attr == "id":
            ext = ext or {}
            ext["id"] = text
        else:
            findings.append(
                error(
                    "fhir-unknown-attribute",
                    f"{path}/@{attr}",
                    f"attribute '{attr}' is not allowed here; ignored{_line(el)}",
                )
            )
    if el.text and el.text.strip():
        findings.append(
            error("fhir-xml-text", path, f"a primitive carries its value in @value, not as text{_line(el)}")
        )
    for child in el:
        if not isinstance(child.tag, str):
            continue
        if child.tag == _F + "extension":
            item: dict[str, Any] = {}
            _read_attributes(child, "Extension", item, f"{path}.extension", findings)
            _read_children(child, "Extension", item, f"{path}.extension", findings)
            ext = ext or {}
            ext.setdefault("extension", []).append(item)
        else:
            findings.append(
                error(
                    "fhir-unknown-element",
                    f"{path}.{child.tag}",
                    f"a primitive holds only extensions; ignored{_line(child)}",
                )
            )
    if value is None and ext is None:
        findings.append(
            error("fhir-empty-value", path, f"the element has neither a value nor extensions{_line(el)}")
        )
    return value, ext


def _convert(text: str, typ: str, parent: str, name: str, findings: list[Finding]) -> Any:
    if typ == "boolean":
        if text == "true":
            return True
        if text == "false":
            return False
    path = f"{parent}.{name}"
    if typ == "boolean":
        if text == "true":
            return True
        if text == "false":
            return False
        findings.append(error("fhir-type", path, f"{_describe(text)} is not a boolean; use true or false"))
        return text
    if typ in _NUMERIC:
        if not _INTEGER.fullmatch(text):
            findings.append(error("fhir-type", path, f"{_describe(text)} is not an integer"))
            return text
        number = int(text) if len(text) < 40 else None
        low, high = _INT_RANGE[typ]
        if number is None or not low <= number <= high:
            findings.append(error("fhir-type", path, f"{_describe(text)} is outside the range of {typ}"))
            return text
        return number
    if typ == "decimal":
        if not _DECIMAL.fullmatch(text):
            findings.append(error("fhir-type", path, f"{_describe(text)} is not a decimal"))
            return text
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
            return text
    _check_text(text, typ, path, findings)
    return text


def _read_contained(el: etree._Element, path: str, findings: list[Finding]) -> dict[str, Any] | None:
    kids = [c for c in el if isinstance(c.tag, str)]
    for name, _ in _attrs(el):
        findings.append(
            error("fhir-unknown-attribute", f"{path}/@{name}", f"attribute '{name}' is not allowed here")
        )
    if (
        len(kids) != 1
        or not str(kids[0].tag).startswith(_F)
        or not _RESOURCE_NAME.fullmatch(str(kids[0].tag)[_FLEN:])
    ):
        findings.append(
            error(
                "fhir-not-a-resource",
                path,
                f"expected exactly one FHIR resource element here, found {len(kids)}{_line(el)}",
            )
        )
        return None
    return _read_resource(kids[0], path, findings)


def _read_generic(el: etree._Element) -> Any:
    """Content the table does not describe, kept in the shape FHIR JSON would most likely give it."""
    value = el.get("value")
    kids = [c for c in el if isinstance(c.tag, str)]
    if value is not None and not kids and len(el.attrib) == 1:
        return value
    if el.tag == "{" + XHTML_NS + "}div":
        return _div_string(el)
    obj: dict[str, Any] = dict(_attrs(el))
    _read_generic_children(el, obj)
    return obj


def _read_generic_children(el: etree._Element, obj: dict[str, Any]) -> None:
    for child in el:
        if isinstance(child.tag, str):
            name = etree.QName(child).localname
            _add(obj, name, _read_generic(child), repeat=name in obj)


def _div_string(el: etree._Element) -> str:
    return etree.tostring(el, encoding="unicode", with_tail=False)


# ---------------------------------------------------------------------------------------------------------
# JSON out


def _fmt_decimal(value: Decimal) -> str:
    # Plain notation keeps trailing zeros (precision); huge exponents stay scientific to bound the size.
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -100 <= exponent <= 100:
        return format(value, "f")
    return str(value)


def to_json(resource: dict[str, Any], *, pretty: bool = False) -> bytes:
    """The model as FHIR JSON: UTF-8, æøå as they are, newlines as the JSON escape \\n."""
    try:
        return _to_json(resource, pretty)
    except UnicodeEncodeError as exc:
        # JSON input may spell a lone surrogate as "\\ud800"; UTF-8 (and so FHIR) cannot carry it.
        raise FhirSerializeError(
            "fhir-string",
            "",
            f"a string holds the lone UTF-16 surrogate {exc.object[exc.start]!r}, which UTF-8 cannot carry",
        ) from None


def _to_json(resource: dict[str, Any], pretty: bool) -> bytes:
    if _has_big_attachment(resource):
        streamed = _to_json_streamed(resource, pretty)
        if streamed is not None:
            return streamed
    text = _json_text(resource, pretty)
    if len(text) > _BIG_JSON:
        # A message with big attachments: the text and its UTF-8 bytes would be held at once (2 x 130 MB for
        # the 100 MB message). Write it again piecewise instead, the big strings one at a time.
        del text
        streamed = _to_json_streamed(resource, pretty)
        return streamed if streamed is not None else _json_text(resource, pretty).encode("utf-8")
    return text.encode("utf-8")


def _json_text(resource: dict[str, Any], pretty: bool) -> str:
    decimals: list[str] = []

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise FhirSerializeError("fhir-type", "", f"{value} is not a FHIR decimal")
            decimals.append(_fmt_decimal(value))
            return f"\x00{len(decimals) - 1}\x00"
        raise FhirSerializeError(
            "fhir-type", "", f"{type(value).__name__} cannot be written as FHIR JSON: {_describe(value)}"
        )

    try:
        text = json.dumps(
            resource,
            ensure_ascii=False,
            allow_nan=False,
            default=default,
            indent=2 if pretty else None,
            separators=(",", ": ") if pretty else (",", ":"),
        )
    except FhirSerializeError:
        raise
    except (TypeError, ValueError, RecursionError) as exc:
        raise FhirSerializeError("fhir-type", "", f"cannot be written as FHIR JSON: {exc}") from None
    if decimals:
        marks = re.findall(r'"\\u0000(\d+)\\u0000"', text)
        if len(marks) != len(decimals):
            # A real string contains the marker pattern: write slowly instead of guessing.
            return _dump_slow(resource, pretty)
        text = re.sub(r'"\\u0000(\d+)\\u0000"', lambda m: decimals[int(m.group(1))], text)
    return text


_BIG_JSON = 16 * 1024 * 1024  # characters of JSON text
_BIG_STRING = 1024 * 1024  # characters of one string value
_BIG_MARK = re.compile(rb'"\\u0000big(\d+)\\u0000"')


def _has_big_attachment(resource: dict[str, Any]) -> bool:
    """Whether a message bundle carries an attachment of _BIG_STRING characters or more: then the JSON is
    written piecewise from the start (a complete text would be built twice over inside json.dumps)."""
    entries = resource.get("entry")
    if type(entries) is not list:
        return False
    for entry in entries:
        res = entry.get("resource") if type(entry) is dict else None
        payloads = res.get("payload") if type(res) is dict else None
        if type(payloads) is not list:
            continue
        for payload in payloads:
            attachment = payload.get("contentAttachment") if type(payload) is dict else None
            data = attachment.get("data") if type(attachment) is dict else None
            if type(data) is str and len(data) >= _BIG_STRING:
                return True
    return False


def _shadow(value: Any, big: list[str]) -> Any:
    """`value` with every string of at least _BIG_STRING characters replaced by a marker (containers copied,
    leaves shared); the strings are collected in `big`, in marker order."""
    t = type(value)
    if t is dict:
        return {k: _shadow(v, big) for k, v in value.items()}
    if t is list:
        return [_shadow(v, big) for v in value]
    if t is str and len(value) >= _BIG_STRING:
        big.append(value)
        return f"\x00big{len(big) - 1}\x00"
    return value


def _to_json_streamed(resource: dict[str, Any], pretty: bool) -> bytes | None:
    big: list[str] = []
    shadow = _shadow(resource, big)
    if not big:
        return None  # long, but no single big value: nothing to gain
    small = _json_text(shadow, pretty).encode("utf-8")
    pieces = _BIG_MARK.split(small)
    if len(pieces) != 2 * len(big) + 1:
        return None  # a real string holds the marker pattern
    out = io.BytesIO()
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            out.write(piece)
        else:
            out.write(encode_basestring(big[int(piece)]).encode("utf-8"))
    # BytesIO hands over its buffer without a copy when nothing else references it.
    return out.getvalue()


def _dump_slow(value: Any, pretty: bool, level: int = 0) -> str:
    pad = "\n" + "  " * (level + 1) if pretty else ""
    end = "\n" + "  " * level if pretty else ""
    colon = ": " if pretty else ":"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{pad}{encode_basestring(str(k))}{colon}{_dump_slow(v, pretty, level + 1)}"
            for k, v in value.items()
        ]
        return "{" + ",".join(items) + end + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[" + ",".join(pad + _dump_slow(v, pretty, level + 1) for v in value) + end + "]"
    if isinstance(value, str):
        return encode_basestring(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite():
        return _fmt_decimal(value)
    raise FhirSerializeError("fhir-type", "", f"{type(value).__name__} cannot be written as FHIR JSON")


# ---------------------------------------------------------------------------------------------------------
# XML out

_XML_DECL = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def to_xml(resource: dict[str, Any], *, pretty: bool = False) -> bytes:
    """The model as FHIR XML: UTF-8 with declaration, FHIR element order, newlines in values as &#xA;."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise FhirSerializeError("fhir-not-a-resource", "", "expected a resource: a dict with a resourceType")
    rtype = resource["resourceType"]
    if not _RESOURCE_NAME.fullmatch(rtype):
        raise FhirSerializeError("fhir-not-a-resource", "", f"{_describe(rtype)} is not a resource type name")
    if not pretty and rtype in RESOURCES:
        try:
            return _XML_DECL + _to_xml_text(resource, rtype).replace(b"&#10;", b"&#xA;")
        except (_NotPlain, RecursionError, UnicodeEncodeError):
            pass  # the tree writer below gives the verdict (or the same bytes) for anything unusual
    return _to_xml_tree(resource, rtype, pretty)


def _to_xml_tree(resource: dict[str, Any], rtype: str, pretty: bool) -> bytes:
    """The reference writer: an lxml tree, serialized. Handles everything the model can hold."""
    root = etree.Element(_F + rtype, nsmap={None: FHIR_NS})  # type: ignore[dict-item]
    try:
        _write_resource_body(root, resource, rtype)
    except RecursionError:
        raise FhirSerializeError("fhir-too-deep", rtype, "the resource is nested too deeply") from None
    except ValueError as exc:  # lxml: invalid tag names or characters XML cannot carry
        if isinstance(exc, FhirSerializeError):
            raise
        raise FhirSerializeError("fhir-xml-chars", rtype, f"cannot be written as XML: {exc}") from None
    if pretty:
        _indent(root, 0)
    body = etree.tostring(root, encoding="UTF-8")
    # libxml2 writes a newline inside an attribute as &#10;; MedCom documents &#xA; (same character).
    return _XML_DECL + body.replace(b"&#10;", b"&#xA;") + (b"\n" if pretty else b"")


# ---------------------------------------------------------------------------------------------------------
# XML out, the fast way: the common, well-formed model written as text, byte for byte what the lxml tree
# writer below gives (a test holds it to that). Building a tree of ~1,000 lxml elements costs 3-4 times as
# much as writing the text. Anything unusual (unknown elements, values of the wrong type, characters XML cannot
# carry, other resource types) raises _NotPlain and the tree writer takes over, with its findings and errors.


class _NotPlain(Exception):
    """The model holds something only the tree writer handles exactly."""


_ATTR_SPECIAL = re.compile('[&<>"\n\r\t]')


def _attr_text(value: Any) -> str:
    if type(value) is str:
        text = value
        if len(text) < 256:
            if not text.isprintable() and _BAD_CHARS.search(text):
                raise _NotPlain
        elif has_bad_chars(text):
            raise _NotPlain
    elif value is True:
        return "true"
    elif value is False:
        return "false"
    elif type(value) is int:
        return str(value)
    elif type(value) is Decimal and value.is_finite():
        return _fmt_decimal(value)
    else:
        raise _NotPlain
    if _ATTR_SPECIAL.search(text) is None:
        return text
    # libxml2's attribute escaping.
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


def _to_xml_text(resource: dict[str, Any], rtype: str) -> bytes:
    out: list[str] = []
    _text_element(out, rtype, f' xmlns="{FHIR_NS}"', resource, rtype, True)
    return "".join(out).encode("utf-8")


def _text_element(
    out: list[str], name: str, attrs: str, obj: dict[str, Any], owner: str, resource: bool
) -> None:
    """Appends `<name attrs ...>children</name>` (or `<name .../>`) for a complex value or a resource."""
    fields = _INDEX[owner][0]
    present: list[tuple[int, _Field]] = []
    for key in obj:
        f = fields.get(key)
        if f is None:
            if key.startswith("_"):
                f = fields.get(key[1:])
                if f is not None and f.kind == _PRIM:
                    if key[1:] not in obj:
                        present.append((f.seq, f))
                    continue
            if resource and key == "resourceType":
                continue
            raise _NotPlain  # unknown content: the tree writer writes it in the generic shape
        present.append((f.seq, f))
    present.sort(key=_first)
    start = len(out)
    out.append("")  # the start tag, once its attributes are known
    for _, f in present:
        fname = f.name
        value = obj.get(fname)
        kind = f.kind
        if kind == _PRIM:
            ext = obj.get("_" + fname)
            if ext is None and value is not None and type(value) is not list:
                out.append(f'<{fname} value="{_attr_text(value)}"/>')
            else:
                _text_primitive(out, fname, value, ext)
        elif kind == _XHTML:
            if obj.get("_" + fname) is not None or type(value) is not str:
                raise _NotPlain
            out.append(_div_text(value))
        elif value is None:
            continue
        elif kind == _ATTR:
            attrs += f' {fname}="{_attr_text(value)}"'
        else:
            for item in value if type(value) is list else (value,):
                if type(item) is not dict:
                    raise _NotPlain
                if kind == _RES:
                    inner = item.get("resourceType")
                    if type(inner) is not str or inner not in RESOURCES:
                        raise _NotPlain
                    out.append(f"<{fname}>")
                    _text_element(out, inner, "", item, inner, True)
                    out.append(f"</{fname}>")
                else:
                    _text_element(out, fname, "", item, f.type, False)
    if len(out) == start + 1:
        out[start] = f"<{name}{attrs}/>"
    else:
        out[start] = f"<{name}{attrs}>"
        out.append(f"</{name}>")


def _text_primitive(out: list[str], name: str, value: Any, ext: Any) -> None:
    values = value if type(value) is list else [value]
    exts = ext if type(ext) is list else [ext]
    for i in range(max(len(values), len(exts))):
        v = values[i] if i < len(values) else None
        e = exts[i] if i < len(exts) else None
        if v is None and e is None:
            continue
        if e is not None and type(e) is not dict:
            raise _NotPlain
        attrs = ""
        if e is not None and e.get("id") is not None:
            attrs += f' id="{_attr_text(e["id"])}"'
        if v is not None:
            attrs += f' value="{_attr_text(v)}"'
        extensions = e.get("extension") if e is not None else None
        if not extensions:
            out.append(f"<{name}{attrs}/>")
            continue
        if type(extensions) is not list:
            raise _NotPlain
        out.append(f"<{name}{attrs}>")
        for x in extensions:
            if type(x) is not dict:
                raise _NotPlain
            _text_element(out, "extension", "", x, "Extension", False)
        out.append(f"</{name}>")


def _div_text(value: str) -> str:
    try:
        div = _parse_div(value, "")
    except FhirSerializeError:
        raise _NotPlain from None
    return etree.tostring(div, encoding="unicode")


def _write_resource_body(el: etree._Element, res: dict[str, Any], path: str) -> None:
    rtype = res.get("resourceType")
    if rtype in RESOURCES:
        _write_fields(el, res, str(rtype), path, resource=True)
    else:
        _write_generic_fields(el, res, path, skip={"resourceType"})


def _write_fields(
    el: etree._Element, obj: dict[str, Any], owner: str, path: str, *, resource: bool = False
) -> None:
    fields = _INDEX[owner][0]
    # Sort the keys present by table position: cheaper than walking the table (Extension has 50 value[x]).
    present: list[tuple[int, _Field]] = []
    extra: list[str] = []
    for key in obj:
        f = fields.get(key)
        if f is None:
            if key.startswith("_"):
                f = fields.get(key[1:])
                if f is not None and f.kind == _PRIM:
                    if key[1:] not in obj:
                        present.append((f.seq, f))
                    continue
            if not (resource and key == "resourceType"):
                extra.append(key)
            continue
        present.append((f.seq, f))
    present.sort(key=_first)
    for _, f in present:
        name = f.name
        value = obj.get(name)
        kind = f.kind
        if kind in (_PRIM, _XHTML):
            _write_primitive(el, f, value, obj.get("_" + name), path)
            continue
        if value is None:
            continue
        if kind == _ATTR:
            el.set(name, _text(value, f.type, path, name))
            continue
        for i, item in enumerate(value if type(value) is list else (value,)):
            if type(item) is not dict:
                ipath = f"{path}.{name}[{i}]" if f.repeats else f"{path}.{name}"
                raise FhirSerializeError(
                    "fhir-type", ipath, f"expected an object ({f.type}), found {_describe(item)}"
                )
            sub = etree.SubElement(el, _F + name)
            if kind == _RES:
                ipath = f"{path}.{name}[{i}]" if f.repeats else f"{path}.{name}"
                rtype = item.get("resourceType")
                if not isinstance(rtype, str) or not rtype:
                    raise FhirSerializeError(
                        "fhir-not-a-resource", ipath, "a resource must have a resourceType"
                    )
                _write_resource_body(etree.SubElement(sub, _F + rtype), item, ipath)
            else:
                _write_fields(sub, item, f.type, f"{path}.{name}")
    if extra:
        # Unknown content the reader kept: written after the known elements, in the generic shape.
        _write_generic_fields(el, {k: obj[k] for k in extra}, path, skip=set())


def _first(pair: tuple[int, _Field]) -> int:
    return pair[0]


def _is_prim(field: _Field | None) -> bool:
    return field is not None and field.kind == _PRIM


def _write_primitive(el: etree._Element, f: _Field, value: Any, ext: Any, parent: str) -> None:
    if ext is None and f.kind == _PRIM and value is not None and type(value) is not list:
        # the common case: <name value="..."/>
        etree.SubElement(el, _F + f.name).set("value", _text(value, f.type, parent, f.name))
        return
    values = value if isinstance(value, list) else [value]
    exts = ext if isinstance(ext, list) else [ext]
    # A list under a non-repeating name (reported by the reader) is written as repeated elements, not cut.
    for i in range(max(len(values), len(exts))):
        v = values[i] if i < len(values) else None
        e = exts[i] if i < len(exts) else None
        if v is None and e is None:
            continue  # a JSON null has no XML form (the reader reported it)
        ipath = f"{parent}.{f.name}[{i}]" if isinstance(value, list) else f"{parent}.{f.name}"
        if f.kind == _XHTML:
            if v is not None:
                el.append(_parse_div(v, ipath))
            continue
        sub = etree.SubElement(el, _F + f.name)
        if isinstance(e, dict) and e.get("id") is not None:
            sub.set("id", _text(e["id"], "string", ipath, "id"))
        if v is not None:
            sub.set("value", _text(v, f.type, ipath, ""))
        if isinstance(e, dict):
            for j, x in enumerate(e.get("extension") or ()):
                if not isinstance(x, dict):
                    raise FhirSerializeError(
                        "fhir-type", f"{ipath}.extension[{j}]", "an extension must be an object"
                    )
                _write_fields(
                    etree.SubElement(sub, _F + "extension"), x, "Extension", f"{ipath}.extension[{j}]"
                )


def _text(value: Any, typ: str, parent: str, name: str) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite():
        return _fmt_decimal(value)
    path = f"{parent}.{name}" if name else parent
    raise FhirSerializeError(
        "fhir-type", path, f"{type(value).__name__} is not a FHIR {typ} value: {_describe(value)}"
    )


def _parse_div(value: Any, path: str) -> etree._Element:
    if not isinstance(value, str):
        raise FhirSerializeError("fhir-xhtml", path, "the narrative div must be a string")
    try:
        div = _safe_parse_xml(value.encode("utf-8"))
    except XmlError as exc:
        raise FhirSerializeError(
            "fhir-xhtml", path, f"the narrative div is not well-formed XHTML: {exc}"
        ) from None
    if div.tag == "div":
        # A div without its namespace (common in hand-written JSON) is XHTML by definition: say so.
        text = etree.tostring(div, encoding="unicode")
        div = _safe_parse_xml(('<div xmlns="' + XHTML_NS + '"' + text[4:]).encode("utf-8"))
    if div.tag != _XDIV:
        raise FhirSerializeError(
            "fhir-xhtml", path, f"the narrative must be a <div> in the XHTML namespace {XHTML_NS}"
        )
    div.tail = None
    return div


def _write_generic_fields(el: etree._Element, obj: dict[str, Any], path: str, skip: set[str]) -> None:
    for key, value in obj.items():
        if key in skip:
            continue
        for item in value if isinstance(value, list) else (value,):
            _write_generic(el, key, item, f"{path}.{key}")


def _write_generic(parent: etree._Element, name: str, value: Any, path: str) -> None:
    if not _NAME.fullmatch(name):
        raise FhirSerializeError(
            "fhir-unknown-element", path, f"{_describe(name)} cannot be an XML element name"
        )
    if isinstance(value, str) and value.startswith("<div") and name == "div":
        parent.append(_parse_div(value, path))
        return
    sub = etree.SubElement(parent, _F + name)
    if isinstance(value, dict):
        if isinstance(value.get("resourceType"), str) and _NAME.fullmatch(value["resourceType"]):
            inner = etree.SubElement(sub, _F + value["resourceType"])
            _write_resource_body(inner, value, path)
            return
        for key in ("id", "url"):
            if isinstance(value.get(key), str):
                sub.set(key, value[key])
        _write_generic_fields(sub, value, path, skip={"id", "url"})
    elif value is not None:
        sub.set("value", _text(value, "value", path, ""))


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def _indent(el: etree._Element, level: int) -> None:
    """Pretty printing by hand: lxml's indent would also re-indent the XHTML narrative and change it."""
    kids = [c for c in el if isinstance(c.tag, str)]
    if not kids or el.tag == "{" + XHTML_NS + "}div":
        return
    inner = "\n" + "  " * (level + 1)
    el.text = inner
    for child in kids:
        child.tail = inner
        _indent(child, level + 1)
    kids[-1].tail = "\n" + "  " * level
