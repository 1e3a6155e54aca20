"""Subscriptions in the offline OpenMeter: the stored spec, the derived view and the mutations
(rendering: :mod:`contract.offline.subscription_render`).

Like upstream (``openmeter/subscription``), a subscription is kept as a *spec* — phases with item
versions, each version active from an instant until an optional instant set by edits, plus the
subscription's own ``activeTo`` set by a cancel — and every answer shows the *view* derived from
it: a phase runs until the next phase starts, capped at ``activeTo``; an item version's activity is
its own clipped to its phase (the engine's ``item_cadence`` rule).

Item rows are re-created whenever their derived activity changes — so a cancel, a continue or an
edit that closes a version gives those items new ids, as the live server does (public-api.md §3:
"The subscription's items are re-created with new ids"); the engine's pre-diff repair re-points
charges to them.

:func:`engine_subscription` builds the engine's input from the view exactly the way
``contract.scenario.mapping.to_engine_subscription`` reads the v1 JSON, so the fake's sync and a
runner's prediction start from the same subscription.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from contract.model.domain import ItemVersion, Phase, RateCard, SettlementMode, Subscription
from contract.model.targetstate import SubscriptionTimeline, TargetStateError, cancel_active_to
from contract.model.time import Duration, Period, add, cadences_align
from contract.offline.catalog import Feature, Plan, PlanRateCard, parse_rate_card_v1
from contract.offline.ids import IdFactory, Kind
from contract.offline.problems import ApiError, Fields, Issue

__all__ = [
    "ItemSpec",
    "ItemView",
    "PhaseSpec",
    "PhaseView",
    "SubscriptionSpec",
    "aligned_period",
    "cancel",
    "change_time",
    "continue_",
    "create_from_plan",
    "edit",
    "end_at",
    "engine_subscription",
    "require_active",
    "status",
    "view",
]

_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """One item version: the rate card, its own activity, and the id of the row last shown."""

    key: str
    active_from: datetime
    active_to: datetime | None
    rate_card: PlanRateCard
    id: str = ""
    created_at: datetime | None = None
    shown: tuple[datetime, datetime | None] | None = None  # the derived activity ``id`` belongs to


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    id: str
    key: str
    name: str
    start_after: Duration
    items: tuple[ItemSpec, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    id: str
    customer_id: str
    plan_id: str
    plan_key: str
    plan_version: int
    name: str
    currency: str
    active_from: datetime
    billing_anchor: datetime
    billing_cadence: Duration
    pro_rating: bool
    settlement_mode: SettlementMode
    phases: tuple[PhaseSpec, ...]
    created_at: datetime
    updated_at: datetime
    active_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class ItemView:
    spec: ItemSpec
    active_from: datetime
    active_to: datetime | None


@dataclass(frozen=True, slots=True)
class PhaseView:
    spec: PhaseSpec
    active_from: datetime
    active_to: datetime | None
    items: tuple[ItemView, ...]

    def timelines(self) -> dict[str, list[ItemView]]:
        """Versions per item key, keys in rate-card order, versions in time order."""
        out: dict[str, list[ItemView]] = {}
        for item in self.items:
            out.setdefault(item.spec.key, []).append(item)
        for versions in out.values():
            versions.sort(key=lambda v: v.active_from)
        return out


# ------------------------------------------------------------------------------ the view


def _duration_sum(parts: Sequence[Duration]) -> Duration:
    fields = ("years", "months", "weeks", "days", "hours", "minutes", "seconds", "microseconds")
    return Duration(*(sum(getattr(p, name) for p in parts) for name in fields))


def _item_activity(item: ItemSpec, phase_end: datetime | None) -> tuple[datetime, datetime | None]:
    start = item.active_from
    if phase_end is not None and phase_end < start:
        return phase_end, phase_end
    end = item.active_to
    if end is None or (phase_end is not None and phase_end < end):
        end = phase_end
    return start, end


def view(sub: SubscriptionSpec) -> tuple[PhaseView, ...]:
    """Phases and items with their derived activity (see the module docstring)."""
    starts = [add(sub.active_from, ph.start_after) for ph in sub.phases]
    out: list[PhaseView] = []
    for i, ph in enumerate(sub.phases):
        start = starts[i]
        end: datetime | None = starts[i + 1] if i + 1 < len(starts) else None
        if sub.active_to is not None and (end is None or sub.active_to < end):
            end = sub.active_to
        if end is not None and end < start:
            end = start
        items = tuple(ItemView(item, *_item_activity(item, end)) for item in ph.items)
        out.append(PhaseView(ph, start, end, items))
    return tuple(out)


def _refresh_ids(sub: SubscriptionSpec, ids: IdFactory, now: datetime) -> SubscriptionSpec:
    """New item ids for every version whose derived activity changed (upstream re-creates the rows)."""
    phases: list[PhaseSpec] = []
    for pv in view(sub):
        items: list[ItemSpec] = []
        for iv in pv.items:
            shown = (iv.active_from, iv.active_to)
            item = iv.spec
            if item.shown != shown or not item.id:
                item = replace(item, id=ids.new(Kind.ITEM), created_at=now, shown=shown)
            items.append(item)
        phases.append(replace(pv.spec, items=tuple(items)))
    return replace(sub, phases=tuple(phases))


def status(sub: SubscriptionSpec, now: datetime) -> str:
    """``scheduled`` (not started), ``active``, ``canceled`` (end in the future) or ``inactive``."""
    if now < sub.active_from:
        return "scheduled"
    if sub.active_to is None:
        return "active"
    return "inactive" if sub.active_to <= now else "canceled"


def engine_subscription(sub: SubscriptionSpec) -> Subscription:
    """The engine's input for the subscription as it is shown (mirrors ``scenario.mapping``)."""
    phases: list[Phase] = []
    for hint, pv in enumerate(view(sub)):
        items: dict[str, tuple[ItemVersion, ...]] = {}
        for key, versions in pv.timelines().items():
            items[key] = tuple(
                ItemVersion(
                    key=key,
                    active_from=v.active_from,
                    active_to=v.active_to,
                    id=v.spec.id,
                    rate_card=RateCard(
                        name=v.spec.rate_card.name,
                        feature_key=v.spec.rate_card.feature_key,
                        price=v.spec.rate_card.price,
                        billing_cadence=v.spec.rate_card.billing_cadence,
                    ),
                )
                for v in versions
            )
        phases.append(
            Phase(
                key=pv.spec.key,
                start_after=Duration.between(sub.active_from, pv.active_from),
                items=items,
                id=pv.spec.id,
                sort_hint=hint,
            )
        )
    return Subscription(
        id=sub.id,
        customer_id=sub.customer_id,
        currency=sub.currency,
        active_from=sub.active_from,
        billing_anchor=sub.billing_anchor,
        billing_cadence=sub.billing_cadence,
        phases=tuple(phases),
        active_to=sub.active_to,
        pro_rating=sub.pro_rating,
        settlement_mode=sub.settlement_mode,
    )


def aligned_period(sub: SubscriptionSpec, now: datetime) -> Period | None:
    """The aligned billing period shown as ``current_period`` / ``currentAlignedBillingPeriod``:
    the one containing ``now`` — or, once ended, the last one (containing ``activeTo``)."""
    if now < sub.active_from:
        return None
    at = now
    if sub.active_to is not None and now >= sub.active_to:
        at = max(sub.active_from, sub.active_to - _ONE_MICROSECOND)
    try:
        return SubscriptionTimeline(engine_subscription(sub)).billing_period_at(at)
    except (TargetStateError, ValueError):
        return None


# ------------------------------------------------------------------------------ mutations


def create_from_plan(
    plan: Plan,
    *,
    subscription_id: str,
    customer_id: str,
    active_from: datetime,
    billing_anchor: datetime,
    settlement_mode: SettlementMode,
    ids: IdFactory,
    now: datetime,
) -> SubscriptionSpec:
    """A subscription following ``plan`` from ``active_from`` (phase k starts after phases 0..k-1)."""
    phases: list[PhaseSpec] = []
    elapsed: list[Duration] = []
    for ph in plan.phases:
        start_after = _duration_sum(elapsed)
        start = add(active_from, start_after)
        items = tuple(ItemSpec(rc.key, start, None, rc) for rc in ph.rate_cards)
        phases.append(PhaseSpec(ids.new(Kind.PHASE), ph.key, ph.name, start_after, items, now))
        if ph.duration is not None:
            elapsed.append(ph.duration)
    sub = SubscriptionSpec(
        id=subscription_id,
        customer_id=customer_id,
        plan_id=plan.id,
        plan_key=plan.key,
        plan_version=plan.version,
        name=f"{plan.key} v{plan.version}",
        currency=plan.currency,
        active_from=active_from,
        billing_anchor=billing_anchor,
        billing_cadence=plan.billing_cadence,
        pro_rating=plan.pro_rating,
        settlement_mode=settlement_mode,
        phases=tuple(phases),
        created_at=now,
        updated_at=now,
    )
    return _refresh_ids(sub, ids, now)


def _forbidden(action: str, state: str) -> ApiError:
    return ApiError(403, f"transition {action} in state {state} not allowed")


def change_time(sub: SubscriptionSpec, now: datetime, timing: str | datetime) -> datetime:
    """When a cancel or plan change with ``timing`` takes effect (400 for a misaligned instant)."""
    try:
        return cancel_active_to(engine_subscription(sub), now, timing)
    except ValueError as err:
        raise ApiError(400, str(err)) from None


def require_active(sub: SubscriptionSpec, action: str, now: datetime) -> None:
    """403 unless the subscription is ``active`` (upstream's state machine: cancel, update)."""
    state = status(sub, now)
    if state != "active":
        raise _forbidden(action, state)


def end_at(sub: SubscriptionSpec, active_to: datetime, *, ids: IdFactory, now: datetime) -> SubscriptionSpec:
    """The subscription ending at ``active_to`` (items whose activity changes get new ids)."""
    return _refresh_ids(replace(sub, active_to=active_to, updated_at=now), ids, now)


def cancel(sub: SubscriptionSpec, timing: str | datetime, *, ids: IdFactory, now: datetime) -> SubscriptionSpec:
    """End the subscription (only an ``active`` one): ``immediate`` keeps the clock's microseconds."""
    require_active(sub, "cancel", now)
    return end_at(sub, change_time(sub, now, timing), ids=ids, now=now)


def continue_(sub: SubscriptionSpec, *, ids: IdFactory, now: datetime) -> SubscriptionSpec:
    """Undo a scheduled cancel (only a ``canceled`` subscription; ``inactive`` is 403)."""
    state = status(sub, now)
    if state != "canceled":
        raise _forbidden("continue", state)
    return _refresh_ids(replace(sub, active_to=None, updated_at=now), ids, now)


def _close_running(items: list[ItemSpec], key: str, at: datetime) -> bool:
    """Close (at ``at``) or drop (starting at ``at`` or later) the versions of ``key`` running then."""
    found = False
    for i in range(len(items) - 1, -1, -1):
        item = items[i]
        if item.key != key or (item.active_to is not None and item.active_to <= at):
            continue
        found = True
        if item.active_from >= at:
            del items[i]
        else:
            items[i] = replace(item, active_to=at)
    return found


def edit(
    sub: SubscriptionSpec,
    customizations: list[Any],
    at: datetime,
    *,
    ids: IdFactory,
    now: datetime,
    feature_by_key: Callable[[str], Feature | None],
    path: str = "customizations",
) -> SubscriptionSpec:
    """Apply v1 ``add_item`` / ``remove_item`` operations at ``at`` (only an ``active`` subscription).

    ``add_item`` of a key that runs in the phase closes the running version at ``at`` and appends a
    new version (a new item id); ``remove_item`` closes it.
    """
    require_active(sub, "update", now)
    views = {pv.spec.key: pv for pv in view(sub)}
    phases = {ph.key: list(ph.items) for ph in sub.phases}
    for i, raw in enumerate(customizations):
        op = Fields(raw, f"{path}[{i}]")
        kind = op.req_str("op")
        phase_key = op.req_str("phaseKey")
        pv = views.get(phase_key)
        if pv is None:
            raise ApiError.bad_field(op.at("phaseKey"), f"phase {phase_key} not found", "format")
        if pv.active_to is not None and at >= pv.active_to and pv.active_to > pv.active_from:
            raise ApiError.bad_field(op.at("phaseKey"), f"phase {phase_key} has already ended", "format")
        effective = max(at, pv.active_from)
        items = phases[phase_key]
        if kind == "add_item":
            rate_card = parse_rate_card_v1(op.raw("rateCard"), op.at("rateCard"), feature_by_key)
            if rate_card.feature_key is not None and rate_card.key != rate_card.feature_key:
                raise ApiError(
                    400,
                    "rate card key must match feature key",
                    issues=(
                        Issue(
                            "rate_card_key_feature_key_mismatch",
                            "rate card key must match feature key",
                            f"{op.at('rateCard')}.key",
                        ),
                    ),
                )
            if (
                rate_card.price is not None
                and rate_card.billing_cadence is not None
                and not cadences_align(sub.billing_cadence, rate_card.billing_cadence)
            ):
                raise ApiError(
                    400,
                    "ratecards with prices must have compatible billing cadence",
                    issues=(
                        Issue(
                            "rate_card_billing_cadence_unaligned",
                            "ratecards with prices must have compatible billing cadence",
                            f"{op.at('rateCard')}.billingCadence",
                            "warning",
                        ),
                    ),
                )
            _close_running(items, rate_card.key, effective)
            items.append(ItemSpec(rate_card.key, effective, None, rate_card))
        elif kind == "remove_item":
            key = op.req_str("itemKey")
            if not _close_running(items, key, effective):
                raise ApiError.bad_field(op.at("itemKey"), f"item {key} not found in phase {phase_key}", "format")
        else:
            raise ApiError(
                400,
                f"{op.at('op')}: operation {kind!r} is not supported by the offline OpenMeter (add_item, remove_item)",
            )
    new_phases = tuple(replace(ph, items=tuple(phases[ph.key])) for ph in sub.phases)
    return _refresh_ids(replace(sub, phases=new_phases, updated_at=now), ids, now)
