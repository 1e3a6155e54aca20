"""Domain inputs validate their invariants (contract.model.domain)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from contract.model.domain import ItemVersion, PaymentTerm, Price, PriceType, RateCard

from .builders import simple, t, usage


def test_usage_prices_are_always_in_arrears() -> None:
    with pytest.raises(ValueError, match="always in arrears"):
        Price(PriceType.UNIT, Decimal(1), PaymentTerm.IN_ADVANCE)
    assert Price(PriceType.FLAT, Decimal(1), PaymentTerm.IN_ADVANCE).in_advance


def test_usage_rate_cards_need_a_cadence() -> None:
    with pytest.raises(ValueError, match="need a billing cadence"):
        RateCard(price=Price(PriceType.UNIT, Decimal(1)))


def test_item_versions_reject_naive_times_and_reversed_activity() -> None:
    with pytest.raises(ValueError, match="not a timezone-aware UTC"):
        ItemVersion("k", datetime(2024, 1, 1), RateCard())
    with pytest.raises(ValueError, match="before active_from"):
        ItemVersion("k", t("2024-02-01"), RateCard(), t("2024-01-01"))


def test_subscription_activity_and_with_active_to() -> None:
    sub = simple(usage())
    assert sub.is_active_at(t("2030-01-01"))
    ended = sub.with_active_to(t("2024-01-15"))
    assert not ended.is_active_at(t("2024-01-15")) and ended.is_active_at(t("2024-01-14"))
    assert sub.active_to is None
