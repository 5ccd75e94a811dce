"""Fast paths for Text01 <-> plain text with exactly the semantics of `medcom_bridge.oioxml.text`.

The general functions walk the text character by character (to place `<Space/>` where ordinary spaces would
collapse); a typical 5 KB letter has no such places, and the converter's throughput goal (1,000 per second)
cannot afford 2 ms per letter for nothing. Lines that need the general treatment still get it, so the result
is always equal to `from_plain_text` / `to_plain_text` (a property test holds us to that).
"""

from __future__ import annotations

import re

from medcom_bridge.oioxml.text import BREAK, Break, FormattedText, Node, from_plain_text, to_plain_text

_SIMPLE_LINE = re.compile(
    r"[^ \t\r\n](?:[^ \t\r\n]| (?=[^ \t\r\n]))*"
)  # no edge spaces, no double spaces, no tabs
_EDGE_SPACE = re.compile(r"(?:^|\n) | (?:\n|$)")


def formatted(text: str) -> FormattedText:
    """Equal to `from_plain_text(text)`."""
    normal = text.replace("\r\n", "\n").replace("\r", "\n")
    nodes: list[Node] = []
    for i, line in enumerate(normal.split("\n")):
        if i:
            nodes.append(BREAK)
        if not line:
            continue
        if _SIMPLE_LINE.fullmatch(line):
            nodes.append(line)
        else:
            nodes.extend(from_plain_text(line).content)
    return FormattedText(tuple(nodes))


def plain(text: FormattedText) -> str:
    """Equal to `to_plain_text(text)`."""
    parts: list[str] = []
    for node in text.content:
        if isinstance(node, str):
            if "\t" in node or "\r" in node or "\n" in node or "  " in node:
                return to_plain_text(text)
            parts.append(node)
        elif isinstance(node, Break):
            parts.append("\n")
        else:
            return to_plain_text(text)
    joined = "".join(parts)
    # The same test as `_EDGE_SPACE` (a space at either end of a line), by substring search: the regex scan
    # of a 5 KB letter costs more than the rest of this function.
    if "  " in joined or joined.startswith(" ") or joined.endswith(" ") or "\n " in joined or " \n" in joined:
        return to_plain_text(text)
    return joined
