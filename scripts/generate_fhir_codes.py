"""Generate the FHIR validator's fact tables from MedCom's published packages.

Writes two checked-in modules (never edit them by hand; re-run this script and review the diff):

* `medcom_bridge/fhir/_codes.py`    - code lists (ValueSet expansions) per terminology version:
  CareCommunication 4.0.3 uses terminology 1.7.0, 5.0.2 uses 2.0.1, Acknowledgement 2.0.3 uses 1.4.0;
  and the display of every code of MedCom's CodeSystems (the Danish designation where there is one).
* `medcom_bridge/fhir/_profiles.py` - per profile the snapshot's non-sliced elements: cardinality, types,
  fixed/pattern value and required binding; plus the element tables of the complex datatypes (from the R4B
  models of `fhir.resources`, checked against the MedCom snapshots).

Usage: `python scripts/generate_fhir_codes.py [--check]` (`--check` exits 1 if the checked-in files differ).
The tests call `render()` to compare with the checked-in files.
"""

from __future__ import annotations

import argparse
import io
import json
import pprint
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PACKAGES = REPO.parent / "shared" / "data" / "fhir" / "packages"
CODES_OUT = REPO / "medcom_bridge" / "fhir" / "_codes.py"
PROFILES_OUT = REPO / "medcom_bridge" / "fhir" / "_profiles.py"

# Which package versions make up each validated message version ("stack").
STACKS: dict[str, dict[str, str]] = {
    "5.0": {
        "carecommunication": "5.0.2",
        "messaging": "4.0.2",
        "core": "3.0.1",
        "terminology": "2.0.1",
    },
    "4.0": {
        "carecommunication": "4.0.3",
        "messaging": "2.2.2",
        "core": "2.4.0",
        "terminology": "1.7.0",
    },
    "ack-2.0": {
        "acknowledgement": "2.0.3",
        "messaging": "2.1.0",
        "core": "2.0.1",
        "terminology": "1.4.0",
    },
}

# Profile (by canonical tail) -> the package it comes from, per stack.
STACK_PROFILES: dict[str, list[tuple[str, str]]] = {
    "5.0": [
        ("carecommunication", "medcom-careCommunication-message"),
        ("carecommunication", "medcom-careCommunication-messageHeader"),
        ("carecommunication", "medcom-careCommunication-communication"),
        ("carecommunication", "medcom-careCommunication-provenance"),
        ("messaging", "medcom-messaging-organization"),
        ("core", "medcom-core-organization"),
        ("core", "medcom-core-patient"),
        ("core", "medcom-core-practitioner"),
        ("core", "medcom-core-practitionerrole"),
        ("core", "medcom-core-careteam"),
        ("core", "medcom-core-encounter"),
    ],
    "4.0": [
        ("carecommunication", "medcom-careCommunication-message"),
        ("carecommunication", "medcom-careCommunication-messageHeader"),
        ("carecommunication", "medcom-careCommunication-communication"),
        ("carecommunication", "medcom-careCommunication-provenance"),
        ("messaging", "medcom-messaging-organization"),
        ("core", "medcom-core-organization"),
        ("core", "medcom-core-patient"),
        ("core", "medcom-core-practitioner"),
        ("core", "medcom-core-practitionerrole"),
        ("core", "medcom-core-careteam"),
        ("core", "medcom-core-encounter"),
    ],
    "ack-2.0": [
        ("acknowledgement", "medcom-messaging-acknowledgement"),
        ("acknowledgement", "medcom-messaging-acknowledgementHeader"),
        ("acknowledgement", "medcom-acknowledgement-operationoutcome"),
        ("messaging", "medcom-messaging-provenance"),
        ("messaging", "medcom-messaging-organization"),
        ("core", "medcom-core-organization"),
        ("core", "medcom-core-patient"),
        ("core", "medcom-core-practitioner"),
        ("core", "medcom-core-practitionerrole"),
    ],
}

# Facts from HL7 FHIR R4 4.0.1 and terminology.hl7.org; those packages are not in ../shared, and these
# required-binding lists are short and stable, so they are written down here.
HL7_VALUE_SETS: dict[str, dict[str, list[str]]] = {
    "http://hl7.org/fhir/ValueSet/narrative-status": {
        "http://hl7.org/fhir/narrative-status": ["generated", "extensions", "additional", "empty"]
    },
    "http://hl7.org/fhir/ValueSet/bundle-type": {
        "http://hl7.org/fhir/bundle-type": [
            "document",
            "message",
            "transaction",
            "transaction-response",
            "batch",
            "batch-response",
            "history",
            "searchset",
            "collection",
        ]
    },
    "http://hl7.org/fhir/ValueSet/identifier-use": {
        "http://hl7.org/fhir/identifier-use": ["usual", "official", "temp", "secondary", "old"]
    },
    "http://hl7.org/fhir/ValueSet/name-use": {
        "http://hl7.org/fhir/name-use": [
            "usual",
            "official",
            "temp",
            "nickname",
            "anonymous",
            "old",
            "maiden",
        ]
    },
    "http://hl7.org/fhir/ValueSet/contact-point-system": {
        "http://hl7.org/fhir/contact-point-system": ["phone", "fax", "email", "pager", "url", "sms", "other"]
    },
    "http://hl7.org/fhir/ValueSet/contact-point-use": {
        "http://hl7.org/fhir/contact-point-use": ["home", "work", "temp", "old", "mobile"]
    },
    "http://hl7.org/fhir/ValueSet/address-use": {
        "http://hl7.org/fhir/address-use": ["home", "work", "temp", "old", "billing"]
    },
    "http://hl7.org/fhir/ValueSet/address-type": {
        "http://hl7.org/fhir/address-type": ["postal", "physical", "both"]
    },
    "http://hl7.org/fhir/ValueSet/administrative-gender": {
        "http://hl7.org/fhir/administrative-gender": ["male", "female", "other", "unknown"]
    },
    "http://hl7.org/fhir/ValueSet/event-status": {
        "http://hl7.org/fhir/event-status": [
            "preparation",
            "in-progress",
            "not-done",
            "on-hold",
            "stopped",
            "completed",
            "entered-in-error",
            "unknown",
        ]
    },
    "http://hl7.org/fhir/ValueSet/encounter-status": {
        "http://hl7.org/fhir/encounter-status": [
            "planned",
            "arrived",
            "triaged",
            "in-progress",
            "onleave",
            "finished",
            "cancelled",
            "entered-in-error",
            "unknown",
        ]
    },
    "http://hl7.org/fhir/ValueSet/encounter-location-status": {
        "http://hl7.org/fhir/encounter-location-status": ["planned", "active", "reserved", "completed"]
    },
    "http://hl7.org/fhir/ValueSet/care-team-status": {
        "http://hl7.org/fhir/care-team-status": [
            "proposed",
            "active",
            "suspended",
            "inactive",
            "entered-in-error",
        ]
    },
    "http://hl7.org/fhir/ValueSet/response-code": {
        "http://hl7.org/fhir/response-code": ["ok", "transient-error", "fatal-error"]
    },
    "http://hl7.org/fhir/ValueSet/issue-severity": {
        "http://hl7.org/fhir/issue-severity": ["fatal", "error", "warning", "information"]
    },
    "http://hl7.org/fhir/ValueSet/issue-type": {
        "http://hl7.org/fhir/issue-type": [
            "invalid",
            "structure",
            "required",
            "value",
            "invariant",
            "security",
            "login",
            "unknown",
            "expired",
            "forbidden",
            "suppressed",
            "processing",
            "not-supported",
            "duplicate",
            "multiple-matches",
            "not-found",
            "deleted",
            "too-long",
            "code-invalid",
            "extension",
            "too-costly",
            "business-rule",
            "conflict",
            "transient",
            "lock-error",
            "no-store",
            "exception",
            "timeout",
            "incomplete",
            "throttled",
            "informational",
        ]
    },
    "http://hl7.org/fhir/ValueSet/provenance-entity-role": {
        "http://hl7.org/fhir/provenance-entity-role": [
            "derivation",
            "revision",
            "quotation",
            "source",
            "removal",
        ]
    },
    "http://hl7.org/fhir/ValueSet/link-type": {
        "http://hl7.org/fhir/link-type": ["replaced-by", "replaces", "refer", "seealso"]
    },
    "http://hl7.org/fhir/ValueSet/days-of-week": {
        "http://hl7.org/fhir/days-of-week": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    },
    "http://hl7.org/fhir/ValueSet/http-verb": {
        "http://hl7.org/fhir/http-verb": ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]
    },
    "http://hl7.org/fhir/ValueSet/search-entry-mode": {
        "http://hl7.org/fhir/search-entry-mode": ["match", "include", "outcome"]
    },
    "http://hl7.org/fhir/ValueSet/quantity-comparator": {
        "http://hl7.org/fhir/quantity-comparator": ["<", "<=", ">=", ">"]
    },
    "http://hl7.org/fhir/ValueSet/message-significance-category": {
        "http://hl7.org/fhir/message-significance-category": ["consequence", "currency", "notification"]
    },
    "http://hl7.org/fhir/ValueSet/messageheader-response-request": {
        "http://hl7.org/fhir/messageheader-response-request": ["always", "on-error", "never", "on-success"]
    },
}

# terminology.hl7.org v3-ActCode: the descendants of _ActEncounterCode (used by medcom-core-encounter-class,
# whose compose is a filter we cannot expand from the MedCom packages alone).
V3_ACT_ENCOUNTER_CODES = ["AMB", "EMER", "FLD", "HH", "IMP", "ACUTE", "NONAC", "OBSENC", "PRENC", "SS", "VR"]
V3_ACTCODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

# Displays of HL7 codes that MedCom's value sets draw on. terminology.hl7.org is not in ../shared, and its
# v3-NullFlavor has no Danish designation: its display for NAVU is 'not available', and what we show Danish
# readers is that display translated ('Ikke tilgængelig'), written down here so it has one home.
HL7_DISPLAYS: dict[str, dict[str, str]] = {
    "http://terminology.hl7.org/CodeSystem/v3-NullFlavor": {"NAVU": "Ikke tilgængelig"},
}

# Required bindings we deliberately do not check: large external code systems (all resource types,
# municipality codes) that carry no meaning for CareCommunication.
UNCHECKED_VALUE_SETS = {
    "http://hl7.org/fhir/ValueSet/resource-types",
    "http://hl7.dk/fhir/core/ValueSet/dk-core-MunicipalityCodes",
    "http://hl7.org/fhir/ValueSet/languages",
}

# The complex datatypes whose inner elements we check (from fhir.resources R4B, which matches R4 for these).
DATATYPES = [
    "Identifier",
    "HumanName",
    "Address",
    "ContactPoint",
    "CodeableConcept",
    "Coding",
    "Reference",
    "Attachment",
    "Meta",
    "Narrative",
    "Period",
    "Quantity",
    "Annotation",
    "Extension",
]
# Minimum cardinalities inside datatypes that R4 sets above 0 (the models do not carry them).
DATATYPE_MINIMUMS = {("Extension", "url"): 1, ("Narrative", "status"): 1, ("Narrative", "div"): 1}
# Required bindings inside R4 datatypes (the profiles' snapshots repeat them only where they expand a datatype).
DATATYPE_BINDINGS = {
    ("HumanName", "use"): "http://hl7.org/fhir/ValueSet/name-use",
    ("Identifier", "use"): "http://hl7.org/fhir/ValueSet/identifier-use",
    ("ContactPoint", "system"): "http://hl7.org/fhir/ValueSet/contact-point-system",
    ("ContactPoint", "use"): "http://hl7.org/fhir/ValueSet/contact-point-use",
    ("Address", "use"): "http://hl7.org/fhir/ValueSet/address-use",
    ("Address", "type"): "http://hl7.org/fhir/ValueSet/address-type",
    ("Narrative", "status"): "http://hl7.org/fhir/ValueSet/narrative-status",
    ("Quantity", "comparator"): "http://hl7.org/fhir/ValueSet/quantity-comparator",
}


def load_package(name: str, version: str) -> dict[str, Any]:
    """All JSON resources of a package, keyed by file name (package/ and package/example/)."""
    files: dict[str, Any] = {}
    path = PACKAGES / f"medcom.fhir.dk.{name}-{version}.tgz"
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".json") and member.name.count("/") == 1:
                handle = tar.extractfile(member)
                assert handle is not None
                files[member.name.split("/", 1)[1]] = json.load(handle)
    return files


def expand_value_sets(terminology: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    code_systems = {
        r["url"]: r
        for r in terminology.values()
        if isinstance(r, dict) and r.get("resourceType") == "CodeSystem"
    }
    result: dict[str, dict[str, list[str]]] = {}
    for res in terminology.values():
        if not isinstance(res, dict) or res.get("resourceType") != "ValueSet":
            continue
        codes: dict[str, list[str]] = {}
        compose = res.get("compose", {})
        for inc in compose.get("include", []):
            system = inc["system"]
            if "concept" in inc:
                found = [c["code"] for c in inc["concept"]]
            elif inc.get("filter"):
                flt = inc["filter"][0]
                assert system == V3_ACTCODE and flt["value"] == "_ActEncounterCode", flt
                found = list(V3_ACT_ENCOUNTER_CODES)
            elif system in code_systems:
                found = [c["code"] for c in _flatten(code_systems[system].get("concept", []))]
            else:
                break  # a whole external code system (observation interpretation, ...): not ours to check
            codes.setdefault(system, []).extend(found)
        else:
            codes = _apply_excludes(codes, compose)
            result[res["url"]] = {s: sorted(set(c)) for s, c in sorted(codes.items())}
    return dict(sorted(result.items()))


def _apply_excludes(codes: dict[str, list[str]], compose: dict[str, Any]) -> dict[str, list[str]]:
    for exc in compose.get("exclude", []):
        drop = {c["code"] for c in exc.get("concept", [])}
        codes[exc["system"]] = [c for c in codes.get(exc["system"], []) if c not in drop]
    return codes


def _flatten(concepts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in concepts:
        out.append(c)
        out.extend(_flatten(c.get("concept", [])))
    return out


def code_displays(terminology: dict[str, Any]) -> dict[str, dict[str, str]]:
    """CodeSystem url -> {code: display} in the CodeSystem's order: a Danish designation where the concept has
    one (the category codes), otherwise its display (the role codes are Danish already)."""
    result: dict[str, dict[str, str]] = {}
    for res in terminology.values():
        if not isinstance(res, dict) or res.get("resourceType") != "CodeSystem":
            continue
        shown: dict[str, str] = {}
        for concept in _flatten(res.get("concept", [])):
            danish = [
                d["value"]
                for d in concept.get("designation", [])
                if str(d.get("language", "")).split("-")[0] == "da" and d.get("value")
            ]
            display = danish[0] if danish else concept.get("display")
            if display:
                shown[concept["code"]] = display
        if shown:
            result[res["url"]] = shown
    result.update(HL7_DISPLAYS)
    return dict(sorted(result.items()))


def case_insensitive_systems(terminology: dict[str, Any]) -> list[str]:
    return sorted(
        r["url"]
        for r in terminology.values()
        if isinstance(r, dict) and r.get("resourceType") == "CodeSystem" and r.get("caseSensitive") is False
    )


def profile_table(sd: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """path -> (min, max, types, (fixed-kind, value) | None, required value set | None, base max) for the
    non-sliced elements."""
    table: dict[str, tuple[Any, ...]] = {}
    for el in sd["snapshot"]["element"]:
        if ":" in el["id"]:
            continue  # slices are checked by hand-written rules that know their discriminators
        # FHIRPath System.String marks `id`: a resource's own id is FHIR type id, an element's id a string.
        is_resource_id = el["path"].count(".") == 1 and el["path"].endswith(".id")
        types = tuple(
            ("id" if is_resource_id else "string")
            if t["code"].startswith("http://hl7.org/fhirpath/")
            else t["code"]
            for t in el.get("type", [])
        )
        fixed = None
        for key, value in el.items():
            if key.startswith(("fixed", "pattern")):
                fixed = ("fixed" if key.startswith("fixed") else "pattern", value)
        binding = el.get("binding", {})
        vs = None
        if binding.get("strength") == "required":
            vs = binding["valueSet"].split("|")[0]
            if vs in UNCHECKED_VALUE_SETS:
                vs = None
        # The JSON shape (array or not) follows the base definition, not the profile's narrowed max.
        base_max = el.get("base", {}).get("max", el.get("max", "*"))
        table[el["path"]] = (el.get("min", 0), el.get("max", "*"), types, fixed, vs, base_max)
    return table


def datatype_tables() -> dict[str, dict[str, tuple[Any, ...]]]:
    import importlib
    import typing

    tables: dict[str, dict[str, tuple[int, str, tuple[str, ...]]]] = {}
    for name in DATATYPES:
        module = importlib.import_module(f"fhir.resources.R4B.{name.lower()}")
        model = getattr(module, name)
        table: dict[str, tuple[Any, ...]] = {}
        for field_name, field in model.model_fields.items():
            extra = field.json_schema_extra or {}
            if not isinstance(extra, dict) or not extra.get("element_property"):
                continue
            alias = field.alias or field_name
            text = str(field.annotation)
            repeats = "List[" in text or "list[" in text
            if name == "Extension" and alias.startswith("value"):
                continue  # value[x]: any type; checked by the walker as a choice
            table[alias] = (
                DATATYPE_MINIMUMS.get((name, alias), 0),
                "*" if repeats else "1",
                (_type_name(text, typing),),
                DATATYPE_BINDINGS.get((name, alias)),
            )
        tables[name] = dict(sorted(table.items()))
    return tables


def _type_name(annotation: str, typing: Any) -> str:
    if annotation == "bool | None":
        return "boolean"
    if "types.Xhtml" in annotation:
        return "xhtml"
    for primitive, fhir in (
        ("Boolean", "boolean"),
        ("PositiveInt", "positiveInt"),
        ("UnsignedInt", "unsignedInt"),
        ("Integer64", "integer64"),
        ("Integer", "integer"),
        ("Decimal", "decimal"),
        ("DateTime", "dateTime"),
        ("Instant", "instant"),
        ("Date", "date"),
        ("Canonical", "canonical"),
        ("Url", "url"),
        ("Uri", "uri"),
        ("Code", "code"),
        ("Base64Binary", "base64Binary"),
        ("Markdown", "markdown"),
        ("Id", "id"),
        ("Xhtml", "xhtml"),
        ("String", "string"),
    ):
        if f" {primitive}(" in annotation:
            return fhir
    for complex_type in (
        "CodeableConcept",
        "Coding",
        "Reference",
        "Period",
        "Identifier",
        "Extension",
        "Quantity",
        "Attachment",
        "Annotation",
        "Element",
    ):
        if f"abc.{complex_type}Type" in annotation:
            return complex_type
    return "Element"


def render() -> tuple[str, str]:
    """The text of `_codes.py` and `_profiles.py` as the packages define them today."""
    value_sets: dict[str, Any] = {}
    case_insensitive: dict[str, Any] = {}
    displays: dict[str, Any] = {}
    for terminology_version in sorted({s["terminology"] for s in STACKS.values()}):
        terminology = load_package("terminology", terminology_version)
        expanded = expand_value_sets(terminology)
        expanded.update({url: {s: sorted(c) for s, c in v.items()} for url, v in HL7_VALUE_SETS.items()})
        value_sets[terminology_version] = dict(sorted(expanded.items()))
        case_insensitive[terminology_version] = case_insensitive_systems(terminology)
        displays[terminology_version] = code_displays(terminology)
    codes = (
        '"""Code lists of MedCom terminology, per terminology version. GENERATED by\n'
        "scripts/generate_fhir_codes.py from ../shared/data/fhir/packages - do not edit by hand.\n\n"
        "VALUE_SETS[terminology version][ValueSet url] = {code system url: sorted codes}.\n"
        "DISPLAYS[terminology version][code system url] = {code: display}, in the CodeSystem's order; the Danish\n"
        "designation where the concept has one. Read them through medcom_bridge.fhir.terminology.\n"
        "HL7 value sets (narrative-status, response-code, issue-type, ...) are R4 4.0.1 facts written down in\n"
        'the generator; the v3-ActCode encounter codes and the v3-NullFlavor display likewise.\n"""\n\n'
        "from __future__ import annotations\n\n"
        f"TERMINOLOGY_FOR_STACK: dict[str, str] = {_fmt({k: v['terminology'] for k, v in STACKS.items()})}\n\n"
        f"VALUE_SETS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {_fmt(_tuples(value_sets))}\n\n"
        f"CASE_INSENSITIVE_SYSTEMS: dict[str, tuple[str, ...]] = {_fmt(_tuples(case_insensitive))}\n\n"
        f"DISPLAYS: dict[str, dict[str, dict[str, str]]] = {_fmt(displays)}\n"
    )

    profiles: dict[str, Any] = {}
    urls: dict[str, Any] = {}
    for stack, members in STACK_PROFILES.items():
        packages = {kind: load_package(kind, version) for kind, version in STACKS[stack].items()}
        urls[stack] = {}
        for kind, tail in members:
            sd = packages[kind][f"StructureDefinition-{tail}.json"]
            key = f"{sd['url']}|{sd['version']}"
            profiles[key] = profile_table(sd)
            urls[stack][tail] = key
    body = (
        '"""Element tables of the MedCom profiles (from their snapshots) and of the R4 datatypes. GENERATED by\n'
        "scripts/generate_fhir_codes.py - do not edit by hand.\n\n"
        "PROFILES['url|version'][element path] = (min, max, types, (fixed|pattern, value) | None,\n"
        "required ValueSet url | None, base max); sliced elements are left to the hand-written rules.\n"
        "STACK_PROFILES[stack][profile name] = 'url|version'.\n"
        'DATATYPES[type][element] = (min, max, types, required ValueSet url | None).\n"""\n\n'
        "from __future__ import annotations\n\n"
        "from typing import Any\n\n"
        f"STACK_PROFILES: dict[str, dict[str, str]] = {_fmt(urls)}\n\n"
        f"PROFILES: dict[str, dict[str, tuple[Any, ...]]] = {_fmt(profiles)}\n\n"
        f"DATATYPES: dict[str, dict[str, tuple[Any, ...]]] = {_fmt(datatype_tables())}\n"
    )
    return _ruff_format(codes, CODES_OUT), _ruff_format(body, PROFILES_OUT)


def _ruff_format(text: str, path: Path) -> str:
    """Format as the repository's ruff would, so the checked-in file is both generated and `ruff format` clean."""
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(
        [str(ruff), "format", "--stdin-filename", str(path), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return done.stdout


def _tuples(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(value)
    return value


def _fmt(value: Any) -> str:
    stream = io.StringIO()
    pprint.pprint(value, stream=stream, width=110, sort_dicts=False)
    return stream.getvalue().rstrip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the checked-in modules are stale")
    args = parser.parse_args()
    codes, profiles = render()
    if args.check:
        stale = [
            str(p)
            for p, text in ((CODES_OUT, codes), (PROFILES_OUT, profiles))
            if p.read_text("utf-8") != text
        ]
        if stale:
            print("stale: " + ", ".join(stale) + "; run scripts/generate_fhir_codes.py", file=sys.stderr)
            return 1
        return 0
    CODES_OUT.write_text(codes, "utf-8")
    PROFILES_OUT.write_text(profiles, "utf-8")
    print(f"wrote {CODES_OUT.relative_to(REPO)} and {PROFILES_OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
