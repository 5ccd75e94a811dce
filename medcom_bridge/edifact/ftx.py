"""FTX free text: OIOXML formatted text <-> FTX segments, as MedCom's converter writes and reads them.

EDIFACT carries text in FTX segments: qualifier, a 3-character format code, and up to 5 text components of at
most 70 characters, each one line. A component ending in `\\` continues on the next component without a line
break; a component `.` is an empty line. The format code is font (`P` proportional, `F` fixed) + style
(`0` normal, `F` bold, `K` italic, `U` underline) + alignment (`0` left, `M` centre, `H` right); a change of
format starts a new FTX.

Writing follows MedCom's converter (`lib/edifact_converter/xml/xftx_parser.rb`, `paragraph.rb`) step by step,
because receivers compare the result line for line: the text is cut into paragraphs at every change of format,
each paragraph into lines at `Break`, each line into components of at most 69 characters plus `\\` (cut after
the last whitespace when there is one past the third character), and up to 5 components per FTX. Its
quirks are kept where they only shape the layout (which paragraph lends its leading line breaks to fill an
FTX, the `\\` after a paragraph's last line); where it loses text (a second text run in one paragraph
overwrites the first, so `a<Space/>b` becomes `b`) or crashes (a last line of exactly 70 UTF-8 bytes), we do
not: see NOTES.md.

Reading follows MedCom's XSLT `FTXSegmentsToFormattedText` (EDI2XML GeneralTemplates): each FTX becomes its
formatted run, each component a line with a `Break`, except `\\`-continued ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from medcom_bridge.oioxml.text import BREAK, Break, FixedFont, FormattedText, Node, Simple, Space, Styled

MAX_LINE = 70  # characters in one FTX text component
COMPONENTS = 5  # text components in one FTX

NORMAL = "Normal"
_FORMAT_CODE = {NORMAL: "00", "Center": "0M", "Right": "0H", "Bold": "F0", "Italic": "K0", "Underline": "U0"}
_WS = re.compile(r"[ \t\n\v\f\r]")


@dataclass(slots=True)
class _Paragraph:
    font: str = "P"  # P proportional, F fixed
    fmt: str = NORMAL
    content: list[str | None] = field(default_factory=list)  # None is a line break

    def copy(self) -> _Paragraph:
        return _Paragraph(self.font, self.fmt)

    def starts_with_break(self) -> bool:
        return bool(self.content) and self.content[0] is None

    def ends_with_break(self) -> bool:
        return bool(self.content) and self.content[-1] is None

    def has_text(self) -> bool:
        return any(c is not None for c in self.content)

    @property
    def code(self) -> str:
        return self.font + _FORMAT_CODE.get(self.fmt, "00")


@dataclass(frozen=True, slots=True)
class Ftx:
    """One FTX segment's content: qualifier, format code and its text components."""

    qualifier: str
    format_code: str
    lines: tuple[str, ...]


class _Builder:
    def __init__(self) -> None:
        self.paragraphs = [_Paragraph()]

    def content(self, nodes: Iterable[Node]) -> None:
        for node in nodes:
            if isinstance(node, str):
                self.paragraphs[-1].content.append(node)
            elif isinstance(node, Break):
                self.paragraphs[-1].content.append(None)
            elif isinstance(node, Space):
                self.paragraphs[-1].content.append(" ")
            elif isinstance(node, Styled):
                if node.style in ("Center", "Right"):
                    self._alignment(node.style, node.content)
                else:
                    self._push(node.style, None, node.content)
            else:
                self._push(None, "F", node.content)

    def _push(self, fmt: str | None, font: str | None, nodes: Iterable[Node]) -> None:
        previous = self.paragraphs[-1]
        current = previous.copy()
        if fmt is not None:
            current.fmt = fmt
        if font is not None:
            current.font = font
        self.paragraphs.append(current)
        self.content(nodes)
        self.paragraphs.append(previous.copy())

    def _alignment(self, fmt: str, nodes: Sequence[Simple]) -> None:
        previous = self.paragraphs[-1]
        current = previous.copy()
        current.fmt = fmt
        self.paragraphs.append(current)
        if not previous.ends_with_break():
            current.content.append(None)
        self.content(nodes)
        self.paragraphs[-1].content.append(None)
        self.paragraphs.append(previous.copy())


def _divide(value: str, out: list[str]) -> str:
    """Cut a text run into full components (appended to out); return the unfinished rest.

    MedCom's `divide_text` adds one character at a time and cuts when 69 are waiting and another comes: after
    the last whitespace past the third character (it stays on the line, `\\` follows), else hard at 69.
    """
    text = ""
    i = 0
    n = len(value)
    full = MAX_LINE - 1
    while n - i > full - len(text):
        take = full - len(text)
        text += value[i : i + take]
        i += take
        index = max(
            text.rfind(" "),
            text.rfind("\t"),
            text.rfind("\n"),
            text.rfind("\v"),
            text.rfind("\f"),
            text.rfind("\r"),
        )
        if index > 2:
            out.append(text[: index + 1] + "\\")
            text = text[index + 1 :]
        else:
            out.append(text + "\\")
            text = ""
    return text + value[i:]


def _lines(paragraph: _Paragraph, following: _Paragraph | None) -> list[str]:
    texts: list[str] = []
    text = ""
    for obj in paragraph.content:
        if obj is None:
            texts.append(text or ".")
            text = ""
        else:
            # MedCom's converter replaces the pending text here (losing it); we keep it (NOTES.md).
            if text:
                obj = text + obj
            text = _divide(obj, texts)
    if text:
        if following is not None:
            if following.starts_with_break():
                following.content.pop(0)
            else:
                if len(text) == MAX_LINE:  # cannot happen after _divide; kept for the shape of the rule
                    texts.append(text[:-1] + "\\")
                    text = text[-1]
                text += "\\"
        texts.append(text)
    return texts


def to_ftx(qualifier: str, text: Iterable[Node]) -> list[Ftx]:
    """The FTX segments MedCom's converter writes for one block of formatted text (or reference lines)."""
    builder = _Builder()
    builder.content(text)
    paragraphs = [p for p in builder.paragraphs if p.content]
    # MedCom's loop asks "the next paragraph" for paragraphs[1] every time, because Ruby's delete_if leaves
    # the array untouched until it finishes; its leading breaks fill FTXs and its absence decides the '\'.
    following = paragraphs[1] if len(paragraphs) > 1 else None
    out: list[Ftx] = []
    for paragraph in paragraphs:
        texts = _lines(paragraph, following)
        for i in range(0, len(texts), COMPONENTS):
            chunk = texts[i : i + COMPONENTS]
            if len(chunk) < COMPONENTS and following is not None:
                while len(chunk) < COMPONENTS and following.starts_with_break():
                    chunk.append(".")
                    following.content.pop(0)
            out.append(Ftx(qualifier, paragraph.code, tuple(chunk)))
    return out


def formatted_to_ftx(qualifier: str, text: FormattedText) -> list[Ftx]:
    return to_ftx(qualifier, text.content)


# --------------------------------------------------------------------------------------------- reading
def breakable(lines: Iterable[str]) -> list[Simple]:
    """FTX text components -> BreakableText nodes (`FTXSubElmsToBreakableText`)."""
    nodes: list[Simple] = []
    for line in lines:
        if line == ".":
            nodes.append(BREAK)
        elif line.endswith("\\"):
            nodes.append(line[:-1])
        else:
            nodes.append(line)
            nodes.append(BREAK)
    return nodes


def plain(lines: Iterable[str]) -> str:
    """FTX text components -> text without breaks (`FTXSubElmsToText`: URL references)."""
    return "".join("" if ln == "." else ln[:-1] if ln.endswith("\\") else ln for ln in lines)


_READ_STYLE = {"F": "Bold", "U": "Underline", "K": "Italic"}
_READ_ALIGN = {"H": "Right", "M": "Center"}
KNOWN_FORMATS = frozenset(
    f + s for f in "PF" for s in ("00", "0H", "0M", "F0", "U0", "K0")
)  # what `FTXSegmentsToFormattedText` knows; anything else reads as FixedFont


def read_formatted(ftxs: Iterable[tuple[str, Sequence[str]]]) -> FormattedText:
    """(format code, components) of consecutive FTXs -> Text01 (`FTXSegmentsToFormattedText`)."""
    nodes: list[Node] = []
    for code, lines in ftxs:
        run = breakable(lines)
        if code not in KNOWN_FORMATS:
            nodes.append(FixedFont(tuple(run)))
            continue
        inner: Simple | Styled | None = None
        style = _READ_STYLE.get(code[1]) if code[1] != "0" else _READ_ALIGN.get(code[2])
        if code == "P00":
            nodes.extend(run)
            continue
        if code == "F00":
            nodes.append(FixedFont(tuple(run)))
            continue
        inner = Styled(style, tuple(run))  # type: ignore[arg-type]
        nodes.append(FixedFont((inner,)) if code[0] == "F" else inner)
    return FormattedText(tuple(nodes))
