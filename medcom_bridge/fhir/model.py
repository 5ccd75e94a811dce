"""A thin view on a parsed Bundle for everyone who reads messages: entries, lookup by type, and FHIR
reference resolution inside the Bundle. It never copies resources; indexes are built once, on creation.

Reference resolution follows FHIR R4 (bundle.html#references), made lenient where MedCom's examples need it:
* an absolute reference (`https://.../Organization/1`, `urn:uuid:...`, `urn:oid:...`) matches an entry's
  fullUrl exactly;
* a relative reference `Type/id` (optionally `/_history/v`) is resolved against the base of the referring
  entry's fullUrl when that is a RESTful URL; otherwise, or when that finds nothing, against any entry
  whose fullUrl ends in `/Type/id`, and finally against the entries' own `resourceType` and `id`;
* `#id` finds a contained resource of the referring entry.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

Entry = tuple[int, str | None, dict[str, Any]]

# Type/id with optional history: the RESTful tail of a URL (FHIR's regex, types as a generic name).
_RESTFUL_TAIL = re.compile(
    r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})(?:/_history/[A-Za-z0-9\-\.]{1,64})?$"
)


class Bundle:
    """A Bundle dict seen as entries. `entries` lists (index, fullUrl, resource) for every entry that has a
    resource (a dict with a resourceType); indexes are the positions in `Bundle.entry`."""

    __slots__ = ("_by_full_url", "_by_tail", "_by_type", "_by_type_id", "entries", "raw")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.entries: list[Entry] = []
        self._by_full_url: dict[str, int] = {}
        self._by_tail: dict[tuple[str, str], list[int]] = {}
        self._by_type_id: dict[tuple[str, str], list[int]] = {}
        self._by_type: dict[str, list[int]] = {}
        entry_list = raw.get("entry")
        if not isinstance(entry_list, list):
            return
        for index, entry in enumerate(entry_list):
            if not isinstance(entry, dict):
                continue
            resource = entry.get("resource")
            if not isinstance(resource, dict):
                continue
            rtype = resource.get("resourceType")
            if not isinstance(rtype, str):
                continue
            full_url = entry.get("fullUrl")
            if not isinstance(full_url, str):
                full_url = None
            position = len(self.entries)
            self.entries.append((index, full_url, resource))
            self._by_type.setdefault(rtype, []).append(position)
            rid = resource.get("id")
            if isinstance(rid, str):
                self._by_type_id.setdefault((rtype, rid), []).append(position)
            if full_url is not None:
                self._by_full_url.setdefault(full_url, position)
                tail = _RESTFUL_TAIL.search(full_url)
                if tail:
                    self._by_tail.setdefault((tail.group(1), tail.group(2)), []).append(position)

    def resources(self, rtype: str) -> list[tuple[int, dict[str, Any]]]:
        """Every resource of one type, as (entry index, resource), in bundle order."""
        return [(self.entries[p][0], self.entries[p][2]) for p in self._by_type.get(rtype, ())]

    def first(self, rtype: str) -> dict[str, Any] | None:
        positions = self._by_type.get(rtype)
        return self.entries[positions[0]][2] if positions else None

    @property
    def message_header(self) -> dict[str, Any] | None:
        """The first MessageHeader of the bundle, wherever it is (whether it is the first entry, as
        bdl-12 requires, is the validator's question)."""
        return self.first("MessageHeader")

    def full_url_of(self, entry_index: int) -> str | None:
        for index, full_url, _ in self.entries:
            if index == entry_index:
                return full_url
        return None

    def resolve(
        self, reference: str, *, from_full_url: str | None = None
    ) -> tuple[int, dict[str, Any]] | None:
        """The (entry index, resource) a reference points to inside this bundle, or None."""
        if not isinstance(reference, str) or not reference:
            return None
        if reference.startswith("#"):
            return self._contained(reference[1:], from_full_url)
        if reference.startswith(("urn:uuid:", "urn:oid:")) or "://" in reference:
            position = self._by_full_url.get(reference)
            if position is None:
                position = self._by_full_url.get(_strip_history(reference))
            return self._hit(position)
        tail = _RESTFUL_TAIL.fullmatch(reference) or _RESTFUL_TAIL.fullmatch("/" + reference)
        if tail is None:
            return None
        rtype, rid = tail.group(1), tail.group(2)
        if from_full_url and "://" in from_full_url:
            base = _RESTFUL_TAIL.sub("", from_full_url)
            if base != from_full_url:
                position = self._by_full_url.get(f"{base}/{rtype}/{rid}")
                if position is not None:
                    return self._hit(position)
        candidates = self._by_tail.get((rtype, rid)) or self._by_type_id.get((rtype, rid))
        return self._hit(candidates[0]) if candidates else None

    def resolve_reference(
        self, value: Any, *, from_full_url: str | None = None
    ) -> tuple[int, dict[str, Any]] | None:
        """Like resolve, for a FHIR Reference object (`{"reference": ...}`); None when it has none."""
        if isinstance(value, dict):
            ref = value.get("reference")
            if isinstance(ref, str):
                return self.resolve(ref, from_full_url=from_full_url)
        return None

    def _hit(self, position: int | None) -> tuple[int, dict[str, Any]] | None:
        if position is None:
            return None
        index, _, resource = self.entries[position]
        return index, resource

    def _contained(self, local_id: str, from_full_url: str | None) -> tuple[int, dict[str, Any]] | None:
        position = self._by_full_url.get(from_full_url) if from_full_url else None
        if position is None:
            return None
        index, _, resource = self.entries[position]
        for item in resource.get("contained") or ():
            if isinstance(item, dict) and item.get("id") == local_id:
                return index, item
        return None


def _strip_history(reference: str) -> str:
    head, sep, _ = reference.partition("/_history/")
    return head if sep else reference


# ---------------------------------------------------------------------------------------------------------
# Paths

_STEP = re.compile(r"([^.\[\]]+)(?:\[(\d+)\])?")


@lru_cache(maxsize=1024)
def _steps(path: str) -> tuple[tuple[str, int | None], ...]:
    steps: list[tuple[str, int | None]] = []
    for part in path.split("."):
        m = _STEP.fullmatch(part)
        if m is None:
            raise ValueError(f"not a path: {path!r} (use names and [n] indexes, e.g. 'a.b[0].c')")
        steps.append((m.group(1), int(m.group(2)) if m.group(2) is not None else None))
    return tuple(steps)


def get_path(obj: Any, path: str) -> Any:
    """The value at a dotted path such as `destination[0].receiver.reference`, or None when any step is
    missing. A list met without an index gives its first item, so `destination.receiver` reads the first
    destination; use `get_all` for every match."""
    current = obj
    for name, index in _steps(path):
        if not isinstance(current, dict):
            return None
        current = current.get(name)
        if isinstance(current, list):
            i = 0 if index is None else index
            if i >= len(current):
                return None
            current = current[i]
        elif index not in (None, 0):
            return None
    return current


def get_all(obj: Any, path: str) -> list[Any]:
    """Every value at a dotted path, flattening lists on the way (FHIRPath-like): `payload.extension.url`
    gives the url of every extension of every payload. Indexes select one item."""
    current: list[Any] = [obj]
    for name, index in _steps(path):
        found: list[Any] = []
        for item in current:
            if not isinstance(item, dict):
                continue
            value = item.get(name)
            if value is None:
                continue
            if isinstance(value, list):
                if index is None:
                    found.extend(v for v in value if v is not None)
                elif index < len(value) and value[index] is not None:
                    found.append(value[index])
            elif index in (None, 0):
                found.append(value)
        current = found
        if not current:
            break
    return current
