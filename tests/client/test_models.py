from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from contract.client.models import (
    BillingProfile,
    Charge,
    CreditBalances,
    CreditGrant,
    Customer,
    Feature,
    Invoice,
    Meter,
    Plan,
    PriceView,
    ServerVersion,
    SubscriptionSummary,
    SubscriptionView,
)
from contract.model.domain import PaymentTerm, PriceType, SettlementMode, Tier
from contract.model.time import Period
from contract.wire import read as p

from .helpers import Recording, load_recording, path_of, recorded

T0 = datetime(2026, 11, 27, 7, 46, 46, tzinfo=UTC)
T1 = datetime(2026, 12, 27, 7, 46, 46, tzinfo=UTC)


def _meter_total(body: Any) -> Decimal:
    return sum((p.to_decimal(r["value"], "value") for r in p.items(p.obj(body), "data")), Decimal(0))


# (method, path pattern) -> parser of the response body
PARSERS: list[tuple[str, str, Callable[[Any], object]]] = [
    ("GET", r"/version", ServerVersion.from_api),
    ("POST", r"/api/v3/openmeter/meters", Meter.from_v3),
    ("POST", r"/api/v3/openmeter/meters/[^/]+/query", _meter_total),
    ("POST", r"/api/v3/openmeter/features", Feature.from_v3),
    ("POST", r"/api/v3/openmeter/customers", Customer.from_v3),
    ("POST", r"/api/v3/openmeter/customers/[^/]+/credits/grants", CreditGrant.from_v3),
    ("GET", r"/api/v3/openmeter/customers/[^/]+/credits/balance", CreditBalances.from_v3),
    ("POST", r"/api/v3/openmeter/plans", Plan.from_v3),
    ("POST", r"/api/v3/openmeter/plans/[^/]+/publish", Plan.from_v3),
    ("POST", r"/api/v3/openmeter/subscriptions", SubscriptionSummary.from_v3),
    ("POST", r"/api/v3/openmeter/subscriptions/[^/]+/cancel", SubscriptionSummary.from_v3),
    ("GET", r"/api/v3/openmeter/subscriptions/[^/]+", SubscriptionSummary.from_v3),
    ("GET", r"/api/v1/subscriptions/[^/]+", SubscriptionView.from_v1),
    (
        "GET",
        r"/api/v3/openmeter/customers/[^/]+/charges",
        lambda b: [Charge.from_v3(c) for c in p.items(p.obj(b), "data")],
    ),
    ("GET", r"/api/v1/billing/invoices", lambda b: [Invoice.from_v1(i) for i in p.items(p.obj(b), "items")]),
    ("POST", r"/api/v1/events", lambda b: b),
]


def parser_for(method: str, path: str) -> Callable[[Any], object]:
    for m, pattern, parse in PARSERS:
        if m == method and re.fullmatch(pattern, path):
            return parse
    raise AssertionError(f"no parser for {method} {path}")


@pytest.mark.parametrize("name", ["head-4412", "bug-4412"])
def test_every_recorded_response_parses_into_the_models(name: str) -> None:
    exchanges = load_recording(name)
    parsed = 0

    for line in exchanges:
        result = parser_for(line["method"], path_of(line))(line["response_body"])
        assert result is not None
        parsed += 1

    assert parsed == len(exchanges) > 30


def test_subscription_view_keeps_microseconds_and_item_timelines(head: Recording) -> None:
    view = SubscriptionView.from_v1(recorded(head, "subscription_get_v1_after_cancel")["response_body"])

    assert view.active_from == datetime(2026, 11, 27, 7, 46, 46, 133013, tzinfo=UTC)
    assert view.active_to == datetime(2026, 11, 27, 7, 46, 47, 444431, tzinfo=UTC)
    assert view.billing_anchor == view.active_from
    assert view.settlement_mode is SettlementMode.CREDIT_THEN_INVOICE
    assert view.pro_rating_enabled is True and view.pro_rating_mode == "prorate_prices"
    assert view.billing_cadence == "P1M" and view.currency == "USD" and view.status == "inactive"
    (phase,) = view.phases
    assert phase.key == "default" and phase.active_to == view.active_to
    assert [t.key for t in phase.item_timelines] == ["api_calls_1795765605940_142", "tokens_1795765605940_142"]
    (tokens,) = phase.timeline("tokens_1795765605940_142")
    assert tokens.id == "01M8DZH70QGE4H2SFQ84BJBVMZ"  # re-created by the cancel
    assert tokens.rate_card.feature_key == "tokens_1795765605940_142"
    assert tokens.rate_card.price == PriceView(
        type="tiered", mode="graduated", tiers=(p_tier("100", "0.1"), p_tier(None, "0.05"))
    )
    assert view.current_aligned_billing_period == Period(view.active_from, view.active_to)
    assert "01M8DZH70PT9E8WS71EZQTSH21" in view.item_ids()


def p_tier(up_to: str | None, unit: str) -> Any:
    from contract.client.models import PriceTierView

    return PriceTierView(up_to=None if up_to is None else Decimal(up_to), unit_amount=Decimal(unit))


def test_v1_line_ids_are_swapped_back_to_match_the_charges(head: Recording) -> None:
    invoices = recorded(head, "invoices_after_subscribe")["response_body"]["items"]
    (gathering,) = [Invoice.from_v1(i) for i in invoices]
    charges = [Charge.from_v3(c) for c in recorded(head, "charges_after_subscribe")["response_body"]["data"]]

    assert gathering.is_gathering and gathering.type == "standard"  # identify by status, not type
    for line in gathering.lines:
        assert line.subscription is not None
        assert line.subscription.subscription_id == "01M8DZH5QPXGMYK63W2NTJ0NDD"
        (charge,) = [c for c in charges if c.name == line.name]
        assert charge.subscription is not None
        assert line.subscription.item_id == charge.subscription.item_id
        assert line.subscription.phase_id == charge.subscription.phase_id
        assert line.period == charge.service_period == Period(T0, T1)
        assert line.invoice_at == charge.invoice_at == T1
        assert line.subscription.billing_period == charge.billing_period


def test_v1_line_ids_can_be_kept_as_sent(head: Recording) -> None:
    body = recorded(head, "invoices_after_subscribe")["response_body"]["items"][0]

    line = Invoice.from_v1(body, swap_subscription_ids=False).lines[0]

    assert line.subscription is not None
    assert line.subscription.item_id == "01M8DZH5QPXGMYK63W2NTJ0NDD"  # upstream's swap, untouched


def test_invoice_status_details_and_draft_after_cancel(head: Recording) -> None:
    (draft,) = [Invoice.from_v1(i) for i in recorded(head, "invoices_after_cancel")["response_body"]["items"]]

    assert draft.status == "draft" and not draft.is_gathering
    assert draft.extended_status == "draft.waiting_for_collection"
    assert draft.immutable is False
    assert draft.currency == "USD"
    assert [line.id for line in draft.lines] == ["01M8DZH5VBJZ8SVB42C8G6Y0A3", "01M8DZH5VBJZ8SVB42CAC9WRTZ"]
    assert all(line.managed_by == "subscription" and line.status == "valid" for line in draft.lines)
    assert draft.lines[0].quantity == Decimal(0) and draft.lines[0].total == Decimal(0)


def test_head_and_bug_window_charges_parse_to_the_same_fields(head: Recording, bug: Recording) -> None:
    (h, _) = [Charge.from_v3(c) for c in recorded(head, "charges_after_subscribe")["response_body"]["data"]]
    (b, _) = [Charge.from_v3(c) for c in recorded(bug, "charges_after_subscribe")["response_body"]["data"]]

    assert (h.shape, h.lifecycle_controller, h.managed_by) == ("head", "system", None)
    assert (b.shape, b.lifecycle_controller, b.managed_by) == ("bug_window", None, "subscription")
    for c in (h, b):
        assert c.type == "usage_based" and c.status == "created" and c.currency == "USD"
        assert c.settlement_mode is SettlementMode.CREDIT_THEN_INVOICE
        assert c.unique_reference_id is not None and c.unique_reference_id.endswith("/v[0]/period[0]")
        assert c.price == PriceView(type="unit", amount=Decimal("0.1"))
        assert c.service_period == c.full_service_period == c.billing_period
    assert b.feature_id is None and h.feature_id == "01M8DZH5KRDDFJM1XDFACC0RKA"


def test_null_data_reads_as_an_empty_list(head: Recording) -> None:
    body = recorded(head, "charges")["response_body"]

    assert body["data"] is None
    assert [Charge.from_v3(c) for c in p.items(body, "data")] == []


def test_credit_balance_head_and_bug_window_shapes(head: Recording, bug: Recording) -> None:
    h = CreditBalances.from_v3(recorded(head, "credit_balance")["response_body"]).for_currency("USD")
    b = CreditBalances.from_v3(recorded(bug, "credit_balance")["response_body"]).for_currency("USD")

    assert h is not None and b is not None
    assert (h.shape, h.live, h.settled, h.pending, h.available) == ("head", Decimal(10), Decimal(10), Decimal(0), None)
    assert (b.shape, b.available, b.pending, b.live) == ("bug_window", Decimal(10), Decimal(10), None)
    assert h.spendable == b.spendable == Decimal(10)


def test_credit_balance_accepts_a_flat_single_balance() -> None:
    flat = CreditBalances.from_v3({"available": "3.5", "currency": "EUR", "pending": "0"})

    assert flat.retrieved_at is None
    assert flat.for_currency("EUR") is not None
    assert flat.balances[0].spendable == Decimal("3.5")


def test_plan_from_bug_build_has_no_settlement_mode(head: Recording, bug: Recording) -> None:
    h = Plan.from_v3(recorded(head, "plan_publish")["response_body"])
    b = Plan.from_v3(recorded(bug, "plan_publish")["response_body"])

    assert h.settlement_mode is SettlementMode.CREDIT_THEN_INVOICE and b.settlement_mode is None
    assert (b.status, b.version, b.billing_cadence, b.pro_rating_enabled) == ("active", 1, "P1M", True)
    assert b.phases[0].rate_cards[1].price == PriceView(
        type="tiered", mode="graduated", tiers=(p_tier("100", "0.1"), p_tier(None, "0.05"))
    )


def test_bug_window_v3_subscription_summary_is_minimal(bug: Recording) -> None:
    summary = SubscriptionSummary.from_v3(recorded(bug, "subscription_cancel")["response_body"])

    assert summary.status == "inactive" and summary.via == "v3"
    assert summary.active_to is None and summary.active_from is None  # read them from v1
    assert summary.billing_anchor == datetime(2026, 11, 27, 7, 51, 31, 937143, tzinfo=UTC)


def test_v1_and_v3_prices_read_the_same() -> None:
    v1 = PriceView.from_api(
        {
            "type": "tiered",
            "mode": "graduated",
            "tiers": [
                {"upToAmount": "100", "flatPrice": None, "unitPrice": {"type": "unit", "amount": "0.10"}},
                {"flatPrice": {"type": "flat", "amount": "2"}, "unitPrice": None},
            ],
        }
    )
    v3 = PriceView.from_api(
        {
            "type": "graduated",
            "tiers": [
                {"up_to_amount": "100", "unit_price": {"type": "unit", "amount": "0.1"}},
                {"flat_price": {"type": "flat", "amount": "2.00"}},
            ],
        }
    )

    assert v1 == v3


def test_price_view_to_domain() -> None:
    flat = PriceView.from_api({"type": "flat", "amount": "25", "paymentTerm": "in_advance"}).to_domain()
    tiered = PriceView.from_api(
        {"type": "graduated", "tiers": [{"up_to_amount": "100", "unit_price": {"type": "unit", "amount": "0.1"}}]}
    ).to_domain()

    assert flat is not None and flat.type is PriceType.FLAT and flat.payment_term is PaymentTerm.IN_ADVANCE
    assert flat.amount == Decimal(25)
    assert tiered is not None and tiered.type is PriceType.TIERED and tiered.mode == "graduated"
    assert tiered.tiers == (Tier(up_to=Decimal(100), unit_amount=Decimal("0.1")),)
    assert PriceView(type="free").to_domain() is None


def test_billing_profile_reads_workflow_switches() -> None:
    profile = BillingProfile.from_v3(
        {
            "id": "01PROFILE",
            "name": "openmeter-sandbox",
            "default": True,
            "workflow": {
                "invoicing": {
                    "auto_advance": True,
                    "progressive_billing": True,
                    "subscription_end_proration_mode": "bill_actual_period",
                },
                "collection": {"interval": "PT1H"},
            },
        }
    )

    assert (profile.is_default, profile.auto_advance, profile.progressive_billing) == (True, True, True)
    assert profile.end_proration == "bill_actual_period" and profile.collection_interval == "PT1H"
    assert hash(profile) == hash(
        BillingProfile.from_v3({"id": "01PROFILE", "name": "openmeter-sandbox", "default": True})
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "active", "customerId": "c"}, "id"),
        (
            {
                "id": "s",
                "status": "active",
                "customerId": "c",
                "activeFrom": "yesterday",
                "billingAnchor": "2026-01-01T00:00:00Z",
            },
            "activeFrom",
        ),
        (
            {
                "id": "s",
                "status": "active",
                "customerId": "c",
                "activeFrom": "2026-01-01T00:00:00Z",
                "billingAnchor": "2026-01-01T00:00:00Z",
                "phases": [{"id": "p", "key": "k", "activeFrom": 5}],
            },
            "phases[0].activeFrom",
        ),
        (
            {
                "id": "s",
                "status": "active",
                "customerId": "c",
                "activeFrom": "2026-01-01T00:00:00Z",
                "billingAnchor": "2026-01-01T00:00:00Z",
                "settlementMode": "pay_later",
            },
            "settlementMode",
        ),
    ],
)
def test_missing_or_bad_fields_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(p.ShapeError) as info:
        SubscriptionView.from_v1(body)

    assert info.value.field == field


def test_bad_numeric_names_the_field() -> None:
    with pytest.raises(p.ShapeError, match=r"price.amount: not a number"):
        PriceView.from_api({"type": "unit", "amount": "ten"})


def test_item_timelines_follow_the_phase_item_order_and_versions_their_start() -> None:
    body = {
        "id": "s",
        "status": "active",
        "customerId": "c",
        "activeFrom": "2026-01-01T00:00:00Z",
        "billingAnchor": "2026-01-01T00:00:00Z",
        "phases": [
            {
                "id": "p",
                "key": "default",
                "activeFrom": "2026-01-01T00:00:00Z",
                "items": [
                    {"id": "z1", "key": "zeta", "activeFrom": "2026-01-01T00:00:00Z"},
                    {"id": "a1", "key": "alpha", "activeFrom": "2026-01-01T00:00:00Z"},
                ],
                "itemTimelines": {  # Go sorts map keys; versions as stored
                    "alpha": [
                        {"id": "a2", "key": "alpha", "activeFrom": "2026-01-05T00:00:00.000001Z"},
                        {
                            "id": "a1",
                            "key": "alpha",
                            "activeFrom": "2026-01-01T00:00:00Z",
                            "activeTo": "2026-01-05T00:00:00.000001Z",
                        },
                    ],
                    "zeta": [{"id": "z1", "key": "zeta", "activeFrom": "2026-01-01T00:00:00Z"}],
                },
            }
        ],
    }

    (phase,) = SubscriptionView.from_v1(body).phases

    assert [(t.key, [v.id for v in t.versions]) for t in phase.item_timelines] == [
        ("zeta", ["z1"]),
        ("alpha", ["a1", "a2"]),
    ]
    assert phase.timeline("alpha")[0].active_to == datetime(2026, 1, 5, 0, 0, 0, 1, tzinfo=UTC)
    assert phase.timelines_by_key()["zeta"][0].rate_card.key == "zeta"


def test_flat_fee_charge_amount_after_proration_accepts_head_money_object() -> None:
    """HEAD (observed live) writes amount_after_proration as {"amount", "currency"}, not a Numeric."""
    from contract.client.models import Charge

    raw = {
        "id": "01M8E2W571RJGBPQGXPJ4HS9ZA",
        "type": "flat_fee",
        "status": "active",
        "name": "fee",
        "currency": "USD",
        "unique_reference_id": "S/default/fee/v[0]/period[0]",
        "subscription": {"id": "S", "phase": {"id": "P", "item": {"id": "I"}}},
        "service_period": {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"},
        "invoice_at": "2026-01-01T00:00:00Z",
        "settlement_mode": "credit_then_invoice",
        "amount_after_proration": {"amount": "2.26", "currency": ""},
        "payment_term": "in_advance",
    }
    charge = Charge.from_v3(raw)
    assert charge.amount_after_proration == Decimal("2.26")
    raw["amount_after_proration"] = "3.07"
    assert Charge.from_v3(raw).amount_after_proration == Decimal("3.07")
