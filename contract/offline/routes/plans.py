"""Routes of plans, v1 and v3: create (a new version of the key), get, publish.

Publishing validates the plan and archives the key's previously active version.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx

from contract.offline.catalog import Plan, parse_plan_v1, parse_plan_v3, validate_plan
from contract.offline.ids import Kind
from contract.offline.problems import ApiError, json_body
from contract.offline.routing import V1, V3, Reply, Route, Router
from contract.offline.state import OfflineState

__all__ = ["ROUTER"]


def _next_version(s: OfflineState, body: Any) -> int:
    key = body.get("key") if isinstance(body, dict) else None
    if not isinstance(key, str):
        return 1
    return 1 + max((p.version for p in s.store.plans.values() if p.key == key), default=0)


def create_plan_v3(s: OfflineState, request: httpx.Request) -> Reply:
    body = json_body(request)
    plan = parse_plan_v3(
        body,
        new_id=s.ids.new(Kind.PLAN),
        version=_next_version(s, body),
        now=s.now(),
        feature_by_id=s.store.features.get,
        accept_settlement_mode=s.settings.v3_plan_settlement_mode,
    )
    s.store.plans[plan.id] = plan
    return 201, plan.v3()


def create_plan_v1(s: OfflineState, request: httpx.Request) -> Reply:
    body = json_body(request)
    plan = parse_plan_v1(
        body,
        new_id=s.ids.new(Kind.PLAN),
        version=_next_version(s, body),
        now=s.now(),
        feature_by_key=s.store.feature_by_key,
    )
    s.store.plans[plan.id] = plan
    return 201, plan.v1()


def get_plan_v3(s: OfflineState, request: httpx.Request, pid: str) -> Reply:
    return 200, s.store.plan(pid).v3()


def get_plan_v1(s: OfflineState, request: httpx.Request, pid: str) -> Reply:
    return 200, s.store.plan(pid).v1()


def _publish(s: OfflineState, plan_id: str) -> Plan:
    plan = s.store.plan(plan_id)
    if plan.status != "draft":
        raise ApiError(400, f"plan {plan_id} cannot be published: its status is {plan.status}, not draft")
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
    return published


def publish_plan_v3(s: OfflineState, request: httpx.Request, pid: str) -> Reply:
    return 200, _publish(s, pid).v3()


def publish_plan_v1(s: OfflineState, request: httpx.Request, pid: str) -> Reply:
    return 200, _publish(s, pid).v1()


ROUTER = Router(
    "plans",
    (
        Route("POST", f"{V3}/plans", create_plan_v3),
        Route("GET", f"{V3}/plans/{{pid}}", get_plan_v3),
        Route("POST", f"{V3}/plans/{{pid}}/publish", publish_plan_v3),
        Route("POST", f"{V1}/plans", create_plan_v1),
        Route("GET", f"{V1}/plans/{{pid}}", get_plan_v1),
        Route("POST", f"{V1}/plans/{{pid}}/publish", publish_plan_v1),
    ),
)
