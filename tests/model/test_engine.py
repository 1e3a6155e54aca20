"""The reference engine end to end: sync, behaviours, snapshot, sync_and_invoice (sync-model.md §2–§4)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contract.model import (
    DUPLICATE_ACROSS,
    Backend,
    Behaviour,
    Engine,
    EngineState,
    OperationCounts,
    PaymentTerm,
    SettlementMode,
    Subscription,
    SyncConfig,
    cancel_active_to,
    empty_state,
)
from contract.model.time import Period

from .builders import d, flat, phase, simple, subscription, t, unpriced, usage, version

LINES = SyncConfig(credits_enabled=False, credit_then_invoice=False)


def cancelled(sub: Subscription, at: str, timing: str = "immediate") -> Subscription:
    return sub.with_active_to(cancel_active_to(sub, t(at), timing))


def synced(engine: Engine, sub: Subscription, as_of: str, state: EngineState | None = None) -> EngineState:
    result = engine.sync(state or empty_state(), sub, t(as_of))
    assert result.error is None
    return result.state


# behaviours ------------------------------------------------------------------------------------


def test_behaviour_parse_accepts_the_documented_names() -> None:
    assert Behaviour.parse("head") is Behaviour.HEAD
    assert Behaviour.parse("ISSUE_4412") is Behaviour.ISSUE_4412
    with pytest.raises(ValueError, match="unknown behaviour 'bug'; valid: head, issue-4412"):
        Behaviour.parse("bug")


def test_issue_4412_fails_the_second_sync_of_a_cti_subscription_and_changes_nothing() -> None:
    sub = simple(usage("5"), key="api")
    engine = Engine(behaviour=Behaviour.ISSUE_4412)
    first = engine.sync(empty_state(), sub, t("2024-01-01T00:01:00Z"))
    assert first.error is None and first.operations.create == 1
    cancel = cancelled(sub, "2024-01-10T12:00:00Z")
    second = engine.sync(first.state, cancel, cancel.active_to or t("2024-01-10"))
    assert second.error == "duplicate unique id across persisted lines and charges: S/default/api/v[0]/period[0]"
    assert second.error == DUPLICATE_ACROSS.format(id="S/default/api/v[0]/period[0]")
    assert second.state is first.state
    assert second.operations == OperationCounts()


def test_head_resyncs_the_same_cti_subscription_without_error() -> None:
    sub = simple(usage("5"), key="api")
    engine = Engine()
    state = synced(engine, sub, "2024-01-01T00:01:00Z")
    cancel = cancelled(sub, "2024-01-10T12:00:00Z")
    result = engine.sync(state, cancel, cancel.active_to or t("2024-01-10"))
    assert result.error is None
    assert result.operations == OperationCounts(shrink=1)


def test_issue_4412_does_not_fail_without_mirror_lines() -> None:
    engine = Engine(behaviour=Behaviour.ISSUE_4412)
    sub = simple(usage("5"), mode=SettlementMode.CREDIT_ONLY)
    state = synced(engine, sub, "2024-01-01T00:01:00Z")
    assert engine.sync(state, sub, t("2024-01-02")).error is None


def test_issue_4412_mirror_lines_carry_the_charge_unique_id_head_ones_do_not() -> None:
    sub = simple(usage("5"))
    for behaviour, expected in (
        (Behaviour.HEAD, None),
        (Behaviour.ISSUE_4412, "S/default/api/v[0]/period[0]"),
    ):
        state = synced(Engine(behaviour=behaviour), sub, "2024-01-01T00:01:00Z")
        [mirror] = [ln for ln in state.customer("C").lines.values() if ln.charge_id]
        assert mirror.child_unique_reference_id == expected


# sync ------------------------------------------------------------------------------------------


def test_resync_without_change_writes_nothing() -> None:
    sub = subscription(
        phase(
            "default",
            fee=(version("fee", flat(), t("2024-01-01")),),
            api=(version("api", usage(), t("2024-01-01")),),
        )
    )
    for config in (SyncConfig(), LINES):
        engine = Engine(config)
        state = synced(engine, sub, "2024-01-10")
        again = engine.sync(state, sub, t("2024-01-10"))
        assert again.operations == OperationCounts()
        assert again.state.customer("C").lines == state.customer("C").lines
        assert again.state.customer("C").charges == state.customer("C").charges


def test_immediate_cancel_shrinks_charges_in_place_and_deletes_later_periods() -> None:
    sub = subscription(
        phase(
            "default",
            fee=(version("fee", flat("31"), t("2024-01-01")),),
            api=(version("api", usage("2"), t("2024-01-01")),),
        )
    )
    engine = Engine()
    state = synced(engine, sub, "2024-01-20")
    before = engine.snapshot(state, "S").by_id()
    cancel = cancelled(sub, "2024-01-10T12:00:00.5Z")
    result = engine.sync(state, cancel, cancel.active_to or t("2024-01-10"), now=t("2024-01-10T12:00:01Z"))
    assert result.operations == OperationCounts(delete=1, shrink=2)
    snap = engine.snapshot(result.state, "S")
    items = snap.by_id()
    fee = items["S/default/fee/v[0]/period[0]"]
    api = items["S/default/api/v[0]/period[0]"]
    end = t("2024-01-10T12:00:00Z")
    assert fee.object_id == before["S/default/fee/v[0]/period[0]"].object_id
    assert fee.service_period == Period(t("2024-01-01"), end)
    assert fee.billing_period == Period(t("2024-01-01"), end)
    assert fee.invoice_at == t("2024-01-01")  # in advance: unchanged
    assert fee.amount == Decimal("9.50")  # 31 * 9.5 days / 31 days
    assert fee.full_service_period == Period(t("2024-01-01"), t("2024-02-01"))
    assert fee.status == "active"
    assert fee.mirror is not None and fee.mirror.amount == Decimal("9.50")
    assert api.invoice_at == end and api.status == "active"
    assert api.mirror is not None and api.mirror.service_period == Period(t("2024-01-01"), end)
    assert [c.id for c in snap.deleted_charges] == ["S/default/fee/v[0]/period[1]"]
    assert snap.deleted_charges[0].mirror is None


def test_cancel_at_next_billing_cycle_removes_only_the_pre_generated_next_period() -> None:
    sub = simple(flat("10"), key="fee")
    engine = Engine()
    state = synced(engine, sub, "2024-01-20")
    cancel = cancelled(sub, "2024-01-20", "next_billing_cycle")
    assert cancel.active_to == t("2024-02-01")
    result = engine.sync(state, cancel, t("2024-02-01"))
    assert result.operations == OperationCounts(delete=1)
    assert [a.id for a in engine.snapshot(result.state, "S").items] == ["S/default/fee/v[0]/period[0]"]


def test_continue_after_a_scheduled_cancel_extends_shrunk_artifacts_back() -> None:
    sub = simple(usage("1", d("P1W")), key="api")
    engine = Engine(LINES)
    state = synced(engine, sub, "2024-01-03")
    before = engine.snapshot(state, "S").by_id()
    ended = sub.with_active_to(t("2024-01-10"))
    shrunk = engine.sync(state, ended, t("2024-01-03"))
    assert shrunk.operations == OperationCounts(delete=2, shrink=1)
    back = engine.sync(shrunk.state, sub, t("2024-01-03"))
    assert back.operations == OperationCounts(create=2, extend=1)
    line = engine.snapshot(back.state, "S").by_id()["S/default/api/v[0]/period[1]"]
    assert line.service_period == Period(t("2024-01-08"), t("2024-01-15"))
    assert line.object_id == before["S/default/api/v[0]/period[1]"].object_id


def test_line_backend_prorates_flat_lines_and_shrinks_usage_lines_on_cancel() -> None:
    sub = subscription(
        phase(
            "default",
            fee=(version("fee", flat("31"), t("2024-01-01")),),
            api=(version("api", usage("2"), t("2024-01-01")),),
        )
    )
    engine = Engine(LINES)
    state = synced(engine, sub, "2024-01-05")
    cancel = cancelled(sub, "2024-01-11")
    result = engine.sync(state, cancel, t("2024-01-11"))
    assert result.operations == OperationCounts(delete=1, shrink=1, prorate=1)
    items = engine.snapshot(result.state, "S").by_id()
    assert items["S/default/fee/v[0]/period[0]"].amount == Decimal("10.00")
    assert items["S/default/api/v[0]/period[0]"].invoice_at == t("2024-01-11")
    assert all(a.backend is Backend.LINE for a in items.values())


def test_plan_edit_creates_the_new_version_and_shrinks_the_old_one() -> None:
    sub = simple(usage("1"), key="api")
    engine = Engine()
    state = synced(engine, sub, "2024-01-05")
    v0 = version("api", usage("1"), t("2024-01-01"), t("2024-01-05"), item_id="old")
    v1 = version("api", usage("2"), t("2024-01-05"), item_id="new")
    edited = subscription(phase("default", api=(v0, v1)))
    result = engine.sync(state, edited, t("2024-01-05"))
    assert result.operations == OperationCounts(create=1, shrink=1)
    items = engine.snapshot(result.state, "S").by_id()
    assert items["S/default/api/v[1]/period[0]"].service_period == Period(t("2024-01-05"), t("2024-02-01"))
    assert items["S/default/api/v[0]/period[0]"].item_id == "old"


def test_recreated_item_rows_repoint_charges_without_counting_an_operation() -> None:
    sub = simple(usage("1"), key="api")
    engine = Engine()
    state = synced(engine, sub, "2024-01-05")
    renamed = subscription(phase("default", api=(version("api", usage("1"), t("2024-01-01"), item_id="new-row"),)))
    result = engine.sync(state, renamed, t("2024-01-05"))
    assert result.operations == OperationCounts()
    [charge] = engine.snapshot(result.state, "S").items
    assert charge.item_id == "new-row"
    assert charge.mirror is not None


def test_routing_follows_the_deployment_and_never_migrates_existing_artifacts() -> None:
    sub = simple(usage("1"))
    assert engine_backends(Engine(LINES), sub) == {Backend.LINE}
    assert engine_backends(Engine(SyncConfig(credit_then_invoice=False)), sub) == {Backend.LINE}
    assert engine_backends(Engine(SyncConfig(namespace_credits_gate=False)), sub) == {Backend.LINE}
    assert engine_backends(Engine(), sub) == {Backend.CHARGE}
    credit_only = simple(usage("1"), mode=SettlementMode.CREDIT_ONLY)
    assert engine_backends(Engine(SyncConfig(credit_then_invoice=False)), credit_only) == {Backend.CHARGE}
    lines_first = synced(Engine(LINES), sub, "2024-01-05")
    later = Engine().sync(lines_first, sub, t("2024-01-05"))
    assert later.operations == OperationCounts()


def engine_backends(engine: Engine, sub: Subscription) -> set[Backend]:
    state = synced(engine, sub, "2024-01-05")
    return {a.backend for a in engine.snapshot(state, sub.id).items}


def test_credit_only_without_a_charges_stack_fails() -> None:
    sub = simple(usage("1"), mode=SettlementMode.CREDIT_ONLY)
    result = Engine(LINES).sync(empty_state(), sub, t("2024-01-05"))
    assert result.error == "credit only settlement mode is not supported without charges service enabled"


def test_credit_only_charges_have_no_mirror_lines() -> None:
    sub = simple(flat("5"), mode=SettlementMode.CREDIT_ONLY)
    engine = Engine()
    snap = engine.snapshot(synced(engine, sub, "2024-01-05"), "S")
    assert [a.mirror for a in snap.items] == [None, None]
    assert not snap.gathering_invoice_exists


def test_sync_state_records_the_horizon_and_billables() -> None:
    engine = Engine()
    state = synced(engine, simple(usage()), "2024-01-05T10:00:00Z")
    snap = engine.snapshot(state, "S")
    assert snap.sync_state is not None
    assert snap.sync_state.has_billables and snap.sync_state.next_sync_after == t("2024-02-01")
    free = subscription(phase("default", api=(version("api", unpriced(), t("2024-01-01")),)), sub_id="F")
    state = synced(engine, free, "2024-01-05")
    assert engine.snapshot(state, "F").sync_state == engine.snapshot(state, "F").sync_state
    st = engine.snapshot(state, "F").sync_state
    assert st is not None and not st.has_billables and st.next_sync_after is None


def test_deleted_subscription_removes_everything() -> None:
    sub = simple(flat("5"))
    engine = Engine()
    state = synced(engine, sub, "2024-01-05")
    result = engine.sync(state, sub, t("2024-01-06"), deleted=True)
    snap = engine.snapshot(result.state, "S")
    assert snap.items == () and len(snap.deleted_charges) == 2
    assert not snap.gathering_invoice_exists
    assert snap.sync_state is not None and not snap.sync_state.has_billables


def test_zero_priced_flat_fees_make_no_lines_and_no_gathering_invoice() -> None:
    sub = simple(flat("0", cadence=d("P1D")))
    for config in (SyncConfig(), LINES):
        engine = Engine(config)
        snap = engine.snapshot(synced(engine, sub, "2024-01-03T12:00:00Z"), "S")
        assert not snap.gathering_invoice_exists
        assert all(a.mirror is None for a in snap.items)


def test_snapshot_passes_step_results_through() -> None:
    engine = Engine()
    state = synced(engine, simple(usage()), "2024-01-05")
    snap = engine.snapshot(state, "S", operations=OperationCounts(create=1), error="boom")
    assert snap.operations == OperationCounts(create=1) and snap.error == "boom"
    assert engine.snapshot(state, "unknown").items == ()


# sync_and_invoice --------------------------------------------------------------------------------


def test_sync_and_invoice_moves_trimmed_mirror_lines_to_a_draft_invoice_after_a_cancel() -> None:
    sub = subscription(
        phase(
            "default",
            api=(version("api", usage("0.1"), t("2024-01-01T10:00:00.5Z")),),
            tok=(version("tok", usage("0.05"), t("2024-01-01T10:00:00.5Z")),),
        ),
        start="2024-01-01T10:00:00.5Z",
    )
    engine = Engine()
    first = engine.sync_and_invoice(empty_state(), sub, t("2024-01-01T10:00:00.6Z"), t("2024-01-01T10:00:00.6Z"))
    assert first.error is None and first.invoiced == ()
    mirror_ids = {a.mirror.line_id for a in engine.snapshot(first.state, "S").items if a.mirror}
    cancel = cancelled(sub, "2024-01-01T10:00:01.8Z")
    now = t("2024-01-01T10:00:02Z")
    result = engine.sync_and_invoice(first.state, cancel, cancel.active_to or now, now)
    assert result.error is None
    assert result.operations == OperationCounts(shrink=2)
    snap = engine.snapshot(result.state, "S")
    assert not snap.gathering_invoice_exists
    assert {a.status for a in snap.items} == {"active"}
    assert {a.mirror for a in snap.items} == {None}
    assert {line.line_id for line in result.invoiced} == mirror_ids
    assert {line.service_period for line in result.invoiced} == {
        Period(t("2024-01-01T10:00:00Z"), t("2024-01-01T10:00:01Z"))
    }
    cust = result.state.customer("C")
    [draft] = [i for i in cust.invoices.values() if i.status == "draft"]
    assert {ln.invoice_id for ln in cust.lines.values() if ln.id in mirror_ids} == {draft.id}
    assert snap.sync_state is not None and snap.sync_state.next_sync_after == cancel.active_to


def test_sync_and_invoice_invoices_in_advance_fees_that_are_due() -> None:
    sub = simple(flat("5"), key="fee")
    engine = Engine(LINES)
    result = engine.sync_and_invoice(empty_state(), sub, t("2024-01-01T00:01:00Z"), t("2024-01-01T00:01:00Z"))
    assert [line.id for line in result.invoiced] == ["S/default/fee/v[0]/period[0]"]
    assert result.operations == OperationCounts(create=2)
    assert [a.id for a in engine.snapshot(result.state, "S").items] == ["S/default/fee/v[0]/period[1]"]


def test_sync_and_invoice_under_issue_4412_fails_the_cancel_and_keeps_everything() -> None:
    sub = simple(usage("0.1"))
    engine = Engine(behaviour=Behaviour.ISSUE_4412)
    first = engine.sync_and_invoice(empty_state(), sub, t("2024-01-01T00:00:01Z"), t("2024-01-01T00:00:01Z"))
    cancel = cancelled(sub, "2024-01-01T00:00:05Z")
    result = engine.sync_and_invoice(
        first.state, cancel, cancel.active_to or t("2024-01-02"), t("2024-01-01T00:00:06Z")
    )
    assert result.error is not None and result.error.startswith("duplicate unique id across persisted lines")
    assert result.state is first.state


def test_sync_and_invoice_reports_a_failing_follow_up_sync() -> None:
    sub = simple(flat("5"), key="fee")
    engine = Engine(behaviour=Behaviour.ISSUE_4412)
    result = engine.sync_and_invoice(empty_state(), sub, t("2024-01-01T00:01:00Z"), t("2024-01-01T00:01:00Z"))
    assert result.error == (
        "syncing subscription[S]: duplicate unique id across persisted lines and charges: S/default/fee/v[0]/period[0]"
    )
    assert [line.id for line in result.invoiced] == ["S/default/fee/v[0]/period[0]"]


def test_invoice_result_state_is_unchanged_when_nothing_is_due() -> None:
    engine = Engine()
    state = synced(engine, simple(usage()), "2024-01-05")
    result = engine.invoice(state, "C", t("2024-01-06"))
    assert result.state is state and result.invoiced == ()


def test_engine_is_pure_inputs_are_not_mutated() -> None:
    engine = Engine()
    sub = simple(flat("5", PaymentTerm.IN_ARREARS))
    state = synced(engine, sub, "2024-01-05")
    cust = state.customer("C")

    def contents() -> tuple[object, ...]:
        return (dict(cust.invoices), dict(cust.lines), dict(cust.charges), dict(cust.sync_states), state.next_seq)

    copies = contents()
    result = engine.sync(state, cancelled(sub, "2024-01-06"), t("2024-01-06"))
    assert result.operations.total > 0
    assert contents() == copies
    with pytest.raises(TypeError):
        cust.lines["x"] = next(iter(cust.lines.values()))  # type: ignore[index]


def test_cancel_in_the_first_second_of_a_period_fails_like_upstreams_charge_validation() -> None:
    sub = simple(flat("5"), key="fee")
    engine = Engine()
    state = synced(engine, sub, "2024-01-20")
    cancel = cancelled(sub, "2024-02-01T00:00:00.5Z")
    result = engine.sync(state, cancel, t("2024-02-01T00:00:00.5Z"))
    assert result.error is not None
    assert result.error.startswith("updating charges: charge[")
    assert result.error.endswith(
        "]: new service period to must be greater than existing service period from; "
        "new billing period to must be greater than existing billing period from"
    )
    assert result.state is state
    lines = Engine(LINES)
    ok = lines.sync(synced(lines, sub, "2024-01-20"), cancel, t("2024-02-01T00:00:00.5Z"))
    assert ok.error is None and ok.operations == OperationCounts(prorate=1)
