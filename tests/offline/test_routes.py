"""The offline OpenMeter's composed router, in the respx spirit: every route is reachable through
the fake's transport, none shadows another, and each resource's router can be served alone."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from contract.clock import VirtualClock
from contract.offline import BASE_URL, OfflineOpenMeter
from contract.offline.routes import OPENMETER, RESOURCES
from contract.offline.routing import V3, Route, Router, serve
from contract.offline.settings import Settings
from contract.offline.state import OfflineState

from .helpers import START


def _concrete(route: Route) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: f"{m.group(1)}-1", route.path)


def _send(transport: httpx.BaseTransport, route: Route) -> httpx.Response:
    with httpx.Client(transport=transport, base_url=BASE_URL) as client:
        return client.request(route.method, _concrete(route))


def _route_not_found(response: httpx.Response) -> bool:
    if response.status_code != 404:
        return False
    body: Any = json.loads(response.content)
    return str(body.get("detail", "")).startswith("route not found")


def _ids(routers: tuple[Router, ...]) -> list[str]:
    return [r.name for r in routers]


def test_the_composed_router_is_every_resource_router_in_order() -> None:
    assert OPENMETER.routes == tuple(route for router in RESOURCES for route in router.routes)
    assert len({router.name for router in RESOURCES}) == len(RESOURCES)
    keys = [(route.method, route.path) for route in OPENMETER]
    assert len(keys) == len(set(keys)), "a method and path served twice"
    assert set(keys) == _API


#: The public API the fake answers (what the 75-method class answered before the split).
_API = {
    ("GET", "/version"),
    *{
        ("POST", f"{V3}/{r}")
        for r in ("meters", "features", "customers", "profiles", "plans", "subscriptions", "events")
    },
    ("GET", f"{V3}/meters/{{mid}}"),
    ("POST", f"{V3}/meters/{{mid}}/query"),
    ("GET", f"{V3}/features/{{fid}}"),
    ("GET", f"{V3}/customers/{{cid}}"),
    ("GET", f"{V3}/customers/{{cid}}/billing"),
    ("PUT", f"{V3}/customers/{{cid}}/billing"),
    ("GET", f"{V3}/customers/{{cid}}/charges"),
    ("POST", f"{V3}/customers/{{cid}}/credits/grants"),
    ("GET", f"{V3}/customers/{{cid}}/credits/grants"),
    ("GET", f"{V3}/customers/{{cid}}/credits/balance"),
    ("GET", f"{V3}/profiles"),
    ("GET", f"{V3}/profiles/{{bid}}"),
    ("GET", f"{V3}/plans/{{pid}}"),
    ("POST", f"{V3}/plans/{{pid}}/publish"),
    ("POST", "/api/v1/plans"),
    ("GET", "/api/v1/plans/{pid}"),
    ("POST", "/api/v1/plans/{pid}/publish"),
    ("GET", f"{V3}/subscriptions/{{sid}}"),
    *{("POST", f"{V3}/subscriptions/{{sid}}/{a}") for a in ("cancel", "change", "unschedule-cancelation")},
    ("POST", "/api/v1/subscriptions"),
    ("GET", "/api/v1/subscriptions/{sid}"),
    ("PATCH", "/api/v1/subscriptions/{sid}"),
    *{
        ("POST", f"/api/v1/subscriptions/{{sid}}/{a}")
        for a in ("cancel", "change", "unschedule-cancelation", "restore")
    },
    ("POST", "/api/v1/events"),
    ("GET", "/api/v1/billing/invoices"),
    ("POST", "/api/v1/billing/invoices/invoice"),
    ("GET", "/api/v1/billing/invoices/{iid}"),
    ("POST", "/api/v1/billing/invoices/{iid}/snapshot-quantities"),
    ("POST", "/api/v1/billing/invoices/{iid}/approve"),
}


def test_the_fake_serves_the_composed_router(clock: VirtualClock) -> None:
    assert OfflineOpenMeter(clock=clock).router is OPENMETER


@pytest.mark.parametrize("route", OPENMETER.routes, ids=lambda r: f"{r.method} {r.path}")
def test_every_route_is_reachable_and_shadowed_by_none(route: Route, clock: VirtualClock) -> None:
    resolved = OPENMETER.resolve(httpx.Request(route.method, BASE_URL + _concrete(route)))
    assert resolved is not None and resolved[0] is route
    assert set(resolved[1]) == set(route.params)
    response = _send(OfflineOpenMeter(clock=clock).transport, route)
    assert not _route_not_found(response), response.content


@pytest.mark.parametrize("router", RESOURCES, ids=_ids(RESOURCES))
def test_each_resource_router_can_be_served_alone(router: Router) -> None:
    clock = VirtualClock(START)
    state = OfflineState.start(Settings(), clock)
    transport = serve(router, state, clock=clock).transport
    for route in router:
        assert not _route_not_found(_send(transport, route)), f"{route.method} {route.path}"
    for other in RESOURCES:
        if other is not router:
            assert _route_not_found(_send(transport, other.routes[0])), f"{other.name} answered by {router.name}"


def test_a_resource_router_alone_keeps_its_own_state() -> None:
    from contract.offline.routes import usage

    clock = VirtualClock(START)
    state = OfflineState.start(Settings(), clock)
    with httpx.Client(transport=serve(usage.ROUTER, state, clock=clock).transport, base_url=BASE_URL) as client:
        body = {"key": "m_calls", "name": "calls", "event_type": "ev_calls", "aggregation": "count"}
        created = client.post(f"{V3}/meters", json=body)
        assert created.status_code == 201, created.content
        meter_id = created.json()["id"]
        assert client.get(f"{V3}/meters/{meter_id}").json()["key"] == "m_calls"
        assert _route_not_found(client.get(f"{V3}/customers/c1"))
    assert list(state.store.meters) == [meter_id]


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", f"{V3}/customers/c-1"), ("GET", f"{V3}/meters"), ("PUT", "/api/v1/subscriptions/s-1")],
)
def test_a_known_path_with_another_method_is_a_route_not_found(method: str, path: str, clock: VirtualClock) -> None:
    with httpx.Client(transport=OfflineOpenMeter(clock=clock).transport, base_url=BASE_URL) as client:
        response = client.request(method, path)
    assert _route_not_found(response)
    assert json.loads(response.content)["detail"] == f"route not found: {method} {path}"
