"""Danish time for people: every time an operator reads is Europe/Copenhagen, labelled; months are Danish.

The hub stores and compares instants in UTC (timers, ordering, retention). What people read — the pages, the
CLI, the monthly statistics — is Copenhagen wall-clock time, because MedCom and the regions report per Danish
calendar month: a receipt refused at 23:30 UTC on 31 March belongs to April. Pure functions only; the zone
database comes from the `tzdata` package when the system has none, so nothing is loaded at run time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
LABEL = "Copenhagen time"
"""How a time shown to people names its zone (once per page or column heading, or after the value)."""

MONTH_NAMES = (
    "januar",
    "februar",
    "marts",
    "april",
    "maj",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "december",
)


def local(at: datetime) -> datetime:
    """`at` (aware; a naive value is taken as UTC, as the database returns it) in Copenhagen time."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(COPENHAGEN)


def shown(at: datetime | None, *, seconds: bool = False, zone: bool = False) -> str:
    """`2026-03-31 01:30` (Copenhagen), optionally with seconds and the zone abbreviation (`CEST`)."""
    if at is None:
        return ""
    t = local(at)
    text = t.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} {t.tzname()}" if zone else text


def month_of(at: datetime) -> str:
    """The Danish calendar month (`YYYY-MM`) an instant belongs to."""
    return local(at).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a Danish month `YYYY-MM`."""
    year, mon = (int(part) for part in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=COPENHAGEN)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=COPENHAGEN)
    return start.astimezone(UTC), end.astimezone(UTC)


def month_name(month: str) -> str:
    """`2026-03` -> `marts 2026`."""
    year, mon = month.split("-")
    return f"{MONTH_NAMES[int(mon) - 1]} {year}"


def months_back(month: str, count: int) -> list[str]:
    """The `count` months ending with `month`, oldest first (`months_back("2026-02", 3)` ->
    `["2025-12", "2026-01", "2026-02"]`)."""
    year, mon = (int(part) for part in month.split("-"))
    index = year * 12 + mon - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]
