"""A small read-only view of a FHIR message Bundle (JSON object model) for the converter.

It resolves the references the converter follows (MessageHeader -> Communication -> Patient, authors,
organisations) by `Type/id` or by `fullUrl`, and tolerates what the MedCom examples do in the wild (absolute
fullUrls, references written as full URLs, resources without `meta`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Json = dict[str, Any]


def as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def as_dict(value: object) -> Json:
    return value if isinstance(value, dict) else {}


class BundleView:
    def __init__(self, bundle: Json) -> None:
        self.bundle = bundle
        self._by_key: dict[str, Json] = {}
        self.resources: list[Json] = []
        for e in as_list(bundle.get("entry")):
            res = as_dict(as_dict(e).get("resource"))
            if not res:
                continue
            self.resources.append(res)
            rtype, rid = res.get("resourceType"), res.get("id")
            if isinstance(rtype, str) and isinstance(rid, str):
                self._by_key[f"{rtype}/{rid}"] = res
            full = as_dict(e).get("fullUrl")
            if isinstance(full, str):
                self._by_key[full] = res

    def of_type(self, rtype: str) -> Iterator[Json]:
        return (r for r in self.resources if r.get("resourceType") == rtype)

    def first(self, rtype: str) -> Json | None:
        return next(self.of_type(rtype), None)

    def resolve(self, reference: object) -> Json | None:
        """The bundled resource a Reference (or reference string) points at, or None."""
        ref = as_dict(reference).get("reference") if isinstance(reference, dict) else reference
        if not isinstance(ref, str):
            return None
        if ref in self._by_key:
            return self._by_key[ref]
        parts = ref.rstrip("/").split("/")
        if len(parts) >= 2:
            return self._by_key.get(f"{parts[-2]}/{parts[-1]}")
        return None


def extension_value(element: Json, url: str, key: str) -> Any:
    for ext in as_list(element.get("extension")):
        ext = as_dict(ext)
        if ext.get("url") == url:
            return ext.get(key)
    return None


def identifiers(resource: Json | None) -> list[tuple[str, str]]:
    """(system, value) of every identifier with both."""
    out: list[tuple[str, str]] = []
    for ident in as_list(as_dict(resource).get("identifier")):
        ident = as_dict(ident)
        system, value = ident.get("system"), ident.get("value")
        if isinstance(system, str) and isinstance(value, str):
            out.append((system, value))
    return out


def identifier(resource: Json | None, *systems: str) -> str | None:
    for system, value in identifiers(resource):
        if system in systems:
            return value
    return None


def human_name(resource: Json | None) -> str | None:
    """Given names then family name of the official (else first) name, or its `text`."""
    names = [as_dict(n) for n in as_list(as_dict(resource).get("name"))]
    if not names:
        return None
    name = next((n for n in names if n.get("use") == "official"), names[0])
    parts = [g for g in as_list(name.get("given")) if isinstance(g, str)]
    family = name.get("family")
    if isinstance(family, str):
        parts.append(family)
    if parts:
        return " ".join(parts)
    text = name.get("text")
    return text if isinstance(text, str) else None


def code_of(concepts: object) -> tuple[str | None, str | None, str | None]:
    """(code, display, text) of the first coding of the first CodeableConcept."""
    concept = as_dict(as_list(concepts)[0]) if as_list(concepts) else {}
    coding = as_dict(as_list(concept.get("coding"))[0]) if as_list(concept.get("coding")) else {}
    code, display, text = coding.get("code"), coding.get("display"), concept.get("text")
    return (
        code if isinstance(code, str) else None,
        display if isinstance(display, str) else None,
        text if isinstance(text, str) else None,
    )
