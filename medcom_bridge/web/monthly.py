"""The monthly statistics as people and programs read them: names beside GLNs, links to the flows behind
every number, SVG trend charts, JSON and CSV. Pure translation of `hub.service.Monthly`; no SQL here.

Statistics hold no patient data (GLNs, party names from the register, codes and counts), so reading them is
not audited as a read of patient data.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from medcom_bridge.hub.service import Monthly
from medcom_bridge.hub.stats import FIGURE_MEANING, Figure, PartnerRate, Trends
from medcom_bridge.localtime import MONTH_NAMES, month_name
from medcom_bridge.web.charts import Bar, bar_chart

Names = Callable[[str | None], str | None]
"""`Context.party_name`: the register's name for a GLN, or None."""

CHART_ID = "monthly-chart"
CSV_COLUMNS = (
    "section",
    "month",
    "sender_gln",
    "sender_name",
    "receiver_gln",
    "receiver_name",
    "detail",
    "place",
    "flows",
    "delivered",
    "rate",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def flows_link(**args: Any) -> str:
    """The flow list with these filters (None and empty values left out)."""
    query = {k: str(v) for k, v in args.items() if v not in (None, "")}
    return f"/ui/flows?{urlencode(query)}"


def short_month(month: str) -> str:
    """`2026-03` -> `mar 26`, for chart labels."""
    year, mon = month.split("-")
    return f"{MONTH_NAMES[int(mon) - 1][:3]} {year[2:]}"


def rate_text(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f} %"


# -- charts ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrendRow:
    """One series of the trends: its name, and per month the count and the link to its flows."""

    title: str
    cells: list[tuple[str, int, str]]
    """(month, count, link to its flows), oldest first."""
    svg: str


def trend_rows(trends: Trends) -> list[TrendRow]:
    """Letters, conversions per direction, negative receipts, missing receipts (and the hub's refusals and
    quarantined input), each a bar chart over the months with its numbers."""
    series: list[tuple[str, list[int], dict[str, str]]] = [
        (FIGURE_MEANING[Figure.LETTERS], trends.series(Figure.LETTERS), {"figure": Figure.LETTERS.value})
    ]
    for route in trends.conversions:
        filters = {"figure": Figure.CONVERSIONS.value, "route": route}
        series.append((f"conversions {route}", trends.route_series(route), filters))
    for figure in (Figure.RECEIVER_NEGATIVE, Figure.MISSING, Figure.HUB_REFUSED, Figure.QUARANTINED):
        series.append((FIGURE_MEANING[figure], trends.series(figure), {"figure": figure.value}))
    rows = []
    for title, values, filters in series:
        links = [flows_link(month=m, **filters) for m in trends.months]
        bars = [Bar(short_month(m), v, href) for m, v, href in zip(trends.months, values, links, strict=True)]
        heading = f"{title}, {month_name(trends.months[0])} – {month_name(trends.months[-1])}"
        cells = list(zip(trends.months, values, links, strict=True))
        rows.append(TrendRow(title, cells, bar_chart(heading, bars)))
    return rows


# -- JSON ------------------------------------------------------------------------------------------------------


def _party(prefix: str, gln: str | None, names: Names) -> dict[str, str | None]:
    return {f"{prefix}_gln": gln, f"{prefix}_name": names(gln)}


def _rates(rates: list[PartnerRate], names: Names) -> list[dict[str, Any]]:
    return [
        {"gln": p.gln, "name": names(p.gln), "delivered": p.delivered, "negative": p.negative, "rate": p.rate}
        for p in rates
    ]


def monthly_json(m: Monthly, names: Names) -> dict[str, Any]:
    """The figures as JSON. The keys of the first version stay (`negative_receipts` now holds the receivers'
    negative receipts only, with `code`; the hub's refusals and quarantined input have keys of their own)."""
    trends = m.trends
    return {
        "month": m.month,
        "month_name": month_name(m.month) if m.month else None,
        "negative_receipts": [
            {
                "month": r.month,
                **_party("sender", r.sender_gln, names),
                **_party("receiver", r.receiver_gln, names),
                "cause": r.cause,
                "code": r.code,
                "place": r.place,
                "count": r.count,
            }
            for r in m.negative_receipts
        ],
        "refused_by_hub": [
            {
                "month": r.month,
                **_party("sender", r.sender_gln, names),
                **_party("receiver", r.receiver_gln, names),
                "reject_cause": r.reject.value,
                "rule": r.cause,
                "event": r.event,
                "place": r.place,
                "count": r.count,
            }
            for r in m.hub_refusals
        ],
        "quarantined": [
            {"month": r.month, **_party("sender", r.sender_gln, names), "rule": r.cause, "count": r.count}
            for r in m.quarantined
        ],
        "missing_receipts": [
            {
                "month": r.month,
                **_party("sender", r.sender_gln, names),
                **_party("receiver", r.receiver_gln, names),
                "flows": r.flows,
            }
            for r in m.missing_receipts
        ],
        "conversions": [{"month": r.month, "route": r.route, "count": r.count} for r in m.conversions],
        "pass_throughs": m.pass_throughs,
        "negative_rate": {"receivers": _rates(m.receivers, names), "senders": _rates(m.senders, names)},
        "trends": None
        if trends is None
        else {
            "months": trends.months,
            **{figure.value: trends.series(figure) for figure in trends.counts},
            "conversions": {route: trends.route_series(route) for route in trends.conversions},
        },
    }


# -- CSV -------------------------------------------------------------------------------------------------------


def _cell(value: object) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is prefixed with `'` (CSV injection)."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def monthly_csv(m: Monthly, names: Names) -> str:
    """Every table of the month in one CSV (RFC 4180: CRLF, quotes doubled), a `section` column saying
    which; the trends as section `trend`, `detail` naming the series."""
    rows: list[list[object]] = []
    for r in m.negative_receipts:
        rows.append(
            ["negative_receipts", r.month, r.sender_gln, names(r.sender_gln), r.receiver_gln,
             names(r.receiver_gln), r.code, r.place, r.count, "", ""]
        )  # fmt: skip
    for h in m.hub_refusals:
        rows.append(
            ["refused_by_hub", h.month, h.sender_gln, names(h.sender_gln), h.receiver_gln,
             names(h.receiver_gln), f"{h.reject.value} ({h.cause})", h.place, h.count, "", ""]
        )  # fmt: skip
    for q in m.quarantined:
        rows.append(["quarantined", q.month, q.sender_gln, names(q.sender_gln), "", "", q.cause, "input",
                     q.count, "", ""])  # fmt: skip
    for s in m.missing_receipts:
        rows.append(
            ["missing_receipts", s.month, s.sender_gln, names(s.sender_gln), s.receiver_gln,
             names(s.receiver_gln), "", "receiver", s.flows, "", ""]
        )  # fmt: skip
    for c in m.conversions:
        rows.append(["conversions", c.month, "", "", "", "", c.route, "", c.count, "", ""])
    for p in m.receivers:
        rows.append(["receiver_rate", m.month, "", "", p.gln, names(p.gln), "", "", p.negative, p.delivered,
                     "" if p.rate is None else f"{p.rate:.4f}"])  # fmt: skip
    for p in m.senders:
        rows.append(["sender_rate", m.month, p.gln, names(p.gln), "", "", "", "", p.negative, p.delivered,
                     "" if p.rate is None else f"{p.rate:.4f}"])  # fmt: skip
    if m.trends is not None:
        for row in trend_rows(m.trends):
            for month, count, _ in row.cells:
                rows.append(["trend", month, "", "", "", "", row.title, "", count, "", ""])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return out.getvalue()


def chart_page_values(m: Monthly) -> dict[str, Any]:
    """What `stats.html` needs beyond the figures: the trend charts with their tables."""
    return {"trends": trend_rows(m.trends) if m.trends is not None else [], "chart_id": CHART_ID}
