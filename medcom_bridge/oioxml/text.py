"""OIOXML formatted text (`Text01`, `RefuseText`): a small immutable tree, and plain-text conversions.

MedCom's `FormattedTextType` is mixed content: text interleaved with `Break`, `Space`, the styles `Bold`,
`Italic`, `Underline`, the alignments `Right`, `Center` (each holding only text, `Break` and `Space`) and
`FixedFont` (which may hold the styles/alignments but not itself). `RefuseText` in receipts is the smaller
`BreakableText` (text, `Break`, `Space`). The tree keeps exactly what the XML says, so a message
round-trips; `to_plain_text` gives what a reader sees.

Whitespace rule (oioxml-legacy.md a.2): only `<Break/>` is a line break. Whitespace in character data is
insignificant like in HTML — MedCom's Flow3 example indents Text01 with newlines — so runs of it collapse
to one space and vanish next to line breaks; `<Space/>` is a significant space.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar, cast

Style = Literal["Bold", "Italic", "Underline", "Right", "Center"]
STYLES: tuple[Style, ...] = ("Bold", "Italic", "Underline", "Right", "Center")


@dataclass(frozen=True, slots=True)
class Break:
    """`<Break/>`: a line break."""


@dataclass(frozen=True, slots=True)
class Space:
    """`<Space/>`: a significant (non-collapsing) space."""


BREAK = Break()
SPACE = Space()

Simple = str | Break | Space


@dataclass(frozen=True, slots=True)
class Styled:
    """`Bold`, `Italic`, `Underline`, `Right` or `Center` (`BreakableText`: text, Break, Space only)."""

    style: Style
    content: tuple[Simple, ...] = ()

    def __post_init__(self) -> None:
        normal = _normal(self.content)
        if normal is not self.content:  # the common case (already normal) skips the frozen-field write
            object.__setattr__(self, "content", normal)


@dataclass(frozen=True, slots=True)
class FixedFont:
    """`FixedFont` (`SimpleFormattedText`): text, Break, Space and styled runs; no nested FixedFont."""

    content: tuple[Simple | Styled, ...] = ()

    def __post_init__(self) -> None:
        normal = _normal(self.content)
        if normal is not self.content:  # the common case (already normal) skips the frozen-field write
            object.__setattr__(self, "content", normal)


Node = str | Break | Space | Styled | FixedFont


@dataclass(frozen=True, slots=True)
class FormattedText:
    """The content of a `Text01` (or a `RefuseText`, which only uses text, Break and Space)."""

    content: tuple[Node, ...] = ()

    def __post_init__(self) -> None:
        normal = _normal(self.content)
        if normal is not self.content:  # the common case (already normal) skips the frozen-field write
            object.__setattr__(self, "content", normal)

    def to_plain_text(self) -> str:
        return to_plain_text(self)


_N = TypeVar("_N")


def _normal(content: tuple[_N, ...]) -> tuple[_N, ...]:
    """Merge adjacent strings and drop empty ones, as XML does: then equal text means equal values, and
    a text survives serialize -> parse unchanged."""
    previous_str = False
    for node in content:
        is_str = isinstance(node, str)
        if is_str and (previous_str or not node):
            break
        previous_str = is_str
    else:
        return content  # already normal: the common case costs one pass
    out: list[_N] = []
    for node in content:
        if isinstance(node, str):
            if not node:
                continue
            if out and isinstance(out[-1], str):
                out[-1] = cast(_N, out[-1] + node)
                continue
        out.append(node)
    return tuple(out)


_WS = re.compile(r"[ \t\r\n]+")
# Stand-ins for <Space/> and <Break/> while ordinary whitespace collapses (neither can occur in XML text).
_SPACE_MARK = "\x00"
_BREAK_MARK = "\x01"


def _flatten(nodes: Iterable[Node], out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, Break):
            out.append(_BREAK_MARK)
        elif isinstance(node, Space):
            out.append(_SPACE_MARK)
        elif isinstance(node, Styled):
            _flatten(node.content, out)
        else:
            _flatten(node.content, out)


def to_plain_text(text: FormattedText) -> str:
    """Flatten to plain text: `Break` -> newline, `Space` -> space, styles dropped, XML whitespace collapsed.

    Character-data whitespace collapses to one space and disappears at the start/end of a line and of the
    text; `<Space/>` always survives. Blank lines (two Breaks) are kept.
    """
    parts: list[str] = []
    _flatten(text.content, parts)
    lines = "".join(parts).split(_BREAK_MARK)
    cleaned = [_collapse(line).strip(" ") for line in lines]
    return "\n".join(cleaned).replace(_SPACE_MARK, " ")


def _collapse(line: str) -> str:
    """XML whitespace runs -> one space; a line without tab, CR, LF or double space needs no regex scan."""
    if "  " in line or "\t" in line or "\n" in line or "\r" in line:
        return _WS.sub(" ", line)
    return line


def from_plain_text(text: str) -> FormattedText:
    """Build formatted text from plain text: newline -> `Break`; spaces that would collapse -> `Space`.

    `\\r\\n` and `\\r` count as newlines and a tab as a space, so that
    `to_plain_text(from_plain_text(s))` equals `s` with those normalised.
    """
    normal = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    nodes: list[Node] = []
    for i, line in enumerate(normal.split("\n")):
        if i:
            nodes.append(BREAK)
        _append_line(line, nodes)
    return FormattedText(tuple(_merge(nodes)))


def _append_line(line: str, nodes: list[Node]) -> None:
    # A space survives flattening only between two non-space characters and alone; every other space
    # (leading, trailing, or the 2nd.. of a run) must become <Space/>.
    buf: list[str] = []
    n = len(line)
    i = 0
    while i < n:
        ch = line[i]
        if ch != " ":
            buf.append(ch)
            i += 1
            continue
        j = i
        while j < n and line[j] == " ":
            j += 1
        run = j - i
        interior = i > 0 and j < n
        if interior:
            buf.append(" ")
            run -= 1
        if run:
            if buf:
                nodes.append("".join(buf))
                buf = []
            nodes.extend([SPACE] * run)
        i = j
    if buf:
        nodes.append("".join(buf))


def _merge(nodes: list[Node]) -> list[Node]:
    merged: list[Node] = []
    for node in nodes:
        if isinstance(node, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + node
        elif node != "":
            merged.append(node)
    return merged


def length_bound(nodes: Iterable[Node]) -> int:
    """An upper bound of `plain_length` (flattening only removes characters), cheap to compute."""
    total = 0
    for node in nodes:
        if isinstance(node, str):
            total += len(node)
        elif node is BREAK or node is SPACE:  # the common non-text nodes, without a class test
            total += 1
        elif isinstance(node, _CONTAINERS):
            total += length_bound(node.content)
        else:
            total += 1
    return total


_CONTAINERS = (Styled, FixedFont)


def plain_length(text: FormattedText) -> int:
    """Characters a reader sees (line breaks count one): the measure of the 31,150-character rule."""
    return len(to_plain_text(text))
