"""Subscriptions' shapes: the summary create / cancel / continue / edit answer with (v1 and v3),
and the full v1 subscription with its phases and item versions (what the engine is fed).

The summary and the full view name the same fields; the full view requires more of them
(:meth:`~contract.wire.shape.Shape.with_readers`).
"""

from __future__ import annotations

from contract.wire import read as r
from contract.wire.catalog import RATE_CARD
from contract.wire.shape import Field, Shape

__all__ = ["ITEM", "ITEM_RATE_CARD", "SUBSCRIPTION", "SUBSCRIPTION_PHASE", "SUBSCRIPTION_SUMMARY"]

SUBSCRIPTION_SUMMARY = Shape(
    (
        Field("id", r.req_str),
        Field("status", r.req_str),
        Field("customer_id"),
        Field("plan_id", v1="plan.id"),
        Field("plan_ref", v3="plan.id", v1=None),  # v3 builds that answer ``plan: {id}``
        Field("billing_anchor", r.opt_time),
        Field("active_from", r.opt_time),
        Field("active_to", r.opt_time),
        Field("settlement_mode", r.opt_settlement),
        Field("billing_cadence"),
        Field("current_period", r.opt_period, v1="alignment.currentAlignedBillingPeriod"),
        Field("currency"),
        Field("pro_rating_enabled", r.opt_bool, v1="proRatingConfig.enabled"),
        Field("pro_rating_mode", v3=None, v1="proRatingConfig.mode"),
        Field("plan_key", v3=None, v1="plan.key"),
        Field("plan_version", r.opt_int, v3=None, v1="plan.version"),
        Field("created_at", r.opt_time),
        Field("updated_at", r.opt_time),
    )
)

SUBSCRIPTION = SUBSCRIPTION_SUMMARY.with_readers(
    customer_id=r.req_str, active_from=r.req_time, billing_anchor=r.req_time
)

SUBSCRIPTION_PHASE = Shape(
    (
        Field("id", r.req_str),
        Field("key", r.req_str),
        Field("name", default=""),
        Field("active_from", r.req_time),
        Field("active_to", r.opt_time),
    )
)

ITEM = Shape(
    (
        Field("id", r.req_str),
        Field("key", r.req_str),
        Field("active_from", r.req_time),
        Field("active_to", r.opt_time),
        Field("created_at", r.opt_time),
        Field("updated_at", r.opt_time),
    )
)

#: An item's rate card (nested ``rateCard`` or the item's own fields): nothing of it is required.
ITEM_RATE_CARD = RATE_CARD.with_readers(key=r.opt_str)
