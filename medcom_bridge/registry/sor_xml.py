"""Streaming reader for the official SOR XML tree export (`SorTree`, schema v1.0.0; later versions tolerated).

The national export holds about 100,000 units, so the tree is never built whole: a pull parser hands over
one entity at a time, the entity is turned into a `Unit` and its element is freed. Elements are matched by
local name, so a newer namespace or added elements do not break the import (sor-ehmi.md §b: the v2 deltas
are unknown). Parsing is as safe as `medcom_bridge.xmlsafe`: no DTD, no entities, no network, a size limit,
and a document that declares a DOCTYPE is refused.

Inheritance is resolved on the way: SOR writes a parent before its children, so a stack of open entities
gives every unit its parent, its effective location number and its inherited phone number.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO

from lxml import etree

from medcom_bridge.registry.model import (
    Address,
    ImportIssue,
    Level,
    LocationNumber,
    RegisterInputError,
    Unit,
)
from medcom_bridge.xmlsafe import local_name as _uncached_local_name

SOR_NAMESPACE_PREFIX = "urn:oio:sundhedsstyrelsen:organisation:"
DEFAULT_MAX_BYTES = 4 * 1024**3  # the 2026 national export is a few hundred MB; 4 GB is a sanity limit
_CHUNK = 1024 * 1024

_UNIT_LEVEL: dict[str, Level] = {
    "InstitutionOwner": "IE",
    "HealthInstitution": "SI",
    "OrganizationalUnit": "OE",
}
_ENTITY = frozenset({"InstitutionOwnerEntity", "HealthInstitutionEntity", "OrganizationalUnitEntity"})
_TEXT_FIELDS = frozenset(
    {"SorIdentifier", "EntityName", "PharmacyIdentifier", "ShakIdentifier", "ProviderIdentifier", "LocalCode"}
)
_TYPE_ELEMENT = frozenset({"OwnerType", "InstitutionType", "UnitType"})
_TAGS = [f"{{*}}{n}" for n in (*_UNIT_LEVEL, *_ENTITY, "CreatedAtTime", "SnapshotDate")]


@dataclass(slots=True)
class SorImport:
    created: str | None = None
    snapshot: date | None = None
    units: list[Unit] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)


@dataclass(slots=True)
class _Open:
    """An entity whose children are still being read."""

    sor: str | None = None
    nearest_own: tuple[str, str] | None = (
        None  # (ean, owner sor) of the nearest own number, this unit included
    )
    phone: str | None = None
    postal: Address | None = None


@functools.cache
def local_name(tag: object) -> str:
    """Memoised: a national export repeats a few dozen tag names millions of times."""
    return _uncached_local_name(tag)


def read_sor_xml(source: bytes | IO[bytes], *, max_bytes: int = DEFAULT_MAX_BYTES) -> SorImport:
    """Read a SOR XML export from bytes or a binary file object.

    Raises RegisterInputError (with the line) when the input is not a readable SOR export; problems inside
    one entity are recorded in `issues` and the rest of the file is still read.
    """
    result = SorImport()
    stack: list[_Open] = []
    parser = etree.XMLPullParser(
        events=("start", "end"),
        tag=_TAGS,
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=True,
        remove_comments=True,
        remove_pis=True,
    )
    seen = 0
    root_checked = False
    for chunk in _chunks(source):
        if seen == 0 and _declares_doctype(chunk):
            raise RegisterInputError("the file declares a DOCTYPE or entities; a SOR export has none", 1)
        seen += len(chunk)
        if seen > max_bytes:
            raise RegisterInputError(f"the file is larger than the limit of {max_bytes} bytes")
        try:
            parser.feed(chunk)
            events = parser.read_events()
            for event, elem in events:
                if not isinstance(elem, etree._Element):
                    continue
                if not root_checked:
                    _check_root(elem, result)
                    root_checked = True
                _handle(event, elem, stack, result)
        except etree.XMLSyntaxError as exc:
            raise RegisterInputError(f"not well-formed XML: {exc.msg}", _line(exc)) from None
    if seen == 0:
        raise RegisterInputError("the file is empty; expected a SOR XML export (root element SorTree)")
    try:
        root = parser.close()
    except etree.XMLSyntaxError as exc:
        raise RegisterInputError(f"not well-formed XML: {exc.msg}", _line(exc)) from None
    if not root_checked and isinstance(root, etree._Element):
        _check_root(root, result)
    if not root_checked:
        raise RegisterInputError(
            "no SOR content found; expected a SorTree with InstitutionOwnerEntity elements"
        )
    return result


def _chunks(source: bytes | IO[bytes]) -> Iterator[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        for i in range(0, len(data), _CHUNK):
            yield data[i : i + _CHUNK]
        return
    while chunk := source.read(_CHUNK):
        yield chunk


def _declares_doctype(head: bytes) -> bool:
    head = head[:4096]
    return b"<!DOCTYPE" in head or b"<!ENTITY" in head


def _lineno(elem: etree._Element) -> int | None:
    line = getattr(elem, "sourceline", None)
    return line if isinstance(line, int) else None


def _line(exc: etree.XMLSyntaxError) -> int | None:
    return exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None


def _check_root(elem: etree._Element, result: SorImport) -> None:
    root = elem.getroottree().getroot()
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", None):
        raise RegisterInputError("the file declares a DOCTYPE; a SOR export has none", 1)
    if local_name(root.tag) != "SorTree":
        raise RegisterInputError(
            f"root element is '{local_name(root.tag)}'; expected 'SorTree' (a SOR XML export)", _lineno(root)
        )
    ns = etree.QName(root).namespace or ""
    if not ns.startswith(SOR_NAMESPACE_PREFIX):
        result.issues.append(
            ImportIssue(
                "sor-xml-namespace",
                "warning",
                _lineno(root),
                f"SorTree is in namespace '{ns}'; expected '{SOR_NAMESPACE_PREFIX}1.0.0' (read anyway)",
            )
        )


def _handle(event: str, elem: etree._Element, stack: list[_Open], result: SorImport) -> None:
    name = local_name(elem.tag)
    if name in _ENTITY:
        if event == "start":
            stack.append(_Open())
        else:
            stack.pop()
            _free(elem)
        return
    if event != "end":
        return
    if name in _UNIT_LEVEL:
        if not stack:  # a unit outside its *Entity wrapper: read it as a top-level entity
            result.issues.append(
                ImportIssue(
                    "sor-xml-structure", "warning", _lineno(elem), f"{name} is not inside {name}Entity"
                )
            )
            stack.append(_Open())
            _read_unit(elem, _UNIT_LEVEL[name], stack, result)
            stack.pop()
        else:
            _read_unit(elem, _UNIT_LEVEL[name], stack, result)
        _free(elem)
    elif name == "CreatedAtTime":
        result.created = (elem.text or "").strip() or None
    elif name == "SnapshotDate":
        result.snapshot = _date(elem.text, _lineno(elem), "SnapshotDate", result.issues)


def _free(elem: etree._Element) -> None:
    """Drop what has been read so memory stays flat however large the export is."""
    elem.clear()
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def _parent_open(stack: list[_Open]) -> _Open | None:
    # stack[-1] is this unit's own entity; the parent is the nearest enclosing entity that was read.
    for open_entity in reversed(stack[:-1]):
        if open_entity.sor is not None:
            return open_entity
    return None


def _read_unit(elem: etree._Element, level: Level, stack: list[_Open], result: SorImport) -> None:
    line = _lineno(elem)
    issues = result.issues
    fields: dict[str, str] = {}
    own: LocationNumber | None = None
    inherits: bool | None = None
    phone: str | None = None
    postal: Address | None = None
    from_date: date | None = None
    to_date: date | None = None
    replaces: tuple[str, ...] = ()
    replaced_by: tuple[str, ...] = ()
    for child in elem:
        tag = local_name(child.tag)
        if tag in _TEXT_FIELDS:
            fields[tag] = (child.text or "").strip()
        elif tag in _TYPE_ELEMENT:
            fields["type"] = (child.text or "").strip()
        elif tag == "EanLocationCodeEntity":
            own = _location_number(child, issues)
        elif tag == "OptionalEanLocationCode":
            for choice in child:
                ctag = local_name(choice.tag)
                if ctag == "EanLocationCodeEntity":
                    own = _location_number(choice, issues)
                elif ctag == "EntityInheritedIndicator":
                    inherits = _bool(choice.text, _lineno(choice), "EntityInheritedIndicator", issues)
        elif tag == "VirtualAddressInformation":
            phone = _child_text(child, "TelephoneNumberIdentifier")
        elif tag == "PostalAddressInformation":
            postal = _address(child)
        elif tag == "SorStatus":
            from_date, to_date = _status(child, issues)
        elif tag == "ReplacesEntityCollection":
            replaces = _sor_list(child)
        elif tag == "ReplacedByEntityCollection":
            replaced_by = _sor_list(child)
    sor = fields.get("SorIdentifier", "")
    where = f"{_element_name(level)} at line {line}"
    if not sor.isdigit():
        issues.append(
            ImportIssue(
                "sor-xml-identifier",
                "error",
                line,
                f"{where}: SorIdentifier is '{sor}'; expected the unit's SOR code (digits). Unit skipped",
            )
        )
        return
    name = fields.get("EntityName") or ""
    if not name:
        issues.append(
            ImportIssue("sor-xml-value", "warning", line, f"{where}: EntityName is missing", sor=sor)
        )
    parent = _parent_open(stack)
    this = stack[-1]
    this.sor = sor
    if own is not None:
        inherits = None
        effective: tuple[str, str] | None = (own.ean, sor)
        this.nearest_own = effective
    else:
        effective = parent.nearest_own if (inherits and parent is not None) else None
        this.nearest_own = parent.nearest_own if parent is not None else None
    # Missing virtual/postal address means "the parent's" (SOR XML documentation v2.0.0).
    phone_inherited = phone is None and parent is not None and parent.phone is not None
    this.phone = phone if phone is not None else (parent.phone if parent else None)
    this.postal = postal if postal is not None else (parent.postal if parent else None)
    result.units.append(
        Unit(
            sor=sor,
            name=name,
            level=level,
            parent=parent.sor if parent else None,
            line=line,
            type_code=fields.get("type") or None,
            own=own,
            inherits=inherits,
            effective_ean=effective[0] if effective else None,
            ean_from=effective[1] if effective else None,
            provider_id=fields.get("ProviderIdentifier") or None,
            shak=fields.get("ShakIdentifier") or None,
            pharmacy=fields.get("PharmacyIdentifier") or None,
            local_code=fields.get("LocalCode") or None,
            phone=this.phone,
            phone_inherited=phone_inherited,
            postal=this.postal,
            from_date=from_date,
            to_date=to_date,
            replaces=replaces,
            replaced_by=replaced_by,
        )
    )


def _element_name(level: Level) -> str:
    return {"IE": "InstitutionOwner", "SI": "HealthInstitution", "OE": "OrganizationalUnit"}[level]


def _location_number(elem: etree._Element, issues: list[ImportIssue]) -> LocationNumber | None:
    values: dict[str, str] = {}
    from_date: date | None = None
    to_date: date | None = None
    only_internal = non_active = False
    for child in elem:
        tag = local_name(child.tag)
        if tag == "SorStatus":
            from_date, to_date = _status(child, issues)
        elif tag == "OnlyInternalIndicator":
            only_internal = _bool(child.text, _lineno(child), tag, issues)
        elif tag == "NonActiveIndicator":
            non_active = _bool(child.text, _lineno(child), tag, issues)
        else:
            values[tag] = (child.text or "").strip()
    ean = values.get("EanLocationCode", "")
    if not ean:
        issues.append(
            ImportIssue(
                "sor-xml-value",
                "error",
                _lineno(elem),
                "EanLocationCodeEntity without EanLocationCode; expected a 13-digit location number",
            )
        )
        return None
    return LocationNumber(
        ean=ean,
        only_internal=only_internal,
        non_active=non_active,
        system_supplier=values.get("SystemSupplier") or None,
        system_type=values.get("SystemType") or None,
        communication_supplier=values.get("CommunicationSupplier") or None,
        region=values.get("RegionCode") or None,
        edi_administrator=values.get("EdiAdministrator") or None,
        note=values.get("SorNote") or None,
        from_date=from_date,
        to_date=to_date,
    )


def _status(elem: etree._Element, issues: list[ImportIssue]) -> tuple[date | None, date | None]:
    from_date = to_date = None
    for child in elem:
        tag = local_name(child.tag)
        if tag == "FromDate":
            from_date = _date(child.text, _lineno(child), tag, issues)
        elif tag == "ToDate":
            to_date = _date(child.text, _lineno(child), tag, issues)
    return from_date, to_date


def _date(text: str | None, line: int | None, what: str, issues: list[ImportIssue]) -> date | None:
    value = (text or "").strip()
    try:
        return date.fromisoformat(value[:10])  # xs:date may carry a zone suffix: 2010-01-26+01:00
    except ValueError:
        issues.append(
            ImportIssue("sor-xml-value", "warning", line, f"{what} is '{value}'; expected a date YYYY-MM-DD")
        )
        return None


_BOOLEANS: dict[str, bool] = {"true": True, "1": True, "false": False, "0": False}


def _bool(text: str | None, line: int | None, what: str, issues: list[ImportIssue]) -> bool:
    value = (text or "").strip()
    if value in _BOOLEANS:
        return _BOOLEANS[value]
    issues.append(
        ImportIssue(
            "sor-xml-value",
            "warning",
            line,
            f"{what} is '{value}'; expected 'true' or 'false' (read as false)",
        )
    )
    return False


def _child_text(elem: etree._Element, name: str) -> str | None:
    for child in elem:
        if local_name(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def _address(elem: etree._Element) -> Address | None:
    parts: dict[str, str] = {}
    for node in elem.iter():
        tag = local_name(node.tag)
        if tag in ("StreetName", "StreetBuildingIdentifier", "PostCodeIdentifier", "DistrictName"):
            parts[tag] = (node.text or "").strip()
    if not parts:
        return None
    return Address(
        parts.get("StreetName") or None,
        parts.get("StreetBuildingIdentifier") or None,
        parts.get("PostCodeIdentifier") or None,
        parts.get("DistrictName") or None,
    )


def _sor_list(elem: etree._Element) -> tuple[str, ...]:
    return tuple(
        (node.text or "").strip()
        for node in elem.iter()
        if local_name(node.tag) == "SorIdentifier" and (node.text or "").strip()
    )
