"""The one rounding function (contract.model.money)."""

from __future__ import annotations

from decimal import Decimal

from contract.model.money import format_money, minor_units, prorate, round_money


def test_rounds_half_away_from_zero_to_the_minor_unit() -> None:
    assert round_money(Decimal("2.255"), "USD") == Decimal("2.26")
    assert round_money(Decimal("-2.255"), "USD") == Decimal("-2.26")
    assert round_money(Decimal("2.254999"), "USD") == Decimal("2.25")


def test_currencies_without_two_decimals() -> None:
    assert minor_units("jpy") == 0
    assert round_money(Decimal("10.5"), "JPY") == Decimal("11")
    assert round_money(Decimal("1.2345"), "KWD") == Decimal("1.235")


def test_prorate_uses_exact_calendar_durations() -> None:
    day = Decimal(86400)
    assert prorate(Decimal(5), 14 * day, 31 * day, "USD") == Decimal("2.26")
    assert prorate(Decimal(5), 17 * day, 31 * day, "USD") == Decimal("2.74")
    assert prorate(Decimal(9), 31 * day, 91 * day, "USD") == Decimal("3.07")
    assert prorate(Decimal(5), Decimal(40), Decimal(2678400), "USD") == Decimal("0.00")


def test_format_money_is_stable() -> None:
    assert format_money(Decimal("5.00")) == "5"
    assert format_money(Decimal("2.260")) == "2.26"
    assert format_money(None) == "-"
