from __future__ import annotations

import copy
import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from contract.client import (
    AddItem,
    ApiKey,
    Event,
    OpenMeterClient,
    OpenMeterProblem,
    OpenMeterResponseError,
    OpenMeterUnreachable,
    PhaseInput,
    PlanInput,
    PriceInput,
    RateCardInput,
    Recorder,
    RemoveItem,
    TierInput,
)
from contract.errors import InputError
from contract.model.domain import SettlementMode
from contract.model.time import parse_time

from .helpers import BASE, SECRET, Recording, load_recording, path_of, recorded, respond_like

Make = Callable[..., OpenMeterClient]
V3 = "/api/v3/openmeter"


def sent_json(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


def problem(status: int, **body: Any) -> httpx.Response:
    return httpx.Response(status, json={"status": status, **body}, headers={"Content-Type": "application/problem+json"})


def _normalise_numerics(value: Any, key: str = "") -> Any:
    """Recorded requests say "0.10"; the client writes OpenMeter's normal form "0.1"."""
    if isinstance(value, dict):
        return {k: _normalise_numerics(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_numerics(v, key) for v in value]
    if key in ("amount", "up_to_amount") and isinstance(value, str) and re.fullmatch(r"\d+\.\d+", value):
        return value.rstrip("0").rstrip(".")
    return value


def _price_from_v3(price: dict[str, Any]) -> PriceInput:
    if price["type"] in ("unit", "flat"):
        return PriceInput(price["type"], Decimal(price["amount"]))
    tiers = [
        TierInput.of(
            up_to=t.get("up_to_amount"),
            unit=(t.get("unit_price") or {}).get("amount"),
            flat=(t.get("flat_price") or {}).get("amount"),
        )
        for t in price["tiers"]
    ]
    return PriceInput(price["type"], tiers=tuple(tiers))


def plan_input_from_v3_request(req: dict[str, Any]) -> PlanInput:
    return PlanInput(
        key=req["key"],
        name=req["name"],
        currency=req["currency"],
        billing_cadence=req["billing_cadence"],
        pro_rating=req["pro_rating_enabled"],
        settlement_mode=req.get("settlement_mode"),
        phases=tuple(
            PhaseInput(
                ph["key"],
                ph["name"],
                tuple(
                    RateCardInput(
                        rc["key"],
                        rc["name"],
                        _price_from_v3(rc["price"]),
                        feature_id=rc["feature"]["id"],
                        billing_cadence=rc["billing_cadence"],
                    )
                    for rc in ph["rate_cards"]
                ),
            )
            for ph in req["phases"]
        ),
    )


def call_for(client: OpenMeterClient, line: dict[str, Any]) -> object:
    """The typed client call that produces the recorded request."""
    method, path, req = line["method"], path_of(line), line["request_body"]
    seg = path.split("/")
    routes: list[tuple[str, str, Callable[[], object]]] = [
        ("GET", r"/version", client.version),
        (
            "POST",
            rf"{V3}/meters",
            lambda: client.create_meter(
                req["key"], req["name"], req["event_type"], req["aggregation"], req["value_property"]
            ),
        ),
        ("POST", rf"{V3}/meters/[^/]+/query", lambda: client.query_meter(seg[5])),
        ("POST", rf"{V3}/features", lambda: client.create_feature(req["key"], req["name"], req["meter"]["id"])),
        (
            "POST",
            rf"{V3}/customers",
            lambda: client.create_customer(
                req["key"], req["name"], req["currency"], req["usage_attribution"]["subject_keys"]
            ),
        ),
        (
            "POST",
            rf"{V3}/customers/[^/]+/credits/grants",
            lambda: client.create_credit_grant(
                seg[5], req["amount"], req["currency"], req["name"], req["funding_method"]
            ),
        ),
        ("GET", rf"{V3}/customers/[^/]+/credits/balance", lambda: client.credit_balance(seg[5])),
        ("POST", rf"{V3}/plans", lambda: client.create_plan(plan_input_from_v3_request(req))),
        ("POST", rf"{V3}/plans/[^/]+/publish", lambda: client.publish_plan(seg[5])),
        (
            "POST",
            rf"{V3}/subscriptions",
            lambda: client.create_subscription(
                req["customer"]["id"], plan_id=req["plan"]["id"], settlement_mode=req.get("settlement_mode")
            ),
        ),
        ("POST", rf"{V3}/subscriptions/[^/]+/cancel", lambda: client.cancel_subscription(seg[5], req["timing"])),
        ("GET", rf"{V3}/subscriptions/[^/]+", lambda: client.subscription_summary(seg[5])),
        ("GET", r"/api/v1/subscriptions/[^/]+", lambda: client.get_subscription(seg[4])),
        ("GET", rf"{V3}/customers/[^/]+/charges", lambda: client.list_charges(seg[5])),
        ("GET", r"/api/v1/billing/invoices", lambda: client.list_invoices(httpx.URL(line["url"]).params["customers"])),
        (
            "POST",
            r"/api/v1/events",
            lambda: client.ingest(
                [
                    Event(
                        id=req["id"],
                        type=req["type"],
                        subject=req["subject"],
                        time=parse_time(req["time"]),
                        data=req["data"],
                        source=req["source"],
                    )
                ],
                batch=False,
            ),
        ),
    ]
    for m, pattern, call in routes:
        if m == method and re.fullmatch(pattern, path):
            return call()
    raise AssertionError(f"no client call for {method} {path}")


def _all_exchanges() -> Iterator[Any]:
    for name in ("head-4412", "bug-4412"):
        try:
            lines = load_recording(name)
        except (pytest.skip.Exception, pytest.fail.Exception):
            yield pytest.param(None, id=f"{name}-absent")  # the test itself skips or fails, with the reason
            continue
        for i, line in enumerate(lines):
            yield pytest.param(line, id=f"{name}-{i:03d}-{line['step']}")


@pytest.mark.parametrize("line", list(_all_exchanges()))
def test_every_recorded_exchange_replays_through_the_typed_client(line: dict[str, Any] | None) -> None:
    if line is None:
        load_recording("head-4412")  # absent: fails in CI, skips elsewhere (with the reason)
        load_recording("bug-4412")
        raise AssertionError("a recording was reported absent but loads")
    url = httpx.URL(line["url"])
    router = respx.Router(assert_all_called=False)
    route = router.route(method=line["method"], host=url.host, path=url.path).mock(return_value=respond_like(line))
    client = OpenMeterClient(f"{url.scheme}://{url.netloc.decode()}", transport=httpx.MockTransport(router.handler))

    with client:
        result = call_for(client, line)

    assert result is not None or line["response_body"] == {"data": []}  # an empty meter query is None
    assert route.call_count == 1
    request = route.calls.last.request
    assert str(request.url) == line["url"]
    if line["request_body"] is not None:
        assert json.loads(request.content) == _normalise_numerics(line["request_body"])


# ----------------------------------------------------------------------------- typed results


def test_version_and_meter_query_values(
    make_client: Make, router: respx.Router, head: Recording, bug: Recording
) -> None:
    router.get("/version").mock(return_value=respond_like(recorded(head, "version")))
    meter_route = router.post(f"{V3}/meters/M1/query").mock(
        side_effect=[respond_like(recorded(bug, "meter_query")), respond_like(recorded(head, "meter_query"))]
    )
    client = make_client()

    assert client.version().version == "unknown"
    assert client.query_meter("M1") is None  # no row yet: not visible
    assert client.query_meter("M1") == Decimal(7)
    assert sent_json(meter_route) == {}


def test_create_subscription_v3_sends_settlement_mode_and_remembers_it_works(
    make_client: Make,
    router: respx.Router,
    head: Recording,
) -> None:
    line = recorded(head, "subscription_create")
    route = router.post(f"{V3}/subscriptions").mock(return_value=respond_like(line))
    client = make_client()

    summary = client.create_subscription(
        "01M8DZH5MAVCFEXV8HDFVJR4ZM",
        plan_id="01M8DZH5PYNG4M76FN8CEZ1AAK",
        settlement_mode=SettlementMode.CREDIT_THEN_INVOICE,
        billing_anchor=datetime(2026, 11, 27, 7, 0, 0, 500, tzinfo=UTC),
    )

    assert sent_json(route) == {**line["request_body"], "billing_anchor": "2026-11-27T07:00:00.0005Z"}
    assert summary.via == "v3" and summary.status == "active"
    assert summary.active_from == datetime(2026, 11, 27, 7, 46, 46, 133013, tzinfo=UTC)
    assert client.capabilities.v3_subscription_settlement_mode is True
    assert client.fallbacks == []


def test_cancel_edit_change_restore_use_the_documented_routes(
    make_client: Make, router: respx.Router, head: Recording
) -> None:
    v3_sub = recorded(head, "subscription_create")["response_body"]
    v3_cancelled = recorded(head, "subscription_cancel")["response_body"]
    v1_sub = recorded(head, "subscription_get_v1")["response_body"]
    cancel = router.post(f"{V3}/subscriptions/S1/cancel").respond(200, json=v3_cancelled)
    edit = router.patch("/api/v1/subscriptions/S1").respond(200, json=v1_sub)
    change = router.post(f"{V3}/subscriptions/S1/change").respond(
        200, json={"current": v3_cancelled, "next": {**v3_sub, "id": "S2"}}
    )
    restore = router.post("/api/v1/subscriptions/S1/restore").respond(200, json=v1_sub)
    client = make_client()

    cancelled = client.cancel_subscription("S1", datetime(2026, 12, 27, 7, 46, 46, tzinfo=UTC))
    edited = client.edit_subscription(
        "S1",
        [
            AddItem(
                "default", RateCardInput("api_calls", "API calls", PriceInput.unit("0.20"), feature_key="api_calls")
            ),
            RemoveItem("default", "tokens"),
        ],
    )
    changed = client.change_subscription("S1", "C1", "P2", "next_billing_cycle")
    restored = client.restore_subscription("S1")

    assert sent_json(cancel) == {"timing": "2026-12-27T07:46:46Z"}
    assert cancelled.status == "inactive"
    assert cancelled.active_to == datetime(2026, 11, 27, 7, 46, 47, 444431, tzinfo=UTC)
    assert sent_json(edit) == {
        "timing": "immediate",
        "customizations": [
            {
                "op": "add_item",
                "phaseKey": "default",
                "rateCard": {
                    "type": "usage_based",
                    "key": "api_calls",
                    "name": "API calls",
                    "featureKey": "api_calls",
                    "billingCadence": "P1M",
                    "price": {"type": "unit", "amount": "0.2"},
                },
            },
            {"op": "remove_item", "phaseKey": "default", "itemKey": "tokens"},
        ],
    }
    assert edited.via == "v1" and edited.id == "01M8DZH5QPXGMYK63W2NTJ0NDD"
    assert sent_json(change) == {"customer": {"id": "C1"}, "plan": {"id": "P2"}, "timing": "next_billing_cycle"}
    assert (changed.current.status, changed.next.id) == ("inactive", "S2")
    assert restore.call_count == 1 and restored.status == "active"


def test_continue_uses_v3_unschedule_cancelation(make_client: Make, router: respx.Router, head: Recording) -> None:
    route = router.post(f"{V3}/subscriptions/S1/unschedule-cancelation").respond(
        200, json=recorded(head, "subscription_create")["response_body"]
    )
    client = make_client()

    assert client.continue_subscription("S1").status == "active"
    assert route.call_count == 1 and route.calls.last.request.content == b""
    assert client.capabilities.v3_unschedule_cancelation is True


def test_continue_falls_back_to_v1_when_v3_has_no_such_route(
    make_client: Make, router: respx.Router, head: Recording
) -> None:
    v3 = router.post(f"{V3}/subscriptions/S1/unschedule-cancelation").mock(
        return_value=problem(404, title="Not Found", detail="route not found")
    )
    v1 = router.post("/api/v1/subscriptions/S1/unschedule-cancelation").respond(
        200, json=recorded(head, "subscription_get_v1")["response_body"]
    )
    client = make_client()

    assert client.continue_subscription("S1").via == "v1"
    assert client.continue_subscription("S1").via == "v1"
    assert (v3.call_count, v1.call_count) == (1, 2)  # the missing route is remembered
    assert "continue through v1" in client.fallbacks[0]


def test_continue_does_not_fall_back_when_the_subscription_itself_is_missing(
    make_client: Make,
    router: respx.Router,
) -> None:
    router.post(f"{V3}/subscriptions/S9/unschedule-cancelation").mock(
        return_value=problem(404, title="Not Found", detail="subscription S9 not found")
    )
    v1 = router.post("/api/v1/subscriptions/S9/unschedule-cancelation").respond(200, json={})

    with pytest.raises(OpenMeterProblem) as info:
        make_client().continue_subscription("S9")

    assert info.value.status == 404 and v1.call_count == 0


def test_get_subscription_feeds_the_engine_view(make_client: Make, router: respx.Router, bug: Recording) -> None:
    line = recorded(bug, "subscription_get_v1_after_cancel")
    router.get(path_of(line)).mock(return_value=respond_like(line))

    view = make_client().get_subscription("01M8DZSWV3W0XMQ5309B3ZPD4H")

    assert view.active_to == datetime(2026, 11, 27, 7, 51, 34, 224693, tzinfo=UTC)
    assert [v.id for t in view.phases[0].item_timelines for v in t.versions] == [
        "01M8DZSZ2MR34R2NGKB45Q1QFD",
        "01M8DZSZ2N405RB5ZNG2BEQXPS",
    ]


# ------------------------------------------------------------------------- bug-window paths


def _v1_plan_body(mode: str) -> dict[str, Any]:
    return {
        "id": "01PLANV1",
        "key": "plan_x",
        "version": 1,
        "name": "Plan",
        "status": "draft",
        "currency": "USD",
        "billingCadence": "P1M",
        "proRatingConfig": {"enabled": True, "mode": "prorate_prices"},
        "settlementMode": mode,
        "createdAt": "2026-11-27T07:51:31.908905Z",
        "updatedAt": "2026-11-27T07:51:31.908905Z",
        "phases": [
            {
                "key": "default",
                "name": "Default",
                "duration": None,
                "rateCards": [
                    {
                        "type": "usage_based",
                        "key": "api_calls",
                        "name": "api_calls",
                        "featureKey": "api_calls",
                        "billingCadence": "P1M",
                        "price": {"type": "unit", "amount": "0.1"},
                    }
                ],
            }
        ],
    }


SETTLEMENT_REFUSED = {
    "title": "Bad Request",
    "detail": "request body has an error: doesn't match schema",
    "invalid_parameters": [
        {
            "field": "",
            "rule": "additionalProperties",
            "reason": 'property "settlement_mode" is unsupported',
            "source": "body",
        }
    ],
}


def test_plan_with_settlement_mode_falls_back_to_v1_when_v3_refuses_the_field(
    make_client: Make,
    router: respx.Router,
    bug: Recording,
    tmp_path: Path,
) -> None:
    v3 = router.post(f"{V3}/plans").mock(return_value=problem(400, **SETTLEMENT_REFUSED))
    v1 = router.post("/api/v1/plans").respond(201, json=_v1_plan_body("credit_only"))
    router.post(f"{V3}/plans/01PLANV1/publish").respond(
        200, json={**recorded(bug, "plan_publish")["response_body"], "id": "01PLANV1"}
    )
    recorder = Recorder(tmp_path / "run.jsonl")
    client = make_client(recorder=recorder)
    plan = PlanInput(
        "plan_x",
        "Plan",
        "USD",
        settlement_mode=SettlementMode.CREDIT_ONLY,
        phases=(
            PhaseInput(
                "default",
                "Default",
                (RateCardInput("api_calls", "api_calls", PriceInput.unit("0.1"), feature_id="F1"),),
            ),
        ),
    )

    with client.step("plan_create"):
        created = client.create_plan(plan)
        again = client.create_plan(plan)
    published = client.publish_plan(created.id)

    assert sent_json(v3)["settlement_mode"] == "credit_only"
    assert sent_json(v1) == plan.v1()
    assert sent_json(v1)["settlementMode"] == "credit_only"
    assert (created.created_via, created.settlement_mode) == ("v1", SettlementMode.CREDIT_ONLY)
    assert again.created_via == "v1"
    assert (v3.call_count, v1.call_count) == (1, 2)  # the capability is remembered
    assert client.capabilities.v3_plan_settlement_mode is False
    assert published.created_via == "v1" and published.status == "active"
    notes = [json.loads(x) for x in (tmp_path / "run.jsonl").read_text().splitlines()]
    fallback_notes = [n for n in notes if n["kind"] == "note"]
    assert fallback_notes[0]["step"] == "plan_create"
    assert fallback_notes[0]["path_used"] == "v1"
    assert "v3 refused settlement_mode" in fallback_notes[0]["fallback"]
    assert client.fallbacks[0].startswith("plan plan_x: created through v1 POST /api/v1/plans")


def test_plan_without_settlement_mode_stays_on_v3_and_other_400s_are_not_swallowed(
    make_client: Make,
    router: respx.Router,
    bug: Recording,
) -> None:
    v3 = router.post(f"{V3}/plans").mock(
        side_effect=[
            respond_like(recorded(bug, "plan_create")),
            problem(
                400,
                title="Bad Request",
                detail="invalid plan",
                extensions={
                    "validationErrors": [
                        {"code": "plan_billing_cadence_invalid", "field": "x", "message": "bad", "severity": "critical"}
                    ]
                },
            ),
        ]
    )
    v1 = router.post("/api/v1/plans").respond(201, json=_v1_plan_body("credit_only"))
    client = make_client()
    plain = plan_input_from_v3_request(recorded(bug, "plan_create")["request_body"])

    assert client.create_plan(plain).created_via == "v3"
    with pytest.raises(OpenMeterProblem) as info:
        client.create_plan(
            PlanInput(plain.key, plain.name, "USD", plain.phases, settlement_mode=SettlementMode.CREDIT_ONLY)
        )

    assert info.value.codes == ("plan_billing_cadence_invalid",)
    assert "settlement_mode" not in sent_json(v3, 0)
    assert v1.call_count == 0


def test_subscription_with_settlement_mode_falls_back_to_v1_on_the_bug_window_build(
    make_client: Make,
    router: respx.Router,
    bug: Recording,
) -> None:
    v3 = router.post(f"{V3}/subscriptions").mock(return_value=problem(400, **SETTLEMENT_REFUSED))
    plan = router.get(f"{V3}/plans/01M8DZSWT4MFA8EQVQ0A5MR3VW").mock(
        return_value=respond_like(recorded(bug, "plan_publish"))
    )
    v1 = router.post("/api/v1/subscriptions").respond(201, json=recorded(bug, "subscription_get_v1")["response_body"])
    client = make_client()

    summary = client.create_subscription(
        "01M8DZSWQGN7RZQPEN7FA6C29T", plan_id="01M8DZSWT4MFA8EQVQ0A5MR3VW", settlement_mode="credit_then_invoice"
    )

    assert v3.call_count == 1 and plan.call_count == 1
    assert sent_json(v1) == {
        "customerId": "01M8DZSWQGN7RZQPEN7FA6C29T",
        "plan": {"key": "plan_4412_1795765891731_183", "version": 1},
        "timing": "immediate",
        "settlementMode": "credit_then_invoice",
    }
    assert summary.via == "v1" and summary.id == "01M8DZSWV3W0XMQ5309B3ZPD4H"
    assert summary.active_from == datetime(2026, 11, 27, 7, 51, 31, 937143, tzinfo=UTC)
    assert client.capabilities.v3_subscription_settlement_mode is False


def test_subscription_with_a_future_start_goes_straight_to_v1(
    make_client: Make, router: respx.Router, head: Recording
) -> None:
    v3 = router.post(f"{V3}/subscriptions").respond(201, json={})
    v1 = router.post("/api/v1/subscriptions").respond(201, json=recorded(head, "subscription_get_v1")["response_body"])
    start = datetime(2027, 1, 1, tzinfo=UTC)

    make_client().create_subscription("C1", plan_key="plan_a", plan_version=2, timing=start, billing_anchor=start)

    assert v3.call_count == 0
    assert sent_json(v1) == {
        "customerId": "C1",
        "plan": {"key": "plan_a", "version": 2},
        "timing": "2027-01-01T00:00:00Z",
        "billingAnchor": "2027-01-01T00:00:00Z",
    }


def test_change_falls_back_to_v1_when_v3_refuses_settlement_mode(
    make_client: Make, router: respx.Router, head: Recording
) -> None:
    router.post(f"{V3}/subscriptions/S1/change").mock(return_value=problem(400, **SETTLEMENT_REFUSED))
    router.get(f"{V3}/plans/P2").mock(return_value=respond_like(recorded(head, "plan_publish")))
    v1_sub = recorded(head, "subscription_get_v1")["response_body"]
    v1 = router.post("/api/v1/subscriptions/S1/change").respond(
        200, json={"current": v1_sub, "next": {**v1_sub, "id": "S2"}}
    )

    result = make_client().change_subscription("S1", "C1", "P2", settlement_mode="credit_only")

    assert sent_json(v1) == {
        "timing": "immediate",
        "settlementMode": "credit_only",
        "plan": {"key": "plan_4412_1795765605940_142", "version": 1},
    }
    assert (result.current.via, result.next.id) == ("v1", "S2")


def test_bug_window_balance_and_charges_shapes_parse(make_client: Make, router: respx.Router, bug: Recording) -> None:
    for step in ("credit_balance", "charges_after_cancel"):
        line = recorded(bug, step)
        router.get(path_of(line)).mock(return_value=respond_like(line))
    client = make_client()

    balance = client.credit_balance("01M8DZSWQGN7RZQPEN7FA6C29T").for_currency("USD")
    charges = client.list_charges("01M8DZSWQGN7RZQPEN7FA6C29T")

    assert balance is not None and (balance.shape, balance.available) == ("bug_window", Decimal(10))
    assert [c.shape for c in charges] == ["bug_window", "bug_window"]
    assert all(c.managed_by == "subscription" and c.status == "created" for c in charges)


# ------------------------------------------------------------------------ invoices and charges


def test_list_invoices_sends_the_documented_query_and_unswaps_ids(
    make_client: Make, router: respx.Router, head: Recording
) -> None:
    line = recorded(head, "invoices_after_subscribe")
    route = router.get(path_of(line)).mock(return_value=respond_like(line))

    invoices = make_client().list_invoices("01M8DZH5MAVCFEXV8HDFVJR4ZM")

    assert str(route.calls.last.request.url) == line["url"].replace("http://127.0.0.1:48888", BASE)
    (gathering,) = invoices
    assert {ln.subscription.subscription_id for ln in gathering.lines if ln.subscription} == {
        "01M8DZH5QPXGMYK63W2NTJ0NDD"
    }
    assert {ln.subscription.item_id for ln in gathering.lines if ln.subscription} == {
        "01M8DZH5QT4JG8FAQEF862BQSA",
        "01M8DZH5QXJ40YJXZ4NPWYGGYH",
    }


def test_list_invoices_filters_and_deleted(make_client: Make, router: respx.Router) -> None:
    route = router.get("/api/v1/billing/invoices").respond(
        200, json={"items": [], "page": 1, "pageSize": 100, "totalCount": 0}
    )

    assert make_client().list_invoices("C1", include_deleted=True, statuses=["gathering", "draft"]) == []
    assert route.calls.last.request.url.query.decode() == (
        "customers=C1&expand=lines&statuses=gathering&statuses=draft&includeDeleted=true&pageSize=100"
    )


def test_gathering_invoice_picks_the_live_one_in_the_currency(
    make_client: Make, router: respx.Router, head: Recording
) -> None:
    route = router.get("/api/v1/billing/invoices").mock(
        return_value=respond_like(recorded(head, "invoices_after_subscribe"))
    )
    client = make_client()

    invoice = client.gathering_invoice("C1", "USD")

    assert invoice is not None and invoice.id == "01M8DZH5V9B1HBET02RB074Z2H" and len(invoice.lines) == 2
    assert route.calls.last.request.url.params.get_list("statuses") == ["gathering"]
    assert client.gathering_invoice("C1", "EUR") is None


def test_get_invoice_can_include_deleted_lines(make_client: Make, router: respx.Router, head: Recording) -> None:
    body = recorded(head, "invoices_after_cancel")["response_body"]["items"][0]
    route = router.get("/api/v1/billing/invoices/I1").respond(200, json=body)

    invoice = make_client().get_invoice("I1", include_deleted_lines=True)

    assert invoice.status == "draft"
    assert route.calls.last.request.url.query.decode() == "expand=lines&includeDeletedLines=true"


def test_invoice_pending_lines_returns_invoices_or_nothing_when_nothing_is_due(
    make_client: Make,
    router: respx.Router,
    head: Recording,
) -> None:
    draft = recorded(head, "invoices_after_cancel")["response_body"]["items"][0]
    route = router.post("/api/v1/billing/invoices/invoice").mock(
        side_effect=[
            httpx.Response(201, json=[draft]),
            problem(
                400,
                title="Bad Request",
                detail="the new invoice would have no lines",
                extensions={
                    "code": "invoice_create_no_lines",
                    "severity": "critical",
                    "message": "the new invoice would have no lines",
                },
            ),
            problem(400, title="Bad Request", detail="customer has no billing profile"),
        ]
    )
    client = make_client()

    made = client.invoice_pending_lines("C1", as_of=datetime(2026, 12, 1, tzinfo=UTC))
    nothing = client.invoice_pending_lines("C1")
    with pytest.raises(OpenMeterProblem, match="no billing profile"):
        client.invoice_pending_lines("C1")

    assert [i.status for i in made] == ["draft"] and nothing == []
    assert sent_json(route, 0) == {"customerId": "C1", "asOf": "2026-12-01T00:00:00Z"}
    assert sent_json(route, 1) == {"customerId": "C1"}


def _charge(template: dict[str, Any], n: int) -> dict[str, Any]:
    c = copy.deepcopy(template)
    c["id"] = f"CHARGE{n:04d}"
    c["unique_reference_id"] = f"S/default/k/v[0]/period[{n}]"
    return c


def test_list_charges_walks_every_page(make_client: Make, router: respx.Router, head: Recording) -> None:
    template = recorded(head, "charges_after_subscribe")["response_body"]["data"][0]
    rows = [_charge(template, n) for n in range(250)]

    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("page[number]", "1"))
        size = int(request.url.params["page[size]"])
        data = rows[(number - 1) * size : number * size]
        return httpx.Response(
            200, json={"data": data, "meta": {"page": {"number": number, "size": size, "total": len(rows)}}}
        )

    route = router.get(f"{V3}/customers/C1/charges").mock(side_effect=page)

    charges = make_client().list_charges("C1")

    assert [c.id for c in charges] == [r["id"] for r in rows]
    assert route.call_count == 3
    assert [c.request.url.params.get("page[number]") for c in route.calls] == [None, "2", "3"]
    assert route.calls[0].request.url.params["filter[status][oeq]"] == "created,active,final,deleted"
    assert route.calls[0].request.url.params["sort"] == "service_period.from"


def test_list_charges_without_deleted_sends_no_status_filter(make_client: Make, router: respx.Router) -> None:
    route = router.get(f"{V3}/customers/C1/charges").respond(
        200, json={"data": None, "meta": {"page": {"number": 1, "size": 100, "total": 0}}}
    )

    assert make_client().list_charges("C1", include_deleted=False) == []
    assert "filter[status][oeq]" not in route.calls.last.request.url.params


def test_list_invoices_walks_v1_pages(make_client: Make, router: respx.Router, head: Recording) -> None:
    template = recorded(head, "invoices_after_subscribe")["response_body"]["items"][0]
    items = [{**template, "id": f"INV{n:03d}", "lines": []} for n in range(150)]

    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("page", "1"))
        size = int(request.url.params["pageSize"])
        return httpx.Response(
            200,
            json={
                "items": items[(number - 1) * size : number * size],
                "page": number,
                "pageSize": size,
                "totalCount": len(items),
            },
        )

    route = router.get("/api/v1/billing/invoices").mock(side_effect=page)

    invoices = make_client().list_invoices("C1")

    assert len(invoices) == 150 and invoices[-1].id == "INV149"
    assert route.call_count == 2


def test_pagination_is_bounded(make_client: Make, router: respx.Router, head: Recording) -> None:
    template = recorded(head, "charges_after_subscribe")["response_body"]["data"][0]
    full = {
        "data": [_charge(template, n) for n in range(100)],
        "meta": {"page": {"number": 1, "size": 100, "total": 10_000}},
    }
    route = router.get(f"{V3}/customers/C1/charges").respond(200, json=full)

    with pytest.raises(OpenMeterResponseError, match="more than 2 pages of 100"):
        make_client(max_pages=2).list_charges("C1")
    assert route.call_count == 2


# ---------------------------------------------------------------- profiles, grants, ingest


PROFILE: dict[str, Any] = {
    "id": "01PROFILEDEFAULT",
    "name": "openmeter-sandbox",
    "default": True,
    "created_at": "2026-11-27T07:46:36Z",
    "updated_at": "2026-11-27T07:46:36Z",
    "supplier": {"id": "01SUPPLIER", "name": "OpenMeter", "addresses": [{"country": "US"}]},
    "workflow": {
        "collection": {"alignment": {"type": "subscription"}, "interval": "PT1H"},
        "invoicing": {
            "auto_advance": True,
            "draft_period": "P0D",
            "progressive_billing": True,
            "subscription_end_proration_mode": "bill_actual_period",
        },
        "payment": {"collection_method": "charge_automatically"},
    },
    "apps": {"tax": {"id": "01APP"}, "invoicing": {"id": "01APP"}, "payment": {"id": "01APP"}},
}


def test_profile_clone_and_pin(make_client: Make, router: respx.Router) -> None:
    other = {**PROFILE, "id": "01OTHER", "name": "other", "default": False}
    listing = router.get(f"{V3}/profiles").respond(
        200, json={"data": [other, PROFILE], "meta": {"page": {"number": 1, "size": 100, "total": 2}}}
    )
    create = router.post(f"{V3}/profiles").respond(
        201, json={**PROFILE, "id": "01CLONE", "default": False, "name": "frozen"}
    )
    pin = router.put(f"{V3}/customers/C1/billing").respond(200, json={})
    client = make_client()

    assert client.default_profile().id == "01PROFILEDEFAULT"
    clone = client.create_profile_from_default(
        "frozen", auto_advance=False, progressive_billing=False, end_proration="bill_full_period"
    )
    client.set_customer_profile("C1", clone.id)

    body = sent_json(create)
    assert body["name"] == "frozen" and body["default"] is False
    assert body["supplier"] == {"name": "OpenMeter", "addresses": [{"country": "US"}]}
    assert body["apps"] == PROFILE["apps"]
    assert body["workflow"]["invoicing"] == {
        "auto_advance": False,
        "draft_period": "P0D",
        "progressive_billing": False,
        "subscription_end_proration_mode": "bill_full_period",
    }
    assert body["workflow"]["collection"] == PROFILE["workflow"]["collection"]
    assert PROFILE["workflow"]["invoicing"]["auto_advance"] is True  # the default is not modified
    assert (clone.id, clone.is_default) == ("01CLONE", False)
    assert sent_json(pin) == {"billing_profile": {"id": "01CLONE"}}
    assert listing.calls.last.request.url.params["page[size]"] == "100"


def test_missing_default_profile_is_a_clear_error(make_client: Make, router: respx.Router) -> None:
    router.get(f"{V3}/profiles").respond(200, json={"data": None, "meta": {"page": {"total": 0}}})

    with pytest.raises(OpenMeterResponseError, match="no billing profile is marked default"):
        make_client().default_profile()


def test_credit_grant_amount_is_a_numeric_string(make_client: Make, router: respx.Router, head: Recording) -> None:
    route = router.post(f"{V3}/customers/C1/credits/grants").mock(
        return_value=respond_like(recorded(head, "credit_grant"))
    )

    grant = make_client().create_credit_grant("C1", Decimal("10.00"), "USD", "Promo 4412")

    assert sent_json(route) == {"name": "Promo 4412", "funding_method": "none", "currency": "USD", "amount": "10"}
    assert (grant.amount, grant.status, grant.effective_at) == (Decimal(10), "active", None)


def test_ingest_batch_uses_the_cloudevents_batch_content_type_and_accepts_202(
    make_client: Make,
    router: respx.Router,
) -> None:
    route = router.post("/api/v1/events").mock(
        side_effect=[httpx.Response(202), httpx.Response(204), httpx.Response(204)]
    )
    at = datetime(2026, 11, 27, 7, 46, 47, 416000, tzinfo=UTC)
    events = [Event(f"e{i}", "ev", "subj", at, {"value": "7"}) for i in range(2)]
    client = make_client()

    assert client.ingest(events) == 2
    assert client.ingest(events, batch=False) == 2
    assert client.ingest([]) == 0

    first = route.calls[0].request
    assert first.headers["content-type"] == "application/cloudevents-batch+json"
    assert [e["id"] for e in json.loads(first.content)] == ["e0", "e1"]
    assert route.calls[1].request.headers["content-type"] == "application/cloudevents+json"
    assert json.loads(route.calls[2].request.content)["id"] == "e1"
    assert route.call_count == 3


# --------------------------------------------------------------------- errors and retries


def test_http_error_becomes_a_one_line_problem_with_codes(make_client: Make, router: respx.Router) -> None:
    router.post(f"{V3}/subscriptions").mock(
        return_value=problem(
            409,
            type="about:blank",
            title="Conflict",
            detail="only single subscription is allowed",
            extensions={
                "validationErrors": [
                    {
                        "field": "customer",
                        "message": "only single subscription",
                        "code": "only_single_subscription_allowed_per_customer_at_a_time",
                    }
                ]
            },
        )
    )

    with pytest.raises(OpenMeterProblem) as info:
        make_client().create_subscription("C1", plan_id="P1")

    assert str(info.value) == (
        "POST /api/v3/openmeter/subscriptions -> 409 Conflict: only single subscription is allowed "
        "[code: only_single_subscription_allowed_per_customer_at_a_time]"
    )
    assert info.value.codes == ("only_single_subscription_allowed_per_customer_at_a_time",)


def test_gets_are_retried_on_5xx_gateway_errors_with_bounded_backoff(
    make_client: Make,
    router: respx.Router,
    sleeps: list[float],
    head: Recording,
) -> None:
    route = router.get("/version").mock(
        side_effect=[httpx.Response(503), httpx.Response(502), respond_like(recorded(head, "version"))]
    )

    assert make_client().version().version == "unknown"
    assert route.call_count == 3
    assert sleeps == [0.1, 0.2]


def test_a_get_that_used_its_whole_deadline_is_reported_at_once_not_retried(
    make_client: Make,
    router: respx.Router,
    sleeps: list[float],
) -> None:
    # a server that held the request for the whole deadline would hold a retry as long: the user
    # hears "not reachable" after one timeout, not after three
    route = router.get("/version").mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(OpenMeterUnreachable) as info:
        make_client(timeout=2.5).version()

    assert route.call_count == 1 and sleeps == []
    assert str(info.value) == (
        f"cannot reach OpenMeter at {BASE}: GET /version got no complete answer within 2.5 s; "
        "is OpenMeter running? pass base_url"
    )
    assert info.value.exit_code == 3


def test_backoff_is_capped_at_one_second(make_client: Make, router: respx.Router, sleeps: list[float]) -> None:
    router.get("/version").mock(side_effect=httpx.ConnectError("Connection refused"))

    with pytest.raises(OpenMeterUnreachable, match="connection refused"):
        make_client(read_retries=3, retry_backoff=0.8).version()

    assert sleeps == [0.8, 1.0, 1.0]


def test_posts_are_never_retried_once_the_server_may_have_seen_them(
    make_client: Make,
    router: respx.Router,
    sleeps: list[float],
) -> None:
    timeout = router.post(f"{V3}/customers/C1/credits/grants").mock(side_effect=httpx.ReadTimeout("slow"))
    gateway = router.post(f"{V3}/subscriptions").mock(return_value=httpx.Response(503, text="busy"))
    client = make_client()

    with pytest.raises(OpenMeterUnreachable) as info:
        client.create_credit_grant("C1", "10", "USD", "Promo")
    with pytest.raises(OpenMeterProblem) as problem_info:
        client.create_subscription("C1", plan_id="P1")

    assert timeout.call_count == 1 and gateway.call_count == 1 and sleeps == []
    assert "the server may have processed it, so it was not repeated" in str(info.value)
    assert str(problem_info.value) == "POST /api/v3/openmeter/subscriptions -> 503 Service Unavailable: busy"


def test_posts_are_retried_when_the_connection_failed_before_sending(
    make_client: Make,
    router: respx.Router,
    head: Recording,
) -> None:
    route = router.post(f"{V3}/customers").mock(
        side_effect=[httpx.ConnectError("Connection refused"), respond_like(recorded(head, "customer"))]
    )

    customer = make_client().create_customer("cust", "Customer", "USD", ["subj"])

    assert route.call_count == 2 and customer.subject_keys == ("subj_4412_1795765605940_142",)


def test_no_retries_when_read_retries_is_zero(make_client: Make, router: respx.Router) -> None:
    route = router.get("/version").mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(OpenMeterUnreachable):
        make_client(read_retries=0).version()
    assert route.call_count == 1


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A 127.0.0.1 socket that accepts connections (kernel backlog) and never answers."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    yield srv.getsockname()[1]
    srv.close()


def test_a_silent_local_server_times_out_quickly_as_unreachable(silent_server: int) -> None:
    client = OpenMeterClient(f"http://127.0.0.1:{silent_server}", timeout=0.2, read_retries=1, sleep=lambda _: None)
    started = time.monotonic()

    with client, pytest.raises(OpenMeterUnreachable) as info:
        client.version()

    assert time.monotonic() - started < 5
    assert f"http://127.0.0.1:{silent_server}" in str(info.value)
    assert "got no complete answer within 0.2 s; is OpenMeter running?" in str(info.value)  # not retried


def test_a_closed_local_port_is_reported_as_connection_refused() -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    client = OpenMeterClient(
        f"http://127.0.0.1:{port}", timeout=1.0, read_retries=0, names={"base_url": "--openmeter-url"}
    )

    with client, pytest.raises(OpenMeterUnreachable) as info:
        client.list_charges("C1")

    assert str(info.value) == (
        f"cannot reach OpenMeter at http://127.0.0.1:{port}: GET /api/v3/openmeter/customers/C1/charges "
        "connection refused; is OpenMeter running? pass --openmeter-url"
    )


def test_unreadable_success_bodies_name_the_field(make_client: Make, router: respx.Router) -> None:
    router.get("/version").mock(
        side_effect=[httpx.Response(200, json={"os": "linux"}), httpx.Response(200, text="<html>")]
    )
    client = make_client()

    with pytest.raises(
        OpenMeterResponseError,
        match=r"^GET /version: unexpected version response: version: "
        r"missing$",
    ):
        client.version()
    with pytest.raises(OpenMeterResponseError, match="expected an object, got str"):
        client.version()


@pytest.mark.parametrize("url", ["localhost:8888", "ftp://x", ""])
def test_bad_base_url_is_an_input_error_naming_the_parameter(url: str) -> None:
    with pytest.raises(InputError, match=r"^base_url: not an http"):
        OpenMeterClient(url)


def test_errors_use_the_callers_names_for_the_parameters() -> None:
    # the CLI knows base_url as --openmeter-url; the client only knows what it is told
    with pytest.raises(InputError, match=r"^--openmeter-url: not an http"):
        OpenMeterClient("ftp://x", names={"base_url": "--openmeter-url"})


# ----------------------------------------------------------------------- recording, masking


def test_exchanges_are_recorded_with_their_step_and_failures(
    make_client: Make, router: respx.Router, head: Recording, tmp_path: Path
) -> None:
    router.get("/version").mock(
        side_effect=[httpx.ConnectError("Connection refused"), respond_like(recorded(head, "version"))]
    )
    router.get("/api/swagger.json").respond(200, json={"openapi": "3.0.0", "big": "x" * 1000})
    client = make_client(recorder=Recorder(tmp_path / "r.jsonl"))

    with client.step("version"):
        client.version()
    assert client.openapi_document("v1") == {"openapi": "3.0.0", "big": "x" * 1000}

    lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [(x["step"], x["status"]) for x in lines] == [("version", None), ("version", 200), (None, 200)]
    assert lines[0]["error"] == "connection refused"
    assert lines[1]["response_body"] == {"arch": "amd64", "os": "linux", "version": "unknown"}
    assert lines[2]["response_body"].endswith("bytes, not recorded>")
    assert client.current_step is None


def test_the_api_key_is_sent_but_never_shown(
    make_client: Make, router: respx.Router, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    echo = f"token Bearer {SECRET} is not valid for key {SECRET}"
    version = router.get("/version").mock(return_value=problem(401, title="Unauthorized", detail=echo))
    router.post(f"{V3}/plans").mock(
        return_value=problem(
            400,
            title="Bad Request",
            detail=f"settlement_mode rejected for {SECRET}",
            invalid_parameters=[{"field": "", "reason": f"property settlement_mode unsupported ({SECRET})"}],
        )
    )
    router.post("/api/v1/plans").respond(201, json=_v1_plan_body("credit_only"))
    router.get(f"{V3}/customers/C1/charges").mock(side_effect=httpx.ConnectError(f"refused {SECRET}"))
    recording = tmp_path / "r.jsonl"
    caplog.set_level(logging.DEBUG, logger="contract.client")
    client = make_client(api_key=ApiKey(SECRET), recorder=Recorder(recording), read_retries=0)

    shown: list[str] = [repr(client), str(client)]
    with pytest.raises(OpenMeterProblem) as problem_info:
        client.version()
    shown += [
        str(problem_info.value),
        repr(problem_info.value),
        problem_info.value.problem.body,
        problem_info.value.problem.detail,
    ]
    client.create_plan(
        PlanInput(
            "plan_x",
            "Plan",
            "USD",
            settlement_mode=SettlementMode.CREDIT_ONLY,
            phases=(PhaseInput("default", "Default", (RateCardInput("a", "a", PriceInput.unit(1), feature_id="F"),)),),
        )
    )
    with pytest.raises(OpenMeterUnreachable) as unreachable:
        client.list_charges("C1")
    shown += [str(unreachable.value), *client.fallbacks, recording.read_text(), caplog.text]

    assert version.calls.last.request.headers["authorization"] == f"Bearer {SECRET}"
    assert all(SECRET not in text for text in shown), [t for t in shown if SECRET in t]
    assert "***" in str(problem_info.value) and "***" in recording.read_text()


def test_api_key_string_is_wrapped_and_masked_in_findings(make_client: Make, router: respx.Router) -> None:
    class EchoValidator:
        def validate(
            self, method: str, url: str, status: int, body: Any, *, content_type: str | None = None
        ) -> list[Any]:
            from contract.compare.findings import Finding, FindingKind

            return [Finding(FindingKind.SCHEMA, f"{method} {url}: {body}")]

    router.get("/version").respond(200, json={"version": SECRET})
    client = make_client(api_key=SECRET, validator=EchoValidator())

    with client.collect_findings() as found:
        reply = client.request("GET", "/version")

    assert found and list(reply.findings) == found
    assert all(SECRET not in f.message for f in found)
