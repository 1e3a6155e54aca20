"""Routes of plans, v1 and v3: create (a new version of the key), get, publish.

Publishing validates the plan and archives the key's previously active version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import httpx

from contract.offline.catalog import Plan, parse_plan_v1, parse_plan_v3, validate_plan
from contract.offline.ids import Kind
from contract.offline.problems import Api, ApiError, json_body
from contract.offline.routing import V1, V3, Reply, Router
from contract.offline.state import OfflineState

__all__ = ["ROUTER"]

ROUTER = Router("plans")


def _create(s: OfflineState, request: httpx.Request, parse: Callable[..., Plan]) -> Plan:
    """Parse a new plan (the next version of its key) with ``parse`` and keep it."""
    body = json_body(request)
    key = body.get("key") if isinstance(body, dict) else None
    version = 1
    if isinstance(key, str):
        version += max((p.version for p in s.store.plans.values() if p.key == key), default=0)
    plan = parse(body, new_id=s.ids.new(Kind.PLAN), version=version, now=s.now())
    s.store.plans[plan.id] = plan
    return plan


@ROUTER.post(f"{V3}/plans")
def create_plan_v3(s: OfflineState, request: httpx.Request) -> Reply:
    parse = partial(
        parse_plan_v3,
        feature_by_id=s.store.features.get,
        accept_settlement_mode=s.settings.v3_plan_settlement_mode,
    )
    return 201, _create(s, request, parse).v3()


@ROUTER.post(f"{V1}/plans")
def create_plan_v1(s: OfflineState, request: httpx.Request) -> Reply:
    return 201, _create(s, request, partial(parse_plan_v1, feature_by_key=s.store.feature_by_key)).v1()


def _render(plan: Plan, api: Api) -> dict[str, Any]:
    return plan.v3() if api == "v3" else plan.v1()


@ROUTER.get(f"{V3}/plans/{{pid}}", api="v3")
@ROUTER.get(f"{V1}/plans/{{pid}}", api="v1")
def get_plan(s: OfflineState, request: httpx.Request, pid: str, api: Api) -> Reply:
    return 200, _render(s.store.plan(pid), api)


@ROUTER.post(f"{V3}/plans/{{pid}}/publish", api="v3")
@ROUTER.post(f"{V1}/plans/{{pid}}/publish", api="v1")
def publish_plan(s: OfflineState, request: httpx.Request, pid: str, api: Api) -> Reply:
    """Publish the draft: validate it and archive the key's previously active version."""
    plan = s.store.plan(pid)
    if plan.status != "draft":
        raise ApiError(400, f"plan {pid} cannot be published: its status is {plan.status}, not draft")
    issues = validate_plan(plan)
    if issues:
        raise ApiError(400, "invalid plan: " + "; ".join(f"{i.field}: {i.message}" for i in issues), issues=issues)
    now = s.now()
    plans = s.store.plans
    for other in list(plans.values()):
        if other.key == plan.key and other.status == "active":
            plans[other.id] = replace(other, status="archived", updated_at=now)
    published = replace(plan, status="active", effective_from=now, updated_at=now)
    plans[plan.id] = published
    return 200, _render(published, api)
