"""Narratives for converted resources: MedCom requires `text` (status + XHTML div) in every resource.

The converter has no layout of its own to offer, so the narrative is a plain table of the resource's values
(element path -> value), generated from the resource itself: it is complete for the SHALL:in-narrative
elements of the MessageHeader and never disagrees with the data. Attachment bytes are left out.
"""

from __future__ import annotations

import html
from typing import Any

from medcom_bridge.fhir.canonical import XHTML_NS

_SKIP = frozenset({"meta", "text", "data", "resourceType", "url"})
_MAX_ROWS = 60
_MAX_VALUE = 300


def _rows(value: Any, path: str, out: list[tuple[str, str]]) -> None:
    if len(out) >= _MAX_ROWS:
        return
    # Exact type tests first (the model holds plain dict/list/str/bool/int); anything else, e.g. a subclass,
    # takes the isinstance route below with the same outcome. A dict's str values are added here, without
    # a call per value (the common leaf).
    t = type(value)
    if t is dict:
        prefix = f"{path}." if path else ""
        for key, item in value.items():
            if key in _SKIP:
                continue
            if type(item) is str:
                if len(out) >= _MAX_ROWS:
                    return
                out.append((prefix + key, item if len(item) <= _MAX_VALUE else item[:_MAX_VALUE] + " ..."))
            else:
                _rows(item, prefix + key, out)
    elif t is str:
        out.append((path, value if len(value) <= _MAX_VALUE else value[:_MAX_VALUE] + " ..."))
    elif t is list:
        for item in value:
            _rows(item, path, out)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _SKIP:
                _rows(item, f"{path}.{key}" if path else key, out)
    elif isinstance(value, list):
        for item in value:
            _rows(item, path, out)
    elif isinstance(value, bool):
        out.append((path, "true" if value else "false"))
    elif isinstance(value, str | int | float):
        text = str(value)
        out.append((path, text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE] + " ..."))


def _escape(value: str) -> str:
    if "<" in value or ">" in value or "&" in value or '"' in value or "'" in value:
        value = html.escape(value)
    return value.replace("\n", "<br/>") if "\n" in value else value


def narrative(resource: dict[str, Any]) -> dict[str, str]:
    rows: list[tuple[str, str]] = []
    _rows(resource, "", rows)
    body = "".join(f"<tr><th>{k}</th><td>{_escape(v)}</td></tr>" for k, v in rows)
    title = html.escape(f"{resource.get('resourceType')} {resource.get('id')}")
    return {
        "status": "generated",
        "div": f'<div xmlns="{XHTML_NS}"><p><b>{title}</b></p><table>{body}</table></div>',
    }


def add_narratives(bundle: dict[str, Any]) -> None:
    """Give every entry's resource that has none a generated narrative (in place: the bundle is ours)."""
    for entry in bundle.get("entry", []):
        resource = entry.get("resource")
        if isinstance(resource, dict) and "text" not in resource:
            with_text = {"resourceType": resource.get("resourceType"), "id": resource.get("id")}
            with_text["meta"] = resource.get("meta")
            with_text["text"] = narrative(resource)
            for key, value in resource.items():
                with_text.setdefault(key, value)
            resource.clear()
            resource.update({k: v for k, v in with_text.items() if v is not None})
