"""Routing and the diff (sync-model.md §1.5, §3.2, §3.3) on hand-built persisted items."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from contract.model.domain import Backend, PaymentTerm, SettlementMode, SyncConfig
from contract.model.persisted import (
    Charge,
    ChargeType,
    InvoiceLine,
    ItemType,
    LineEngine,
    PersistedItem,
    SplitLineGroup,
    SubscriptionRef,
    SyncError,
)
from contract.model.reconcile import OpKind, SyncContext, default_backend, in_scope, plan, route
from contract.model.targetstate import SubscriptionTimeline, TargetItem, generate_phase
from contract.model.time import Period

from .builders import flat, simple, t, usage

CTI = SyncContext(simple(usage()), SyncConfig(), charges_enabled=True)
LINES = SyncContext(simple(usage()), SyncConfig(credits_enabled=False), charges_enabled=False)


def target(card: object = None, **kw: object) -> TargetItem:
    sub = simple(card or usage())  # type: ignore[arg-type]
    [item] = generate_phase(SubscriptionTimeline(sub), "default", t("2024-02-01"))[:1]
    return replace(item, **kw)  # type: ignore[arg-type]


def line_item(
    tgt: TargetItem, *, amount: Decimal | None = None, period: Period | None = None, **kw: object
) -> PersistedItem:
    sp = period or tgt.service_period
    ln = InvoiceLine(
        id="L",
        invoice_id="G",
        currency="USD",
        name="x",
        engine=LineEngine.INVOICE,
        service_period=sp,
        invoice_at=tgt.invoice_at,
        price=tgt.price,
        amount=amount,
        subscription=SubscriptionRef("S", tgt.phase_id, tgt.item_id, tgt.billing_period),
        child_unique_reference_id=tgt.unique_id,
    )
    ln = replace(ln, **kw)  # type: ignore[arg-type]
    return PersistedItem(tgt.unique_id, ItemType.INVOICE_LINE, sp, line=ln)


def charge_item(tgt: TargetItem, period: Period) -> PersistedItem:
    ch = Charge(
        id="CH",
        type=ChargeType.USAGE_BASED,
        unique_reference_id=tgt.unique_id,
        customer_id="C",
        currency="USD",
        subscription=SubscriptionRef("S", tgt.phase_id, tgt.item_id),
        name="x",
        price=tgt.price,
        service_period=period,
        full_service_period=tgt.full_service_period,
        billing_period=tgt.billing_period,
        invoice_at=tgt.invoice_at,
        settlement_mode=SettlementMode.CREDIT_THEN_INVOICE,
    )
    return PersistedItem(tgt.unique_id, ItemType.CHARGE_USAGE_BASED, period, charge=ch)


def kinds(
    targets: tuple[TargetItem, ...], persisted: dict[str, PersistedItem], ctx: SyncContext = CTI
) -> list[tuple[OpKind, Backend]]:
    return [(op.kind, op.backend) for op in plan(targets, persisted, ctx)]


def test_default_backend_rules() -> None:
    tgt = target()
    assert default_backend(tgt, CTI) is Backend.CHARGE
    assert default_backend(tgt, LINES) is Backend.LINE
    no_cti = SyncContext(simple(usage()), SyncConfig(credit_then_invoice=False), charges_enabled=True)
    assert default_backend(tgt, no_cti) is Backend.LINE
    credit_only = SyncContext(
        simple(usage(), mode=SettlementMode.CREDIT_ONLY),
        SyncConfig(credit_then_invoice=False),
        charges_enabled=True,
    )
    assert default_backend(tgt, credit_only) is Backend.CHARGE


def test_a_persisted_artifact_keeps_its_backend() -> None:
    tgt = target()
    assert route(tgt, {tgt.unique_id: line_item(tgt)}, CTI) is Backend.LINE
    assert route(tgt, {tgt.unique_id: charge_item(tgt, tgt.service_period)}, LINES) is Backend.CHARGE


def test_create_and_delete() -> None:
    tgt = target()
    assert kinds((tgt,), {}) == [(OpKind.CREATE, Backend.CHARGE)]
    assert kinds((), {tgt.unique_id: line_item(tgt)}) == [(OpKind.DELETE, Backend.LINE)]


def test_charges_only_shrink_or_extend_on_the_period_end() -> None:
    tgt = target()
    longer = Period(tgt.service_period.start, t("2024-03-01"))
    shorter = Period(tgt.service_period.start, t("2024-01-15"))
    assert kinds((tgt,), {tgt.unique_id: charge_item(tgt, longer)}) == [(OpKind.SHRINK, Backend.CHARGE)]
    assert kinds((tgt,), {tgt.unique_id: charge_item(tgt, shorter)}) == [(OpKind.EXTEND, Backend.CHARGE)]
    moved_start = Period(t("2023-12-20"), tgt.service_period.end)
    assert kinds((tgt,), {tgt.unique_id: charge_item(tgt, moved_start)}) == []


def test_flat_lines_prorate_on_amount_or_period_change() -> None:
    tgt = target(flat("5"))
    same = line_item(tgt, amount=Decimal("5.00"))
    assert kinds((tgt,), {tgt.unique_id: same}, LINES) == []
    cheaper = line_item(tgt, amount=Decimal("4.00"))
    ops = plan((tgt,), {tgt.unique_id: cheaper}, LINES)
    assert [(op.kind, op.amount) for op in ops] == [(OpKind.PRORATE, Decimal("5.00"))]
    moved = line_item(tgt, amount=Decimal("5.00"), period=Period(t("2023-12-31"), tgt.service_period.end))
    assert kinds((tgt,), {tgt.unique_id: moved}, LINES) == [(OpKind.PRORATE, Backend.LINE)]


def test_usage_lines_compare_only_the_period_end() -> None:
    tgt = target()
    moved_start = line_item(tgt, period=Period(t("2023-12-31"), tgt.service_period.end))
    assert kinds((tgt,), {tgt.unique_id: moved_start}, LINES) == []
    longer = line_item(tgt, period=Period(tgt.service_period.start, t("2024-03-01")))
    assert kinds((tgt,), {tgt.unique_id: longer}, LINES) == [(OpKind.SHRINK, Backend.LINE)]


def test_sync_ignored_and_manually_managed_lines_are_left_alone() -> None:
    tgt = target()
    longer = Period(tgt.service_period.start, t("2024-03-01"))
    assert kinds((tgt,), {tgt.unique_id: line_item(tgt, period=longer, sync_ignore=True)}, LINES) == []
    assert kinds((tgt,), {tgt.unique_id: line_item(tgt, period=longer, managed_by="manual")}, LINES) == []
    assert kinds((), {tgt.unique_id: line_item(tgt, sync_ignore=True)}, LINES) == []


def test_zero_amount_flat_targets_are_out_of_scope_on_the_line_backend_only() -> None:
    zero = target(flat("0"))
    assert in_scope((zero,), {}, LINES) == {}
    assert list(in_scope((zero,), {}, CTI)) == [zero.unique_id]
    assert kinds((zero,), {zero.unique_id: line_item(zero, amount=Decimal("5"))}, CTI) == [
        (OpKind.DELETE, Backend.LINE)
    ]


def test_non_billable_targets_are_out_of_scope() -> None:
    arrears = simple(flat("5", PaymentTerm.IN_ARREARS, cadence=None))
    [one_time] = generate_phase(SubscriptionTimeline(arrears), "default", t("2024-01-02"))
    assert in_scope((one_time,), {}, CTI) == {}


def test_credit_only_needs_a_charges_stack() -> None:
    ctx = SyncContext(
        simple(usage(), mode=SettlementMode.CREDIT_ONLY),
        SyncConfig(credits_enabled=False),
        charges_enabled=False,
    )
    with pytest.raises(SyncError, match="credit only settlement mode is not supported"):
        plan((target(),), {}, ctx)


def test_flat_targets_cannot_reconcile_against_a_split_group() -> None:
    tgt = target(flat("5"))
    group = SplitLineGroup("GR", tgt.unique_id, "USD", tgt.service_period, tgt.price, None)
    group_item = PersistedItem(tgt.unique_id, ItemType.SPLIT_LINE_GROUP, tgt.service_period, group=group)
    with pytest.raises(SyncError, match="split line hierarchy"):
        plan((tgt,), {tgt.unique_id: group_item}, LINES)


def test_plan_order_is_stable_deletes_first_then_by_id() -> None:
    sub = simple(usage())
    items = generate_phase(SubscriptionTimeline(sub), "default", t("2024-03-01"))
    stale = replace(items[0], unique_id="S/default/zzz/v[0]/period[0]")
    ops = plan(tuple(items), {stale.unique_id: line_item(stale)}, CTI)
    assert [op.unique_id for op in ops] == [stale.unique_id, *sorted(i.unique_id for i in items)]
