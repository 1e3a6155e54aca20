"""Subscriptions as OpenMeter's APIs show them: the v1 and v3 JSON of a
:class:`~contract.offline.subscriptions.SubscriptionSpec`, rendered from its derived view at
``now`` (item activity, the phase and billing period running now, the status)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from contract.model.time import Period, format_time
from contract.offline.catalog import Feature, Meter, PlanRateCard
from contract.offline.prices import price_v1, price_v3
from contract.offline.subscriptions import ItemView, PhaseView, SubscriptionSpec, aligned_period, status, view

__all__ = ["FeatureInfo", "render_v1", "render_v3"]

FeatureInfo = Callable[[str], tuple[Feature, Meter | None] | None]  # feature key -> feature and meter


def _t(value: datetime) -> str:
    return format_time(value)


def _period(period: Period) -> dict[str, str]:
    return {"from": _t(period.start), "to": _t(period.end)}


def _item_v1(iv: ItemView, sub: SubscriptionSpec, features: FeatureInfo) -> dict[str, Any]:
    rc = iv.spec.rate_card
    created = iv.spec.created_at or sub.created_at
    body: dict[str, Any] = {"activeFrom": _t(iv.active_from)}
    if iv.active_to is not None:
        body["activeTo"] = _t(iv.active_to)
    if rc.billing_cadence is not None:
        body["billingCadence"] = str(rc.billing_cadence)
    body.update({"createdAt": _t(created), "currency": sub.currency})
    if rc.feature_key is not None:
        body["featureKey"] = rc.feature_key
    body["id"] = iv.spec.id
    found = features(rc.feature_key) if rc.feature_key is not None else None
    if found is not None:
        feature, meter = found
        body["included"] = {"feature": feature.v1(meter)}
    body.update({"key": iv.spec.key, "name": rc.name, "price": price_v1(rc.price), "updatedAt": _t(created)})
    return body


def _flattened(pv: PhaseView, now: datetime) -> list[ItemView]:
    """v1 ``items``: the version active now per key (current phase), else the last (past phase) or
    the first (future phase) version."""
    out: list[ItemView] = []
    current = pv.active_from <= now and (pv.active_to is None or now < pv.active_to)
    for versions in pv.timelines().values():
        if current:
            running = [v for v in versions if v.active_from <= now and (v.active_to is None or now < v.active_to)]
            if running:
                out.append(running[-1])
        elif pv.active_from > now:
            out.append(versions[0])
        else:
            out.append(versions[-1])
    return out


def _summary_v1(sub: SubscriptionSpec, now: datetime) -> dict[str, Any]:
    body: dict[str, Any] = {"activeFrom": _t(sub.active_from)}
    if sub.active_to is not None:
        body["activeTo"] = _t(sub.active_to)
    alignment: dict[str, Any] = {"billablesMustAlign": True}
    period = aligned_period(sub, now)
    if period is not None:
        alignment["currentAlignedBillingPeriod"] = _period(period)
    body.update(
        {
            "alignment": alignment,
            "billingAnchor": _t(sub.billing_anchor),
            "billingCadence": str(sub.billing_cadence),
            "costBasisMode": "dynamic",
            "costBasisPins": [],
            "createdAt": _t(sub.created_at),
            "currency": sub.currency,
            "customerId": sub.customer_id,
            "id": sub.id,
            "name": sub.name,
        }
    )
    return body


def render_v1(sub: SubscriptionSpec, now: datetime, features: FeatureInfo, *, expanded: bool = True) -> dict[str, Any]:
    """v1 ``Subscription`` (``expanded``: ``SubscriptionExpanded`` with phases and item timelines)."""
    body = _summary_v1(sub, now)
    if expanded:
        phases = []
        for pv in view(sub):
            phase: dict[str, Any] = {"activeFrom": _t(pv.active_from)}
            if pv.active_to is not None:
                phase["activeTo"] = _t(pv.active_to)
            phase.update(
                {
                    "createdAt": _t(pv.spec.created_at),
                    "id": pv.spec.id,
                    "itemTimelines": {
                        key: [_item_v1(v, sub, features) for v in versions] for key, versions in pv.timelines().items()
                    },
                    "items": [_item_v1(v, sub, features) for v in _flattened(pv, now)],
                    "key": pv.spec.key,
                    "name": pv.spec.name,
                    "updatedAt": _t(pv.spec.created_at),
                }
            )
            phases.append(phase)
        body["phases"] = phases
    body.update(
        {
            "plan": {"id": sub.plan_id, "key": sub.plan_key, "version": sub.plan_version},
            "proRatingConfig": {"enabled": sub.pro_rating, "mode": "prorate_prices"},
            "settlementMode": sub.settlement_mode.value,
            "status": status(sub, now),
            "updatedAt": _t(sub.updated_at),
        }
    )
    return body


def _rate_card_v3(rc: PlanRateCard, currency: str, features: FeatureInfo) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if rc.billing_cadence is not None:
        body["billing_cadence"] = str(rc.billing_cadence)
    body["currency"] = currency
    found = features(rc.feature_key) if rc.feature_key is not None else None
    if found is not None:
        body["feature"] = {"id": found[0].id}
    body.update({"key": rc.key, "name": rc.name})
    if rc.price is not None and rc.price.is_flat:
        body["payment_term"] = rc.price.payment_term.value
    body["price"] = price_v3(rc.price)
    return body


def render_v3(sub: SubscriptionSpec, now: datetime, features: FeatureInfo) -> dict[str, Any]:
    """v3 ``BillingSubscription`` in the HEAD shape (public-api.md §7)."""
    body: dict[str, Any] = {"active_from": _t(sub.active_from)}
    if sub.active_to is not None:
        body["active_to"] = _t(sub.active_to)
    body.update(
        {
            "billing_anchor": _t(sub.billing_anchor),
            "billing_cadence": str(sub.billing_cadence),
            "cost_basis_mode": "dynamic",
            "cost_basis_pins": [],
            "created_at": _t(sub.created_at),
        }
    )
    period = aligned_period(sub, now)
    if period is not None:
        body["current_period"] = _period(period)
    phases = []
    for pv in view(sub):
        phase: dict[str, Any] = {"active_from": _t(pv.active_from)}
        if pv.active_to is not None:
            phase["active_to"] = _t(pv.active_to)
        items = []
        for versions in pv.timelines().values():
            for iv in versions:
                item: dict[str, Any] = {"active_from": _t(iv.active_from)}
                if iv.active_to is not None:
                    item["active_to"] = _t(iv.active_to)
                item["id"] = iv.spec.id
                item["rate_card"] = _rate_card_v3(iv.spec.rate_card, sub.currency, features)
                items.append(item)
        phase.update(
            {
                "created_at": _t(pv.spec.created_at),
                "id": pv.spec.id,
                "items": items,
                "key": pv.spec.key,
                "labels": {},
                "name": pv.spec.name,
                "updated_at": _t(pv.spec.created_at),
            }
        )
        phases.append(phase)
    body.update(
        {
            "customer_id": sub.customer_id,
            "id": sub.id,
            "invoice_currency": sub.currency,
            "labels": {},
            "name": sub.name,
            "phases": phases,
            "plan": {"id": sub.plan_id, "key": sub.plan_key, "version": sub.plan_version},
            "plan_id": sub.plan_id,
            "pro_rating_config": {"enabled": sub.pro_rating, "mode": "prorate_prices"},
            "settlement_mode": sub.settlement_mode.value,
            "status": status(sub, now),
            "updated_at": _t(sub.updated_at),
        }
    )
    return body
