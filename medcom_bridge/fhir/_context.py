"""The state of one validation run: the bundle's index, the chosen rule stack and the findings so far.

Pure: built from the bundle dict, filled by the rule modules, turned into a `Report` by `validation.py`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from medcom_bridge.findings import Finding, Severity

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Entry:
    """One bundle entry whose resource is a JSON object."""

    index: int
    full_url: str | None
    resource: JsonObject
    type: str  # resourceType, "" if missing

    @property
    def path(self) -> str:
        return f"Bundle.entry[{self.index}].resource"

    @property
    def id(self) -> str | None:
        value = self.resource.get("id")
        return value if isinstance(value, str) else None


@dataclass(slots=True)
class Context:
    bundle: JsonObject
    stack: str  # "5.0", "4.0" or "ack-2.0": which packages' rules apply
    downgrade: Collection[str] = ()
    findings: list[Finding] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    by_full_url: dict[str, Entry] = field(default_factory=dict)
    by_type_id: dict[tuple[str, str], Entry] = field(default_factory=dict)
    # (entry, path of Reference.reference, value), filled by the structure walk.
    references: list[tuple[Entry, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        raw = self.bundle.get("entry")
        if not isinstance(raw, list):
            return
        for index, item in enumerate(raw):
            if not isinstance(item, dict) or not isinstance(item.get("resource"), dict):
                continue
            full_url = item.get("fullUrl") if isinstance(item.get("fullUrl"), str) else None
            rtype = item["resource"].get("resourceType")
            entry = Entry(index, full_url, item["resource"], rtype if isinstance(rtype, str) else "")
            self.entries.append(entry)
            if full_url:
                self.by_full_url.setdefault(full_url, entry)
            if entry.id:
                self.by_type_id.setdefault((entry.type, entry.id), entry)

    # -- findings ---------------------------------------------------------------------------------------
    def add(self, severity: Severity, rule: str, path: str, message: str) -> None:
        if severity == "error" and rule in self.downgrade:
            severity = "information"
            message += " (tolerated here: deliberate rule break of the conversion)"
        self.findings.append(Finding(severity, rule, path, message))

    def error(self, rule: str, path: str, message: str) -> None:
        self.add("error", rule, path, message)

    def warning(self, rule: str, path: str, message: str) -> None:
        self.add("warning", rule, path, message)

    def information(self, rule: str, path: str, message: str) -> None:
        self.add("information", rule, path, message)

    # -- lookups ----------------------------------------------------------------------------------------
    @property
    def v5(self) -> bool:
        return self.stack == "5.0"

    def of_type(self, resource_type: str) -> Iterator[Entry]:
        return (e for e in self.entries if e.type == resource_type)

    def first(self, resource_type: str) -> Entry | None:
        return next(self.of_type(resource_type), None)

    def resolve(self, reference: object, from_entry: Entry | None = None) -> Entry | None:
        """The entry a Reference (dict) or reference string points to, resolved inside the bundle.

        FHIR resolution: an absolute URL or urn must equal a fullUrl; a relative `Type/id` is resolved against
        the base of the referring entry's fullUrl, and, because many senders mix bases, by type and id.
        """
        if isinstance(reference, dict):
            reference = reference.get("reference")
        if not isinstance(reference, str) or not reference:
            return None
        found = self.by_full_url.get(reference)
        if found:
            return found
        parts = reference.split("/")
        if len(parts) < 2:
            return None
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        rtype, rid = parts[-2], parts[-1]
        if from_entry and from_entry.full_url and "://" not in reference:
            base = from_entry.full_url.rsplit("/", 2)[0]
            found = self.by_full_url.get(f"{base}/{rtype}/{rid}")
            if found:
                return found
        return self.by_type_id.get((rtype, rid))


def as_list(value: object) -> list[Any]:
    """A repeating element as a list (a single value is tolerated here; the structure check reports it)."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def as_dict(value: object) -> JsonObject:
    return value if isinstance(value, dict) else {}


def text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def extensions(element: object, url: str) -> list[tuple[int, JsonObject]]:
    """(index, extension) for every extension of `element` with the given url."""
    return [
        (i, ext)
        for i, ext in enumerate(as_list(as_dict(element).get("extension")))
        if isinstance(ext, dict) and ext.get("url") == url
    ]


def profiles(resource: JsonObject) -> list[str]:
    return [p for p in as_list(as_dict(resource.get("meta")).get("profile")) if isinstance(p, str)]


def has_profile(resource: JsonObject, canonical: str) -> bool:
    """meta.profile starts with the canonical (a `|version` suffix is allowed), as MedCom's 5.0.2 invariants test."""
    return any(p.startswith(canonical) for p in profiles(resource))


def codings(concept: object) -> list[tuple[int, JsonObject]]:
    return [(i, c) for i, c in enumerate(as_list(as_dict(concept).get("coding"))) if isinstance(c, dict)]
