"""Calendar arithmetic of contract.model.time (sync-model.md §2.1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.model.time import (
    Duration,
    Period,
    RecurrenceCache,
    add,
    cadences_align,
    floor_second,
    format_time,
    parse_time,
    recurrence_index,
    recurrence_period,
    require_utc,
    widen_to_second,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


P1M = Duration(months=1)


def test_adding_a_month_to_jan_31_clamps_to_the_last_day_of_february() -> None:
    assert add(utc(2024, 1, 31), P1M) == utc(2024, 2, 29)
    assert add(utc(2023, 1, 31), P1M) == utc(2023, 2, 28)


def test_years_clamp_feb_29_to_feb_28() -> None:
    assert add(utc(2024, 2, 29), Duration(years=1)) == utc(2025, 2, 28)


def test_months_are_added_before_days() -> None:
    assert add(utc(2024, 1, 31), Duration(months=1, days=1)) == utc(2024, 3, 1)


def test_anchor_on_the_31st_returns_to_the_31st_after_a_short_month() -> None:
    anchor = utc(2024, 1, 31, 10, 30)
    boundaries = [add(anchor, P1M, k) for k in range(5)]
    assert boundaries == [
        utc(2024, 1, 31, 10, 30),
        utc(2024, 2, 29, 10, 30),
        utc(2024, 3, 31, 10, 30),
        utc(2024, 4, 30, 10, 30),
        utc(2024, 5, 31, 10, 30),
    ]


def test_boundaries_are_computed_from_the_anchor_not_chained() -> None:
    anchor = utc(2024, 1, 31)
    chained = add(add(anchor, P1M), P1M)  # Feb 29 + 1 month
    assert chained == utc(2024, 3, 29)
    assert add(anchor, P1M, 2) == utc(2024, 3, 31)


def test_negative_k_goes_back_from_the_anchor_with_clamping() -> None:
    anchor = utc(2024, 3, 31)
    assert add(anchor, P1M, -1) == utc(2024, 2, 29)
    assert add(anchor, P1M, -2) == utc(2024, 1, 31)


def test_negative_duration_subtracts() -> None:
    assert Duration.parse("-PT1H") == Duration(hours=-1)
    assert add(utc(2024, 1, 1), Duration.parse("-PT1H")) == utc(2023, 12, 31, 23)
    assert add(utc(2024, 3, 31), Duration.parse("-P1M")) == utc(2024, 2, 29)


def test_recurrence_period_contains_t_and_keeps_the_anchor_time_of_day() -> None:
    anchor = utc(2024, 1, 31, 12)
    period = recurrence_period(anchor, P1M, utc(2024, 3, 1))
    assert period == Period(utc(2024, 2, 29, 12), utc(2024, 3, 31, 12))


def test_recurrence_before_the_anchor_uses_negative_k() -> None:
    anchor = utc(2024, 3, 15)
    assert recurrence_index(anchor, P1M, utc(2024, 1, 20)) == -2
    assert recurrence_period(anchor, P1M, utc(2024, 1, 20)) == Period(utc(2024, 1, 15), utc(2024, 2, 15))


def test_recurrence_on_a_boundary_starts_there() -> None:
    assert recurrence_period(utc(2024, 1, 1), Duration(weeks=4), utc(2024, 1, 29)) == Period(
        utc(2024, 1, 29), utc(2024, 2, 26)
    )


def test_recurrence_rejects_non_positive_durations() -> None:
    with pytest.raises(ValueError, match="positive duration"):
        recurrence_period(utc(2024, 1, 1), Duration.parse("-P1M"), utc(2024, 2, 1))


def test_duration_parse_rejects_garbage_and_keeps_calendar_parts() -> None:
    assert Duration.parse("P1DT20H2S") == Duration(days=1, hours=20, seconds=2)
    assert Duration.parse("PT0.5S") == Duration(microseconds=500000)
    for bad in ("", "P", "PT", "1M", "P1X"):
        with pytest.raises(ValueError):
            Duration.parse(bad)


def test_parse_time_truncates_nanoseconds_and_converts_offsets_to_utc() -> None:
    assert parse_time("2021-01-01T00:00:00.123456789Z") == utc(2021, 1, 1, 0, 0, 0, 123456)
    assert parse_time("2024-01-01T02:00:00+02:00") == utc(2024, 1, 1)
    with pytest.raises(ValueError):
        parse_time("2024-01-01")


def test_format_time_shows_sub_seconds_only_when_present() -> None:
    assert format_time(utc(2024, 1, 1)) == "2024-01-01T00:00:00Z"
    assert format_time(utc(2021, 1, 1, 0, 0, 0, 123400)) == "2021-01-01T00:00:00.1234Z"


def test_floor_and_widen_to_the_whole_second() -> None:
    t = utc(2021, 1, 3, 0, 0, 0, 123400)
    assert floor_second(t) == utc(2021, 1, 3)
    assert widen_to_second(t) == utc(2021, 1, 3, 0, 0, 0, 999999)
    assert Period(t, t + timedelta(seconds=1)).floor() == Period(utc(2021, 1, 3), utc(2021, 1, 3, 0, 0, 1))


def test_naive_and_non_utc_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="not a timezone-aware UTC"):
        require_utc(datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="not a timezone-aware UTC"):
        Period(datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2))), utc(2024, 1, 2))


def test_period_emptiness() -> None:
    a = Period(utc(2024, 1, 1), utc(2024, 2, 1))
    assert not a.is_empty
    assert Period(utc(2024, 1, 1), utc(2024, 1, 1)).is_empty


def test_duration_between_keeps_microseconds_and_adds_back_exactly() -> None:
    from datetime import UTC, datetime

    from contract.model.time import Duration, add

    start = datetime(2026, 1, 31, 23, 59, 59, 990000, tzinfo=UTC)
    end = datetime(2026, 3, 1, 0, 0, 0, 123456, tzinfo=UTC)
    d = Duration.between(start, end)
    assert (d.years, d.months, d.days) == (0, 0, 0) and d.microseconds == 133456
    assert add(start, d) == end
    assert add(end, Duration.between(end, start)) == start  # negative offsets too


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(["P1M", "P1Y", "P3M", "P1W", "P4W", "P1D", "PT1H", "P1M15D"]),
    st.integers(-30, 30),
)
def test_a_boundary_starts_its_period_with_or_without_a_cache(anchor: datetime, cadence: str, k: int) -> None:
    # b_k = anchor + k·d is the start of the period containing it (§2.1), whatever ran before
    d = Duration.parse(cadence)
    boundary = add(anchor, d, k)
    expected = Period(boundary, add(anchor, d, k + 1))
    assert recurrence_period(anchor, d, boundary) == expected
    fresh = RecurrenceCache()
    assert fresh.period(anchor, d.components(), boundary) == expected
    warm = RecurrenceCache()
    warm.period(anchor, d.components(), add(anchor, d, k - 1))  # remembers b_k as a period end
    assert warm.period(anchor, d.components(), boundary) == expected
    assert warm.period(anchor, d.components(), boundary + timedelta(microseconds=1)) == expected


@pytest.mark.parametrize(
    ("plan", "rate_card", "aligned"),
    [
        ("P1M", "P1M", True),
        ("P1M", "P3M", True),
        ("P3M", "P1M", True),
        ("P1Y", "P1M", True),
        ("P12M", "P1Y", True),
        ("P1W", "P1D", True),
        ("P4W", "P2W", True),
        ("P1W", "P2W", True),
        ("P1M", "P1D", True),
        ("P1M", "P1W", False),
        ("P4W", "P1M", False),
        ("P1M", "P4W", False),
        ("P1M", "P2W", False),
        ("P3M", "P2M", False),
        ("P1W", "P3D", False),
    ],
)
def test_cadences_align_only_when_one_divides_the_other_for_every_month_and_day_length(
    plan: str, rate_card: str, aligned: bool
) -> None:
    """P1D divides P1M whatever the month; P1W never does (28 days is the only month it fits)."""
    assert cadences_align(Duration.parse(plan), Duration.parse(rate_card)) is aligned
