"""Routes of subscriptions, v1 and v3: create, get, cancel, continue (unschedule a cancelation),
change (end now or at the next billing cycle and start a successor on another plan), and v1's
edit (customizations) and restore.

Every mutation is kept in the store and published to the billing worker
(:meth:`~contract.offline.sync.BillingWorker.publish`); the rules of each transition live in
:mod:`contract.offline.subscriptions`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from contract.model.domain import SettlementMode
from contract.model.time import parse_time
from contract.offline import subscriptions as subs
from contract.offline.catalog import Customer, Plan
from contract.offline.ids import Kind
from contract.offline.problems import Api, ApiError, Fields, Issue, json_body
from contract.offline.routing import V1, V3, Reply, Router
from contract.offline.state import OfflineState
from contract.offline.subscription_render import render_v1, render_v3
from contract.offline.subscriptions import SubscriptionSpec
from contract.offline.worker import EventType

__all__ = ["ROUTER"]

ROUTER = Router("subscriptions")

_TIMING_PAST_TOLERANCE = timedelta(minutes=2)
_SINGLE = "only single subscription is allowed per customer at a time"
_V3_FIELDS = ("labels", "settlement_mode", "customer", "plan", "billing_anchor", "cost_basis_mode")


# ---------------------------------------------------------------- shared rules


def _render(s: OfflineState, sub: SubscriptionSpec, api: Api, *, expanded: bool = False) -> Any:
    if api == "v3":
        return render_v3(sub, s.now(), s.store.feature_info)
    return render_v1(sub, s.now(), s.store.feature_info, expanded=expanded)


def _keep(s: OfflineState, sub: SubscriptionSpec, event: EventType) -> SubscriptionSpec:
    """Store the new version of ``sub`` and publish ``event`` about it."""
    s.store.store_subscription(sub)
    s.worker.publish(event, sub)
    return sub


def _timing(raw: Any, field: str = "timing") -> str | datetime:
    if raw is None:
        return "immediate"
    if not isinstance(raw, str):
        raise ApiError.bad_field(field, "expected immediate, next_billing_cycle or an RFC 3339 time", "type")
    if raw in ("immediate", "next_billing_cycle"):
        return raw
    try:
        return parse_time(raw)
    except ValueError:
        raise ApiError.bad_field(
            field, f"expected immediate, next_billing_cycle or an RFC 3339 time, got {raw!r}"
        ) from None


def _start_time(s: OfflineState, raw: str | None, field: str) -> datetime:
    now = s.now()
    if raw is None or raw == "immediate":
        return now
    try:
        at = parse_time(raw)
    except ValueError:
        raise ApiError.bad_field(field, f"must be immediate or an RFC 3339 time, got {raw!r}") from None
    if at < now - _TIMING_PAST_TOLERANCE:
        raise ApiError.bad_field(field, "a subscription cannot start more than 2 minutes in the past")
    return at


def _plan_ref(s: OfflineState, ref: Fields) -> Plan:
    """The plan a subscription names: by id (it must be active), or by key and optional version
    (the newest published one; without a version, the active one)."""
    plan_id = ref.opt_str("id")
    if plan_id is not None:
        plan = s.store.plans.get(plan_id)
        if plan is None:
            raise ApiError.not_found("plan", plan_id)
        if plan.status != "active":
            raise ApiError(400, f"plan {plan_id} is not active (status {plan.status}): publish it first")
        return plan
    key = ref.req_str("key")
    version = ref.opt_int("version")
    candidates = [
        p
        for p in s.store.plans.values()
        if p.key == key and p.status != "draft" and (version is None or p.version == version)
    ]
    if version is None:
        candidates = [p for p in candidates if p.status == "active"]
    if not candidates:
        what = f"{key} version {version}" if version is not None else key
        raise ApiError(404, f"plan {what} not found (or not published)")
    return max(candidates, key=lambda p: p.version)


def _check_single(s: OfflineState, customer_id: str, starts: datetime, api: str, *, ignore: str | None = None) -> None:
    for other in s.store.subscriptions.values():
        if other.customer_id != customer_id or other.id == ignore:
            continue
        if other.active_to is None or other.active_to > starts:
            issue = Issue(
                "only_single_subscription_allowed_per_customer_at_a_time",
                _SINGLE,
                None if api == "v3" else "customerId",
            )
            raise ApiError(409, _SINGLE, issues=(issue,))


def _new_subscription(
    s: OfflineState,
    plan: Plan,
    customer: Customer,
    *,
    active_from: datetime,
    anchor: datetime | None,
    settlement: SettlementMode,
    api: str,
) -> SubscriptionSpec:
    _check_single(s, customer.id, active_from, api)
    sub = subs.create_from_plan(
        plan,
        subscription_id=s.ids.new(Kind.SUBSCRIPTION),
        customer_id=customer.id,
        active_from=active_from,
        billing_anchor=anchor or active_from,
        settlement_mode=settlement,
        ids=s.ids,
        now=s.now(),
    )
    return _keep(s, sub, EventType.CREATED)


# ---------------------------------------------------------------- create, get


@ROUTER.post(f"{V3}/subscriptions")
def create_v3(s: OfflineState, request: httpx.Request) -> Reply:
    f = Fields(json_body(request), allowed=_V3_FIELDS)
    cref = f.obj("customer", allowed=("id", "key"))
    customer_id = cref.opt_str("id")
    customer = (
        s.store.customer(customer_id) if customer_id is not None else s.store.customer_by_key(cref.req_str("key"))
    )
    plan = _plan_ref(s, f.obj("plan", allowed=("id", "key", "version")))
    sub = _new_subscription(
        s,
        plan,
        customer,
        active_from=s.now(),
        anchor=f.opt_time("billing_anchor"),
        settlement=f.opt_settlement("settlement_mode") or plan.settlement_mode,
        api="v3",
    )
    return 201, _render(s, sub, "v3")


@ROUTER.post(f"{V1}/subscriptions")
def create_v1(s: OfflineState, request: httpx.Request) -> Reply:
    f = Fields(json_body(request))
    if f.has("customPlan"):
        raise ApiError(400, "custom-plan subscriptions are not supported by the offline OpenMeter")
    customer_id = f.opt_str("customerId")
    customer = (
        s.store.customer(customer_id) if customer_id is not None else s.store.customer_by_key(f.req_str("customerKey"))
    )
    plan = _plan_ref(s, f.obj("plan"))
    sub = _new_subscription(
        s,
        plan,
        customer,
        active_from=_start_time(s, f.opt_str("timing"), "timing"),
        anchor=f.opt_time("billingAnchor"),
        settlement=f.opt_settlement("settlementMode") or plan.settlement_mode,
        api="v1",
    )
    return 201, _render(s, sub, "v1")


@ROUTER.get(f"{V3}/subscriptions/{{sid}}", api="v3")
@ROUTER.get(f"{V1}/subscriptions/{{sid}}", api="v1")
def get_subscription(s: OfflineState, request: httpx.Request, sid: str, api: Api) -> Reply:
    return 200, _render(s, s.store.subscription(sid), api, expanded=True)


# ---------------------------------------------------------------- cancel, continue, restore, edit


@ROUTER.post(f"{V3}/subscriptions/{{sid}}/cancel", api="v3")
@ROUTER.post(f"{V1}/subscriptions/{{sid}}/cancel", api="v1")
def cancel_subscription(s: OfflineState, request: httpx.Request, sid: str, api: Api) -> Reply:
    sub = s.store.subscription(sid)
    body = json_body(request, required=False)
    f = Fields(body if body is not None else {}, allowed=("timing",) if api == "v3" else None)
    cancelled = subs.cancel(sub, _timing(f.raw("timing")), ids=s.ids, now=s.now())
    return 200, _render(s, _keep(s, cancelled, EventType.CANCELLED), api)


@ROUTER.post(f"{V3}/subscriptions/{{sid}}/unschedule-cancelation", api="v3")
@ROUTER.post(f"{V1}/subscriptions/{{sid}}/unschedule-cancelation", api="v1")
def continue_subscription(s: OfflineState, request: httpx.Request, sid: str, api: Api) -> Reply:
    continued = subs.continue_(s.store.subscription(sid), ids=s.ids, now=s.now())
    return 200, _render(s, _keep(s, continued, EventType.CONTINUED), api)


@ROUTER.post(f"{V1}/subscriptions/{{sid}}/restore")
def restore_v1(s: OfflineState, request: httpx.Request, sid: str) -> Reply:
    """v1 ``restore``: delete the scheduled successor (its sync then leaves nothing behind: a
    deleted subscription's target is empty) and let this subscription go on."""
    sub = s.store.subscription(sid)
    now = s.now()
    if sub.active_to is None:
        raise ApiError(400, f"subscription {sid} has no successor to restore from")
    for other in list(s.store.subscriptions.values()):
        if other.customer_id == sub.customer_id and other.id != sub.id and other.active_from == sub.active_to:
            _keep(s, subs.end_at(other, other.active_from, ids=s.ids, now=now), EventType.CANCELLED)
    restored = _keep(s, replace(sub, active_to=None, updated_at=now), EventType.CONTINUED)
    return 200, _render(s, restored, "v1")


@ROUTER.patch(f"{V1}/subscriptions/{{sid}}")
def edit_v1(s: OfflineState, request: httpx.Request, sid: str) -> Reply:
    sub = s.store.subscription(sid)
    f = Fields(json_body(request), allowed=("customizations", "timing"))
    timing = _timing(f.raw("timing"))
    now = s.now()
    if isinstance(timing, datetime):
        raise ApiError.bad_field(
            "timing", "custom timing is not supported for edits: use immediate or next_billing_cycle"
        )
    subs.require_active(sub, "update", now)
    at = now if timing == "immediate" else subs.change_time(sub, now, timing)
    customizations = f.items("customizations", required=True)
    edited = subs.edit(sub, customizations, at, ids=s.ids, now=now, feature_by_key=s.store.feature_by_key)
    return 200, _render(s, _keep(s, edited, EventType.UPDATED), "v1")


# ---------------------------------------------------------------- change


def _change(s: OfflineState, sid: str, f: Fields, *, plan: Plan, settlement: str, anchor: str, api: Api) -> Reply:
    """End subscription ``sid`` at ``timing`` and start its successor on ``plan`` then;
    ``settlement`` and ``anchor`` name the body's fields in the ``api``'s spelling."""
    timing = _timing(f.raw("timing"))
    successor_settlement = f.opt_settlement(settlement) or plan.settlement_mode
    successor_anchor = f.opt_time(anchor)
    sub = s.store.subscription(sid)
    now = s.now()
    subs.require_active(sub, "cancel", now)
    at = subs.change_time(sub, now, timing)
    customer = s.store.customer(sub.customer_id)
    _check_single(s, customer.id, at, "v3", ignore=sub.id)
    ended = _keep(s, subs.end_at(sub, at, ids=s.ids, now=now), EventType.CANCELLED)
    successor = _new_subscription(
        s,
        plan,
        customer,
        active_from=at,
        anchor=successor_anchor or sub.billing_anchor,
        settlement=successor_settlement,
        api="v3",
    )
    return 200, {"current": _render(s, ended, api), "next": _render(s, successor, api)}


@ROUTER.post(f"{V3}/subscriptions/{{sid}}/change")
def change_v3(s: OfflineState, request: httpx.Request, sid: str) -> Reply:
    f = Fields(json_body(request), allowed=(*_V3_FIELDS, "timing"))
    f.obj("customer", allowed=("id", "key"))  # required, ignored (as upstream's handler does)
    if not f.has("timing"):
        raise ApiError.bad_field("timing", "required", "required")
    plan = _plan_ref(s, f.obj("plan", allowed=("id", "key", "version")))
    return _change(s, sid, f, plan=plan, settlement="settlement_mode", anchor="billing_anchor", api="v3")


@ROUTER.post(f"{V1}/subscriptions/{{sid}}/change")
def change_v1(s: OfflineState, request: httpx.Request, sid: str) -> Reply:
    f = Fields(json_body(request))
    if not f.has("timing"):
        raise ApiError.bad_field("timing", "required", "required")
    plan = _plan_ref(s, f.obj("plan"))
    return _change(s, sid, f, plan=plan, settlement="settlementMode", anchor="billingAnchor", api="v1")
