"""Subscriptions' shapes: the summary create / cancel / continue / edit answer with (v1 and v3),
and the full v1 subscription with its phases and item versions (what the engine is fed).

The summary and the full view name the same fields; the full view requires more of them
(:meth:`~contract.wire.shape.Shape.with_readers`).
"""

from __future__ import annotations

from contract.wire import read as r
from contract.wire.catalog import RATE_CARD
from contract.wire.shape import BOOL, INT, NAME, PERIOD, REQ_STR, REQ_TIME, SETTLEMENT, STR, TIME, Shape

__all__ = ["ITEM", "ITEM_RATE_CARD", "SUBSCRIPTION", "SUBSCRIPTION_PHASE", "SUBSCRIPTION_SUMMARY"]

_ALIGNMENT = "alignment.currentAlignedBillingPeriod"
SUBSCRIPTION_SUMMARY = (
    Shape.of(id=REQ_STR, status=REQ_STR, customer_id=STR, plan_id=STR.at(v1="plan.id"))
    + Shape.of(plan_ref=STR.at(v3="plan.id", v1=None))  # v3 builds that answer ``plan: {id}``
    + Shape.of(billing_anchor=TIME, active_from=TIME, active_to=TIME, settlement_mode=SETTLEMENT)
    + Shape.of(billing_cadence=STR, current_period=PERIOD.at(v1=_ALIGNMENT), currency=STR)
    + Shape.of(
        pro_rating_enabled=BOOL.at(v1="proRatingConfig.enabled"),
        pro_rating_mode=STR.at(v3=None, v1="proRatingConfig.mode"),
    )
    + Shape.of(plan_key=STR.at(v3=None, v1="plan.key"), plan_version=INT.at(v3=None, v1="plan.version"))
    + Shape.of(created_at=TIME, updated_at=TIME)
)

SUBSCRIPTION = SUBSCRIPTION_SUMMARY.with_readers(
    customer_id=r.req_str, active_from=r.req_time, billing_anchor=r.req_time
)

_ACTIVE = Shape.of(active_from=REQ_TIME, active_to=TIME)
SUBSCRIPTION_PHASE = Shape.of(id=REQ_STR, key=REQ_STR, name=NAME) + _ACTIVE
ITEM = Shape.of(id=REQ_STR, key=REQ_STR) + _ACTIVE + Shape.of(created_at=TIME, updated_at=TIME)

#: An item's rate card (nested ``rateCard`` or the item's own fields): nothing of it is required.
ITEM_RATE_CARD = RATE_CARD.with_readers(key=r.opt_str)
