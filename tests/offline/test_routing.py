"""The small router: path templates, first match wins, mounting, and how ``serve`` answers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from contract.clock import VirtualClock
from contract.offline.problems import ApiError
from contract.offline.routing import V1, V3, Reply, Route, Router, serve

from .helpers import START, problem_body


def _request(method: str, path: str, **kwargs: Any) -> httpx.Request:
    return httpx.Request(method, f"http://fake.invalid{path}", **kwargs)


def _echo(state: list[str], request: httpx.Request, **params: str) -> Reply:
    state.append(request.url.path)
    return 200, params


def test_a_template_matches_one_segment_per_placeholder_and_nothing_around_it() -> None:
    route = Route("GET", f"{V3}/customers/{{cid}}/credits/{{what}}", _echo)
    assert route.params == ("cid", "what")
    assert route.match("GET", f"{V3}/customers/c1/credits/grants") == {"cid": "c1", "what": "grants"}
    assert route.match("POST", f"{V3}/customers/c1/credits/grants") is None  # another method
    assert route.match("GET", f"{V3}/customers/c1/x/credits/grants") is None  # a placeholder is one segment
    assert route.match("GET", f"{V3}/customers/c1/credits/grants/more") is None
    assert route.match("GET", f"/prefix{V3}/customers/c1/credits/grants") is None
    assert Route("GET", "/a.b", _echo).match("GET", "/aXb") is None  # literal parts are not regex


def test_decorators_add_routes_in_order_and_return_the_handler_unchanged() -> None:
    router = Router("things")

    @router.get("/things/{tid}", api="v3")
    @router.patch(f"{V1}/things/{{tid}}", api="v1")
    def thing(state: list[str], request: httpx.Request, tid: str, api: str) -> Reply:
        return 200, {"tid": tid, "api": api}

    router.post("/things")(_echo)
    router.put("/things/{tid}")(_echo)
    assert thing(["x"], _request("GET", "/"), tid="t", api="v1") == (200, {"tid": "t", "api": "v1"})
    assert [(r.method, r.path) for r in router] == [
        ("PATCH", f"{V1}/things/{{tid}}"),
        ("GET", "/things/{tid}"),
        ("POST", "/things"),
        ("PUT", "/things/{tid}"),
    ]
    assert len(router) == 4 and router.name == "things"
    resolved = router.resolve(_request("GET", "/things/t7"))
    assert resolved is not None and resolved[0] is router.routes[1] and resolved[1] == {"tid": "t7"}
    assert router.resolve(_request("DELETE", "/things/t7")) is None


def test_mount_composes_routers_in_order_and_the_first_match_wins() -> None:
    first, second = Router("first"), Router("second")
    first.get("/x/{a}")(_echo)
    second.get("/x/special")(_echo)
    second.get("/y")(_echo)
    both = first.mount(second, name="both")
    assert both.name == "both" and len(both) == 3
    assert both.routes == first.routes + second.routes
    resolved = both.resolve(_request("GET", "/x/special"))
    assert resolved is not None and resolved[0] is first.routes[0]  # registered first
    assert len(first) == 1 and len(second) == 2  # mounting copies, the parts stay as they were


def _served(router: Router, *, latency: timedelta = timedelta(0)) -> tuple[httpx.Client, VirtualClock, list[str]]:
    clock = VirtualClock(START)
    state: list[str] = []
    client = httpx.Client(transport=serve(router, state, clock=clock, latency=latency).transport, base_url="http://f")
    return client, clock, state


def test_serve_passes_the_state_and_path_parameters_and_answers_json() -> None:
    router = Router("r")
    router.get(f"{V3}/things/{{tid}}", api="v3")(_echo)
    client, _, state = _served(router)
    response = client.get(f"{V3}/things/t1")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert response.json() == {"tid": "t1", "api": "v3"}
    assert state == [f"{V3}/things/t1"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("POST", "/things/t1"), ("GET", "/things/t1/x")])
def test_serve_answers_unknown_routes_and_wrong_methods_with_a_404problem_body(method: str, path: str) -> None:
    router = Router("r")
    router.get("/things/{tid}")(_echo)
    client, _, state = _served(router)
    response = client.request(method, path)
    assert response.status_code == 404
    body = problem_body(response)
    assert body["detail"] == f"route not found: {method} {path}" and body["title"] == "Not Found"
    assert state == []


def test_serve_turns_api_errors_and_bugs_into_problems_and_204_into_no_body() -> None:
    router = Router("r")

    @router.post(f"{V1}/bad")
    def bad(state: list[str], request: httpx.Request) -> Reply:
        raise ApiError.bad_field("name", "required", "required")

    @router.post(f"{V3}/bug")
    def bug(state: list[str], request: httpx.Request) -> Reply:
        raise KeyError("oops")

    @router.post(f"{V1}/empty")
    def empty(state: list[str], request: httpx.Request) -> Reply:
        return 204, None

    client, _, _ = _served(router)
    bad_body = problem_body(client.post(f"{V1}/bad"))
    assert bad_body["status"] == 400 and bad_body["extensions"] == {
        "validationErrors": [{"field": "name", "message": "required"}]
    }
    bug_response = client.post(f"{V3}/bug")
    assert bug_response.status_code == 500
    assert problem_body(bug_response)["detail"] == "offline OpenMeter failed: KeyError: 'oops'"
    empty_response = client.post(f"{V1}/empty")
    assert empty_response.status_code == 204 and empty_response.content == b""


def test_every_request_gets_the_next_request_id_and_takes_the_latency() -> None:
    client, clock, _ = _served(Router("empty"), latency=timedelta(milliseconds=5))
    instances = [problem_body(client.get(f"/n{n}"))["instance"] for n in range(3)]
    assert instances == ["urn:request:offline-000001", "urn:request:offline-000002", "urn:request:offline-000003"]
    assert clock.now() - START == timedelta(milliseconds=15)
