"""The reference engine end to end: sync, behaviours, snapshot, sync_and_invoice (sync-model.md §2–§4)."""

from __future__ import annotations

from dataclasses import replace
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
    SyncState,
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
    # the mirror line follows too (observed live: charges and lines are re-pointed to the new rows)
    mirror = result.state.customer("C").lines[charge.mirror.line_id or ""]
    assert mirror.subscription is not None and mirror.subscription.item_id == "new-row"


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
    # a free subscription is recorded as synced, with nothing billable and no next sync
    assert engine.snapshot(state, "F").sync_state == SyncState(has_billables=False, next_sync_after=None)


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
    engine = Engine(SyncConfig())
    snap = engine.snapshot(synced(engine, sub, "2024-01-03T12:00:00Z"), "S")
    assert not snap.gathering_invoice_exists
    # charges are kept for a zero amount (§1.5), each without a mirror line (§1.7)
    assert len(snap.items) >= 3 and {a.backend for a in snap.items} == {Backend.CHARGE}
    assert [a.mirror for a in snap.items] == [None] * len(snap.items)
    assert {a.amount for a in snap.items} == {Decimal("0.00")}
    engine = Engine(LINES)
    snap = engine.snapshot(synced(engine, sub, "2024-01-03T12:00:00Z"), "S")
    assert not snap.gathering_invoice_exists
    assert snap.items == ()  # the invoice backend drops zero-amount targets


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
    assert {a.status for a in snap.items} == {"active.realization.waiting_for_collection"}
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


# boundaries the oracle corpus does not reach ------------------------------------------------


def test_an_immediate_cancel_in_the_last_microsecond_of_a_second_shrinks_the_charge() -> None:
    # the cancelled event syncs as of activeTo; the horizon is widened to that whole second
    # (§2.6 step 4), so the current period (invoiceAt = activeTo) is kept and shrunk (§3.4)
    sub = simple(usage())
    engine = Engine()
    state = synced(engine, sub, "2024-01-05")
    cancel = cancelled(sub, "2024-01-15T00:00:00.999999Z")
    result = engine.sync(state, cancel, t("2024-01-15T00:00:00.999999Z"))
    assert result.error is None and result.operations == OperationCounts(shrink=1)
    [charge] = engine.snapshot(result.state, "S").items
    assert charge.service_period == Period(t("2024-01-01"), t("2024-01-15"))
    assert charge.invoice_at == t("2024-01-15")


def test_a_sync_exactly_at_a_phase_boundary_does_not_generate_the_next_phase_yet() -> None:
    # §2.6 step 6: the phase loop stops after a generated phase whose end >= asOf
    sub = subscription(
        phase("trial", fee=(version("fee", flat("1"), t("2024-01-01")),)),
        phase("paid", "P1M", fee=(version("fee", flat("9"), t("2024-02-01")),)),
    )
    engine = Engine()
    snap = engine.snapshot(synced(engine, sub, "2024-02-01"), "S")
    assert [a.id for a in snap.items] == ["S/trial/fee/v[0]/period[0]"]
    later = engine.snapshot(synced(engine, sub, "2024-02-01T00:00:01Z"), "S")
    assert "S/paid/fee/v[0]/period[0]" in {a.id for a in later.items}


def test_a_flat_fee_patched_exactly_at_its_invoice_at_becomes_active() -> None:
    # upstream's IsAfterInvoiceAt is "not before": at invoiceAt itself the charge advances
    sub = simple(flat("31", PaymentTerm.IN_ARREARS), key="fee")
    engine = Engine()
    state = synced(engine, sub, "2024-01-05")
    cancel = cancelled(sub, "2024-01-15")
    result = engine.sync(state, cancel, t("2024-01-15"), now=t("2024-01-15"))
    [fee] = engine.snapshot(result.state, "S").items
    assert fee.invoice_at == t("2024-01-15")
    assert fee.status == "active"


def test_a_cancel_patches_a_one_time_fee_charge_full_service_period_too() -> None:
    # §3.3: a period patch sets SP.to, FSP.to, BP.to and invoiceAt from the target
    sub = simple(flat("5", cadence=None), key="setup")
    engine = Engine()
    state = synced(engine, sub, "2024-01-05")
    [before] = engine.snapshot(state, "S").items
    assert before.full_service_period == Period(t("2024-01-01"), t("2024-01-01"))
    cancel = cancelled(sub, "2024-01-20")
    result = engine.sync(state, cancel, t("2024-01-20"))
    [fee] = engine.snapshot(result.state, "S").items
    assert fee.service_period == Period(t("2024-01-01"), t("2024-01-20"))
    assert fee.full_service_period == Period(t("2024-01-01"), t("2024-01-20"))
    assert fee.amount == Decimal("5.00")


def test_an_instant_flat_fee_charge_is_not_prorated_to_zero() -> None:
    # a version living less than a second: its flat target survives with an empty SP (§2.5) and
    # the charge-side rule prorates only when 0 < dur(SP) (§1.7), so the full amount is charged
    v0 = version("fee", flat("5"), t("2024-01-10T00:00:00.2Z"), t("2024-01-10T00:00:00.7Z"))
    v1 = version("fee", flat("7"), t("2024-01-10T00:00:00.7Z"))
    sub = subscription(phase("default", fee=(v0, v1)))
    engine = Engine()
    items = engine.snapshot(synced(engine, sub, "2024-01-10T00:00:01Z"), "S").by_id()
    instant = items["S/default/fee/v[0]/period[0]"]
    assert instant.service_period == Period(t("2024-01-10"), t("2024-01-10"))
    assert instant.amount == Decimal("5.00")
    assert instant.mirror is not None and instant.mirror.amount == Decimal("5.00")


def test_a_realization_run_starting_at_the_new_end_loses_its_line_on_shrink() -> None:
    # two progressive invoices split the usage charge at Jan 10 and Jan 20; an immediate cancel
    # at Jan 10 leaves nothing of the second run: its draft line goes (§3.3)
    sub = simple(usage())
    engine = Engine()
    state = synced(engine, sub, "2024-01-02")
    state = engine.invoice(state, "C", t("2024-01-10"), progressive=True).state
    second = engine.invoice(state, "C", t("2024-01-20"), progressive=True)
    [run2] = [ln for ln in second.state.customer("C").lines.values() if ln.service_period.start == t("2024-01-10")]
    cancel = cancelled(sub, "2024-01-10")
    result = engine.sync(second.state, cancel, t("2024-01-10"))
    assert result.error is None
    lines = result.state.customer("C").lines
    assert lines[run2.id].deleted
    [stored] = result.state.customer("C").charges.values()
    assert [r.service_period for r in stored.runs] == [Period(t("2024-01-01"), t("2024-01-10"))]


def test_under_issue_4412_a_mirror_line_rebuilt_after_invoicing_carries_the_unique_id() -> None:
    # §4: in the #4412 window the mirror builders copied the charge's unique id into the line
    sub = simple(usage())
    for behaviour, expected in ((Behaviour.ISSUE_4412, "S/default/api/v[0]/period[0]"), (Behaviour.HEAD, None)):
        engine = Engine(behaviour=behaviour)
        state = synced(engine, sub, "2024-01-02")
        state = engine.invoice(state, "C", t("2024-01-10"), progressive=True).state
        cust = state.customer("C")
        gathering = {i.id for i in cust.gathering_invoices()}
        [mirror] = [ln for ln in cust.lines.values() if ln.invoice_id in gathering and not ln.deleted]
        assert mirror.service_period == Period(t("2024-01-10"), t("2024-02-01"))
        assert mirror.child_unique_reference_id == expected, behaviour


def test_the_invoice_created_follow_up_sync_runs_as_of_now() -> None:
    # the cancelled event syncs as of activeTo (months ahead: every in-advance period up to it);
    # the invoice it triggers refills as of now (§2.6), whose horizon ends with the next period
    sub = simple(flat("10"), key="fee")
    engine = Engine()
    state = synced(engine, sub, "2024-01-05")
    cancel = cancelled(sub, "2024-01-05", t("2024-05-01"))  # type: ignore[arg-type]
    only_sync = engine.sync(state, cancel, t("2024-05-01"), now=t("2024-01-05"))
    assert len(engine.snapshot(only_sync.state, "S").items) == 4
    result = engine.sync_and_invoice(state, cancel, t("2024-05-01"), t("2024-01-05"))
    assert result.error is None
    snap = engine.snapshot(result.state, "S")
    assert sorted(a.id for a in snap.items) == ["S/default/fee/v[0]/period[0]", "S/default/fee/v[0]/period[1]"]


def test_a_line_on_an_immutable_invoice_is_never_deleted_by_sync() -> None:
    # §3.3: immutable (issued) invoices are left untouched; upstream records a validation issue
    sub = simple(flat("10"), key="fee")
    engine = Engine(LINES)
    state = synced(engine, sub, "2024-01-20")  # period[1] (in advance, Feb 1) is pre-generated
    state = engine.invoice(state, "C", t("2024-01-20"), as_of=t("2024-02-01")).state
    cust = state.customer("C")
    [draft] = [i for i in cust.invoices.values() if i.status == "draft"]
    issued = replace(cust, invoices={**cust.invoices, draft.id: replace(draft, status="issued", immutable=True)})
    state = state.with_customer("C", issued, state.next_seq)
    [next_line] = [ln for ln in issued.lines.values() if ln.child_unique_reference_id == "S/default/fee/v[0]/period[1]"]
    cancel = cancelled(sub, "2024-01-20", "next_billing_cycle")
    result = engine.sync(state, cancel, t("2024-02-01"))
    assert result.error is None
    kept = result.state.customer("C").lines[next_line.id]
    assert not kept.deleted and kept == next_line


# charge statuses through invoicing (upstream's flatfee / usagebased credit_then_invoice machines)


def test_a_flat_fee_walks_the_realization_statuses_through_invoicing_and_issue() -> None:
    sub = simple(flat("10"), key="fee")
    engine = Engine()
    state = synced(engine, sub, "2024-01-05")
    items = engine.snapshot(state, "S").by_id()
    first, second = items["S/default/fee/v[0]/period[0]"], items["S/default/fee/v[0]/period[1]"]
    # creation does not advance; period[0]'s invoiceAt (Jan 1) has passed, so the charge advancer
    # may move it at any time: not deterministic; period[1] cannot move before Feb 1
    assert (first.status, first.status_deterministic) == ("created", False)
    assert (second.status, second.status_deterministic) == ("created", True)
    invoiced = engine.invoice(state, "C", t("2024-01-05"))
    fee = engine.snapshot(invoiced.state, "S").by_id()["S/default/fee/v[0]/period[0]"]
    # an invoice of flat prices only has nothing to collect: its collection completes when it is
    # created (upstream StandardInvoiceCollectionAt), so the charge is processing at once
    assert (fee.status, fee.status_deterministic) == ("active.realization.processing", True)
    [draft_id] = invoiced.invoice_ids
    assert invoiced.state.customer("C").invoices[draft_id].status == "draft"  # no auto-advance: waits for approval
    issued = engine.issue(invoiced.state, "C", t("2024-01-05T02:00:00Z"))
    fee = engine.snapshot(issued, "S").by_id()["S/default/fee/v[0]/period[0]"]
    assert fee.status == "active.awaiting_payment_settlement"
    assert engine.snapshot(issued, "S").by_id()["S/default/fee/v[0]/period[1]"].status == "created"
    assert issued.customer("C").invoices[draft_id].immutable


def test_an_invoice_with_a_metered_line_waits_for_collection_and_holds_its_flat_fees_too() -> None:
    begin = t("2024-01-01")
    sub = subscription(
        phase(
            "default",
            api=(version("api", usage(), begin),),
            fee=(version("fee", flat("10", term=PaymentTerm.IN_ARREARS), begin),),
        )
    )
    engine = Engine(config=SyncConfig(auto_advance=True))
    state = synced(engine, sub, "2024-02-01T00:00:01Z")
    invoiced = engine.invoice(state, "C", t("2024-02-01T00:00:01Z"))
    statuses = {a.id: a.status for a in engine.snapshot(invoiced.state, "S").items}
    assert statuses["S/default/api/v[0]/period[0]"] == "active.realization.waiting_for_collection"
    assert statuses["S/default/fee/v[0]/period[0]"] == "active.realization.waiting_for_collection"
    [draft_id] = invoiced.invoice_ids
    assert invoiced.state.customer("C").invoices[draft_id].status == "draft"
    collected = engine.collect(invoiced.state, "C", t("2024-02-01T01:00:01Z"))
    fee = engine.snapshot(collected, "S").by_id()["S/default/fee/v[0]/period[0]"]
    assert fee.status == "active.realization.processing"


def test_an_auto_advancing_profile_issues_and_settles_a_flat_fee_invoice_at_once() -> None:
    """Measured live on HEAD 7e57a394a: an in-advance fee invoiced alone is paid, and its charge
    ``final``, within the worker call that invoiced it (default profile, sandbox app)."""
    sub = simple(flat("10"), key="fee")
    engine = Engine(config=SyncConfig(auto_advance=True))
    invoiced = engine.invoice(synced(engine, sub, "2024-01-05"), "C", t("2024-01-05"))
    snap = engine.snapshot(invoiced.state, "S").by_id()
    assert (snap["S/default/fee/v[0]/period[0]"].status, snap["S/default/fee/v[0]/period[0]"].status_deterministic) == (
        "final",
        True,
    )
    assert snap["S/default/fee/v[0]/period[1]"].status == "created"
    [paid_id] = invoiced.invoice_ids
    paid = invoiced.state.customer("C").invoices[paid_id]
    assert (paid.status, paid.immutable) == ("paid", True)


def test_issuing_collects_first_and_leaves_other_charges_alone() -> None:
    sub = simple(flat("10"), key="fee")
    engine = Engine()
    state = engine.invoice(synced(engine, sub, "2024-01-05"), "C", t("2024-01-05")).state
    issued = engine.issue(state, "C", t("2024-01-06"))
    statuses = {a.id: a.status for a in engine.snapshot(issued, "S").items}
    assert statuses == {
        "S/default/fee/v[0]/period[0]": "active.awaiting_payment_settlement",
        "S/default/fee/v[0]/period[1]": "created",
    }
    assert engine.issue(issued, "C", t("2024-01-07")) == replace(issued, now=t("2024-01-07"))  # no draft left


def test_a_partial_usage_run_returns_the_charge_to_active_once_issued_the_final_one_awaits_payment() -> None:
    sub = simple(usage())
    engine = Engine()
    state = synced(engine, sub, "2024-01-02")
    state = engine.invoice(state, "C", t("2024-01-10"), progressive=True).state
    [charge] = engine.snapshot(state, "S").items
    assert charge.status == "active.realization.waiting_for_collection"
    state = engine.issue(state, "C", t("2024-01-11"))
    [charge] = engine.snapshot(state, "S").items
    assert charge.status == "active"  # more of the service period is still to be invoiced
    state = engine.invoice(state, "C", t("2024-02-01")).state
    charge = engine.snapshot(state, "S").by_id()["S/default/api/v[0]/period[0]"]
    assert charge.status == "active.realization.waiting_for_collection"
    state = engine.issue(state, "C", t("2024-02-02"))
    charge = engine.snapshot(state, "S").by_id()["S/default/api/v[0]/period[0]"]
    assert charge.status == "active.awaiting_payment_settlement"


def test_a_shrink_while_waiting_for_collection_keeps_the_status_and_a_delete_ends_it() -> None:
    # shrink/extend/delete are internal transitions of the realization states
    sub = simple(usage())
    engine = Engine()
    state = synced(engine, sub, "2024-01-02")
    state = engine.invoice(state, "C", t("2024-01-10"), progressive=True).state
    cancel = cancelled(sub, "2024-01-20")
    state = engine.sync(state, cancel, t("2024-01-20")).state
    [charge] = engine.snapshot(state, "S").items
    assert charge.service_period == Period(t("2024-01-01"), t("2024-01-20"))
    assert charge.status == "active.realization.waiting_for_collection"
    gone = engine.sync(state, cancel, t("2024-01-20"), deleted=True)
    assert [a.status for a in engine.snapshot(gone.state, "S").deleted_charges] == ["deleted"]


def test_a_created_charge_due_within_the_status_margin_is_not_deterministic() -> None:
    # at 23:55 the next period's in-advance fee (invoiceAt Feb 1) exists; a run observing it takes
    # time, and the charge advancer may move it at midnight: its status is not compared live
    sub = simple(flat("10"), key="fee")
    engine = Engine()
    snap = engine.snapshot(synced(engine, sub, "2024-01-31T23:55:00Z"), "S").by_id()
    assert snap["S/default/fee/v[0]/period[1]"].status == "created"
    assert snap["S/default/fee/v[0]/period[1]"].status_deterministic is False
    early = engine.snapshot(synced(engine, sub, "2024-01-31T23:40:00Z"), "S").by_id()
    assert early["S/default/fee/v[0]/period[1]"].status_deterministic is True


def test_sync_and_invoice_counts_the_creations_of_its_follow_up_sync() -> None:
    # the created event syncs just before midnight; invoicing at midnight + 1 s takes January's
    # and February's in-advance fees, and its refill sync (as of now, §2.6) creates March's
    sub = simple(flat("10"), key="fee")
    engine = Engine()
    result = engine.sync_and_invoice(empty_state(), sub, t("2024-01-31T23:59:59Z"), t("2024-02-01T00:00:01Z"))
    assert result.error is None
    assert result.operations == OperationCounts(create=3)
    assert "S/default/fee/v[0]/period[2]" in engine.snapshot(result.state, "S").by_id()


def test_an_already_deleted_manual_line_is_not_deleted_again() -> None:
    # §3.1 loads manually managed deleted lines; §3.3 skips deleting what is already deleted
    sub = simple(flat("10"), key="fee")
    engine = Engine(LINES)
    state = synced(engine, sub, "2024-01-20")
    cust = state.customer("C")
    [nxt] = [ln for ln in cust.lines.values() if ln.child_unique_reference_id == "S/default/fee/v[0]/period[1]"]
    gone = replace(nxt, managed_by="manual", deleted=True)
    state = state.with_customer("C", replace(cust, lines={**cust.lines, nxt.id: gone}), state.next_seq)
    result = engine.sync(state, cancelled(sub, "2024-01-20", "next_billing_cycle"), t("2024-02-01"))
    assert result.error is None and result.operations == OperationCounts()
    assert result.state.customer("C").lines[nxt.id] == gone


def test_a_line_on_a_draft_standard_invoice_keeps_its_invoice_at_when_prorated() -> None:
    # §3.3: a patched line takes the target's invoiceAt only on the gathering invoice
    sub = simple(flat("31", PaymentTerm.IN_ARREARS), key="fee")
    engine = Engine(LINES)
    state = synced(engine, sub, "2024-01-05")
    state = engine.invoice(state, "C", t("2024-01-10"), as_of=t("2024-02-01")).state
    [line] = [ln for ln in state.customer("C").lines.values() if not ln.deleted]
    result = engine.sync(state, cancelled(sub, "2024-01-15"), t("2024-01-15"))
    assert result.error is None and result.operations == OperationCounts(prorate=1)
    patched = result.state.customer("C").lines[line.id]
    assert patched.service_period == Period(t("2024-01-01"), t("2024-01-15"))
    assert patched.amount == Decimal("14.00")
    assert patched.invoice_at == t("2024-02-01")


def test_approving_collects_issues_and_settles_every_draft_at_once() -> None:
    """Live on HEAD 7e57a394a: snapshot-quantities then approve on a draft holding a final usage run
    leaves the invoice paid and the usage charge final (sandbox app)."""
    sub = simple(usage())
    engine = Engine(config=SyncConfig(auto_advance=True))
    state = synced(engine, sub, "2024-02-01T00:00:01Z")
    invoiced = engine.invoice(state, "C", t("2024-02-01T00:00:01Z"))
    [draft_id] = invoiced.invoice_ids
    usage_charge = "S/default/api/v[0]/period[0]"
    waiting = engine.snapshot(invoiced.state, "S").by_id()[usage_charge]
    assert waiting.status == "active.realization.waiting_for_collection"
    approved = engine.approve(invoiced.state, "C", t("2024-02-01T00:05:00Z"))
    assert engine.snapshot(approved, "S").by_id()[usage_charge].status == "final"
    paid = approved.customer("C").invoices[draft_id]
    assert (paid.status, paid.immutable) == ("paid", True)
    assert engine.approve(approved, "C", t("2024-02-01T00:06:00Z")) == replace(approved, now=t("2024-02-01T00:06:00Z"))
