"""Shared test helpers for the converter: deterministic contexts, a register for MedCom's test parties,
MedCom's official XSDs, and the reference files."""

from __future__ import annotations

import itertools
import uuid
from functools import cache
from pathlib import Path

from lxml import etree

from medcom_bridge.convert.context import Context
from medcom_bridge.directory import Party, StaticDirectory
from tests.conftest import DATA

FLOWS = DATA / "conversion" / "flows"
XSD = DATA / "oioxml" / "xsd" / "os2korrespondance"
FHIR_EXAMPLES = sorted((DATA / "fhir" / "examples").glob("send-v*/*"))
XDIS91_SAMPLES = sorted((DATA / "oioxml" / "samples").glob("XDIS91_*.xml"))
XBIN01_SAMPLES = sorted((DATA / "oioxml" / "samples").glob("XBIN01_*.xml"))

MEDCOM_TESTCENTER = Party("5790001382445", "359001000016000", "MedCom testcenter", "65432030")
ODENSE = Party("5790000121441", "328051000016008", "Social og Sundhed Odense Kommune", None)


def context(directory: StaticDirectory | None = None, seed: int = 0) -> Context:
    """Reproducible ids: UUID v4 from a counter, 14-character letter ids from a counter."""
    counter = itertools.count(seed * 1_000_000)
    letters = itertools.count(seed * 1_000_000)

    def new_uuid() -> str:
        return str(uuid.UUID(int=next(counter) + 1, version=4))

    return Context(
        new_uuid=new_uuid,
        new_letter_id=lambda: f"T{next(letters):013d}",
        directory=directory if directory is not None else StaticDirectory(),
    )


def flow_context() -> Context:
    return context(StaticDirectory({p.ean: p for p in (MEDCOM_TESTCENTER, ODENSE)}))


@cache
def _schema(folder: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD / folder / "EMessage.xsd")))


def xsd_errors(data: bytes) -> list[str]:
    """Validate OIOXML bytes against MedCom's official XSD of its namespace (os2korrespondance edition)."""
    root = etree.fromstring(data)
    ns = etree.QName(root).namespace or ""
    folder = "/".join(ns.rstrip("/").split("/")[-3:])
    schema = _schema(folder)
    if schema.validate(root):
        return []
    return [f"{e.line}: {e.message}" for e in schema.error_log]


def read(path: Path) -> bytes:
    return path.read_bytes()


def sor_xml(parties: list[Party]) -> bytes:
    """A minimal official-format SOR XML export naming the given parties (for CLI tests)."""
    owners = "".join(
        f"""<InstitutionOwnerEntity><InstitutionOwner><SorIdentifier>{p.sor}</SorIdentifier>
<EntityName>{p.name}</EntityName><OwnerType>550891000005100</OwnerType>
<EanLocationCodeEntity><EanLocationCode>{p.ean}</EanLocationCode><OnlyInternalIndicator>false</OnlyInternalIndicator>
<NonActiveIndicator>false</NonActiveIndicator><SorStatus><FromDate>2020-01-01</FromDate></SorStatus></EanLocationCodeEntity>
{f"<VirtualAddressInformation><TelephoneNumberIdentifier>{p.phone}</TelephoneNumberIdentifier></VirtualAddressInformation>" if p.phone else ""}
<SorStatus><FromDate>2020-01-01</FromDate></SorStatus></InstitutionOwner></InstitutionOwnerEntity>"""
        for p in parties
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><SorTree xmlns="urn:oio:sundhedsstyrelsen:organisation:1.0.0">'
        f"<CreatedAtTime>2026-01-01T00:00:00+01:00</CreatedAtTime><SnapshotDate>2026-01-01</SnapshotDate>{owners}</SorTree>"
    ).encode()
