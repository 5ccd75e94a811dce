"""Generate `medcom_bridge/fhir/_types.py`: the FHIR R4 type table the FHIR codec reads and writes by.

Source: the R4B models of `fhir.resources` (installed in the dev environment), corrected by the snapshots
of MedCom's FHIR packages, which are built on R4 4.0.1 itself. For every resource MedCom profiles, the
snapshot's `base` paths say which elements exist in R4, in which order, and whether they repeat; where R4B
differs (R4B added or moved an element) the snapshot wins, so the table describes R4 for everything a
MedCom message can carry. The differences found are written into the generated module's header.

Usage:
    .venv/bin/python scripts/generate_fhir_types.py            # rewrite medcom_bridge/fhir/_types.py
    .venv/bin/python scripts/generate_fhir_types.py --check    # exit 1 when the checked-in file is stale
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import tarfile
import typing
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "medcom_bridge" / "fhir" / "_types.py"
PACKAGES = REPO.parent / "shared" / "data" / "fhir" / "packages"

# Resources that occur in MedCom messages (CareCommunication, Acknowledgement, HospitalNotification),
# in the EHMI registers (EER: Organization/Endpoint; EDS: AuditEvent/Device) and in the package examples.
RESOURCES = (
    "Bundle",
    "MessageHeader",
    "Communication",
    "Patient",
    "Organization",
    "Practitioner",
    "PractitionerRole",
    "CareTeam",
    "Encounter",
    "EpisodeOfCare",
    "Provenance",
    "OperationOutcome",
    "Endpoint",
    "Binary",
    "Basic",
    "Media",
    "AuditEvent",
    "Device",
    "Location",
    "HealthcareService",
    "RelatedPerson",
    "MessageDefinition",
    "ConceptMap",
    "CodeSystem",
    "ValueSet",
    "StructureDefinition",
)

# The snapshots checked against (every MedCom profile of a resource type in these packages).
SNAPSHOT_PACKAGES = (
    "medcom.fhir.dk.carecommunication-5.0.2.tgz",
    "medcom.fhir.dk.carecommunication-4.0.3.tgz",
    "medcom.fhir.dk.acknowledgement-2.0.3.tgz",
    "medcom.fhir.dk.messaging-4.0.2.tgz",
    "medcom.fhir.dk.core-3.0.1.tgz",
)

# fhir_core annotation markers -> FHIR primitive type names.
_MARKERS = {
    "Id": "id",
    "String": "string",
    "Uri": "uri",
    "Url": "url",
    "Canonical": "canonical",
    "Code": "code",
    "Oid": "oid",
    "UuidVersion": "uuid",
    "Uuid": "uuid",
    "Markdown": "markdown",
    "Base64Binary": "base64Binary",
    "Instant": "instant",
    "Date": "date",
    "DateTime": "dateTime",
    "Time": "time",
    "Decimal": "decimal",
    "Integer": "integer",
    "Integer64": "integer64",
    "PositiveInt": "positiveInt",
    "UnsignedInt": "unsignedInt",
    "Xhtml": "xhtml",
}
PRIMITIVES = frozenset(_MARKERS.values()) | {"boolean"}

Element = tuple[str, str, bool, str]  # (name as in JSON, type, repeats, choice base or "")


def _r4b() -> Any:
    return importlib.import_module("fhir.resources.R4B")


def _classes() -> dict[str, type]:
    """Every model class of fhir.resources R4B by its class name (names are unique across modules)."""
    pkg = _r4b()
    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("fhir") or info.name in {"__init__"}:
            continue
        mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
        for name, obj in vars(mod).items():
            if isinstance(obj, type) and obj.__module__ == mod.__name__ and hasattr(obj, "elements_sequence"):
                found[name] = obj
    return found


def _type_of(annotation: Any) -> tuple[str, bool]:
    """(FHIR type name, repeats) of a pydantic field annotation."""
    repeats = False
    ann = annotation
    while True:
        origin = typing.get_origin(ann)
        args = typing.get_args(ann)
        if origin in (typing.Union, __import__("types").UnionType):
            ann = next(a for a in args if a is not type(None))
        elif origin in (list, typing.List):  # noqa: UP006 - the models use typing.List
            repeats = True
            ann = args[0]
        elif origin is typing.Annotated:
            for meta in args[1:]:
                marker = _MARKERS.get(type(meta).__name__)
                if marker:
                    return marker, repeats
            ann = args[0]
        else:
            break
    if ann is bool:
        return "boolean", repeats
    klass = getattr(ann, "_model_klass", None)
    if klass is not None:
        name = klass if isinstance(klass, str) else klass.__name__
        return name.rpartition(".")[2], repeats
    name = getattr(ann, "__name__", str(ann))
    if name.endswith("Type"):
        return name[: -len("Type")], repeats
    raise SystemExit(f"cannot map annotation {annotation!r}")


def _elements(cls: type) -> tuple[Element, ...]:
    fields = cls.model_fields  # type: ignore[attr-defined]
    by_alias = {f.alias or n: f for n, f in fields.items()}
    out: list[Element] = []
    for name in cls.elements_sequence():  # type: ignore[attr-defined]
        field = by_alias[name]
        typ, repeats = _type_of(field.annotation)
        extra = field.json_schema_extra or {}
        choice = extra.get("one_of_many", "") if isinstance(extra, dict) else ""
        out.append((name, typ, repeats, str(choice)))
    return tuple(out)


def _is_resource(cls: type, classes: dict[str, type]) -> bool:
    return issubclass(cls, classes["Resource"]) and getattr(cls, "__resource_type__", "") == cls.__name__


def build_from_models() -> tuple[dict[str, tuple[Element, ...]], set[str]]:
    classes = _classes()
    resources = {n for n, c in classes.items() if _is_resource(c, classes)}
    # All complex datatypes: classes that are neither resources nor parts (backbone elements) of one.
    datatypes = {
        n
        for n, c in classes.items()
        if n not in resources
        and not issubclass(c, classes["BackboneElement"])
        and n not in {"Element", "BackboneElement", "Resource", "DomainResource", "FHIRPrimitiveExtension"}
    }
    # Datatype parts (Timing.repeat, ElementDefinition.slicing, ...) are BackboneElement-like Elements.
    roots = [*RESOURCES, *sorted(datatypes), "Element", "Resource", "DomainResource"]
    table: dict[str, tuple[Element, ...]] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in table or name in PRIMITIVES:
            continue
        if name not in classes:
            raise SystemExit(f"type {name} not found in fhir.resources R4B")
        table[name] = _elements(classes[name])
        for _, typ, _, _ in table[name]:
            # Resource-typed elements (contained, entry.resource) hold any resource: no closure over them.
            if typ not in PRIMITIVES and typ not in table and typ not in resources:
                todo.append(typ)
    return table, {r for r in RESOURCES} | {"Resource", "DomainResource"}


# ---------------------------------------------------------------------------------------------------------
# The R4 check: MedCom snapshots


def _snapshots() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for pkg in SNAPSHOT_PACKAGES:
        with tarfile.open(PACKAGES / pkg) as tar:
            for member in tar.getmembers():
                if not member.name.startswith("package/StructureDefinition-") or not member.isfile():
                    continue
                f = tar.extractfile(member)
                if f is None:
                    continue
                sd = json.load(f)
                if sd.get("kind") == "resource" and sd.get("snapshot"):
                    out.append(sd)
    return out


def _r4_structure(sd: dict[str, Any]) -> dict[str, list[tuple[str, bool, list[str]]]]:
    """From one snapshot: for each base path of a resource or backbone part, its children in order with
    (name, repeats, types) as R4 defines them (the `base` of each element, not the profile's narrowing)."""
    kids: dict[str, list[tuple[str, bool, list[str]]]] = {}
    seen: set[str] = set()
    for el in sd["snapshot"]["element"]:
        path = el["path"]
        base = el.get("base", {})
        parent, _, name = path.rpartition(".")
        if not parent:
            continue
        if path in seen:
            continue
        seen.add(path)
        types = [t["code"] for t in el.get("type", [])]
        if "contentReference" in el:
            types = ["#" + el["contentReference"].partition("#")[2]]
        kids.setdefault(parent, []).append((name, base.get("max", "1") != "1", types))
    return kids


_PART_TYPES = {"BackboneElement", "Element"}  # the snapshot names parts by their base, the models by name


def check_against_snapshots(
    table: dict[str, tuple[Element, ...]],
) -> tuple[dict[str, tuple[Element, ...]], list[str]]:
    """Correct the R4B table with the R4 snapshots; return the corrected table and the differences."""
    notes: list[str] = []
    fixed = dict(table)
    checked: set[str] = set()
    for sd in _snapshots():
        kids = _r4_structure(sd)
        # map snapshot paths to our type names by walking from the resource
        path_type: dict[str, str] = {sd["type"]: sd["type"]}
        for parent in kids:  # parents appear in document order, so a parent is typed before its children
            tname = path_type.get(parent)
            if tname is None or tname not in fixed:
                continue
            ours = {e[3] or e[0]: e for e in fixed[tname]}
            ours_by_name = {e[0]: e for e in fixed[tname]}
            for name, repeats, types in kids[parent]:
                key = name.removesuffix("[x]")
                if name.endswith("[x]"):
                    variants = [e for e in fixed[tname] if e[3] == key]
                    if not variants:
                        notes.append(f"{sd['type']}: {parent}.{name} missing in R4B model {tname}")
                        continue
                    for v in variants:
                        if v[2] != repeats:
                            notes.append(f"{tname}.{v[0]}: repeats {v[2]} in R4B, {repeats} in R4")
                    continue
                found = ours_by_name.get(name) or ours.get(name)
                if found is None:
                    notes.append(f"{tname}.{name}: in R4 ({sd['url']}) but not in the R4B model")
                    continue
                e = found
                r4_type = types[0] if len(types) == 1 else ""
                if r4_type and r4_type[0].isalpha() and "/" not in r4_type and r4_type not in _PART_TYPES:
                    if r4_type != e[1] and (r4_type in PRIMITIVES or r4_type in fixed):
                        notes.append(f"{tname}.{name}: type {e[1]} in R4B, {r4_type} in R4 -> R4")
                        fixed[tname] = tuple(
                            (x[0], r4_type, x[2], x[3]) if x[0] == name else x for x in fixed[tname]
                        )
                        e = (e[0], r4_type, e[2], e[3])
                    elif r4_type != e[1]:
                        notes.append(f"{tname}.{name}: type {e[1]} in R4B, {r4_type} in R4 (not corrected)")
                if e[2] != repeats:
                    notes.append(f"{tname}.{name}: repeats {e[2]} in R4B, {repeats} in R4 -> R4")
                    fixed[tname] = tuple(
                        (x[0], x[1], repeats, x[3]) if x[0] == name else x for x in fixed[tname]
                    )
                if e[1] not in PRIMITIVES:
                    path_type[f"{parent}.{name}"] = e[1]
            checked.update(f"{tname}.{n}" for n, _, _ in kids[parent])
            r4_order = [n.removesuffix("[x]") for n, _, _ in kids[parent]]
            our_order = list(dict.fromkeys(e[3] or e[0] for e in fixed[tname] if (e[3] or e[0]) in r4_order))
            if our_order != [n for n in r4_order if n in our_order]:
                notes.append(f"{tname}: element order differs from R4 ({r4_order})")
            r4_names = set(r4_order)
            for e in fixed[tname]:
                if (e[3] or e[0]) not in r4_names:
                    notes.append(f"{tname}.{e[0]}: in R4B but not in R4 ({sd['url']})")
    types = sorted({c.partition(".")[0] for c in checked})
    summary = [
        f"checked {len(checked)} elements of {len(types)} types: {', '.join(types)}",
        f"{len(set(notes))} differences" + (":" if notes else " (R4B and R4 agree on all of them)"),
    ]
    return fixed, summary + sorted(set(notes))


# ---------------------------------------------------------------------------------------------------------


def _q(s: str) -> str:
    return json.dumps(s)


def render(table: dict[str, tuple[Element, ...]], resources: set[str], notes: list[str]) -> str:
    """The module text, written so that `ruff format` leaves it unchanged (the test compares it byte by byte)."""
    lines = [
        '"""FHIR R4 type table for the codec: generated by scripts/generate_fhir_types.py. Do not edit.',
        "",
        "TYPES maps a resource, datatype or part (backbone element, named like fhir.resources:",
        "MessageHeaderDestination) to its elements in FHIR order: (JSON name, type, repeats, choice base).",
        "A choice element appears once per allowed type (valueString, valueCoding, ...) with its base name",
        "(value) as the fourth field. Element.id and Extension.url are XML attributes; everything else is",
        "an element.",
        "",
        "Source: fhir.resources R4B models, checked against the R4 (4.0.1) snapshots of the MedCom packages",
        f"({', '.join(SNAPSHOT_PACKAGES)}).",
        "Check results and corrections:",
    ]
    lines += [f"  {n}" for n in notes]
    lines += [
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "Element = tuple[str, str, bool, str]",
        "",
        "# fmt: off",
        "PRIMITIVES: frozenset[str] = frozenset({",
    ]
    lines += [f"    {_q(p)}," for p in sorted(PRIMITIVES)]
    lines += ["})", "", "RESOURCES: frozenset[str] = frozenset({"]
    lines += [f"    {_q(r)}," for r in sorted(resources - {"Resource", "DomainResource"})]
    lines += ["})", "", "TYPES: dict[str, tuple[Element, ...]] = {"]
    for name in sorted(table):
        lines.append(f"    {_q(name)}: (")
        for n, t, r, c in table[name]:
            lines.append(f"        ({_q(n)}, {_q(t)}, {r}, {_q(c)}),")
        lines.append("    ),")
    lines += ["}", "# fmt: on"]
    return "\n".join(lines) + "\n"


# R4's open type list (datatypes.html#open, 4.0.1). R4B added CodeableReference and RatioRange and dropped
# Meta; the MedCom extension snapshots constrain value[x], so they cannot show this: it is fixed by hand.
R4_OPEN_TYPES = [
    *("base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id", "instant"),
    *("integer", "markdown", "oid", "positiveInt", "string", "time", "unsignedInt", "uri", "url", "uuid"),
    *("Address", "Age", "Annotation", "Attachment", "CodeableConcept", "Coding", "ContactPoint", "Count"),
    *("Distance", "Duration", "HumanName", "Identifier", "Money", "Period", "Quantity", "Range", "Ratio"),
    *("Reference", "SampledData", "Signature", "Timing", "ContactDetail", "Contributor", "DataRequirement"),
    *("Expression", "ParameterDefinition", "RelatedArtifact", "TriggerDefinition", "UsageContext", "Dosage"),
    "Meta",
]


def fix_open_types(table: dict[str, tuple[Element, ...]]) -> list[str]:
    notes: list[str] = []
    elements = list(table["Extension"])
    first = next(i for i, e in enumerate(elements) if e[3] == "value")
    r4b = [e[1] for e in elements if e[3] == "value"]
    elements = [e for e in elements if e[3] != "value"]
    for i, t in enumerate(R4_OPEN_TYPES):
        elements.insert(first + i, ("value" + t[0].upper() + t[1:], t, False, "value"))
    table["Extension"] = tuple(elements)
    for t in sorted(set(r4b) - set(R4_OPEN_TYPES)):
        notes.append(f"Extension.value{t[0].upper()}{t[1:]}: R4B only, removed (not an R4 open type)")
    for t in sorted(set(R4_OPEN_TYPES) - set(r4b)):
        notes.append(f"Extension.value{t[0].upper()}{t[1:]}: R4 open type missing in R4B, added")
    for t in R4_OPEN_TYPES:
        if t not in PRIMITIVES and t not in table:
            raise SystemExit(f"open type {t} has no table entry")
    return notes


def generate() -> str:
    table, resources = build_from_models()
    table, notes = check_against_snapshots(table)
    notes += fix_open_types(table)
    return render(table, resources, notes)


def main(argv: list[str]) -> int:
    text = generate()
    if "--check" in argv:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is stale: run scripts/generate_fhir_types.py", file=sys.stderr)
            return 1
        return 0
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
