"""Small builders for engine inputs used across the model tests (not a test module)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from contract.model.domain import (
    ItemVersion,
    PaymentTerm,
    Phase,
    Price,
    PriceType,
    RateCard,
    SettlementMode,
    Subscription,
)
from contract.model.time import Duration, parse_time

P1M = Duration(months=1)
P1D = Duration(days=1)


def t(text: str) -> datetime:
    """``t("2024-01-01")`` or a full RFC 3339 time."""
    if "T" not in text:
        text += "T00:00:00Z"
    return parse_time(text)


def d(text: str) -> Duration:
    return Duration.parse(text)


def usage(amount: str = "10", cadence: Duration | None = P1M, name: str = "") -> RateCard:
    return RateCard(name, None, Price(PriceType.UNIT, Decimal(amount)), cadence)


def flat(
    amount: str = "5",
    term: PaymentTerm = PaymentTerm.IN_ADVANCE,
    cadence: Duration | None = P1M,
    name: str = "",
) -> RateCard:
    return RateCard(name, None, Price(PriceType.FLAT, Decimal(amount), term), cadence)


def unpriced(cadence: Duration | None = P1M) -> RateCard:
    return RateCard("", None, None, cadence)


def version(
    key: str, card: RateCard, start: datetime, end: datetime | None = None, item_id: str | None = None
) -> ItemVersion:
    return ItemVersion(key, start, card, end, item_id or f"item-{key}-{start.isoformat()}")


def phase(key: str, start_after: str = "P0D", **items: tuple[ItemVersion, ...]) -> Phase:
    return Phase(key, Duration.parse(start_after), dict(items), id=f"phase-{key}")


def subscription(
    *phases: Phase,
    start: str = "2024-01-01",
    anchor: str | None = None,
    cadence: Duration | None = P1M,
    active_to: str | None = None,
    sub_id: str = "S",
    customer: str = "C",
    pro_rating: bool = True,
    mode: SettlementMode = SettlementMode.CREDIT_THEN_INVOICE,
) -> Subscription:
    return Subscription(
        id=sub_id,
        customer_id=customer,
        currency="USD",
        active_from=t(start),
        billing_anchor=t(anchor) if anchor else t(start),
        billing_cadence=cadence,
        phases=tuple(phases),
        active_to=t(active_to) if active_to else None,
        pro_rating=pro_rating,
        settlement_mode=mode,
    )


def simple(
    card: RateCard,
    *,
    key: str = "api",
    start: str = "2024-01-01",
    active_to: str | None = None,
    anchor: str | None = None,
    mode: SettlementMode = SettlementMode.CREDIT_THEN_INVOICE,
    pro_rating: bool = True,
) -> Subscription:
    """A one-phase subscription with one item ``key`` (one version from the start)."""
    begin = t(start)
    return subscription(
        phase("default", **{key: (version(key, card, begin),)}),
        start=start,
        active_to=active_to,
        anchor=anchor,
        mode=mode,
        pro_rating=pro_rating,
    )
