"""Safe XML parsing for every XML we read (FHIR XML, OIOXML, VANSEnvelope, SOR, SBDH).

Messages come from outside, so the parser never loads a DTD, never expands entities, never touches the
network and refuses oversized input. A document that declares a DOCTYPE is refused outright: no MedCom
format has one, and refusing it is the simplest defence against billion-laughs and external entities.
"""

from __future__ import annotations

import re

from lxml import etree

# 100 MB is the conversion use cases' message limit; base64 makes an envelope about 4/3 of that.
DEFAULT_MAX_BYTES = 140 * 1024 * 1024


class XmlError(ValueError):
    """The bytes are not acceptable XML. `rule` is a stable id for findings and receipts."""

    def __init__(self, rule: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def _parser(huge: bool) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=huge,
        remove_comments=False,
        remove_pis=False,
    )


_PARSER = _parser(huge=False)
_HUGE_PARSER = _parser(huge=True)


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse XML bytes safely and return the root element.

    Raises XmlError with rule `xml-too-large`, `xml-doctype-forbidden` or `xml-syntax`.
    The declared encoding is honoured by libxml2 (ISO-8859-1, windows-1252, UTF-8 ...).
    """
    if len(data) > max_bytes:
        raise XmlError("xml-too-large", f"document is {len(data)} bytes; the limit is {max_bytes} bytes")
    # A pre-check on the prolog: a DOCTYPE can only appear before the root element. The whole prolog is
    # walked (not a fixed-size head), so padding it with comments or whitespace does not hide one.
    if _declares_dtd(data):
        raise XmlError(
            "xml-doctype-forbidden",
            "document declares a DOCTYPE or entities; DTDs and entities are not allowed in MedCom messages",
        )
    # Text nodes in base64 attachments exceed libxml2's 10 MB default limit: allow big trees only then.
    parser = _HUGE_PARSER if len(data) > 8 * 1024 * 1024 else _PARSER
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None
        raise XmlError("xml-syntax", f"not well-formed XML: {exc.msg}", line) from None
    except ValueError as exc:  # lxml raises ValueError for e.g. unsupported encodings
        raise XmlError("xml-syntax", f"not readable as XML: {exc}") from None
    if root is None:
        raise XmlError("xml-syntax", "empty document")
    docinfo = root.getroottree().docinfo
    # lxml-stubs lack DocInfo.doctype; getattr keeps mypy strict without an ignore.
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        raise XmlError("xml-doctype-forbidden", "document declares a DOCTYPE; DTDs are not allowed")
    return root


# Byte patterns of '<?' / '<' that identify the wider Unicode encodings (XML 1.0 appendix F).
_WIDE_ENCODINGS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)


def is_wide_unicode_xml(data: bytes) -> bool:
    """True when the bytes start like XML in UTF-16 or UTF-32 (with or without a byte order mark)."""
    return any(data.startswith(marker) for marker, _ in _WIDE_ENCODINGS)


def declares_dtd(data: bytes) -> bool:
    """True when the prolog (before the root element) holds a DOCTYPE or an entity declaration.

    Public for readers with their own streaming parser (e.g. the SOR import): pass the first chunk. A prolog
    longer than that chunk is not seen, so such a parser must keep its own no-DTD, no-entity settings.
    """
    return _declares_dtd(data)


def _declares_dtd(data: bytes) -> bool:
    for marker, codec in _WIDE_ENCODINGS:
        if data.startswith(marker):
            return _prolog_declares_dtd(data.decode(codec, errors="replace").encode("utf-8"))
    encoding = declared_encoding(data)
    if encoding and encoding.replace("-", "").replace("_", "") in ("utf7", "unicode11utf7"):
        # Not ASCII-compatible although it looks so: '+ADw-' is '<'.
        return _prolog_declares_dtd(data.decode("utf-7", errors="replace").encode("utf-8"))
    # Every other encoding libxml2 accepts is ASCII-compatible in the characters of markup.
    return _prolog_declares_dtd(data)


_SPACE = re.compile(rb"(?:[ \t\r\n]|\xef\xbb\xbf)*")


def _prolog_declares_dtd(data: bytes) -> bool:
    i, n = 0, len(data)
    while i < n:
        i = _SPACE.match(data, i).end()  # type: ignore[union-attr]  # `*` always matches
        if data.startswith(b"<?", i):
            end = data.find(b"?>", i + 2)
            if end < 0:
                return False
            i = end + 2
        elif data.startswith(b"<!--", i):
            end = data.find(b"-->", i + 4)
            if end < 0:
                return False
            i = end + 3
        else:
            return data.startswith((b"<!DOCTYPE", b"<!ENTITY"), i)
    return False


def declared_encoding(data: bytes) -> str | None:
    """The encoding named in the XML declaration, lower-cased, or None when there is none."""
    if not data.startswith(b"<?xml"):
        stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not stripped.startswith(b"<?xml"):
            return None
        data = stripped
    end = data.find(b"?>")
    if end < 0:
        return None
    decl = data[:end].decode("ascii", errors="replace")
    for quote in ('"', "'"):
        marker = f"encoding={quote}"
        i = decl.find(marker)
        if i >= 0:
            j = decl.find(quote, i + len(marker))
            if j > 0:
                return decl[i + len(marker) : j].strip().lower()
    return None


def local_name(tag: object) -> str:
    """`{ns}Name` -> `Name`; comments and processing instructions give ''."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def namespace(tag: object) -> str:
    if not isinstance(tag, str) or not tag.startswith("{"):
        return ""
    return tag[1:].partition("}")[0]
