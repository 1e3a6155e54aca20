from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from contract.client.models import Charge as ChargeModel
from contract.client.models import Invoice as InvoiceModel
from contract.model.domain import PaymentTerm, Price, PriceType, SettlementMode, Tier
from contract.model.persisted import (
    Charge,
    ChargeStatus,
    ChargeType,
    CustomerState,
    EngineState,
    Invoice,
    InvoiceLine,
    LineEngine,
    SubscriptionRef,
)
from contract.model.time import Period
from contract.offline.billing import Ledger, charge_v3, invoice_v1, rate

from .helpers import START

SUB, PHASE, ITEM, CUSTOMER = (
    "01S00000000000000000000001",
    "01H00000000000000000000002",
    "01J00000000000000000000003",
    "01C00000000000000000000004",
)
MONTH = Period(START.replace(microsecond=0), START.replace(month=12, microsecond=0))
UNIT = Price(PriceType.UNIT, Decimal("0.1"))
GRADUATED = Price(
    PriceType.TIERED,
    Decimal(0),
    mode="graduated",
    tiers=(Tier(up_to=Decimal(100), unit_amount=Decimal("0.10")), Tier(unit_amount=Decimal("0.05"))),
)


@pytest.mark.parametrize(
    ("price", "quantity", "expected"),
    [
        (UNIT, Decimal(12), Decimal("1.20")),
        (GRADUATED, Decimal(150), Decimal("12.50")),
        (GRADUATED, Decimal(40), Decimal("4.00")),
        (replace(GRADUATED, mode="volume"), Decimal(150), Decimal("7.50")),
        (
            Price(
                PriceType.TIERED,
                Decimal(0),
                mode="graduated",
                tiers=(
                    Tier(up_to=Decimal(10), flat_amount=Decimal(5)),
                    Tier(unit_amount=Decimal(1), flat_amount=Decimal(2)),
                ),
            ),
            Decimal(15),
            Decimal("12.00"),
        ),
        (Price(PriceType.FLAT, Decimal("30"), PaymentTerm.IN_ADVANCE), Decimal(0), Decimal("30.00")),
    ],
)
def test_rating_prices_usage_like_openmeter(price: Price, quantity: Decimal, expected: Decimal) -> None:
    assert rate(price, quantity, "USD") == expected


def _charge(status: ChargeStatus = ChargeStatus.CREATED) -> Charge:
    return Charge(
        "01000000000000000000000005",
        ChargeType.USAGE_BASED,
        f"{SUB}/default/api_calls/v[0]/period[0]",
        CUSTOMER,
        "USD",
        SubscriptionRef(SUB, PHASE, ITEM),
        "api_calls",
        UNIT,
        MONTH,
        MONTH,
        MONTH,
        MONTH.end,
        SettlementMode.CREDIT_THEN_INVOICE,
        status=status,
    )


def _line(invoice_id: str) -> InvoiceLine:
    return InvoiceLine(
        "01000000000000000000000006",
        invoice_id,
        "USD",
        "api_calls",
        LineEngine.CHARGE_USAGE_BASED,
        MONTH,
        MONTH.end,
        UNIT,
        None,
        SubscriptionRef(SUB, PHASE, ITEM, MONTH),
        charge_id="01000000000000000000000005",
    )


def _state(invoice: Invoice, *objects: InvoiceLine | Charge) -> EngineState:
    lines = {o.id: o for o in objects if isinstance(o, InvoiceLine)}
    charges = {o.id: o for o in objects if isinstance(o, Charge)}
    return EngineState({CUSTOMER: CustomerState({invoice.id: invoice}, lines, {}, charges)})


def test_the_ledger_stamps_creation_change_and_deletion_and_numbers_invoices() -> None:
    ledger = Ledger()
    gathering = Invoice("01000000000000000000000007", CUSTOMER, "USD", "gathering")
    ledger.observe(_state(gathering, _line(gathering.id)), START, lambda _c: "cust_4412")
    later = START + timedelta(seconds=5)
    ledger.observe(_state(replace(gathering, deleted=True), _line(gathering.id)), later, lambda _c: "cust_4412")
    stamp = ledger.stamp(gathering.id, START)
    assert (stamp.created, stamp.updated, stamp.deleted) == (START, later, later)
    assert ledger.stamp("01000000000000000000000006", later).updated == START  # the line did not change
    assert ledger.number(gathering.id) == "GATHER-CUST-USD-1"


def test_v1_invoice_lines_swap_the_subscription_and_item_ids_like_upstream() -> None:
    ledger = Ledger()
    gathering = Invoice("01000000000000000000000007", CUSTOMER, "USD", "gathering")
    state = _state(gathering, _line(gathering.id))
    ledger.observe(state, START, lambda _c: "cust")
    body = invoice_v1(
        gathering,
        state.customer(CUSTOMER),
        None,
        ledger,
        START,
        with_lines=True,
        include_deleted_lines=False,
        feature_of=lambda _i: ("api_calls", "01E1"),
        usage=lambda *_a: Decimal(0),
        tax_code_id="01X1",
    )
    raw = body["lines"][0]["subscription"]
    assert raw["subscription"] == {"id": ITEM} and raw["item"] == {"id": SUB}
    parsed = InvoiceModel.from_v1(body)
    assert parsed.is_gathering and parsed.type == "standard"
    assert parsed.lines[0].subscription is not None
    assert (parsed.lines[0].subscription.subscription_id, parsed.lines[0].subscription.item_id) == (SUB, ITEM)
    assert body["totals"]["total"] == "0" and body["lines"][0]["quantity"] == "0"


def test_standard_invoice_lines_are_rated_from_usage() -> None:
    ledger = Ledger()
    draft = Invoice("01000000000000000000000008", CUSTOMER, "USD", "draft")
    state = _state(draft, _line(draft.id))
    ledger.observe(state, START, lambda _c: "cust")
    seen: list[tuple[str | None, str, Period]] = []

    def usage(feature_key: str | None, customer_id: str, period: Period) -> Decimal:
        seen.append((feature_key, customer_id, period))
        return Decimal(12)

    body = invoice_v1(
        draft,
        state.customer(CUSTOMER),
        None,
        ledger,
        START,
        with_lines=True,
        include_deleted_lines=False,
        feature_of=lambda _i: ("api_calls", "01E1"),
        usage=usage,
        tax_code_id="01X1",
    )
    assert seen == [("api_calls", CUSTOMER, MONTH)]
    assert body["lines"][0]["quantity"] == "12" and body["lines"][0]["totals"]["total"] == "1.2"
    assert body["totals"]["total"] == "1.2"
    assert body["statusDetails"]["extendedStatus"] == "draft.waiting_for_collection"
    assert body["number"] == "DRAFT-CUST-1"


def test_charges_have_the_head_shape_and_parse_with_the_client() -> None:
    ledger = Ledger()
    active = _charge(ChargeStatus.ACTIVE)
    body = charge_v3(
        active, ledger.stamp(active.id, START), feature_key="api_calls", feature_id="01E1", tax_code_id="01X1"
    )
    assert body["lifecycle_controller"] == "system" and body["customer"] == {"id": CUSTOMER}
    assert body["advance_after"] == "2026-12-27T08:47:46Z"  # invoice_at + 1 h 1 min, as observed live
    assert body["totals"]["booked"]["total"] == "0"
    parsed = ChargeModel.from_v3(body)
    assert parsed.shape == "head" and parsed.feature_id == "01E1"
    assert parsed.subscription is not None and parsed.subscription.item_id == ITEM
    assert "advance_after" not in charge_v3(
        _charge(), ledger.stamp("x", START), feature_key=None, feature_id=None, tax_code_id="01X1"
    )


def test_flat_fee_charges_show_the_amount_after_proration_and_their_payment_term() -> None:
    half = Period(MONTH.start, MONTH.start + (MONTH.end - MONTH.start) / 2)
    flat = replace(
        _charge(),
        type=ChargeType.FLAT_FEE,
        price=Price(PriceType.FLAT, Decimal(30), PaymentTerm.IN_ADVANCE),
        service_period=half,
    )
    body = charge_v3(flat, Ledger().stamp(flat.id, START), feature_key=None, feature_id=None, tax_code_id="x")
    assert body["amount_after_proration"] == "15" and body["payment_term"] == "in_advance"
    assert body["price"] == {"type": "flat", "amount": "30"}
    assert body["proration_configuration"] == {"mode": "prorate_prices"}
    assert "totals" not in body
