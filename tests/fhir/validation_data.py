"""Official example messages for the validator tests, read in place from ../shared/data (packages unpacked
in memory, never copied)."""

from __future__ import annotations

import copy
import json
import tarfile
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from tests.conftest import DATA

PACKAGES = DATA / "fhir" / "packages"
SEND_V5 = DATA / "fhir" / "examples" / "send-v5"
SEND_V4 = DATA / "fhir" / "examples" / "send-v4"
FLOWS = DATA / "conversion" / "flows"


@cache
def package_examples(package: str) -> dict[str, bytes]:
    """Bundle examples of a package (`medcom.fhir.dk.carecommunication-5.0.2`): file name -> bytes."""
    found: dict[str, bytes] = {}
    with tarfile.open(PACKAGES / f"{package}.tgz") as tar:
        for member in tar.getmembers():
            name = member.name.rsplit("/", 1)[-1]
            if member.name.startswith("package/example/Bundle-") and member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None
                found[name] = handle.read()
    return found


def official_files() -> list[tuple[str, bytes]]:
    """(label, bytes) of every official CareCommunication/Acknowledgement example."""
    items: list[tuple[str, bytes]] = []
    for folder in (SEND_V5, SEND_V4):
        items.extend((f"{folder.name}/{p.name}", p.read_bytes()) for p in sorted(folder.iterdir()))
    for package in (
        "medcom.fhir.dk.carecommunication-5.0.2",
        "medcom.fhir.dk.carecommunication-4.0.3",
        "medcom.fhir.dk.acknowledgement-2.0.3",
    ):
        items.extend((f"{package}/{name}", data) for name, data in sorted(package_examples(package).items()))
    for path in sorted(FLOWS.glob("*_medcom_flow*.xml")):
        if path.name.startswith(("CareCommunication", "Acknowledgement")):
            items.append((f"flows/{path.name}", path.read_bytes()))
    return items


@cache
def _load(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(path.read_bytes(), parse_float=Decimal)
    return result


def example(name: str) -> dict[str, Any]:
    """A fresh deep copy of a JSON example: send-v5/<prefix>, send-v4/<prefix> or ack/<file>."""
    folder, prefix = name.split("/", 1)
    if folder == "ack":
        data = package_examples("medcom.fhir.dk.acknowledgement-2.0.3")[prefix]
        return dict(json.loads(data, parse_float=Decimal))
    base = {"send-v5": SEND_V5, "send-v4": SEND_V4}[folder]
    (path,) = [p for p in base.iterdir() if p.name.startswith(prefix) and p.suffix == ".json"]
    return copy.deepcopy(_load(path))


def resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def one(bundle: dict[str, Any], rtype: str, index: int = 0) -> dict[str, Any]:
    return resources(bundle, rtype)[index]


def entry_of(bundle: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    (found,) = [e for e in bundle["entry"] if e["resource"] is resource]
    return found


def ref(resource: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"{resource['resourceType']}/{resource['id']}"}
