"""Charts as SVG text, pure: values in, an `<svg>` string out (no JavaScript, no CDN, no library).

The pages run in closed networks under `default-src 'none'`: an inline `<svg>` element needs nothing
fetched. Every label is escaped here (a partner's name may hold anything), every bar is a link to the flows
it counts, and the numbers stand as a table beside each chart (the page's part), so a chart never is the
only way to read a figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH = 520
HEIGHT = 180
_TOP = 22  # room for the value above the highest bar
_BOTTOM = 30  # room for the month labels
_LEFT = 8
_COLOUR = "#3a6ea5"


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    href: str | None = None
    """Where the bar leads (the flows it counts); None: not a link."""


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def bar_chart(title: str, bars: list[Bar], *, element_id: str | None = None) -> str:
    """A bar chart of `bars` (left to right) with a value over each bar and its label under it."""
    ident = f' id="{_text(element_id)}"' if element_id else ""
    top = max((b.value for b in bars), default=0) or 1
    plot = HEIGHT - _TOP - _BOTTOM
    slot = (WIDTH - 2 * _LEFT) / max(len(bars), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg"{ident} class="chart" role="img" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" aria-label="{_text(title)}">',
        f"<title>{_text(title)}</title>",
        f'<line x1="{_LEFT}" y1="{HEIGHT - _BOTTOM}" x2="{WIDTH - _LEFT}" y2="{HEIGHT - _BOTTOM}" '
        'stroke="#999" stroke-width="1"/>',
    ]
    for i, bar in enumerate(bars):
        height = round(plot * bar.value / top, 1)
        x = round(_LEFT + i * slot + slot * 0.15, 1)
        width = round(slot * 0.7, 1)
        y = round(HEIGHT - _BOTTOM - height, 1)
        middle = round(x + width / 2, 1)
        shape = (
            f'<rect x="{x}" y="{y}" width="{width}" height="{height}" fill="{_COLOUR}">'
            f"<title>{_text(bar.label)}: {bar.value}</title></rect>"
            f'<text x="{middle}" y="{round(y - 4, 1)}" font-size="10" text-anchor="middle">{bar.value}</text>'
        )
        if bar.href:
            shape = f'<a href="{_text(bar.href)}">{shape}</a>'
        parts.append(shape)
        parts.append(
            f'<text x="{middle}" y="{HEIGHT - _BOTTOM + 14}" font-size="9" text-anchor="middle">'
            f"{_text(bar.label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
