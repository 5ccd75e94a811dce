from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from medcom_bridge import localtime


def test_a_late_march_evening_in_utc_is_april_in_denmark() -> None:
    at = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)  # 00:30 CEST on 1 April
    assert localtime.month_of(at) == "2026-04"
    assert localtime.shown(at, zone=True) == "2026-04-01 00:30 CEST"


def test_winter_time_is_one_hour_ahead() -> None:
    assert localtime.shown(datetime(2026, 1, 15, 12, 0), seconds=True) == "2026-01-15 13:00:00"


def test_month_bounds_follow_the_danish_calendar() -> None:
    start, end = localtime.month_bounds("2026-03")
    assert start == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # summer time from 29 March
    assert localtime.month_bounds("2026-12")[1] == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)


def test_months_back_crosses_the_year() -> None:
    assert localtime.months_back("2026-02", 3) == ["2025-12", "2026-01", "2026-02"]
    assert len(localtime.months_back("2026-12", 13)) == 13
    assert localtime.month_name("2026-03") == "marts 2026"


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_every_instant_lies_within_the_bounds_of_its_month(at: datetime) -> None:
    start, end = localtime.month_bounds(localtime.month_of(at))
    assert start <= at < end
