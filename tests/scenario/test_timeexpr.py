"""Time expressions: parsing, resolution against the runner's clock and named instants, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from contract.model.time import Duration
from contract.scenario.timeexpr import NAMED_INSTANTS, NOW, TimeBase, TimeExpr, TimeExprError, parse_time_expr

T0 = datetime(2026, 8, 18, 16, 5, 0, 123456, tzinfo=UTC)


def at(text: str, now: datetime = T0, **named: datetime) -> datetime:
    return parse_time_expr(text).resolve(now, named)


def test_now_resolves_to_the_runner_clock_unchanged() -> None:
    assert at("now") == T0
    assert parse_time_expr("now") == NOW
    assert NOW.is_now


def test_now_with_signed_offsets_applies_each_in_turn() -> None:
    assert at("now-P1W+PT30S") == T0 - timedelta(weeks=1) + timedelta(seconds=30)
    assert at("now+PT1H30M") == T0 + timedelta(hours=1, minutes=30)
    assert at("now-P1D") == T0 - timedelta(days=1)


def test_renewal_anchor_puts_the_first_period_end_twenty_seconds_ahead() -> None:
    anchor = at("now-P1W+PT20S")
    first_period_end = anchor + timedelta(weeks=1)
    assert first_period_end - T0 == timedelta(seconds=20)


def test_month_arithmetic_clamps_to_the_end_of_a_short_month() -> None:
    jan31 = datetime(2024, 1, 31, 12, 0, tzinfo=UTC)
    assert at("now+P1M", jan31) == datetime(2024, 2, 29, 12, 0, tzinfo=UTC)
    assert at("now+P1M", jan31.replace(year=2023)) == datetime(2023, 2, 28, 12, 0, tzinfo=UTC)
    assert at("now-P1M", datetime(2024, 3, 31, tzinfo=UTC)) == datetime(2024, 2, 29, tzinfo=UTC)


def test_offsets_apply_left_to_right_not_summed() -> None:
    # +P1M clamps to Feb 29 first; -P1M from there lands on Jan 29, not back on Jan 31.
    jan31 = datetime(2024, 1, 31, tzinfo=UTC)
    assert at("now+P1M-P1M", jan31) == datetime(2024, 1, 29, tzinfo=UTC)


def test_whitespace_around_operators_is_allowed() -> None:
    assert parse_time_expr(" now - P1W + PT30S ") == parse_time_expr("now-P1W+PT30S")


@pytest.mark.parametrize("name", NAMED_INSTANTS)
def test_named_instants_resolve_from_the_mapping(name: str) -> None:
    instant = datetime(2026, 9, 18, 16, 0, tzinfo=UTC)
    expr = parse_time_expr(f"{name}+PT2S")
    assert expr.base is TimeBase.NAMED
    assert expr.needs == frozenset({name})
    assert expr.resolve(T0, {name: instant}) == instant + timedelta(seconds=2)


def test_missing_named_instant_is_a_clear_error() -> None:
    message = r"needs the instant 'current_period_end' \(known: subscription_start\)"
    with pytest.raises(ValueError, match=message):
        parse_time_expr("current_period_end").resolve(T0, {"subscription_start": T0})


def test_absolute_timestamp_ignores_now_and_keeps_microseconds() -> None:
    expr = parse_time_expr("2026-01-31T00:00:00.250Z")
    assert expr.base is TimeBase.ABSOLUTE
    assert expr.resolve(T0) == datetime(2026, 1, 31, 0, 0, 0, 250000, tzinfo=UTC)
    assert parse_time_expr("2026-01-31T00:00:00+00:00").resolve(T0) == datetime(2026, 1, 31, tzinfo=UTC)


def test_resolve_rejects_a_naive_or_non_utc_clock() -> None:
    with pytest.raises(ValueError, match="not a timezone-aware UTC datetime"):
        NOW.resolve(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="not a timezone-aware UTC datetime"):
        NOW.resolve(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2))))


@pytest.mark.parametrize(
    "text", ["now", "now-P1W+PT30S", "current_period_end+PT2S", "2026-01-31T00:00:00Z", "subscription_start-P1M"]
)
def test_str_round_trips(text: str) -> None:
    expr = parse_time_expr(text)
    assert str(expr) == text
    assert parse_time_expr(str(expr)) == expr


def test_offsets_are_stored_signed() -> None:
    expr = parse_time_expr("now-P1W+PT30S")
    assert expr.offsets == (Duration(weeks=-1), Duration(seconds=30))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty time expression"),
        ("tomorrow", "unknown instant 'tomorrow'"),
        ("Now", "bad time expression 'Now'"),
        ("current_period_ends", "unknown instant 'current_period_ends'"),
        ("now+", "expected '+' or '-' and an ISO-8601 duration at '+'"),
        ("now+1D", "expected '+' or '-' and an ISO-8601 duration at '+1D'"),
        ("now P1D", "expected '+' or '-' and an ISO-8601 duration at 'P1D'"),
        ("now++P1D", "expected '+' or '-' and an ISO-8601 duration at '++P1D'"),
        ("now+p1d", "expected '+' or '-' and an ISO-8601 duration at '+p1d'"),
        ("now+P1X", "'P1X' is not an ISO-8601 duration"),
        ("now+PT", "'PT' is not an ISO-8601 duration"),
        ("2026-01-01", "bad time expression '2026-01-01'"),
        ("2026-13-01T00:00:00Z", "not a valid RFC 3339 timestamp"),
        ("2026-01-01T00:00:00+02:00", "timestamps must be UTC (end in Z), got offset +02:00"),
        ("2026-01-01T00:00:00Z+P1D", "bad time expression"),
    ],
)
def test_bad_expressions_are_rejected_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(TimeExprError) as err:
        parse_time_expr(text)
    assert message in str(err.value)


def test_time_expr_invariants_are_enforced_at_construction() -> None:
    with pytest.raises(ValueError, match="unknown named instant"):
        TimeExpr(TimeBase.NAMED, name="yesterday")
    with pytest.raises(ValueError, match="takes no offsets"):
        TimeExpr(TimeBase.ABSOLUTE, absolute=T0, offsets=(Duration(days=1),))
