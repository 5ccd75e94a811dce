"""Programmatic mutations of the OIOXML samples: the corpus on which our validator and the XSDs must agree."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from tests.conftest import DATA

SAMPLES = DATA / "oioxml" / "samples"
OUR_KINDS = ("XDIS91", "XBIN01", "XCTL")

VALUE_MUTATIONS = (
    "",
    "x",
    "y" * 400,
    " padded ",
    "superhurtig",
    "høj_prioritet",
    "rutine",
    "2023-13-01",
    "2023-02-30",
    "2024-02-29",
    "2023-11-22+01:00",
    "2023-11-22Z",
    " 2023-11-22 ",
    "0000-01-01",
    "24:00",
    "12:00:00",
    "9:05",
    " 12:05",
    "0",
    "-1",
    "+12",
    " 12 ",
    "abc",
    "false",
    "1",
    " true ",
    "true",
    "XD9134L",
    "1234567890",
    "123456789",
    "12345678901",
    "c39ea6b2-6052-45e4-a207-415e0205ab6f",
    "c39ea6b2605245e4a207415e0205ab6f",
    "nytbrev",
    "rettetbrev",
    "annulleretbrev",
    "patologi ",
    "akut",
    "amt",
    "sorkode",
    "plo",
    "pdf",
    "minuspositivkvitt",
    "syntaksfejl",
)


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.glob("*.xml") if p.name.startswith(OUR_KINDS))


def _elements(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str) and e is not root]


def mutations(data: bytes, values: tuple[str, ...] = VALUE_MUTATIONS) -> Iterator[tuple[str, bytes]]:
    """(description, mutated document) pairs; every mutation is applied to a fresh copy."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    original = etree.fromstring(data, parser)
    count = len(_elements(original))
    ns = etree.QName(original).namespace or ""

    def variant(i: int) -> tuple[etree._Element, etree._Element]:
        root = copy.deepcopy(original)
        return root, _elements(root)[i]

    for i in range(count):
        root, el = variant(i)
        name = etree.QName(el).localname
        parent = el.getparent()
        assert parent is not None
        # missing
        parent.remove(el)
        yield f"delete {name}#{i}", etree.tostring(root)
        # repeated
        root, el = variant(i)
        el.addnext(copy.deepcopy(el))
        yield f"repeat {name}#{i}", etree.tostring(root)
        # reordered
        root, el = variant(i)
        nxt = el.getnext()
        while nxt is not None and not isinstance(nxt.tag, str):
            nxt = nxt.getnext()
        if nxt is not None:
            nxt.addnext(el)
            yield f"swap {name}#{i}", etree.tostring(root)
        # misspelt / foreign namespace
        root, el = variant(i)
        el.tag = f"{{{ns}}}{name}x"
        yield f"rename {name}#{i}", etree.tostring(root)
        root, el = variant(i)
        el.tag = f"{{urn:other}}{name}"
        yield f"foreign-ns {name}#{i}", etree.tostring(root)
        # attribute
        root, el = variant(i)
        el.set("id", "1")
        yield f"attribute {name}#{i}", etree.tostring(root)
        root, el = variant(i)
        if len(el):
            # stray text in element content, unknown child
            root, el = variant(i)
            el.text = "stray"
            yield f"text-in {name}#{i}", etree.tostring(root)
            root, el = variant(i)
            etree.SubElement(el, f"{{{ns}}}Unknown")
            yield f"child-in {name}#{i}", etree.tostring(root)
            if name in ("Text01", "RefuseText"):
                for markup in (
                    "<Bold><Italic>x</Italic></Bold>",
                    "<FixedFont><FixedFont>x</FixedFont></FixedFont>",
                    "<FixedFont><Bold>x<Break/></Bold></FixedFont>",
                    "<Center>a<Space/>b</Center>",
                    "<Break>x</Break>",
                    "<Paragraph>x</Paragraph>",
                ):
                    root, el = variant(i)
                    frag = etree.fromstring(f'<w xmlns="{ns}">{markup}</w>')
                    el.append(frag[0])
                    yield f"markup {markup} in {name}#{i}", etree.tostring(root)
        else:
            # a leaf: value mutations, and an element child inside a value
            for v in values:
                root, el = variant(i)
                el.text = v
                yield f"value {v!r} in {name}#{i}", etree.tostring(root)
            root, el = variant(i)
            etree.SubElement(el, f"{{{ns}}}Break")
            yield f"child-in-leaf {name}#{i}", etree.tostring(root)
