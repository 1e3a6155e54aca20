"""The charge stack: mirror lines and status advancement (sync-model.md §1.7, §3.3)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from contract.model.chargestack import (
    advance,
    change_period,
    create_charge,
    delete_charge,
    desired_mirror,
    desired_mirror_period,
    status_is_deterministic,
)
from contract.model.domain import PaymentTerm, Price, PriceType, SettlementMode
from contract.model.persisted import (
    DRAFT,
    Charge,
    ChargeStatus,
    ChargeType,
    CustomerState,
    Invoice,
    RealizationRun,
    SubscriptionRef,
    Workspace,
)
from contract.model.targetstate import SubscriptionTimeline, TargetItem, generate_phase
from contract.model.time import Period

from .builders import flat, simple, t, usage

MONTH = Period(t("2024-01-01"), t("2024-02-01"))


def charge(kind: ChargeType = ChargeType.FLAT_FEE, **kw: object) -> Charge:
    price = Price(PriceType.FLAT, Decimal("31")) if kind is ChargeType.FLAT_FEE else Price(PriceType.UNIT, Decimal("2"))
    base = Charge(
        id="CH",
        type=kind,
        unique_reference_id="S/p/i/v[0]/period[0]",
        customer_id="C",
        currency="USD",
        subscription=SubscriptionRef("S", "p", "i"),
        name="i",
        price=price,
        service_period=MONTH,
        full_service_period=MONTH,
        billing_period=MONTH,
        invoice_at=t("2024-01-01"),
        settlement_mode=SettlementMode.CREDIT_THEN_INVOICE,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def _credit_only_fee(term: PaymentTerm) -> Charge:
    invoice_at = MONTH.start if term is PaymentTerm.IN_ADVANCE else MONTH.end
    return charge(
        price=Price(PriceType.FLAT, Decimal("31"), term),
        settlement_mode=SettlementMode.CREDIT_ONLY,
        invoice_at=invoice_at,
    )


def first_target(card: object) -> TargetItem:
    sub = simple(card)  # type: ignore[arg-type]
    return generate_phase(SubscriptionTimeline(sub), "default", t("2024-02-01"))[0]


def test_flat_fee_amount_after_proration_only_for_a_partial_period() -> None:
    partial = charge(service_period=Period(t("2024-01-01"), t("2024-01-11")))
    assert partial.amount_after_proration == Decimal("10.00")
    assert charge().amount_after_proration == Decimal("31.00")
    assert charge(pro_rating=False, service_period=partial.service_period).amount_after_proration == Decimal("31.00")
    assert charge(ChargeType.USAGE_BASED).amount_after_proration is None


def test_flat_fee_mirror_follows_the_charge_and_vanishes_at_zero() -> None:
    wanted = desired_mirror(charge())
    assert wanted is not None and wanted[0] == MONTH and wanted[1].amount == Decimal("31.00")
    tiny = charge(service_period=Period(t("2024-01-01"), t("2024-01-01T00:00:01Z")))
    assert desired_mirror(tiny) is None


def test_usage_mirror_starts_after_the_latest_invoiced_run() -> None:
    run = RealizationRun(Period(t("2024-01-01"), t("2024-01-10")), "L")
    assert desired_mirror_period(charge(ChargeType.USAGE_BASED, runs=(run,))) == Period(
        t("2024-01-10"), t("2024-02-01")
    )
    done = RealizationRun(MONTH, "L")
    assert desired_mirror_period(charge(ChargeType.USAGE_BASED, runs=(done,))) is None


def test_credit_only_and_deleted_charges_have_no_mirror() -> None:
    assert desired_mirror(charge(settlement_mode=SettlementMode.CREDIT_ONLY)) is None
    assert desired_mirror(charge(status=ChargeStatus.DELETED)) is None


def test_advance_moves_created_charges_once_due() -> None:
    usage_charge = charge(ChargeType.USAGE_BASED)
    assert advance(usage_charge, t("2023-12-31")).status == ChargeStatus.CREATED
    assert advance(usage_charge, t("2024-01-01")).status == ChargeStatus.ACTIVE
    assert advance(charge(), t("2024-01-05")).status == ChargeStatus.ACTIVE
    zero = charge(service_period=Period(t("2024-01-01"), t("2024-01-01T00:00:40Z")))
    assert advance(zero, t("2024-01-05")).status == ChargeStatus.FINAL
    assert advance(replace(zero, status=ChargeStatus.ACTIVE), t("2024-01-05")).status == ChargeStatus.FINAL
    not_due = charge(invoice_at=t("2024-02-01"))
    assert advance(not_due, t("2024-01-05")).status == ChargeStatus.CREATED


def test_create_shrink_and_delete_keep_the_charge_and_mirror_ids() -> None:
    ws = Workspace("C", CustomerState(), 1)
    tgt = first_target(usage("2"))
    created = create_charge(
        ws,
        tgt,
        customer_id="C",
        currency="USD",
        settlement_mode=SettlementMode.CREDIT_THEN_INVOICE,
        pro_rating=True,
        legacy_unique_id=False,
    )
    mirror = ws.mirror_line(created.id)
    assert mirror is not None and mirror.service_period == tgt.service_period
    shorter = replace(
        tgt,
        service_period=Period(tgt.service_period.start, t("2024-01-10")),
        billing_period=Period(tgt.billing_period.start, t("2024-01-10")),
    )
    shrunk = change_period(ws, created, shorter, now=t("2024-01-10"), legacy_unique_id=False)
    assert shrunk.id == created.id and shrunk.status == ChargeStatus.ACTIVE
    assert shrunk.invoice_at == t("2024-01-10")
    trimmed = ws.mirror_line(created.id)
    assert trimmed is not None and trimmed.id == mirror.id
    assert trimmed.service_period == Period(t("2024-01-01"), t("2024-01-10"))
    deleted = delete_charge(ws, shrunk)
    assert deleted.status == ChargeStatus.DELETED
    assert ws.mirror_line(created.id) is None
    assert ws.lines[mirror.id].deleted


def test_shrink_drops_invoiced_runs_beyond_the_new_end_with_their_draft_lines() -> None:
    ws = Workspace("C", CustomerState(), 1)
    tgt = first_target(flat("31"))
    created = create_charge(
        ws,
        tgt,
        customer_id="C",
        currency="USD",
        settlement_mode=SettlementMode.CREDIT_THEN_INVOICE,
        pro_rating=True,
        legacy_unique_id=False,
    )
    mirror = ws.mirror_line(created.id)
    assert mirror is not None
    ws.invoices["D"] = Invoice("D", "C", "USD", DRAFT)
    ws.put_line(replace(mirror, invoice_id="D", service_period=Period(t("2024-01-20"), t("2024-02-01"))))
    with_run = ws.put_charge(
        replace(created, runs=(RealizationRun(Period(t("2024-01-20"), t("2024-02-01")), mirror.id),))
    )
    shorter = replace(tgt, service_period=Period(tgt.service_period.start, t("2024-01-11")))
    shrunk = change_period(ws, with_run, shorter, now=t("2024-01-11"), legacy_unique_id=False)
    assert shrunk.runs == ()
    assert ws.lines[mirror.id].deleted
    new_mirror = ws.mirror_line(created.id)
    assert new_mirror is not None and new_mirror.id != mirror.id
    assert new_mirror.amount == Decimal("10.00")


@pytest.mark.parametrize(
    ("term", "now", "status", "deterministic"),
    [
        # in advance: booked at the service period's start, so final as soon as invoiceAt passes
        (PaymentTerm.IN_ADVANCE, "2024-01-01T00:00:00Z", "final", True),
        # in arrears: invoiceAt and booking both at the period's end
        (PaymentTerm.IN_ARREARS, "2024-01-15T00:00:00Z", "created", True),
        (PaymentTerm.IN_ARREARS, "2024-02-01T00:00:00Z", "final", True),
    ],
)
def test_a_credit_only_flat_fee_is_booked_to_final_at_its_booking_time(
    term: PaymentTerm, now: str, status: str, deterministic: bool
) -> None:
    """Upstream CreditsOnlyStateMachine: created -> active at invoiceAt -> final at UsageBookedAt,
    whatever the amount (measured live on HEAD 7e57a394a: a shrunk in-advance credit_only fee is
    ``final`` within the step)."""
    charge = _credit_only_fee(term)
    advanced = advance(charge, t(now))
    assert advanced.status == status
    assert status_is_deterministic(advanced, t(now)) is deterministic


def test_an_active_credit_only_fee_in_arrears_is_not_deterministic_near_its_booking_time() -> None:
    charge = replace(_credit_only_fee(PaymentTerm.IN_ARREARS), status=ChargeStatus.ACTIVE)
    assert status_is_deterministic(charge, t("2024-01-15T00:00:00Z")) is True
    assert status_is_deterministic(charge, t("2024-01-31T23:55:00Z")) is False
    assert advance(charge, t("2024-01-31T23:55:00Z")).status == "active"
