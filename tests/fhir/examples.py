"""The official FHIR examples, read in place from ../shared/data (package examples straight from the tgz)."""

from __future__ import annotations

import tarfile
from decimal import Decimal
from functools import cache
from typing import Any

from tests.conftest import DATA

FHIR = DATA / "fhir"


@cache
def official_examples() -> tuple[tuple[str, bytes], ...]:
    """(name, bytes) of every official FHIR example: certification sends (v5, v4), the worked flows'
    CareCommunication and Acknowledgement files, and every example in the MedCom packages."""
    found: list[tuple[str, bytes]] = []
    for folder in ("send-v5", "send-v4"):
        for path in sorted((FHIR / "examples" / folder).iterdir()):
            found.append((f"{folder}/{path.name}", path.read_bytes()))
    for path in sorted((DATA / "conversion" / "flows").glob("*.xml")):
        if path.name.startswith(("CareCommunication", "Acknowledgement")):
            found.append((f"flows/{path.name}", path.read_bytes()))
    for tgz in sorted((FHIR / "packages").glob("*.tgz")):
        with tarfile.open(tgz) as tar:
            for member in tar.getmembers():
                if (
                    member.isfile()
                    and member.name.startswith("package/example/")
                    and member.name.endswith(".json")
                ):
                    f = tar.extractfile(member)
                    assert f is not None
                    found.append((f"{tgz.name}:{member.name.rpartition('/')[2]}", f.read()))
    return tuple(found)


def json_examples() -> list[tuple[str, bytes]]:
    return [(n, d) for n, d in official_examples() if n.endswith(".json")]


def xml_examples() -> list[tuple[str, bytes]]:
    return [(n, d) for n, d in official_examples() if n.endswith(".xml")]


def same(a: Any, b: Any, path: str = "$") -> str | None:
    """Where two models differ, type-strictly (True is not 1, Decimal('1.0') is not the string '1.0'),
    or None when they are the same. Decimals compare by value and exponent (no digit lost)."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} {a!r:.60} vs {type(b).__name__} {b!r:.60}"
    if isinstance(a, dict):
        if list(a) != list(b) and set(a) != set(b):
            return f"{path}: keys {sorted(set(a) ^ set(b))}"
        for k in a:
            diff = same(a[k], b[k], f"{path}.{k}")
            if diff:
                return diff
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            diff = same(x, y, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if isinstance(a, Decimal):
        return None if a.as_tuple() == b.as_tuple() else f"{path}: {a} vs {b}"
    return None if a == b else f"{path}: {a!r:.80} vs {b!r:.80}"
