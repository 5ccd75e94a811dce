"""The official XSDs, loaded with lxml at test time (never at run time) to cross-check our validator."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

from tests.conftest import DATA

XSD_ROOT = DATA / "oioxml" / "xsd"
EDITION_DIRS = {"NEW": XSD_ROOT / "os2korrespondance", "OLD": XSD_ROOT / "medcom-edifact-converter-2015"}
NS_FOLDER = {
    "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/": "2005/08/07",
    "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2006/07/01/": "2006/07/01",
    "http://rep.oio.dk/medcom.dk/xml/schemas/2012/03/28/": "2012/03/28",
    "http://rep.oio.dk/medcom.dk/xml/schemas/2020/05/06/": "2020/05/06",
}


@cache
def schema(edition: str, folder: str) -> etree.XMLSchema | None:
    path: Path = EDITION_DIRS[edition] / folder / "EMessage.xsd"
    if not path.exists():
        return None
    return etree.XMLSchema(etree.parse(str(path)))


def schemas_for(namespace: str) -> dict[str, etree.XMLSchema]:
    folder = NS_FOLDER.get(namespace)
    if folder is None:
        return {}
    out = {}
    for edition in EDITION_DIRS:
        s = schema(edition, folder)
        if s is not None:
            out[edition] = s
    return out


def xsd_verdicts(doc: etree._Element | bytes) -> dict[str, bool]:
    """{edition: valid} for every official edition of the document's namespace."""
    root = (
        etree.fromstring(doc, etree.XMLParser(resolve_entities=False, no_network=True))
        if isinstance(doc, bytes)
        else doc
    )
    ns = etree.QName(root).namespace or ""
    return {ed: s.validate(root) for ed, s in schemas_for(ns).items()}


def xsd_errors(doc: bytes) -> dict[str, list[str]]:
    root = etree.fromstring(doc, etree.XMLParser(resolve_entities=False, no_network=True))
    ns = etree.QName(root).namespace or ""
    out = {}
    for ed, s in schemas_for(ns).items():
        s.validate(root)
        out[ed] = [e.message for e in s.error_log]
    return out
