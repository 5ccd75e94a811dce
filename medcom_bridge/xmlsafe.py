"""Safe XML parsing for every XML we read (FHIR XML, OIOXML, VANSEnvelope, SOR, SBDH).

Messages come from outside, so the parser never loads a DTD, never expands entities, never touches the
network and refuses oversized input. A document that declares a DOCTYPE is refused outright: no MedCom
format has one, and refusing it is the simplest defence against billion-laughs and external entities.
"""

from __future__ import annotations

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
    # A cheap pre-check on the prolog: a DOCTYPE can only appear before the root element.
    head = data[:4096]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head or _doctype_in_utf16(head):
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
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise XmlError("xml-doctype-forbidden", "document declares a DOCTYPE; DTDs are not allowed")
    return root


def _doctype_in_utf16(head: bytes) -> bool:
    for codec in ("utf-16-le", "utf-16-be"):
        try:
            text = head.decode(codec, errors="ignore")
        except LookupError:  # pragma: no cover - codecs are built in
            continue
        if "<!DOCTYPE" in text or "<!ENTITY" in text:
            return True
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
