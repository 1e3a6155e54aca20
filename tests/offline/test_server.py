"""The offline OpenMeter driven through the suite's real client (``OpenMeterClient`` over its transport)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from contract.client import OpenMeterClient, OpenMeterProblem
from contract.client.inputs import Event, PriceInput, RateCardInput, add_item
from contract.clock import VirtualClock
from contract.model import Behaviour, SyncConfig
from contract.model.time import floor_second
from contract.offline import OfflineOpenMeter
from contract.stack.signatures import scan

from .helpers import START, settled, setup_4412, usage_plan

MakeFake = Callable[..., OfflineOpenMeter]
ClientFor = Callable[[OfflineOpenMeter], OpenMeterClient]


def test_set_up_calls_answer_shapes_the_client_parses(fake: OfflineOpenMeter, om: OpenMeterClient) -> None:
    assert om.version().version == "offline-head"
    setup = setup_4412(om)
    assert setup.meters["api_calls"].event_type == "ev_api_calls"
    assert setup.features["tokens"].meter_id == setup.meters["tokens"].id
    assert setup.customer.subject_keys == ("subj_4412",)
    balance = om.credit_balance(setup.customer.id).for_currency("USD")
    assert balance is not None and (balance.shape, balance.live, balance.settled) == (
        "head",
        Decimal(10),
        Decimal(10),
    )
    plan = om.get_plan(setup.plan.id)
    assert (plan.status, plan.version, plan.settlement_mode) == ("active", 1, "credit_then_invoice")
    assert plan.effective_from is not None
    assert [rc.price.type if rc.price else None for rc in plan.phases[0].rate_cards] == ["unit", "tiered"]
    assert om.default_profile().name == "openmeter-sandbox"
    assert fake.server_config == {"credits": True, "credit_then_invoice": True}
    assert om.fallbacks == []  # everything went through v3, as on HEAD


@pytest.mark.parametrize("reads", [0, 1, 3])
def test_charges_and_mirror_lines_appear_only_after_the_configured_reads(
    make_fake: MakeFake, client_for: ClientFor, reads: int
) -> None:
    fake = make_fake(sync_after_reads=reads)
    om = client_for(fake)
    setup = setup_4412(om)
    sub = om.create_subscription(setup.customer.id, plan_id=setup.plan.id, settlement_mode="credit_then_invoice")
    seen = [om.list_charges(setup.customer.id) for _ in range(reads + 1)]
    assert [len(c) for c in seen] == [0] * reads + [2]
    charges = seen[-1]
    assert {c.unique_reference_id for c in charges} == {
        f"{sub.id}/default/api_calls/v[0]/period[0]",
        f"{sub.id}/default/tokens/v[0]/period[0]",
    }
    assert all(c.status == "created" and c.lifecycle_controller == "system" for c in charges)
    view = om.get_subscription(sub.id)
    period = floor_second(view.active_from)
    assert all(
        c.service_period.start == period and c.invoice_at == floor_second(view.active_from.replace(month=12))
        for c in charges
    )
    gathering = om.gathering_invoice(setup.customer.id, "USD")
    assert gathering is not None
    assert sorted((ln.name, ln.subscription.item_id if ln.subscription else None) for ln in gathering.lines) == sorted(
        (c.name, c.subscription.item_id if c.subscription else None) for c in charges
    )


def test_v1_invoice_json_swaps_the_subscription_and_item_ids_and_the_client_swaps_them_back(
    om: OpenMeterClient,
) -> None:
    setup = setup_4412(om)
    sub = om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    settled(om, setup.customer.id)
    raw = om.request(
        "GET", "/api/v1/billing/invoices", params=[("customers", setup.customer.id), ("expand", "lines")]
    ).body
    line = raw["items"][0]["lines"][0]
    item_ids = om.get_subscription(sub.id).item_ids()
    assert line["subscription"]["item"]["id"] == sub.id
    assert line["subscription"]["subscription"]["id"] in item_ids
    parsed = om.list_invoices(setup.customer.id)[0].lines[0].subscription
    assert parsed is not None and parsed.subscription_id == sub.id and parsed.item_id in item_ids


def test_cancel_immediately_trims_the_charges_and_moves_their_lines_to_a_draft_invoice(
    fake: OfflineOpenMeter, om: OpenMeterClient, clock: VirtualClock
) -> None:
    setup = setup_4412(om)
    sub = om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    before_charges, before_invoices = settled(om, setup.customer.id)
    mirror_ids = {ln.id for ln in before_invoices[0].lines}
    old_items = om.get_subscription(sub.id).item_ids()
    clock.advance(timedelta(seconds=1, milliseconds=300))
    cancelled = om.cancel_subscription(sub.id, "immediate")
    assert cancelled.status == "inactive" and cancelled.active_to is not None
    assert cancelled.active_to.microsecond != 0  # immediate keeps the clock's sub-second precision
    end = floor_second(cancelled.active_to)
    new_items = om.get_subscription(sub.id).item_ids()
    assert not new_items & old_items  # the live server re-creates the item rows on a cancel
    charges, invoices = settled(om, setup.customer.id)
    assert {c.id for c in charges} == {c.id for c in before_charges}
    assert all(c.service_period.end == end and c.invoice_at == end and c.status == "active" for c in charges)
    assert all(c.full_service_period is not None and c.full_service_period.end > end for c in charges)
    assert {c.subscription.item_id for c in charges if c.subscription} == new_items
    assert [i.status for i in invoices] == ["draft"]
    draft = invoices[0]
    assert draft.extended_status == "draft.waiting_for_collection"
    assert {ln.id for ln in draft.lines} == mirror_ids  # moved with their line ids
    assert all(ln.period.end == end and ln.subscription and ln.subscription.item_id in new_items for ln in draft.lines)
    deleted = [i for i in om.list_invoices(setup.customer.id, include_deleted=True) if i.is_gathering]
    assert len(deleted) == 1 and deleted[0].is_deleted and deleted[0].lines == ()
    state = fake.sync_states.get(sub.id)
    assert state is not None and state.synced_at is not None and state.synced_at > cancelled.active_to
    assert state.next_sync_after == cancelled.active_to  # as the live sync-state row after the cancel


def test_issue_4412_cancel_changes_nothing_and_logs_ten_attempts_and_the_dlq(
    make_fake: MakeFake, client_for: ClientFor, clock: VirtualClock
) -> None:
    fake = make_fake(Behaviour.ISSUE_4412)
    om = client_for(fake)
    setup = setup_4412(om)
    sub = om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    before_charges, before_invoices = settled(om, setup.customer.id)
    synced = fake.sync_states.get(sub.id)
    assert synced is not None and synced.synced_at is not None
    clock.advance(timedelta(seconds=2))
    mark = fake.logs.mark()
    om.cancel_subscription(sub.id, "immediate")
    charges, invoices = settled(om, setup.customer.id)
    assert [(c.id, c.service_period, c.status, c.subscription) for c in charges] == [
        (c.id, c.service_period, c.status, c.subscription) for c in before_charges
    ]
    assert [(i.id, i.status, [ln.period for ln in i.lines]) for i in invoices] == [
        (i.id, i.status, [ln.period for ln in i.lines]) for i in before_invoices
    ]
    after = fake.sync_states.get(sub.id)
    assert after is not None and after.synced_at == synced.synced_at  # a failed sync is not recorded
    matches = {m.signature.id: m for m in scan(fake.logs.read_from(mark), {sub.id})}
    dup = matches["duplicate-unique-id"]
    assert dup.subscription_id == sub.id and dup.attempts == 10 and dup.conclusive
    assert dup.unique_id is not None and dup.unique_id.startswith(f"{sub.id}/default/")
    dlq = matches["message-dlq"]
    assert dlq.subscription_id == sub.id and len(dlq.records) == 1
    assert dlq.records[0].attrs["message.metadata"]["ce_type"].endswith(".cancelled")


def test_a_second_subscription_is_refused_with_409_and_its_code(om: OpenMeterClient) -> None:
    setup = setup_4412(om)
    om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    with pytest.raises(OpenMeterProblem) as caught:
        om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    assert caught.value.status == 409
    assert caught.value.codes == ("only_single_subscription_allowed_per_customer_at_a_time",)


def test_continuing_after_an_immediate_cancel_is_403_without_a_code(om: OpenMeterClient) -> None:
    setup = setup_4412(om)
    sub = om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    om.cancel_subscription(sub.id, "immediate")
    for path in (
        f"/api/v3/openmeter/subscriptions/{sub.id}/unschedule-cancelation",
        f"/api/v1/subscriptions/{sub.id}/unschedule-cancelation",
    ):
        with pytest.raises(OpenMeterProblem) as caught:
            om.request("POST", path)
        assert caught.value.status == 403 and caught.value.codes == ()
        assert "transition continue in state inactive not allowed" in caught.value.problem.detail


def test_a_scheduled_cancel_can_be_continued(om: OpenMeterClient) -> None:
    setup = setup_4412(om)
    sub = om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    scheduled = om.cancel_subscription(sub.id, "next_billing_cycle")
    assert sub.current_period is not None
    assert scheduled.status == "canceled" and scheduled.active_to == sub.current_period.end
    continued = om.continue_subscription(sub.id)
    assert continued.status == "active" and continued.active_to is None


def test_a_misaligned_cancel_instant_is_a_400(om: OpenMeterClient) -> None:
    setup = setup_4412(om)
    sub = om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    with pytest.raises(OpenMeterProblem) as caught:
        om.cancel_subscription(sub.id, START + timedelta(days=3))
    assert caught.value.status == 400
    assert "cannot cancel aligned subscription with custom misaligned timing" in caught.value.problem.detail


@pytest.mark.parametrize(
    ("rate_card", "code"),
    [
        ({"key": "calls"}, "rate_card_key_feature_key_mismatch"),
        ({"billing_cadence": "P1W"}, "rate_card_billing_cadence_unaligned"),
    ],
)
def test_publishing_an_invalid_plan_is_a_400_with_its_code(
    om: OpenMeterClient, rate_card: dict[str, str], code: str
) -> None:
    setup = setup_4412(om)
    card = {
        "key": "api_calls",
        "name": "API",
        "feature": {"id": setup.features["api_calls"].id},
        "billing_cadence": "P1M",
        "payment_term": "in_arrears",
        "price": {"type": "unit", "amount": "0.1"},
    }
    body = {
        "key": "bad_plan",
        "name": "Bad",
        "currency": "USD",
        "billing_cadence": "P1M",
        "phases": [{"key": "default", "name": "Default", "rate_cards": [card | rate_card]}],
    }
    plan_id = om.request("POST", "/api/v3/openmeter/plans", json_body=body).body["id"]
    with pytest.raises(OpenMeterProblem) as caught:
        om.publish_plan(plan_id)
    assert caught.value.status == 400 and caught.value.codes == (code,)


def test_v3_bodies_with_unknown_fields_are_400s_naming_the_field(om: OpenMeterClient) -> None:
    with pytest.raises(OpenMeterProblem) as caught:
        om.request(
            "POST",
            "/api/v3/openmeter/meters",
            json_body={
                "key": "m",
                "name": "m",
                "aggregation": "sum",
                "event_type": "e",
                "value_property": "$.v",
                "colour": "red",
            },
        )
    assert caught.value.status == 400 and caught.value.problem.rules == ("additionalProperties",)
    assert caught.value.problem.fields == ("colour",)


def test_hiding_v3_plan_settlement_mode_makes_the_client_fall_back_to_v1(
    make_fake: MakeFake, client_for: ClientFor
) -> None:
    om = client_for(make_fake(v3_plan_settlement_mode=False))
    setup = setup_4412(om)
    assert setup.plan.created_via == "v1"
    assert om.fallbacks and "v1" in om.fallbacks[0]
    sub = om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    assert sub.settlement_mode == "credit_then_invoice"


def test_charge_pages_follow_the_v3_deep_object_parameters(om: OpenMeterClient) -> None:
    setup = setup_4412(om)
    om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    settled(om, setup.customer.id)
    path = f"/api/v3/openmeter/customers/{setup.customer.id}/charges"
    first = om.request("GET", path, params=[("page[size]", 1), ("sort", "service_period.from")]).body
    second = om.request("GET", path, params=[("page[size]", 1), ("page[number]", 2)]).body
    third = om.request("GET", path, params=[("page[size]", 1), ("page[number]", 3)]).body
    assert first["meta"]["page"] == {"size": 1, "number": 1, "total": 2}
    assert len(first["data"]) == len(second["data"]) == 1 and first["data"][0]["id"] != second["data"][0]["id"]
    assert third["data"] is None  # an empty v3 page is null, as the live server answers
    deleted_only = om.request("GET", path, params=[("filter[status][oeq]", "deleted")]).body
    assert deleted_only["data"] is None and deleted_only["meta"]["page"]["total"] == 0
    with pytest.raises(OpenMeterProblem) as caught:
        om.request("GET", path, params=[("page[size]", 0)])
    assert caught.value.status == 400 and caught.value.problem.fields == ("page[size]",)


def test_invoice_pages_follow_the_v1_parameters(om: OpenMeterClient, clock: VirtualClock) -> None:
    setup = setup_4412(om)
    sub = om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    settled(om, setup.customer.id)
    clock.advance(timedelta(seconds=2))
    om.cancel_subscription(sub.id, "immediate")
    settled(om, setup.customer.id)
    params: list[tuple[str, str | int]] = [
        ("customers", setup.customer.id),
        ("includeDeleted", "true"),
        ("pageSize", 1),
    ]
    first = om.request("GET", "/api/v1/billing/invoices", params=params).body
    second = om.request("GET", "/api/v1/billing/invoices", params=[*params, ("page", 2)]).body
    assert (first["totalCount"], first["page"], first["pageSize"]) == (2, 1, 1)
    assert {first["items"][0]["status"], second["items"][0]["status"]} == {"gathering", "draft"}
    assert "lines" not in first["items"][0]  # lines only with expand=lines
    with pytest.raises(OpenMeterProblem) as caught:
        om.request("GET", "/api/v1/billing/invoices", params=[("pageSize", 1001)])
    assert caught.value.status == 400


@pytest.mark.parametrize("path", ["/api/v3/openmeter/nowhere", "/api/v1/nowhere", "/version/extra"])
def test_unknown_routes_are_404_problems(om: OpenMeterClient, path: str) -> None:
    with pytest.raises(OpenMeterProblem) as caught:
        om.request("GET", path)
    assert caught.value.status == 404
    assert f"route not found: GET {path}" in caught.value.problem.detail
    assert caught.value.problem.instance is not None and caught.value.problem.instance.startswith("urn:request:")


def test_ingested_usage_is_deduplicated_and_visible_after_the_sink_delay(
    om: OpenMeterClient, clock: VirtualClock
) -> None:
    setup = setup_4412(om, grant=False)
    events = [Event(f"e{n}", "ev_api_calls", "subj_4412", clock.now(), {"value": "7"}) for n in range(2)]
    assert om.ingest(events, batch=True) == 2
    om.ingest([events[0]], batch=False)  # same source and id: counted once
    om.request(
        "POST",
        "/api/v3/openmeter/events",
        json_body=Event("e9", "ev_api_calls", "x", clock.now(), {"value": "1"}).cloudevent(),
    )
    meter = setup.meters["api_calls"].id
    assert om.query_meter(meter) is None  # the sink has not flushed yet
    clock.advance(timedelta(seconds=1))
    assert om.query_meter(meter) == Decimal(15)


def test_a_forced_sync_renews_a_subscription_whose_first_period_ended(
    fake: OfflineOpenMeter, om: OpenMeterClient, clock: VirtualClock
) -> None:
    setup = setup_4412(om, cadence="P1W")
    sub = om.create_subscription(
        setup.customer.id, plan_id=setup.plan.id, billing_anchor=clock.now() - timedelta(days=7, seconds=-20)
    )
    first, _ = settled(om, setup.customer.id)
    assert {c.unique_reference_id.rsplit("/", 1)[-1] for c in first if c.unique_reference_id} == {"period[0]"}
    clock.advance(timedelta(seconds=30))
    assert fake.force_sync(setup.customer.id) is True
    assert fake.last_sync_output.count("subscription synchronized") == 0  # a job run, not a worker message
    charges, invoices = settled(om, setup.customer.id)
    periods = sorted((c.unique_reference_id or "", c.status) for c in charges)
    assert periods == [
        (f"{sub.id}/default/api_calls/v[0]/period[0]", "created"),
        (f"{sub.id}/default/api_calls/v[0]/period[1]", "created"),
        (f"{sub.id}/default/tokens/v[0]/period[0]", "created"),
        (f"{sub.id}/default/tokens/v[0]/period[1]", "created"),
    ]
    assert [i.status for i in invoices] == ["gathering"] and len(invoices[0].lines) == 4
    assert fake.force_sync("01C99999999999999999999999") is False


def test_a_failing_forced_sync_is_false_and_logs_a_reconcile_failure(
    make_fake: MakeFake, client_for: ClientFor, clock: VirtualClock
) -> None:
    fake = make_fake(Behaviour.ISSUE_4412)
    om = client_for(fake)
    setup = setup_4412(om)
    sub = om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    settled(om, setup.customer.id)
    assert fake.force_sync(setup.customer.id) is False
    assert "failed to reconcile subscription" in fake.last_sync_output
    assert any(
        m.signature.id == "reconcile-failed" and m.subscription_id == sub.id for m in scan(fake.logs.read(), {sub.id})
    )


def test_invoicing_pending_lines_moves_due_lines_and_refuses_when_nothing_is_due(
    om: OpenMeterClient, clock: VirtualClock
) -> None:
    setup = setup_4412(om)
    sub = om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    om.ingest([Event("e1", "ev_api_calls", "subj_4412", clock.now(), {"value": "12"})])
    settled(om, setup.customer.id)
    with pytest.raises(OpenMeterProblem) as caught:
        om.request("POST", "/api/v1/billing/invoices/invoice", json_body={"customerId": setup.customer.id})
    assert caught.value.status == 400 and caught.value.codes == ("invoice_create_no_lines",)
    assert om.invoice_pending_lines(setup.customer.id) == []
    assert sub.current_period is not None
    clock.set(sub.current_period.end + timedelta(seconds=5))
    created = om.invoice_pending_lines(setup.customer.id)
    assert [i.status for i in created] == ["draft"]
    totals = {ln.name: (ln.quantity, ln.total) for ln in created[0].lines}
    assert totals == {"api_calls": (Decimal(12), Decimal("1.2")), "tokens": (Decimal(0), Decimal(0))}


def test_a_customer_pinned_to_a_progressive_profile_is_invoiced_mid_period(
    om: OpenMeterClient, clock: VirtualClock
) -> None:
    setup = setup_4412(om)
    profile = om.create_profile_from_default("progressive", progressive_billing=True)
    om.set_customer_profile(setup.customer.id, profile.id)
    om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    settled(om, setup.customer.id)
    clock.advance(timedelta(days=3))
    created = om.invoice_pending_lines(setup.customer.id)
    assert len(created) == 1 and len(created[0].lines) == 2
    assert all(ln.period.end == floor_second(clock.now() - timedelta(milliseconds=5)) for ln in created[0].lines)


def test_a_v1_subscription_can_start_in_the_future_but_not_long_ago(om: OpenMeterClient, clock: VirtualClock) -> None:
    setup = setup_4412(om)
    later = om.create_subscription(setup.customer.id, plan_id=setup.plan.id, timing=clock.now() + timedelta(days=2))
    assert later.via == "v1" and later.status == "scheduled"
    other = om.create_customer("cust_other", "Other", "USD")
    with pytest.raises(OpenMeterProblem) as caught:
        om.create_subscription(other.id, plan_id=setup.plan.id, timing=clock.now() - timedelta(minutes=5))
    assert caught.value.status == 400 and "2 minutes in the past" in caught.value.problem.detail


def test_an_edit_appends_a_new_item_version_and_sync_follows(om: OpenMeterClient, clock: VirtualClock) -> None:
    setup = setup_4412(om)
    sub = om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    settled(om, setup.customer.id)
    clock.advance(timedelta(days=2))
    card = RateCardInput("api_calls", "api_calls", PriceInput.unit("0.20"), feature_key="api_calls")
    om.edit_subscription(sub.id, [add_item("default", card)])
    versions = om.get_subscription(sub.id).phases[0].timeline("api_calls")
    assert len(versions) == 2 and versions[0].active_to == versions[1].active_from
    assert versions[1].rate_card.price is not None and versions[1].rate_card.price.amount == Decimal("0.2")
    charges, _ = settled(om, setup.customer.id)
    by_id = {c.unique_reference_id: c for c in charges}
    v0, v1 = (
        by_id[f"{sub.id}/default/api_calls/v[0]/period[0]"],
        by_id[f"{sub.id}/default/api_calls/v[1]/period[0]"],
    )
    assert v0.service_period.end == v1.service_period.start == floor_second(versions[1].active_from)
    assert v1.subscription is not None and v1.subscription.item_id == versions[1].id


def test_a_plan_change_ends_the_subscription_and_starts_a_new_one_with_the_same_anchor(
    om: OpenMeterClient, clock: VirtualClock
) -> None:
    setup = setup_4412(om)
    sub = om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    settled(om, setup.customer.id)
    plan2 = om.create_plan(usage_plan("plan_4412", setup.features, api_price="0.20"))
    om.publish_plan(plan2.id)
    clock.advance(timedelta(days=1))
    change = om.change_subscription(sub.id, setup.customer.id, plan2.id, "immediate")
    assert change.current.id == sub.id and change.next.id != sub.id
    assert change.current.active_to == change.next.active_from
    assert change.next.billing_anchor == sub.billing_anchor
    assert om.get_plan(setup.plan.id).status == "archived"
    charges, _ = settled(om, setup.customer.id)
    mine = {c.subscription.id for c in charges if c.subscription}
    assert mine == {sub.id, change.next.id}


def test_credit_endpoints_are_not_implemented_without_credits(make_fake: MakeFake, client_for: ClientFor) -> None:
    fake = make_fake(config=SyncConfig(credits_enabled=False, credit_then_invoice=False))
    om = client_for(fake)
    customer = om.create_customer("c", "C", "USD")
    with pytest.raises(OpenMeterProblem) as caught:
        om.create_credit_grant(customer.id, "10", "USD", "grant")
    assert caught.value.status == 501
    assert fake.server_config == {"credits": False, "credit_then_invoice": False}


def test_without_credits_subscription_sync_writes_invoice_lines_not_charges(
    make_fake: MakeFake, client_for: ClientFor
) -> None:
    om = client_for(make_fake(config=SyncConfig(credits_enabled=False, credit_then_invoice=False)))
    setup = setup_4412(om, grant=False)
    om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    charges, invoices = settled(om, setup.customer.id)
    assert charges == [] and [len(i.lines) for i in invoices] == [2]


def test_the_fake_refuses_bad_construction_arguments(clock: VirtualClock) -> None:
    with pytest.raises(ValueError, match="sync_after_reads"):
        OfflineOpenMeter(clock=clock, sync_after_reads=-1)
    with pytest.raises(ValueError, match="latency"):
        OfflineOpenMeter(clock=clock, latency=timedelta(seconds=-1))


def test_approving_the_draft_ends_its_collection_and_pays_it_and_its_charges_are_final(
    om: OpenMeterClient, clock: VirtualClock
) -> None:
    """As measured live on HEAD 7e57a394a: after snapshot-quantities and approve the draft is paid
    (sandbox app) and its charges, whose runs reach their service period's end, are final."""
    setup = setup_4412(om)
    sub = om.create_subscription(setup.customer.id, plan_id=setup.plan.id)
    settled(om, setup.customer.id)
    clock.advance(timedelta(seconds=2))
    om.cancel_subscription(sub.id, "immediate")
    _, [draft] = settled(om, setup.customer.id)
    collected = om.invoice_action(draft.id, "snapshot-quantities")
    assert collected.status == "draft"
    paid = om.invoice_action(draft.id, "approve")
    assert (paid.status, paid.extended_status) == ("paid", "paid")
    charges, _ = settled(om, setup.customer.id)
    assert {c.status for c in charges} == {"final"}
    with pytest.raises(OpenMeterProblem) as refused:
        om.invoice_action(draft.id, "approve")  # not a draft any more
    assert refused.value.status == 400
    with pytest.raises(OpenMeterProblem) as unknown:
        om.invoice_action("01NOSUCHINVOICE0000000000A", "approve")
    assert unknown.value.status == 404
