from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from medcom_bridge.hub.clock import ManualClock, SystemClock, add_months, utc


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    assert clock.now() == clock.now() == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert clock.advance(minutes=61) == datetime(2026, 3, 1, 13, 1, tzinfo=UTC)
    assert clock.advance(timedelta(days=1), hours=1) == datetime(2026, 3, 2, 14, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.advance(minutes=-1)
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 1, 1))


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime(2026, 1, 20, tzinfo=UTC), 3, datetime(2026, 4, 20, tzinfo=UTC)),
        (datetime(2025, 11, 30, tzinfo=UTC), 3, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2027, 11, 30, tzinfo=UTC), 3, datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2026, 10, 31, 23, 59, tzinfo=UTC), 3, datetime(2027, 1, 31, 23, 59, tzinfo=UTC)),
        (datetime(2026, 12, 15, tzinfo=UTC), 12, datetime(2027, 12, 15, tzinfo=UTC)),
    ],
)
def test_add_months_is_calendar_aware(start: datetime, months: int, expected: datetime) -> None:
    assert add_months(start, months) == expected


def test_utc_normalises_naive_and_offset_times() -> None:
    from datetime import timezone

    assert utc(datetime(2026, 1, 1, 12)) == datetime(2026, 1, 1, 12, tzinfo=UTC)
    cet = timezone(timedelta(hours=1))
    assert utc(datetime(2026, 1, 1, 13, tzinfo=cet)) == datetime(2026, 1, 1, 12, tzinfo=UTC)
