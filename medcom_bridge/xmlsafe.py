"""Safe XML parsing for every XML we read (FHIR XML, OIOXML, VANSEnvelope, SOR, SBDH).

Messages come from outside, so the parser never loads a DTD, never expands entities, never touches the
network and refuses oversized input. A document that declares a DOCTYPE is refused outright: no MedCom
format has one, and refusing it is the simplest defence against billion-laughs and external entities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from medcom_bridge.privacy import scrub

# 100 MB is the conversion use cases' message limit; base64 makes an envelope about 4/3 of that.
DEFAULT_MAX_BYTES = 140 * 1024 * 1024


class XmlError(ValueError):
    """The bytes are not acceptable XML. `rule` is a stable id for findings and receipts."""

    def __init__(self, rule: str, message: str, line: int | None = None) -> None:
        message = scrub(message)  # a parser message may quote the document (privacy.py)
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


@dataclass(frozen=True, slots=True)
class Prolog:
    """What comes before the root element, read in one pass (`read_prolog`)."""

    encoding: str | None  # named in the XML declaration, lower-cased; None when not declared
    declares_dtd: bool  # a DOCTYPE or an entity declaration


def parse_xml(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, prolog: Prolog | None = None
) -> etree._Element:
    """Parse XML bytes safely and return the root element.

    Raises XmlError with rule `xml-too-large`, `xml-doctype-forbidden` or `xml-syntax`.
    The declared encoding is honoured by libxml2 (ISO-8859-1, windows-1252, UTF-8 ...).
    `prolog` is `read_prolog(data)` of these very bytes, for a caller that already needed the declared
    encoding (the prolog is then not read twice).
    """
    if len(data) > max_bytes:
        raise XmlError("xml-too-large", f"document is {len(data)} bytes; the limit is {max_bytes} bytes")
    # A pre-check on the prolog: a DOCTYPE can only appear before the root element. The whole prolog is
    # walked (not a fixed-size head), so padding it with comments or whitespace does not hide one.
    if (prolog if prolog is not None else read_prolog(data)).declares_dtd:
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
    doctype: str = getattr(docinfo, "doctype", "")
    if doctype or docinfo.internalDTD is not None:
        raise XmlError("xml-doctype-forbidden", "document declares a DOCTYPE; DTDs are not allowed")
    return root


def parse_plain_fragment(text: str) -> etree._Element | None:
    """A small element given as text with nothing before its root (no declaration, DOCTYPE, comment, CDATA
    or processing instruction: no '<!' or '<?' anywhere), parsed with the same safe parser but without the
    prolog checks a whole document needs (e.g. a FHIR narrative div). None when the text is not of that
    plain kind or not well-formed: the caller then uses `parse_xml`, which words the error."""
    if len(text) > 1_000_000 or not text.startswith("<") or "<!" in text or "<?" in text:
        return None
    try:
        return etree.fromstring(text.encode("utf-8"), _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None


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
    return read_prolog(data).declares_dtd


def declared_encoding(data: bytes) -> str | None:
    """The encoding named in the XML declaration, lower-cased, or None when there is none."""
    return read_prolog(data).encoding


# The prolog as one regular expression: an optional XML declaration (after a byte order mark/whitespace),
# then any whitespace, byte order marks, processing instructions and comments. The match cannot fail (every
# part is optional), so there is no backtracking; what follows it is the DOCTYPE, if any. An unterminated
# PI or comment ends the match there, and it then starts with '<?' or '<!--', never with a DOCTYPE.
_PROLOG = re.compile(
    rb"(?:[ \t\r\n\xef\xbb\xbf]*(<\?xml.*?\?>))?(?:[ \t\r\n]+|\xef\xbb\xbf|<\?.*?\?>|<!--.*?-->)*", re.S
)
# XML 1.0: EncodingDecl ::= S 'encoding' Eq ('"' EncName '"' | "'" EncName "'"), Eq ::= S? '=' S?
# (A malformed declaration with both quote styles is read as before: the double-quoted name first.)
_ENCODING = (
    re.compile(rb'encoding[ \t\r\n]*=[ \t\r\n]*"([^"]*)"'),
    re.compile(rb"encoding[ \t\r\n]*=[ \t\r\n]*'([^']*)'"),
)
_DTD_STARTS = (b"<!DOCTYPE", b"<!ENTITY")


def read_prolog(data: bytes) -> Prolog:
    """The declared encoding and whether a DTD is declared, in one pass over the prolog."""
    if data[:1] in (b"\x00", b"\xfe", b"\xff") or data.startswith(b"<\x00"):
        for marker, codec in _WIDE_ENCODINGS:
            if data.startswith(marker):
                # The declaration of a UTF-16/32 document is not read (libxml2 goes by the byte pattern).
                return Prolog(None, _prolog_declares_dtd(_as_utf8(data, codec)))
    m = _PROLOG.match(data)
    assert m is not None  # every part of the pattern is optional
    encoding = None
    decl = m.group(1)
    if decl is not None:
        e = _ENCODING[0].search(decl) or _ENCODING[1].search(decl)
        if e is not None:
            encoding = e.group(1).decode("ascii", "replace").strip().lower()
    if encoding and encoding.replace("-", "").replace("_", "") in ("utf7", "unicode11utf7"):
        # Not ASCII-compatible although it looks so: '+ADw-' is '<'.
        return Prolog(encoding, _prolog_declares_dtd(_as_utf8(data, "utf-7")))
    # Every other encoding libxml2 accepts is ASCII-compatible in the characters of markup.
    return Prolog(encoding, data.startswith(_DTD_STARTS, m.end()))


def _as_utf8(data: bytes, codec: str) -> bytes:
    # surrogatepass: a UTF-7 decoder can produce lone surrogates, which must not crash the check.
    return data.decode(codec, errors="replace").encode("utf-8", errors="surrogatepass")


def _prolog_declares_dtd(data: bytes) -> bool:
    m = _PROLOG.match(data)
    assert m is not None  # every part of the pattern is optional
    return data.startswith(_DTD_STARTS, m.end())


def local_name(tag: object) -> str:
    """`{ns}Name` -> `Name`; comments and processing instructions give ''."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def namespace(tag: object) -> str:
    if not isinstance(tag, str) or not tag.startswith("{"):
        return ""
    return tag[1:].partition("}")[0]
