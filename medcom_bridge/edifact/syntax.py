"""EDIFACT interchange syntax (UNOC:3, ISO-8859-1): bytes <-> segments, byte-exact, pure.

An interchange is an optional `UNA` service string advice, `UNB` ... `UNZ`, and between them messages
`UNH` ... `UNT`. A segment is a tag and elements; an element is a tuple of components. The release character
(`?`) escapes the four service characters inside values. `UNO` (MedCom's binary object header) is followed by
exactly the number of raw bytes it declares in its fourth element, then the segment stream continues (`UNP`).

Byte-exact: the parser keeps every element and component as written (trailing empty ones too) and the
whitespace between segments (`Interchange.layout`), so `serialize(parse(b)) == b` for every interchange that
uses the release character only where it must (`?` before a service character).

Hostile input never raises anything but `EdifactSyntaxError` (rule, path, message) and never allocates more
than a small multiple of the input: a segment longer than `MAX_SEGMENT` characters, an unterminated segment, or
a UNO size beyond the end of the data stop the parse with an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

# The longest ordinary segment we read. MedCom's longest are FTX (5 x 70 characters, each of which may be
# released) and NAD/PNA (a few hundred); a segment beyond this is garbage, not a letter.
MAX_SEGMENT = 8192
MAX_SEGMENTS = 100_000  # an interchange with more is not a MedCom letter (BIN01 payloads are not segments)

SEGMENT_TAG = re.compile(r"[A-Z][A-Z0-9]{2}")
_WHITESPACE = " \t\r\n"


class EdifactSyntaxError(ValueError):
    """The bytes are not an interchange we can read; `rule`, `path` (segment position) and `message` say why."""

    def __init__(self, rule: str, path: str, message: str) -> None:
        super().__init__(f"{rule} {path}: {message}")
        self.rule = rule
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The service characters of the UNA segment; MedCom uses the defaults `:+.? '`."""

    component: str = ":"
    element: str = "+"
    decimal: str = "."
    release: str = "?"
    reserved: str = " "
    segment: str = "'"

    @property
    def una(self) -> str:
        return (
            "UNA" + self.component + self.element + self.decimal + self.release + self.reserved + self.segment
        )


DEFAULT = Delimiters()


class Segment(NamedTuple):
    """One segment: `tag` and its elements, each a tuple of component values (unescaped text).

    `payload` holds the raw object bytes that follow a `UNO` segment (BIN01), else None. (A NamedTuple, not a
    dataclass: a letter is thirty of these, and building them is most of the parser's time.)
    """

    tag: str
    elements: tuple[tuple[str, ...], ...] = ()
    payload: bytes | None = None

    def value(self, element: int, component: int = 1) -> str:
        """Component `component` of element `element` (both 1-based, as MedCom's tables count); '' if absent."""
        if element > len(self.elements):
            return ""
        comps = self.elements[element - 1]
        return comps[component - 1] if component <= len(comps) else ""

    def has(self, element: int, component: int = 1) -> bool:
        """Whether the component is written at all (possibly empty)."""
        return element <= len(self.elements) and component <= len(self.elements[element - 1])


def is_group(tag: str) -> bool:
    """MedCom's segment-group marker segments S01, S02, ... (`S[0-9]{2}`)."""
    return tag[0] == "S" and tag[1:].isdigit() and tag.isascii()


def seg(tag: str, *elements: str | tuple[str, ...]) -> Segment:
    """Build a segment: each element is a string (one component) or a tuple of components."""
    return Segment(tag, tuple((e,) if isinstance(e, str) else tuple(e) for e in elements))


@dataclass(frozen=True, slots=True)
class Interchange:
    """A parsed interchange: every segment from UNB to UNZ, in order.

    `una` says whether a UNA segment was written; `layout` keeps the whitespace (line breaks) written before
    UNA/UNB (index 0) and after each segment (index i+1; for UNO after its payload) so that serialization is
    byte-exact; an empty layout means "no whitespace anywhere" (what MedCom's converter writes).
    """

    segments: tuple[Segment, ...]
    delimiters: Delimiters = DEFAULT
    una: bool = True
    layout: tuple[str, ...] = field(default=(), compare=False)

    # ---- interchange header facts (UNB/UNZ)
    @property
    def unb(self) -> Segment:
        return self.segments[0]

    @property
    def sender(self) -> str:
        """UNB 0004: the sender's EAN (GLN)."""
        return self.unb.value(2)

    @property
    def recipient(self) -> str:
        """UNB 0010: the recipient's EAN (GLN)."""
        return self.unb.value(3)

    @property
    def control_reference(self) -> str:
        """UNB 0020: the interchange ("envelope") reference, MedCom's KuvertNr."""
        return self.unb.value(5)

    @property
    def acknowledgement_request(self) -> str:
        """UNB 0031: '1' a positive receipt is requested, '0' or '' not."""
        return self.unb.value(9)

    def messages(self) -> Iterator[tuple[int, tuple[Segment, ...]]]:
        """Each message UNH..UNT (inclusive) with the index of its UNH in `segments`."""
        start = -1
        for i, s in enumerate(self.segments):
            if s.tag == "UNH":
                start = i
            elif s.tag == "UNT" and start >= 0:
                yield start, self.segments[start : i + 1]
                start = -1


# --------------------------------------------------------------------------------------------- parsing
def parse(data: bytes) -> Interchange:
    """Read an interchange; raises EdifactSyntaxError for anything that is not segment syntax.

    Only syntax is checked here (service characters, tags, terminators, UNO sizes); envelope rules (UNB/UNZ,
    counts, references) are the validator's.
    """
    text = data.decode("latin-1")  # UNOC is ISO-8859-1: every byte is a character, nothing can fail
    n = len(text)
    pos = 0
    while pos < n and text[pos] in _WHITESPACE:
        pos += 1
    layout = [text[:pos]]
    delims = DEFAULT
    una = text.startswith("UNA", pos)
    if una:
        if n - pos < 9:
            raise EdifactSyntaxError(
                "edifact-una", "UNA", "the UNA segment is cut short (9 characters expected)"
            )
        c = text[pos + 3 : pos + 9]
        delims = Delimiters(c[0], c[1], c[2], c[3], c[4], c[5])
        if len(set((delims.component, delims.element, delims.release, delims.segment))) != 4:
            raise EdifactSyntaxError(
                "edifact-una", "UNA", f"the service characters {c!r} are not four different characters"
            )
        pos += 9
        start = pos
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        layout.append(text[start:pos])
    segments: list[Segment] = []
    term, rel, el, comp = delims.segment, delims.release, delims.element, delims.component
    if not re.search(re.escape(term) + r"[ \t\r\n]*UNO" + re.escape(el), text):
        # no binary objects: cut at every terminator at once (the common case)
        return _parse_split(text, pos, delims, layout, una)
    while pos < n:
        index = len(segments) + 1
        if index > MAX_SEGMENTS:
            raise EdifactSyntaxError(
                "edifact-too-many-segments", f"segment {index}", f"more than {MAX_SEGMENTS}"
            )
        end = _find_terminator(text, pos, term, rel)
        if end < 0:
            raise EdifactSyntaxError(
                "edifact-unterminated",
                f"segment {index}",
                f"the last segment ({_tag_preview(text, pos)}) has no terminator {term!r}",
            )
        raw = text[pos:end]
        tag = raw[:3]
        if not SEGMENT_TAG.fullmatch(tag):
            raise EdifactSyntaxError(
                "edifact-segment-tag", f"segment {index}", f"{tag!r} is not a segment tag (3 letters/digits)"
            )
        if len(raw) > 3 and raw[3] != el:
            raise EdifactSyntaxError(
                "edifact-syntax",
                f"segment {index} ({tag})",
                f"{el!r} expected after the tag, found {raw[3]!r}",
            )
        body = raw[4:]
        elements = (
            (_split(body, delims, tag, index) if rel in body else _plain(body, el, comp))
            if len(raw) > 3
            else ()
        )
        pos = end + 1
        payload: bytes | None = None
        if tag == "UNO":
            size_text = elements[3][0] if len(elements) > 3 else ""
            if not size_text.isdigit() or not size_text.isascii():
                raise EdifactSyntaxError(
                    "edifact-uno-size", f"segment {index} (UNO)", f"object size {size_text!r} is not a number"
                )
            size = int(size_text)
            if size > n - pos:
                raise EdifactSyntaxError(
                    "edifact-uno-size",
                    f"segment {index} (UNO)",
                    f"declares {size} bytes but only {n - pos} follow",
                )
            payload = data[pos : pos + size]
            pos += size
        segments.append(Segment(tag, elements, payload))
        start = pos
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        layout.append(text[start:pos])
    if not segments:
        raise EdifactSyntaxError("edifact-empty", "/", "no segments")
    canonical = all(not w for w in layout)
    return Interchange(tuple(segments), delims, una, () if canonical else tuple(layout))


def _parse_split(text: str, pos: int, d: Delimiters, layout: list[str], una: bool) -> Interchange:
    """`parse` for an interchange without UNO: split at terminators, then re-join released ones."""
    term, rel = d.segment, d.release
    body_text = text[pos:]
    pieces = body_text.split(term)
    tail = pieces.pop()
    no_gaps = d == DEFAULT and not _GAP.search(body_text)
    if no_gaps and not tail and rel + term not in body_text and not any(layout):
        return Interchange(_segments(pieces, d), d, una, ())
    return _parse_pieces(pieces, tail, d, layout, una)


_GAP = re.compile(r"'[ \t\r\n]")  # whitespace after a (default) terminator: the interchange has a layout


def _segments(pieces: list[str], d: Delimiters) -> tuple[Segment, ...]:
    """The fast path: pieces are exactly the segments (no whitespace between them, no released terminator)."""
    rel, el, comp = d.release, d.element, d.component
    if len(pieces) > MAX_SEGMENTS:
        raise EdifactSyntaxError(
            "edifact-too-many-segments", f"segment {MAX_SEGMENTS + 1}", f"more than {MAX_SEGMENTS}"
        )
    tags = _KNOWN_TAGS
    out: list[Segment] = []
    for index, piece in enumerate(pieces, 1):
        tag = piece[:3]
        if tag not in tags or len(piece) > MAX_SEGMENT:
            _check_piece(piece, tag, index)
        if len(piece) > 3:
            if piece[3] != el:
                raise EdifactSyntaxError(
                    "edifact-syntax",
                    f"segment {index} ({tag})",
                    f"{el!r} expected after the tag, found {piece[3]!r}",
                )
            body = piece[4:]
            if rel in body:
                out.append(Segment(tag, _split(body, d, tag, index)))
            else:
                out.append(Segment(tag, tuple([tuple(e.split(comp)) for e in body.split(el)])))
        else:
            out.append(Segment(tag, ()))
    if not out:
        raise EdifactSyntaxError("edifact-empty", "/", "no segments")
    return tuple(out)


def _check_piece(piece: str, tag: str, index: int) -> None:
    if len(piece) > MAX_SEGMENT:
        raise EdifactSyntaxError(
            "edifact-segment-too-long",
            "segment",
            f"a segment ({_tag_preview(piece, 0)}) runs past {MAX_SEGMENT} characters without a terminator",
        )
    if not SEGMENT_TAG.fullmatch(tag):
        raise EdifactSyntaxError(
            "edifact-segment-tag", f"segment {index}", f"{tag!r} is not a segment tag (3 letters/digits)"
        )
    if len(_KNOWN_TAGS) < 1000:
        _KNOWN_TAGS.add(tag)


def _parse_pieces(pieces: list[str], tail: str, d: Delimiters, layout: list[str], una: bool) -> Interchange:
    """The general path: whitespace between segments and released terminators."""
    term, rel, el, comp = d.segment, d.release, d.element, d.component
    segments: list[Segment] = []
    canonical = not any(layout)
    pending = ""
    for piece in pieces:
        if pending:
            piece = pending + term + piece
            pending = ""
        if piece.endswith(rel) and (len(piece) - len(piece.rstrip(rel))) % 2 == 1:
            pending = piece  # the terminator was released: it belongs to the value
            continue
        if piece[:1] in _WHITESPACE:
            stripped = piece.lstrip(_WHITESPACE)
            layout.append(piece[: len(piece) - len(stripped)])
            canonical = False
            piece = stripped
        elif segments:
            layout.append("")
        index = len(segments) + 1
        if index > MAX_SEGMENTS:
            raise EdifactSyntaxError(
                "edifact-too-many-segments", f"segment {index}", f"more than {MAX_SEGMENTS}"
            )
        tag = piece[:3]
        if tag not in _KNOWN_TAGS or len(piece) > MAX_SEGMENT:
            _check_piece(piece, tag, index)
        if len(piece) > 3:
            if piece[3] != el:
                raise EdifactSyntaxError(
                    "edifact-syntax",
                    f"segment {index} ({tag})",
                    f"{el!r} expected after the tag, found {piece[3]!r}",
                )
            body = piece[4:]
            elements = _split(body, d, tag, index) if rel in body else _plain(body, el, comp)
        else:
            elements = ()
        segments.append(Segment(tag, elements))
    if pending:
        tail = pending + term + tail
    rest = tail.lstrip(_WHITESPACE)
    if rest:
        if len(rest) > MAX_SEGMENT:
            raise EdifactSyntaxError(
                "edifact-segment-too-long",
                "segment",
                f"a segment ({_tag_preview(rest, 0)}) runs past {MAX_SEGMENT} characters without a terminator",
            )
        raise EdifactSyntaxError(
            "edifact-unterminated",
            f"segment {len(segments) + 1}",
            f"the last segment ({_tag_preview(rest, 0)}) has no terminator {term!r}",
        )
    layout.append(tail)
    if not segments:
        raise EdifactSyntaxError("edifact-empty", "/", "no segments")
    canonical = canonical and not tail
    return Interchange(tuple(segments), d, una, () if canonical else tuple(layout))


_KNOWN_TAGS: set[str] = set()  # tags already checked against SEGMENT_TAG (bounded; only a cache)


def _tag_preview(text: str, pos: int) -> str:
    tag = text[pos : pos + 3]
    return tag if SEGMENT_TAG.fullmatch(tag) else "starting with " + repr(text[pos : pos + 3])


def _find_terminator(text: str, pos: int, term: str, rel: str) -> int:
    """Index of the next unreleased terminator at or after pos (bounded by MAX_SEGMENT), or -1."""
    limit = pos + MAX_SEGMENT + 1
    i = text.find(term, pos, limit)
    while i >= 0:
        k = i - 1
        while k >= pos and text[k] == rel:
            k -= 1
        if (i - 1 - k) % 2 == 0:  # an even number of release characters releases nothing
            return i
        i = text.find(term, i + 1, limit)
    if len(text) >= limit:
        raise EdifactSyntaxError(
            "edifact-segment-too-long",
            "segment",
            f"a segment ({_tag_preview(text, pos)}) runs past {MAX_SEGMENT} characters without a terminator",
        )
    return -1


def _split(body: str, d: Delimiters, tag: str, index: int) -> tuple[tuple[str, ...], ...]:
    """Split a segment body with released characters: each release pair becomes a placeholder (a character
    Latin-1 text cannot hold), the rest splits as usual, and the placeholders turn back into the characters."""
    rel, comp, el, term = d.release, d.component, d.element, d.segment
    marked = body.replace(rel + rel, _MARK[0])
    for k, c in enumerate((comp, el, term), 1):
        marked = marked.replace(rel + c, _MARK[k])
    if rel in marked:
        after = marked[marked.index(rel) + 1 :][:1]
        raise EdifactSyntaxError(
            "edifact-release",
            f"segment {index} ({tag})",
            f"release character before {after!r}; it may only release {rel + comp + el + term!r}"
            if after
            else "a release character ends the segment",
        )
    restore = str.maketrans({_MARK[0]: rel, _MARK[1]: comp, _MARK[2]: el, _MARK[3]: term})
    return tuple(tuple(c.translate(restore) for c in e.split(comp)) for e in marked.split(el))


def _plain(body: str, el: str, comp: str) -> tuple[tuple[str, ...], ...]:
    return tuple([tuple(e.split(comp)) for e in body.split(el)])


_MARK = ("\ue000", "\ue001", "\ue002", "\ue003")


# --------------------------------------------------------------------------------------------- writing
def escape(value: str, d: Delimiters = DEFAULT) -> str:
    """Release the service characters in a value."""
    return value.translate(_escapes(d))


def _escapes(d: Delimiters) -> dict[int, str]:
    table = _ESCAPES.get(d)
    if table is None:
        table = {ord(c): d.release + c for c in (d.release, d.component, d.element, d.segment)}
        if len(_ESCAPES) < 16:
            _ESCAPES[d] = table
    return table


_ESCAPES: dict[Delimiters, dict[int, str]] = {}  # a cache of translation tables, bounded


def segment_text(s: Segment, d: Delimiters = DEFAULT) -> str:
    """One segment as text, terminator included (a UNO's payload is not text and not included)."""
    if not s.elements:
        return s.tag + d.segment
    table = _escapes(d)
    comp = d.component
    return (
        s.tag
        + d.element
        + d.element.join(
            [
                comp.join(e).translate(table) if len(e) == 1 else comp.join([c.translate(table) for c in e])
                for e in s.elements
            ]
        )
        + d.segment
    )


def serialize(ic: Interchange) -> bytes:
    """The interchange as bytes (ISO-8859-1); raises UnicodeEncodeError naming a character outside Latin-1.

    Values are joined with stand-in separators (characters Latin-1 text cannot hold) and the whole text is
    escaped in one `str.translate`, which also turns the stand-ins into the real separators.
    """
    d = ic.delimiters
    table = {**_escapes(d), 0xE001: d.component, 0xE002: d.element, 0xE003: d.segment}
    layout = ic.layout
    parts: list[bytes] = []
    text: list[str] = []
    li = 0

    def flush() -> None:
        if text:
            parts.append("".join(text).translate(table).encode("latin-1"))
            text.clear()

    def gap() -> None:
        nonlocal li
        if layout:
            flush()
            parts.append(layout[li].encode("latin-1"))
        li += 1

    gap()
    if ic.una:
        parts.append(d.una.encode("latin-1"))
        gap()
    for s in ic.segments:
        if s.elements:
            text.append(s.tag + "\ue002" + "\ue002".join(["\ue001".join(e) for e in s.elements]) + "\ue003")
        else:
            text.append(s.tag + "\ue003")
        if s.payload is not None:
            flush()
            parts.append(s.payload)
        gap()
    flush()
    return b"".join(parts)
