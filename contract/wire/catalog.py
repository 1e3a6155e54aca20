"""The product catalogue's shapes: meters, features, customers, billing profiles, credit grants and
balances (v3 only), and plans with their phases and rate cards (v1 and v3).

Plans are the resource both versions create: :func:`rate_card_body`, :func:`phase_body` and
:func:`plan_body` write them for the client's requests and the offline OpenMeter's answers alike;
the only v1/v3 differences that are not a key's spelling live here (v1 names a rate card's
feature by key and says its ``type``; v3 names it by id and keeps the payment term on the card).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contract.wire import read as r
from contract.wire.shape import Api, Field, Shape, raw

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
    "phase_body",
    "plan_body",
    "rate_card_body",
]

SERVER_VERSION = Shape((Field("version", r.req_str), Field("os"), Field("arch")))

METER = Shape(
    (
        Field("id", r.req_str),
        Field("key", r.req_str),
        Field("name", default=""),
        Field("event_type", r.req_str),
        Field("aggregation", r.req_str),
        Field("value_property"),
        Field("created_at", r.opt_time),
    )
)

FEATURE = Shape(
    (Field("id", r.req_str), Field("key", r.req_str), Field("name", default=""), Field("meter_id", v3="meter.id"))
)

CUSTOMER = Shape(
    (
        Field("id", r.req_str),
        Field("key", r.req_str),
        Field("name", default=""),
        Field("currency"),
        Field("subject_keys", r.items, v3="usage_attribution.subject_keys"),
    )
)

PROFILE = Shape(
    (
        Field("id", r.req_str),
        Field("name", default=""),
        Field("is_default", r.opt_bool, v3="default", default=False),
        Field("auto_advance", r.opt_bool, v3="workflow.invoicing.auto_advance"),
        Field("progressive_billing", r.opt_bool, v3="workflow.invoicing.progressive_billing"),
        Field("end_proration", v3="workflow.invoicing.subscription_end_proration_mode"),
        Field("collection_interval", v3="workflow.collection.interval"),
    )
)

GRANT = Shape(
    (
        Field("amount", r.req_decimal),
        Field("id", r.req_str),
        Field("name", default=""),
        Field("currency", r.req_str),
        Field("funding_method"),
        Field("status"),
        Field("priority", r.opt_int),
        Field("effective_at", r.opt_time),
    )
)

BALANCE = Shape(
    (
        Field("currency", r.req_str),
        Field("live", r.opt_decimal),
        Field("settled", r.opt_decimal),
        Field("pending", r.opt_decimal),
        Field("available", r.opt_decimal),
    )
)

# ------------------------------------------------------------------------------------------ plans

#: v1's ``proRatingConfig.mode``; the only mode OpenMeter has.
PRO_RATING_MODE = "prorate_prices"

RATE_CARD = Shape(
    (
        Field("type", v3=None),  # v1: usage_based | flat_fee
        Field("key", r.req_str),
        Field("name", default=""),
        Field("feature_id", v3="feature.id", v1=None),
        Field("feature_key"),
        Field("billing_cadence", null_in_v1=True),
        Field("payment_term", v1=None),  # v1 keeps it in the price
        Field("price", raw, null_in_v1=True),
    )
)

PHASE = Shape(
    (
        Field("key", r.req_str),
        Field("name", default=""),
        Field("duration", null_in_v1=True),
        Field("rate_cards", r.items),
    )
)

PLAN = Shape(
    (
        Field("key", r.req_str),
        Field("name", default=""),
        Field("currency"),
        Field("billing_cadence"),
        Field("pro_rating_enabled", r.opt_bool, v1="proRatingConfig.enabled"),
        Field("pro_rating_mode", v3=None, v1="proRatingConfig.mode"),
        Field("settlement_mode", r.opt_settlement),
        Field("phases", r.items),
        Field("id", r.req_str),
        Field("version", r.opt_int, default=0),
        Field("status", default=""),
        Field("created_at", r.opt_time),
        Field("updated_at", r.opt_time),
        Field("effective_from", r.opt_time),
    )
)


def rate_card_body(
    api: Api,
    *,
    key: str,
    name: str,
    price: Mapping[str, Any] | None,
    usage: bool,
    billing_cadence: object | None,
    payment_term: str | None = None,
    feature_id: str | None = None,
    feature_key: str | None = None,
) -> dict[str, Any]:
    """A rate card; ``price`` already in ``api``'s shape (:func:`contract.wire.prices.price_body`)."""
    values: dict[str, Any] = {"key": key, "name": name, "billing_cadence": billing_cadence, "price": price}
    if api == "v3":
        values.update(feature_id=feature_id, payment_term=payment_term)
    else:
        values.update(type="usage_based" if usage else "flat_fee", feature_key=feature_key)
    return RATE_CARD.write(values, api)


def phase_body(api: Api, *, key: str, name: str, duration: object | None, rate_cards: Sequence[Any]) -> dict[str, Any]:
    return PHASE.write({"key": key, "name": name, "duration": duration, "rate_cards": list(rate_cards)}, api)


def plan_body(api: Api, values: Mapping[str, Any]) -> dict[str, Any]:
    """A plan from neutral values (``PLAN``'s names); v1's ``proRatingConfig`` gets its mode."""
    with_mode = dict(values)
    if "pro_rating_enabled" in values:
        with_mode["pro_rating_mode"] = PRO_RATING_MODE
    return PLAN.write(with_mode, api)
