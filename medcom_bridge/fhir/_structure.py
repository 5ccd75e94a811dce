"""Structure checks driven by the profiles' snapshots: cardinality, JSON shape, datatypes, fixed values, bindings.

The element tables are generated (`_profiles.py`, `_codes.py`); this module only walks a resource against them.
Slices are not in the tables: the hand-written rules in `rules_*.py` know their discriminators.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from medcom_bridge.fhir._codes import CASE_INSENSITIVE_SYSTEMS, TERMINOLOGY_FOR_STACK, VALUE_SETS
from medcom_bridge.fhir._context import Context, Entry, JsonObject
from medcom_bridge.fhir._profiles import DATATYPES, PROFILES
from medcom_bridge.privacy import THE_VALUE, fhir_path, is_patient_field, masked

ElementSpec = tuple[Any, ...]  # (min, max, types, fixed, value set, base max)
Children = dict[str, ElementSpec]

# FHIR R4 primitive syntax (http://hl7.org/fhir/R4/datatypes.html).
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_TZ = r"(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
DATE = re.compile(_YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?")
DATETIME = re.compile(_YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01])(T" + _TIME + _TZ + r")?)?)?")
INSTANT = re.compile(_YEAR + r"-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T" + _TIME + _TZ)
_HAS_TIME_NO_TZ = re.compile(r"[^T]*T[0-9:.]*")
_STRINGISH = {"string", "markdown", "uri", "url", "canonical", "oid", "uuid", "id", "code", "xhtml"}
_INTEGERS = {"integer": None, "positiveInt": 1, "unsignedInt": 0}
_COMPLEX_TYPES = frozenset(
    {"Element", "BackboneElement", "Resource", "ContactPoint", "HumanName", "Address", "Quantity"}
    | set(DATATYPES)
)
_WHITESPACE = re.compile(r"\s")
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NO_SPACE = re.compile(r"\S+")
_QUICK: dict[str, re.Pattern[str]] = {
    "string": re.compile(r"(?s)\s*\S.*"),
    "markdown": re.compile(r"(?s)\s*\S.*"),
    "uri": _NO_SPACE,
    "url": _NO_SPACE,
    "canonical": _NO_SPACE,
    "oid": _NO_SPACE,
    "uuid": _NO_SPACE,
    "code": re.compile(r"\S+( \S+)*"),
    "id": FHIR_ID,
    "dateTime": DATETIME,
    "instant": INSTANT,
    "date": DATE,
}

# Short names for ValueSets in rule ids (`binding-categories`) and the noun used in messages.
_VS_PREFIXES = ("medcom-careCommunication-", "medcom-core-", "medcom-messaging-", "medcom-")
_VS_NOUN = {
    "categories": "category",
    "requestPriority": "priority",
    "attachmentMimeTypes": "attachment MIME type",
    "messagingActivities": "Provenance activity",
    "activityCodes": "Provenance activity",
    "messageTypes": "event code",
    "encounter-class": "encounter class",
    "response-code": "response code",
    "issue-type": "issue code",
    "issue-severity": "issue severity",
    "acknowledgement-issue-details": "issue detail code",
}


def binding_rule(value_set: str) -> str:
    name = value_set.rsplit("/", 1)[-1]
    for prefix in _VS_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    return f"binding-{name}"


# Shortcuts of the walk (see `_Slot.fast`): none; a single primitive matching a pattern; a list of them; a
# narrative div; an entry resource (walked with its own profile); the fixed value; a code of the bound ValueSet;
# a complex value; a list of complex values.
(
    _FAST_NONE,
    _FAST_QUICK,
    _FAST_PRIM_LIST,
    _FAST_XHTML,
    _FAST_RESOURCE,
    _FAST_FIXED,
    _FAST_BOUND,
    _FAST_COMPLEX,
    _FAST_COMPLEX_LIST,
) = range(9)


@dataclass(frozen=True, slots=True)
class _Slot:
    """One JSON key an element may appear under (a choice element has one slot per allowed type)."""

    name: str  # element name as in the table (`event[x]`)
    key: str  # JSON key (`eventCoding`)
    minimum: int
    maximum: str
    type_code: str
    fixed: tuple[str, Any] | None
    value_set: str | None
    base_max: str
    child_def: str | None  # path of the element in the profile table, if it has children there
    choice: str | None = None  # the choice base (`event`) for a [x] element
    # Derived once, because the walk asks for them at every value.
    repeats: bool = field(init=False)
    max_count: int | None = field(init=False)
    complex: bool = field(init=False)
    # For a primitive with no fixed value or binding: a pattern whose full match on a str proves the value
    # fine, so the walk can skip it (the common case). None: always take the full route.
    quick: re.Pattern[str] | None = field(init=False)
    # How `_Walker.element` may take a well-formed value without the general route (`_FAST_*`).
    fast: int = field(init=False)
    # The compiled children of a complex element, resolved on first use (`_Walker._child`).
    node: _Node | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "repeats", self.base_max != "1")
        object.__setattr__(self, "max_count", None if self.maximum == "*" else int(self.maximum))
        object.__setattr__(self, "complex", self.type_code in _COMPLEX_TYPES)
        plain = self.fixed is None and self.value_set is None and self.maximum != "0"
        object.__setattr__(self, "quick", _QUICK.get(self.type_code) if plain else None)
        object.__setattr__(self, "node", None)
        object.__setattr__(self, "fast", self._fast_mode())

    def _fast_mode(self) -> int:
        """Which shortcut proves a typical value fine with exactly the verdict of the general route."""
        if self.maximum == "0":
            return _FAST_NONE
        if self.repeats:
            if self.quick is not None:
                return _FAST_PRIM_LIST
            plain = self.fixed is None and self.value_set is None and self.type_code != "Resource"
            return _FAST_COMPLEX_LIST if self.complex and plain else _FAST_NONE
        if self.minimum > 1:
            return _FAST_NONE
        if self.quick is not None:
            return _FAST_QUICK
        if self.complex:
            if self.type_code == "Resource":
                return _FAST_RESOURCE
            plain = self.fixed is None and self.value_set is None
            return _FAST_COMPLEX if plain else _FAST_NONE
        if self.type_code == "xhtml":
            return _FAST_XHTML if self.fixed is None and self.value_set is None else _FAST_NONE
        pattern = _QUICK.get(self.type_code)
        if pattern is None:
            return _FAST_NONE
        if self.fixed is not None:
            expected = self.fixed[1]
            # Only a well-formed fixed string: then equality proves type, syntax and value (the binding,
            # if any, is still asked at the value).
            ok = type(expected) is str and pattern.fullmatch(expected)
            return _FAST_FIXED if ok else _FAST_NONE
        return _FAST_BOUND if self.value_set is not None else _FAST_NONE


@dataclass(frozen=True, slots=True)
class _Node:
    """The compiled children of one element: JSON key -> slot, required elements, choice bases."""

    label: str
    slots: dict[str, _Slot]
    required: tuple[tuple[str, int, tuple[str, ...]], ...]  # (JSON name for messages, min, candidate keys)
    choices: dict[str, tuple[str, ...]]  # choice base -> allowed JSON keys
    is_extension: bool
    # The keys of the required elements that have one key: when all are present (one C-speed subset test),
    # only the required choice elements are left to look at.
    required_keys: frozenset[str] = field(init=False)
    required_choices: tuple[tuple[str, int, tuple[str, ...]], ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "required_keys", frozenset(k[0] for _, _, k in self.required if len(k) == 1))
        object.__setattr__(self, "required_choices", tuple(r for r in self.required if len(r[2]) > 1))


def _compile(label: str, children: Children, parent_def: str | None, tree_keys: frozenset[str]) -> _Node:
    slots: dict[str, _Slot] = {}
    required: list[tuple[str, int, tuple[str, ...]]] = []
    choices: dict[str, tuple[str, ...]] = {}
    for name, spec in children.items():
        minimum, maximum, types, fixed, value_set, base_max = spec
        child_def = f"{parent_def}.{name}" if parent_def else None
        if child_def is not None and child_def not in tree_keys:
            child_def = None
        if name.endswith("[x]"):
            base = name[:-3]
            keys = tuple(base + _suffix(t) for t in types)
            choices[base] = keys
            for key, type_code in zip(keys, types, strict=True):
                slots[key] = _Slot(
                    name, key, 0, maximum, type_code, fixed, value_set, base_max, child_def, base
                )
            if minimum > 0:
                required.append((base + "[x]", minimum, keys))
            continue
        type_code = types[0] if len(types) == 1 else "Element"
        slots[name] = _Slot(name, name, minimum, maximum, type_code, fixed, value_set, base_max, child_def)
        if minimum > 0:
            required.append((name, minimum, (name,)))
    return _Node(label, slots, tuple(required), choices, label == "Extension")


@cache
def children_of(profile_key: str) -> dict[str, Children]:
    """Element table of a profile as parent path -> {child name: spec}."""
    tree: dict[str, Children] = {}
    for path, spec in PROFILES[profile_key].items():
        if "." in path:
            parent, name = path.rsplit(".", 1)
            tree.setdefault(parent, {})[name] = spec
    return tree


@cache
def _profile_nodes(profile_key: str) -> dict[str, _Node]:
    tree = children_of(profile_key)
    keys = frozenset(tree)
    return {path: _compile(path, children, path, keys) for path, children in tree.items()}


@cache
def _datatype_node(type_name: str) -> _Node:
    children = {
        name: (minimum, maximum, types, None, value_set, maximum)
        for name, (minimum, maximum, types, value_set) in DATATYPES.get(type_name, {}).items()
    }
    return _compile(type_name, children, None, frozenset())


@cache
def _extension_value_slot(key: str) -> _Slot:
    """Extension.value[x] allows every type: the slot for one concrete key (`valueDateTime`)."""
    return _Slot("value[x]", key, 0, "1", _type_of_suffix(key[5:]), None, None, "1", None, "value")


def _suffix(type_code: str) -> str:
    return type_code[0].upper() + type_code[1:]


def _type_of_suffix(suffix: str) -> str:
    """`DateTime` -> `dateTime`, `Coding` -> `Coding` (complex types start upper case)."""
    return suffix if suffix in DATATYPES or suffix in _OTHER_COMPLEX else suffix[0].lower() + suffix[1:]


_OTHER_COMPLEX = {"ContactPoint", "HumanName", "Address", "Quantity", "Annotation", "Period", "Attachment"}


@cache
def _bound_codes(terminology: str, value_set: str, type_code: str) -> frozenset[str]:
    """Every code of a ValueSet that is also well-formed for the element's type: a str in this set passes
    both the datatype and the binding check (case-insensitive systems still take the general route)."""
    systems = VALUE_SETS[terminology].get(value_set)
    pattern = _QUICK.get(type_code)
    if systems is None or pattern is None:
        return frozenset()
    return frozenset(c for codes in systems.values() for c in codes if pattern.fullmatch(c))


def check_resource(ctx: Context, entry: Entry, profile_key: str) -> None:
    """Walk one resource against the element table of its profile."""
    walker = _Walker(ctx, _profile_nodes(profile_key), TERMINOLOGY_FOR_STACK[ctx.stack], entry)
    walker.element(entry.resource, walker.nodes.get(entry.type), entry.path, is_resource=True)


def check_bundle_shell(ctx: Context, profile_key: str) -> None:
    """The Bundle's own elements (entry resources are walked separately with their own profiles)."""
    walker = _Walker(ctx, _profile_nodes(profile_key), TERMINOLOGY_FOR_STACK[ctx.stack], None)
    walker.element(ctx.bundle, walker.nodes.get("Bundle"), "Bundle", is_resource=True)


class _Walker:
    __slots__ = ("case_insensitive", "ctx", "entry", "nodes", "terminology", "value_sets")

    def __init__(self, ctx: Context, nodes: dict[str, _Node], terminology: str, entry: Entry | None) -> None:
        self.ctx = ctx
        self.entry = entry
        self.nodes = nodes
        self.terminology = terminology
        self.value_sets = VALUE_SETS[terminology]
        self.case_insensitive = CASE_INSENSITIVE_SYSTEMS[terminology]

    # -- quoting what was found: never a patient's data (privacy.py) ------------------------------------
    def _private(self, path: str) -> bool:
        entry = self.entry
        return is_patient_field(fhir_path(entry.type, entry.path, path) if entry else path)

    def _q(self, value: str, path: str) -> str:
        return masked(value) if self._private(path) else repr(value)

    def _kind(self, value: Any, path: str) -> str:
        return f"the string {self._q(value[:40], path)}" if isinstance(value, str) else _kind(value)

    def _child(self, slot: _Slot) -> _Node:
        """The node a complex slot's values are walked with. A slot belongs to one profile's node table (or
        to a datatype, without child_def), so the answer never changes and is kept on the slot."""
        node = slot.node
        if node is None:
            node = (self.nodes.get(slot.child_def) if slot.child_def else None) or _datatype_node(
                slot.type_code
            )
            object.__setattr__(slot, "node", node)
        return node

    def element(self, obj: JsonObject, node: _Node | None, path: str, *, is_resource: bool = False) -> None:
        if node is None:
            return
        slots = node.slots
        seen_choice: dict[str, str] | None = None
        for key, value in obj.items():
            slot = slots.get(key)
            if slot is None:
                if key.startswith("_") and key[1:] in slots:
                    continue  # a primitive's id/extensions
                if (is_resource and key == "resourceType") or key == "fhir_comments":
                    continue
                if not (node.is_extension and key.startswith("value") and len(key) > 5 and key[5].isupper()):
                    self._stray(node, key, path)
                    continue
                slot = _extension_value_slot(key)
                seen_choice = self._one_choice(seen_choice, "value", key, path)
            elif slot.choice is not None:
                seen_choice = self._one_choice(seen_choice, slot.choice, key, path)
            # Shortcuts for the common, well-formed cases. Anything else takes the general route (`_value`),
            # which gives these cases the same verdict (no finding) and the rest their findings.
            fast = slot.fast
            if fast == _FAST_QUICK:
                if type(value) is str and slot.quick.fullmatch(value):  # type: ignore[union-attr]
                    continue
            elif fast == _FAST_COMPLEX:
                if type(value) is dict:
                    cpath = f"{path}.{key}"
                    if slot.type_code == "Reference":
                        self._reference(value, cpath)
                    self.element(value, slot.node or self._child(slot), cpath)
                    continue
            elif fast == _FAST_COMPLEX_LIST:
                if (
                    type(value) is list
                    and value
                    and len(value) >= slot.minimum
                    and (slot.max_count is None or len(value) <= slot.max_count)
                ):
                    child = slot.node or self._child(slot)
                    is_reference = slot.type_code == "Reference"
                    for i, item in enumerate(value):
                        ipath = f"{path}.{key}[{i}]"
                        if type(item) is dict:
                            if is_reference:
                                self._reference(item, ipath)
                            self.element(item, child, ipath)
                        elif item is not None:
                            self._item(item, slot, ipath)
                    continue
            elif fast == _FAST_PRIM_LIST:
                if (
                    type(value) is list
                    and value
                    and len(value) >= slot.minimum
                    and (slot.max_count is None or len(value) <= slot.max_count)
                ):
                    match = slot.quick.fullmatch  # type: ignore[union-attr]
                    for item in value:
                        if not (type(item) is str and match(item)):
                            break
                    else:
                        continue
            elif fast == _FAST_XHTML:
                if type(value) is str and value.startswith("<div"):
                    continue
            elif fast == _FAST_RESOURCE:
                if type(value) is dict:
                    continue  # bundle entries are walked with their own profiles
            elif fast == _FAST_FIXED:
                if (
                    type(value) is str
                    and value == slot.fixed[1]  # type: ignore[index]
                    and (
                        slot.value_set is None
                        or value in _bound_codes(self.terminology, slot.value_set, slot.type_code)
                    )
                ):
                    continue
            elif (
                fast == _FAST_BOUND
                and type(value) is str
                and value in _bound_codes(self.terminology, slot.value_set, slot.type_code)
            ):
                continue
            self._value(key, value, slot, f"{path}.{key}")
        for name, minimum, keys in (
            node.required_choices if node.required_keys <= obj.keys() else node.required
        ):
            for k in keys:
                if k in obj:
                    break
            else:
                self._missing(obj, path, name, minimum, keys)

    def _missing(self, obj: JsonObject, path: str, name: str, minimum: int, keys: tuple[str, ...]) -> None:
        if any("_" + k in obj for k in keys):
            return  # a primitive carried only by its extensions is present
        expected = " or ".join(keys)
        self.ctx.error(
            "cardinality",
            f"{path}.{keys[0] if len(keys) == 1 else name}",
            f"{name} is required (min {minimum}) but missing"
            + ("" if len(keys) == 1 else f"; expected {expected}"),
        )

    def _one_choice(self, seen: dict[str, str] | None, base: str, key: str, path: str) -> dict[str, str]:
        if seen is None:
            return {base: key}
        other = seen.get(base)
        if other is not None:
            self.ctx.error(
                "cardinality", f"{path}.{key}", f"only one {base}[x] is allowed; found {other} and {key}"
            )
        seen[base] = key
        return seen

    def _stray(self, node: _Node, key: str, path: str) -> None:
        bare = key[1:] if key.startswith("_") else key
        for base, keys in node.choices.items():
            if bare.startswith(base) and len(bare) > len(base) and bare[len(base)].isupper():
                self.ctx.error(
                    "datatype",
                    f"{path}.{key}",
                    f"{base}[x] may not be of type {bare[len(base) :]} here; use {' or '.join(keys)}",
                )
                return
        self.ctx.error(
            "unknown-element",
            f"{path}.{key}",
            f"'{key}' is not an element of {node.label} (check the spelling and the FHIR R4 definition)",
        )

    def _value(self, key: str, value: Any, slot: _Slot, path: str) -> None:
        if type(value) is list:
            if not slot.repeats:
                self.ctx.error(
                    "json-array", path, f"{key} does not repeat in FHIR: give a value, not an array"
                )
            if not value:
                self.ctx.error("json-array", path, "an empty array is not allowed in FHIR JSON; omit it")
            self._count(key, len(value), slot, path)
            for i, item in enumerate(value):
                if item is not None:  # None: a gap in a primitive array, filled by the `_key` array
                    self._item(item, slot, f"{path}[{i}]")
            return
        if value is None:
            self.ctx.error("datatype", path, "null is not a FHIR value; omit the element instead")
            return
        if slot.repeats:
            self.ctx.error("json-array", path, f"{key} may repeat: give an array, not a single value")
        if slot.minimum > 1 or slot.max_count == 0:
            self._count(key, 1, slot, path)
        self._item(value, slot, path)

    def _count(self, key: str, count: int, slot: _Slot, path: str) -> None:
        if count < slot.minimum:
            self.ctx.error("cardinality", path, f"{key} needs at least {slot.minimum} values; found {count}")
        if slot.max_count is not None and count > slot.max_count:
            if slot.max_count == 0:
                self.ctx.error("cardinality", path, f"{key} is not allowed in this profile (max 0)")
            else:
                self.ctx.error("cardinality", path, f"{key} allows at most {slot.max_count}; found {count}")

    def _item(self, item: Any, slot: _Slot, path: str) -> None:
        type_code = slot.type_code
        if not slot.complex:
            if self._primitive(item, type_code, path):
                if slot.fixed is not None:
                    self._fixed(item, slot.fixed, path)
                if slot.value_set is not None:
                    self._binding_code(item, slot.value_set, path)
            return
        if type_code == "Resource":
            return  # bundle entries are walked with their own profiles
        if type(item) is not dict:
            self.ctx.error(
                "datatype", path, f"expected a JSON object ({type_code}); found {self._kind(item, path)}"
            )
            return
        if slot.fixed is not None:
            self._fixed(item, slot.fixed, path)
        if slot.value_set is not None:
            self._binding_complex(item, type_code, slot.value_set, path)
        if type_code == "Reference":
            self._reference(item, path)
        self.element(item, slot.node or self._child(slot), path)

    def _reference(self, item: JsonObject, path: str) -> None:
        if self.entry is not None:
            reference = item.get("reference")
            if type(reference) is str:
                # Collected here so that resolution is checked without a second walk.
                self.ctx.references.append((self.entry, f"{path}.reference", reference))

    # -- primitives -------------------------------------------------------------------------------------
    def _primitive(self, value: Any, type_code: str, path: str) -> bool:
        if type_code == "boolean":
            return self._expect(isinstance(value, bool), value, "true or false", path)
        if type_code in _INTEGERS:
            ok = isinstance(value, int) and not isinstance(value, bool)
            low = _INTEGERS[type_code]
            if ok and low is not None and value < low:
                self.ctx.error("datatype", path, f"{type_code} must be ≥ {low}; found {value}")
                return False
            return self._expect(ok, value, f"a JSON number ({type_code})", path)
        if type_code == "decimal":
            ok = isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
            return self._expect(ok, value, "a JSON number", path)
        if not isinstance(value, str):
            return self._expect(False, value, f"a JSON string ({type_code})", path)
        if type_code == "base64Binary":
            return self._base64(value, path)
        if value == "" or (type_code != "xhtml" and value.strip() == ""):
            self.ctx.error("datatype", path, "an empty string is not a FHIR value; omit the element instead")
            return False
        if type_code == "id":
            if not FHIR_ID.fullmatch(value):
                self.ctx.error(
                    "fhir-id",
                    path,
                    f"{self._q(value[:80], path)} is not a FHIR id; use 1-64 characters from A-Z a-z 0-9 '-' '.'",
                )
                return False
        elif type_code in ("dateTime", "instant", "date"):
            return self._date(value, type_code, path)
        elif type_code in ("uri", "url", "canonical", "code", "oid", "uuid") and (
            value != value.strip() or (type_code != "code" and _WHITESPACE.search(value) is not None)
        ):
            self.ctx.error(
                "datatype",
                path,
                f"{self._q(value[:80], path)} has stray whitespace, which a {type_code} may not have",
            )
            return False
        elif type_code == "xhtml" and not value.lstrip().startswith("<div"):
            self.ctx.error(
                "narrative", path, 'the narrative must be an XHTML <div xmlns="http://www.w3.org/1999/xhtml">'
            )
            return False
        return True

    def _expect(self, ok: bool, value: Any, expected: str, path: str) -> bool:
        if not ok:
            self.ctx.error("datatype", path, f"expected {expected}; found {self._kind(value, path)}")
        return ok

    def _date(self, value: str, type_code: str, path: str) -> bool:
        pattern = {"dateTime": DATETIME, "instant": INSTANT, "date": DATE}[type_code]
        if pattern.fullmatch(value):
            return True
        if type_code != "date" and _HAS_TIME_NO_TZ.fullmatch(value) and DATETIME.fullmatch(value + "Z"):
            self.ctx.error(
                "datetime-timezone",
                path,
                f"{self._q(value, path)} has a time but no timezone; add 'Z' or an offset such as '+01:00'",
            )
            return False
        example = {
            "dateTime": "2024-09-05T14:00:00+02:00",
            "instant": "2024-09-05T14:00:00+02:00",
            "date": "2024-09-05",
        }
        self.ctx.error(
            "datatype",
            path,
            f"{self._q(value[:40], path)} is not a valid FHIR {type_code}; e.g. {example[type_code]!r}",
        )
        return False

    def _base64(self, value: str, path: str) -> bool:
        if value == "":
            return True  # an empty payload is judged by the attachment rule (`attachment-empty`)
        raw = value.encode("ascii", "replace")
        if len(raw) % 4 == 0:
            # Proof without decoding (a strict decode of 70 kB costs ~0.6 ms): only alphabet characters,
            # then at most two '=' at the end. That is exactly what strict base64 accepts at this length.
            body = raw.rstrip(b"=")
            if len(raw) - len(body) <= 2 and not body.translate(None, _BASE64_ALPHABET):
                return True
        try:
            binascii.a2b_base64(raw, strict_mode=True)
            return True
        except binascii.Error:
            pass
        try:
            binascii.a2b_base64(re.sub(rb"\s+", b"", raw), strict_mode=True)
            return True
        except binascii.Error as exc:
            self.ctx.error("datatype", path, f"not valid base64 ({exc})")
            return False

    # -- fixed values and bindings ----------------------------------------------------------------------
    def _fixed(self, value: Any, fixed: tuple[str, Any], path: str) -> None:
        kind, expected = fixed
        ok = value == expected if kind == "fixed" else _matches_pattern(value, expected)
        if not ok:
            self.ctx.error(
                "fixed-value",
                path,
                f"found {THE_VALUE if self._private(path) else _short(value)}; the profile requires {'exactly ' if kind == 'fixed' else ''}{_short(expected)}",
            )

    def _codes(self, value_set: str) -> dict[str, tuple[str, ...]] | None:
        return self.value_sets.get(value_set)

    def _binding_code(self, code: Any, value_set: str, path: str) -> None:
        systems = self._codes(value_set)
        if systems is None or not isinstance(code, str):
            return
        if any(self._in(code, system, codes) for system, codes in systems.items()):
            return
        self._binding_error(code, None, value_set, systems, path)

    def _binding_complex(self, item: JsonObject, type_code: str, value_set: str, path: str) -> None:
        systems = self._codes(value_set)
        if systems is None:
            return
        if type_code == "Coding":
            candidates = [(path, item)]
        elif type_code == "CodeableConcept":
            raw = item.get("coding")
            candidates = [
                (f"{path}.coding[{i}]", c)
                for i, c in enumerate(raw if isinstance(raw, list) else [])
                if isinstance(c, dict)
            ]
            if not candidates:
                return  # text only: a CodeableConcept may carry free text where no code fits
        else:
            return
        for _, coding in candidates:
            if self._coding_in(coding, systems):
                return
        where, coding = candidates[0]
        self._binding_error(coding.get("code"), coding.get("system"), value_set, systems, f"{where}.code")

    def _coding_in(self, coding: JsonObject, systems: dict[str, tuple[str, ...]]) -> bool:
        system, code = coding.get("system"), coding.get("code")
        return (
            isinstance(code, str)
            and isinstance(system, str)
            and system in systems
            and self._in(code, system, systems[system])
        )

    def _in(self, code: str, system: str, codes: tuple[str, ...]) -> bool:
        if code in codes:
            return True
        return system in self.case_insensitive and code.lower() in {c.lower() for c in codes}

    def _binding_error(
        self, code: Any, system: Any, value_set: str, systems: dict[str, tuple[str, ...]], path: str
    ) -> None:
        rule = binding_rule(value_set)
        noun = _VS_NOUN.get(rule[len("binding-") :], "code")
        allowed = [c for codes in systems.values() for c in codes]
        listed = ", ".join(f"'{c}'" for c in allowed[:20]) + (", …" if len(allowed) > 20 else "")
        shown = self._q(code, path) if isinstance(code, str) else repr(code)
        if isinstance(system, str) and code is not None and system not in systems:
            found = f"{shown} from code system {self._q(system, path)}"
            hint = f"; the code system must be {' or '.join(repr(s) for s in systems)}"
        else:
            found = shown if code is not None else "a coding without code"
            hint = ""
        self.ctx.error(
            rule,
            path,
            f"{found} is not an allowed {noun} (required ValueSet {value_set.rsplit('/', 1)[-1]}){hint}; use one of {listed}",
        )


def _matches_pattern(value: Any, pattern: Any) -> bool:
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(_matches_pattern(value.get(k), v) for k, v in pattern.items())
    if isinstance(pattern, list):
        if not isinstance(value, list):
            value = [value]
        return all(any(_matches_pattern(v, p) for v in value) for p in pattern)
    return bool(value == pattern)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."
