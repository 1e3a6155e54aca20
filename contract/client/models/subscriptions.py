"""Typed views of subscriptions: the summary create / cancel / continue / edit answer with (v1 or
v3), and the full v1 subscription with its phases and item timelines that the engine is fed.

Shapes come from :mod:`contract.wire.subscriptions`; this module adds the timelines' order (Go
writes map keys sorted; the phase's item order is the rate-card order) and every timestamp keeps
its microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from contract.model.domain import SettlementMode
from contract.model.time import Period
from contract.wire import read as p
from contract.wire import subscriptions as w
from contract.wire.shape import Api

from .catalog import PlanRateCard

__all__ = [
    "ChangeResult",
    "ItemTimeline",
    "RateCardView",
    "SubscriptionItemView",
    "SubscriptionPhaseView",
    "SubscriptionSummary",
    "SubscriptionView",
]


@dataclass(frozen=True, slots=True)
class SubscriptionSummary:
    """What create / cancel / continue / edit answer with.

    The #4412-window v3 answers only ``id, labels, customer_id, plan_id, billing_anchor, status``
    and timestamps: read ``active_from``/``active_to`` from :meth:`OpenMeterClient.get_subscription`.
    """

    id: str
    status: str
    customer_id: str | None
    plan_id: str | None = None
    billing_anchor: datetime | None = None
    active_from: datetime | None = None
    active_to: datetime | None = None
    settlement_mode: SettlementMode | None = None
    billing_cadence: str | None = None
    current_period: Period | None = None
    via: Api = "v3"

    @classmethod
    def from_api(cls, data: Any, api: Api, path: str = "") -> SubscriptionSummary:
        d = p.obj(data, path)
        plan = w.SUBSCRIPTION_SUMMARY.read(d, api, path, only=("plan_id", "plan_ref"))
        plan_id = plan["plan_id"] or plan["plan_ref"]
        return w.SUBSCRIPTION_SUMMARY.build(cls, d, api, path, plan_id=plan_id, via=api)

    @classmethod
    def from_v3(cls, data: Any, path: str = "") -> SubscriptionSummary:
        return cls.from_api(data, "v3", path)

    @classmethod
    def from_v1(cls, data: Any, path: str = "") -> SubscriptionSummary:
        return cls.from_api(data, "v1", path)


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """A plan change: the subscription that ended and the one that starts (new id)."""

    current: SubscriptionSummary
    next: SubscriptionSummary


#: An item's rate card: the plan's rate card as v1 repeats it on the item.
RateCardView = PlanRateCard


@dataclass(frozen=True, slots=True)
class SubscriptionItemView:
    """One subscription item version (a row of ``itemTimelines``), µs-precise timestamps."""

    id: str
    key: str
    active_from: datetime
    active_to: datetime | None
    rate_card: RateCardView
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_v1(cls, data: Any, path: str) -> SubscriptionItemView:
        d = p.obj(data, path)
        key = p.req_str(d, "key", path)
        nested = p.opt_obj(d, "rateCard", path)
        src, spath = (nested, p.join(path, "rateCard")) if nested is not None else (d, path)
        card = PlanRateCard.from_api(src, spath, "v1", w.ITEM_RATE_CARD)
        rate_card = replace(card, name=card.name or p.opt_str(d, "name", path) or "", key=card.key or key)
        return w.ITEM.build(cls, d, "v1", path, key=key, rate_card=rate_card)


@dataclass(frozen=True, slots=True)
class ItemTimeline:
    """All versions of one item key in a phase, in order (edits close a version, append the next)."""

    key: str
    versions: tuple[SubscriptionItemView, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionPhaseView:
    id: str
    key: str
    name: str
    active_from: datetime
    active_to: datetime | None
    items: tuple[SubscriptionItemView, ...]
    item_timelines: tuple[ItemTimeline, ...]

    def timeline(self, item_key: str) -> tuple[SubscriptionItemView, ...]:
        for timeline in self.item_timelines:
            if timeline.key == item_key:
                return timeline.versions
        return ()

    def timelines_by_key(self) -> dict[str, tuple[SubscriptionItemView, ...]]:
        return {t.key: t.versions for t in self.item_timelines}

    @classmethod
    def from_v1(cls, data: Any, path: str) -> SubscriptionPhaseView:
        ph = p.obj(data, path)
        items = tuple(
            SubscriptionItemView.from_v1(it, p.join(p.join(path, "items"), j))
            for j, it in enumerate(p.items(ph, "items", path))
        )
        timelines = _timelines(ph.get("itemTimelines"), items, p.join(path, "itemTimelines"))
        return w.SUBSCRIPTION_PHASE.build(cls, ph, "v1", path, items=items, item_timelines=timelines)


def _timelines(raw: Any, items: tuple[SubscriptionItemView, ...], path: str) -> tuple[ItemTimeline, ...]:
    """``itemTimelines`` in the phase's item order; without it, one version per item."""
    if raw is None:  # grouped by key in order of appearance
        grouped: dict[str, list[SubscriptionItemView]] = {}
        for item in items:
            grouped.setdefault(item.key, []).append(item)
        return tuple(ItemTimeline(k, tuple(v)) for k, v in grouped.items())
    timelines: list[ItemTimeline] = []
    for key, versions in p.obj(raw, path).items():
        tpath = p.join(path, str(key))
        if versions is None:
            versions = []
        if not isinstance(versions, list):
            raise p.ShapeError(tpath, "expected a list of item versions")
        parsed = sorted(
            (SubscriptionItemView.from_v1(v, p.join(tpath, k)) for k, v in enumerate(versions)),
            key=lambda v: v.active_from,
        )
        timelines.append(ItemTimeline(key=str(key), versions=tuple(parsed)))
    # Go writes map keys sorted; keep the phase's item order (rate-card order) instead
    order = {item.key: i for i, item in reversed(list(enumerate(items)))}
    timelines.sort(key=lambda t: order.get(t.key, len(order)))
    return tuple(timelines)


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """The subscription as OpenMeter stored it (v1 ``GET /api/v1/subscriptions/{id}``).

    This is what the reference engine is fed, so every timestamp keeps its microseconds.
    """

    id: str
    status: str
    customer_id: str
    currency: str | None
    active_from: datetime
    active_to: datetime | None
    billing_anchor: datetime
    billing_cadence: str | None
    pro_rating_enabled: bool
    pro_rating_mode: str | None
    settlement_mode: SettlementMode | None
    phases: tuple[SubscriptionPhaseView, ...]
    plan_id: str | None = None
    plan_key: str | None = None
    plan_version: int | None = None
    current_aligned_billing_period: Period | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def item_ids(self) -> frozenset[str]:
        """Every item id of every version (ids change after a cancel or an edit: re-read)."""
        return frozenset(v.id for ph in self.phases for t in ph.item_timelines for v in t.versions)

    @classmethod
    def from_v1(cls, data: Any) -> SubscriptionView:
        d = p.obj(data)
        phases = tuple(
            SubscriptionPhaseView.from_v1(ph, p.join("phases", i)) for i, ph in enumerate(p.items(d, "phases"))
        )
        extra = w.SUBSCRIPTION.read(d, "v1", only=("pro_rating_enabled", "current_period"))
        return w.SUBSCRIPTION.build(
            cls,
            d,
            "v1",
            phases=phases,
            pro_rating_enabled=True if extra["pro_rating_enabled"] is None else extra["pro_rating_enabled"],
            current_aligned_billing_period=extra["current_period"],
        )
