"""The product catalogue's shapes: meters, features, customers, billing profiles, credit grants and
balances (v3 only), and plans with their phases and rate cards (v1 and v3).

Plans are the resource both versions create: :func:`rate_card_body`, :func:`phase_body` and
:func:`plan_body` write them for the client's requests and the offline OpenMeter's answers alike;
the only v1/v3 differences that are not a key's spelling live here (v1 names a rate card's
feature by key and says its ``type``; v3 names it by id and keeps the payment term on the card).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from contract.model.domain import SettlementMode
from contract.wire.shape import (
    BOOL,
    DECIMAL,
    INT,
    LIST,
    NAME,
    RAW,
    REQ_DECIMAL,
    REQ_STR,
    SETTLEMENT,
    STR,
    TIME,
    Api,
    Shape,
)

__all__ = [
    "BALANCE",
    "CUSTOMER",
    "FEATURE",
    "GRANT",
    "METER",
    "PHASE",
    "PLAN",
    "PROFILE",
    "PRO_RATING_MODE",
    "RATE_CARD",
    "SERVER_VERSION",
    "PhaseLike",
    "PlanLike",
    "RateCardLike",
    "phase_body",
    "plan_body",
    "rate_card_body",
]

SERVER_VERSION = Shape.of(version=REQ_STR, os=STR, arch=STR)

METER = Shape.of(id=REQ_STR, key=REQ_STR, name=NAME) + Shape.of(
    event_type=REQ_STR, aggregation=REQ_STR, value_property=STR, created_at=TIME
)

FEATURE = Shape.of(id=REQ_STR, key=REQ_STR, name=NAME, meter_id=STR.at(v3="meter.id"))

CUSTOMER = Shape.of(id=REQ_STR, key=REQ_STR, name=NAME, currency=STR) + Shape.of(
    subject_keys=LIST.at(v3="usage_attribution.subject_keys")
)

_INVOICING = "workflow.invoicing"
PROFILE = Shape.of(id=REQ_STR, name=NAME, is_default=BOOL.at(v3="default").or_(False)) + Shape.of(
    auto_advance=BOOL.at(v3=f"{_INVOICING}.auto_advance"),
    progressive_billing=BOOL.at(v3=f"{_INVOICING}.progressive_billing"),
    end_proration=STR.at(v3=f"{_INVOICING}.subscription_end_proration_mode"),
    collection_interval=STR.at(v3="workflow.collection.interval"),
)

GRANT = Shape.of(amount=REQ_DECIMAL, id=REQ_STR, name=NAME, currency=REQ_STR) + Shape.of(
    funding_method=STR, status=STR, priority=INT, effective_at=TIME
)

BALANCE = Shape.of(currency=REQ_STR, live=DECIMAL, settled=DECIMAL, pending=DECIMAL, available=DECIMAL)

# ------------------------------------------------------------------------------------------ plans

#: v1's ``proRatingConfig.mode``; the only mode OpenMeter has.
PRO_RATING_MODE = "prorate_prices"

RATE_CARD = Shape.of(
    type=STR.at(v3=None),  # v1: usage_based | flat_fee
    key=REQ_STR,
    name=NAME,
    feature_id=STR.at(v3="feature.id", v1=None),
    feature_key=STR,
    billing_cadence=STR.null_in_v1_too(),
    payment_term=STR.at(v1=None),  # v1 keeps it in the price
    price=RAW.null_in_v1_too(),
)

PHASE = Shape.of(key=REQ_STR, name=NAME, duration=STR.null_in_v1_too(), rate_cards=LIST)

_PRO_RATING = "proRatingConfig"
PLAN = (
    Shape.of(key=REQ_STR, name=NAME, currency=STR, billing_cadence=STR, settlement_mode=SETTLEMENT)
    + Shape.of(
        pro_rating_enabled=BOOL.at(v1=f"{_PRO_RATING}.enabled"),
        pro_rating_mode=STR.at(v3=None, v1=f"{_PRO_RATING}.mode"),
    )
    + Shape.of(phases=LIST, id=REQ_STR, version=INT.or_(0), status=NAME)
    + Shape.of(created_at=TIME, updated_at=TIME, effective_from=TIME)
)


class _Renders(Protocol):
    def body(self, api: Api) -> dict[str, Any]: ...


class _Named(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def name(self) -> str: ...


class RateCardLike(_Named, Protocol):
    @property
    def feature_id(self) -> str | None: ...
    @property
    def billing_cadence(self) -> object | None: ...


class PhaseLike(_Named, Protocol):
    @property
    def duration(self) -> object | None: ...
    @property
    def rate_cards(self) -> Sequence[_Renders]: ...


class PlanLike(_Named, Protocol):
    @property
    def currency(self) -> str: ...
    @property
    def billing_cadence(self) -> object: ...
    @property
    def pro_rating(self) -> bool: ...
    @property
    def settlement_mode(self) -> SettlementMode | None: ...
    @property
    def phases(self) -> Sequence[PhaseLike]: ...


def rate_card_body(
    api: Api,
    card: RateCardLike,
    *,
    price: Mapping[str, Any] | None,
    usage: bool,
    payment_term: str | None,
    feature_key: str | None,
) -> dict[str, Any]:
    """A rate card; ``price`` already in ``api``'s shape (:func:`contract.wire.prices.price_body`).
    v3 names the feature by id and keeps the payment term; v1 names the feature by key."""
    values: dict[str, Any] = {"key": card.key, "name": card.name, "billing_cadence": card.billing_cadence}
    if api == "v3":
        values.update(feature_id=card.feature_id or None, payment_term=payment_term)
    else:
        values.update(type="usage_based" if usage else "flat_fee", feature_key=feature_key or None)
    return RATE_CARD.write({**values, "price": price}, api)


def phase_body(api: Api, phase: PhaseLike) -> dict[str, Any]:
    """A phase with its rate cards, each rendering itself (``body(api)``)."""
    cards = [rc.body(api) for rc in phase.rate_cards]
    return PHASE.write({"key": phase.key, "name": phase.name, "duration": phase.duration, "rate_cards": cards}, api)


def plan_body(api: Api, plan: PlanLike, **more: Any) -> dict[str, Any]:
    """A plan; ``more``: other ``PLAN`` fields (the server's id, version, status, timestamps)."""
    values = {
        "key": plan.key,
        "name": plan.name,
        "currency": plan.currency,
        "billing_cadence": plan.billing_cadence,
        "pro_rating_enabled": plan.pro_rating,
        "pro_rating_mode": PRO_RATING_MODE,
        "settlement_mode": plan.settlement_mode,
        "phases": [phase_body(api, ph) for ph in plan.phases],
    }
    return PLAN.write({**values, **more}, api)
