from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from contract.client.models import SubscriptionView
from contract.model.domain import PaymentTerm, Price, PriceType, SettlementMode
from contract.model.time import Duration, Period
from contract.offline import subscriptions as subs
from contract.offline.catalog import Feature, Meter, Plan, PlanPhase, PlanRateCard
from contract.offline.ids import IdFactory
from contract.offline.problems import ApiError
from contract.offline.subscription_render import render_v1, render_v3
from contract.scenario.mapping import to_engine_subscription

from .helpers import START

METER = Meter("01M00000000000000000000001", "m_api", "m", "sum", "ev", "$.value", START)
FEATURE = Feature("01E00000000000000000000002", "api_calls", "api_calls", METER.id, START)
API = PlanRateCard(
    "api_calls",
    "API calls",
    FEATURE.id,
    "api_calls",
    Duration.parse("P1M"),
    PaymentTerm.IN_ARREARS,
    Price(PriceType.UNIT, Decimal("0.1")),
)
FEE = PlanRateCard(
    "fee",
    "Fee",
    None,
    None,
    Duration.parse("P1M"),
    PaymentTerm.IN_ADVANCE,
    Price(PriceType.FLAT, Decimal(30), PaymentTerm.IN_ADVANCE),
)


def _features(key: str) -> tuple[Feature, Meter | None] | None:
    return (FEATURE, METER) if key == FEATURE.key else None


def _plan(*phases: PlanPhase) -> Plan:
    return Plan(
        "01P00000000000000000000003",
        "plan",
        1,
        "Plan",
        "USD",
        Duration.parse("P1M"),
        True,
        SettlementMode.CREDIT_THEN_INVOICE,
        phases,
        START,
        status="active",
    )


TRIAL_THEN_PAID = _plan(
    PlanPhase("trial", "Trial", Duration.parse("P1M"), (API,)), PlanPhase("paid", "Paid", None, (API, FEE))
)


def _subscribe(plan: Plan, ids: IdFactory | None = None) -> subs.SubscriptionSpec:
    return subs.create_from_plan(
        plan,
        subscription_id="01S00000000000000000000004",
        customer_id="c",
        active_from=START,
        billing_anchor=START,
        settlement_mode=SettlementMode.CREDIT_THEN_INVOICE,
        ids=ids or IdFactory(100),
        now=START,
    )


def test_phases_follow_each_other_by_the_plans_durations() -> None:
    views = subs.view(_subscribe(TRIAL_THEN_PAID))
    month = START.replace(month=12)
    assert [(v.spec.key, v.active_from, v.active_to) for v in views] == [
        ("trial", START, month),
        ("paid", month, None),
    ]
    assert [(i.spec.key, i.active_from, i.active_to) for i in views[1].items] == [
        ("api_calls", month, None),
        ("fee", month, None),
    ]


def test_cancel_ends_every_phase_and_item_and_re_creates_only_the_items_it_changed() -> None:
    ids = IdFactory(100)
    sub = _subscribe(TRIAL_THEN_PAID, ids)
    before = {i.id for ph in sub.phases for i in ph.items}
    at = START + timedelta(days=3, microseconds=7)
    cancelled = subs.cancel(sub, "immediate", ids=ids, now=at)
    assert cancelled.active_to == at  # immediate keeps the clock's microseconds
    views = subs.view(cancelled)
    month = START.replace(month=12)
    # the paid phase never starts: zero length at its own start, like the engine's phase cadences
    assert [(v.active_from, v.active_to) for v in views] == [(START, at), (month, month)]
    trial_item = views[0].items[0]
    assert trial_item.active_to == at and trial_item.spec.id not in before
    assert [(i.active_from, i.active_to) for i in views[1].items] == [(month, month), (month, month)]
    assert all(i.spec.id not in before for i in views[1].items)
    assert subs.status(cancelled, at) == "inactive"


def test_a_scheduled_cancel_can_be_continued_but_an_ended_subscription_cannot() -> None:
    ids = IdFactory(100)
    sub = _subscribe(_plan(PlanPhase("default", "Default", None, (API,))), ids)
    now = START + timedelta(days=2)
    scheduled = subs.cancel(sub, "next_billing_cycle", ids=ids, now=now)
    assert scheduled.active_to == START.replace(month=12)
    assert subs.status(scheduled, now) == "canceled"
    continued = subs.continue_(scheduled, ids=ids, now=now)
    assert continued.active_to is None and subs.status(continued, now) == "active"
    assert continued.phases[0].items[0].id != scheduled.phases[0].items[0].id
    ended = subs.cancel(continued, "immediate", ids=ids, now=now)
    with pytest.raises(ApiError, match="transition continue in state inactive not allowed") as caught:
        subs.continue_(ended, ids=ids, now=now + timedelta(seconds=1))
    assert caught.value.status == 403 and caught.value.issues == ()


def test_a_misaligned_cancel_instant_is_a_400() -> None:
    sub = _subscribe(_plan(PlanPhase("default", "Default", None, (API,))))
    with pytest.raises(ApiError, match="misaligned timing") as caught:
        subs.cancel(sub, START + timedelta(days=3), ids=IdFactory(100), now=START + timedelta(days=1))
    assert caught.value.status == 400
    aligned = subs.cancel(sub, START.replace(month=12), ids=IdFactory(100), now=START + timedelta(days=1))
    assert aligned.active_to == START.replace(month=12)


def _add_item(price: str) -> dict[str, object]:
    return {
        "op": "add_item",
        "phaseKey": "default",
        "rateCard": {
            "type": "usage_based",
            "key": "api_calls",
            "name": "API calls",
            "featureKey": "api_calls",
            "billingCadence": "P1M",
            "price": {"type": "unit", "amount": price},
        },
    }


def test_add_item_closes_the_running_version_and_appends_one_with_a_new_id() -> None:
    ids = IdFactory(100)
    sub = _subscribe(_plan(PlanPhase("default", "Default", None, (API, FEE))), ids)
    at = START + timedelta(days=5)
    fee_id = sub.phases[0].items[1].id
    edited = subs.edit(sub, [_add_item("0.20")], at, ids=ids, now=at, feature_by_key={"api_calls": FEATURE}.get)
    timeline = subs.view(edited)[0].timelines()
    assert [(v.active_from, v.active_to) for v in timeline["api_calls"]] == [(START, at), (at, None)]
    assert timeline["api_calls"][1].spec.rate_card.price == Price(PriceType.UNIT, Decimal("0.20"))
    assert len({v.spec.id for v in timeline["api_calls"]}) == 2
    assert timeline["fee"][0].spec.id == fee_id  # untouched items keep their rows


def test_remove_item_closes_it_and_unknown_ops_are_refused() -> None:
    ids = IdFactory(100)
    sub = _subscribe(_plan(PlanPhase("default", "Default", None, (API, FEE))), ids)
    at = START + timedelta(days=5)
    removed = subs.edit(
        sub,
        [{"op": "remove_item", "phaseKey": "default", "itemKey": "fee"}],
        at,
        ids=ids,
        now=at,
        feature_by_key=lambda _k: None,
    )
    assert subs.view(removed)[0].timelines()["fee"][0].active_to == at
    with pytest.raises(ApiError, match="item nope not found"):
        subs.edit(
            sub,
            [{"op": "remove_item", "phaseKey": "default", "itemKey": "nope"}],
            at,
            ids=ids,
            now=at,
            feature_by_key=lambda _k: None,
        )
    with pytest.raises(ApiError, match="'stretch_phase' is not supported"):
        subs.edit(
            sub,
            [{"op": "stretch_phase", "phaseKey": "default"}],
            at,
            ids=ids,
            now=at,
            feature_by_key=lambda _k: None,
        )


def test_an_edit_with_a_mismatched_feature_key_is_refused_with_its_code() -> None:
    sub = _subscribe(_plan(PlanPhase("default", "Default", None, (API,))))
    op = _add_item("0.2")
    rate_card = op["rateCard"]
    assert isinstance(rate_card, dict)
    rate_card["key"] = "calls"
    with pytest.raises(ApiError) as caught:
        subs.edit(sub, [op], START, ids=IdFactory(100), now=START, feature_by_key={"api_calls": FEATURE}.get)
    assert [i.code for i in caught.value.issues] == ["rate_card_key_feature_key_mismatch"]


def test_the_engine_input_is_what_the_runner_reads_back_from_the_v1_json() -> None:
    ids = IdFactory(100)
    sub = _subscribe(TRIAL_THEN_PAID, ids)
    at = START + timedelta(days=5, microseconds=123)
    sub = subs.edit(
        sub,
        [{**_add_item("0.2"), "phaseKey": "trial"}],
        at,
        ids=ids,
        now=at,
        feature_by_key={"api_calls": FEATURE}.get,
    )
    sub = subs.cancel(sub, "next_billing_cycle", ids=ids, now=at)
    json_view = render_v1(sub, at, _features)
    assert to_engine_subscription(SubscriptionView.from_v1(json_view)) == subs.engine_subscription(sub)


def test_v1_items_show_the_version_running_now_and_timelines_show_all() -> None:
    ids = IdFactory(100)
    sub = _subscribe(_plan(PlanPhase("default", "Default", None, (API,))), ids)
    at = START + timedelta(days=5)
    sub = subs.edit(sub, [_add_item("0.2")], at, ids=ids, now=at, feature_by_key={"api_calls": FEATURE}.get)
    body = render_v1(sub, at + timedelta(seconds=1), _features)
    phase = body["phases"][0]
    assert [i["price"]["amount"] for i in phase["items"]] == ["0.2"]
    assert [v["price"]["amount"] for v in phase["itemTimelines"]["api_calls"]] == ["0.1", "0.2"]
    assert phase["items"][0]["included"]["feature"] == FEATURE.v1(METER)
    assert body["alignment"]["currentAlignedBillingPeriod"] == {
        "from": "2026-11-27T07:46:46.133013Z",
        "to": "2026-12-27T07:46:46.133013Z",
    }


def test_the_aligned_period_of_an_ended_subscription_is_its_last_one() -> None:
    sub = _subscribe(_plan(PlanPhase("default", "Default", None, (API,))))
    at = START + timedelta(seconds=1, microseconds=311418)
    ended = subs.cancel(sub, "immediate", ids=IdFactory(100), now=at)
    assert subs.aligned_period(ended, at + timedelta(days=90)) == Period(START, at)
    assert subs.aligned_period(sub, START - timedelta(seconds=1)) is None


def test_v3_shows_every_item_version_with_its_rate_card() -> None:
    sub = _subscribe(_plan(PlanPhase("default", "Default", None, (API, FEE))))
    body = render_v3(sub, START, _features)
    items = body["phases"][0]["items"]
    assert [i["rate_card"]["key"] for i in items] == ["api_calls", "fee"]
    assert items[0]["rate_card"]["feature"] == {"id": FEATURE.id}
    assert items[1]["rate_card"]["payment_term"] == "in_advance"
    assert body["status"] == "active" and body["pro_rating_config"] == {
        "enabled": True,
        "mode": "prorate_prices",
    }
    assert body["name"] == "plan v1" and body["plan_id"] == "01P00000000000000000000003"
