from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from contract.client.inputs import (
    AddItem,
    Event,
    PhaseInput,
    PlanInput,
    PriceInput,
    RateCardInput,
    RemoveItem,
    TierInput,
    edit_ops_v1,
    timing_value,
)
from contract.model.domain import PaymentTerm, SettlementMode

from .helpers import Recording, recorded


def _normalise_numerics(value: Any) -> Any:
    """Recorded requests say "0.10"; the client writes the server's normal form "0.1"."""
    if isinstance(value, dict):
        return {k: _normalise_numerics(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_numerics(v) for v in value]
    if isinstance(value, str) and value.replace(".", "", 1).isdigit() and "." in value:
        return value.rstrip("0").rstrip(".")
    return value


def plan_like_recording(
    key: str, api_feature: str, tokens_feature: str, suffix: str, mode: SettlementMode | None = None
) -> PlanInput:
    return PlanInput(
        key=key,
        name="Plan 4412",
        currency="USD",
        billing_cadence="P1M",
        pro_rating=True,
        settlement_mode=mode,
        phases=(
            PhaseInput(
                "default",
                "Default",
                (
                    RateCardInput(f"api_calls_{suffix}", "api_calls", PriceInput.unit("0.10"), feature_id=api_feature),
                    RateCardInput(
                        f"tokens_{suffix}",
                        "tokens",
                        PriceInput.graduated(TierInput.of(up_to="100", unit="0.10"), TierInput.of(unit="0.05")),
                        feature_id=tokens_feature,
                    ),
                ),
            ),
        ),
    )


def test_plan_v3_body_equals_the_recorded_request(head: Recording) -> None:
    sent = recorded(head, "plan_create")["request_body"]
    rc = sent["phases"][0]["rate_cards"]
    suffix = sent["key"].removeprefix("plan_4412_")
    plan = plan_like_recording(sent["key"], rc[0]["feature"]["id"], rc[1]["feature"]["id"], suffix)

    assert plan.v3() == _normalise_numerics(sent)


def test_plan_v3_body_carries_settlement_mode_only_when_asked() -> None:
    plan = plan_like_recording("p", "F1", "F2", "x", SettlementMode.CREDIT_ONLY)

    assert plan.v3()["settlement_mode"] == "credit_only"
    assert "settlement_mode" not in plan.v3(with_settlement_mode=False)
    assert "settlement_mode" not in plan_like_recording("p", "F1", "F2", "x").v3()


def test_plan_v1_body_uses_camel_case_tiered_prices_and_feature_keys() -> None:
    plan = plan_like_recording("p", "F1", "F2", "x", SettlementMode.CREDIT_THEN_INVOICE)

    body = plan.v1()

    assert body["settlementMode"] == "credit_then_invoice"
    assert body["billingCadence"] == "P1M"
    assert body["proRatingConfig"] == {"enabled": True, "mode": "prorate_prices"}
    phase = body["phases"][0]
    assert phase["duration"] is None  # required (nullable) in v1
    api_calls, tokens = phase["rateCards"]
    assert api_calls == {
        "type": "usage_based",
        "key": "api_calls_x",
        "name": "api_calls",
        "featureKey": "api_calls_x",
        "billingCadence": "P1M",
        "price": {"type": "unit", "amount": "0.1"},
    }
    assert tokens["price"] == {
        "type": "tiered",
        "mode": "graduated",
        "tiers": [
            {"upToAmount": "100", "flatPrice": None, "unitPrice": {"type": "unit", "amount": "0.1"}},
            {"flatPrice": None, "unitPrice": {"type": "unit", "amount": "0.05"}},
        ],
    }


def test_flat_rate_card_sends_its_payment_term_in_both_versions_and_may_be_one_time() -> None:
    card = RateCardInput(
        "setup",
        "Setup fee",
        PriceInput.flat(Decimal("25.00")),
        billing_cadence=None,
        payment_term=PaymentTerm.IN_ADVANCE,
    )

    assert card.v3() == {
        "key": "setup",
        "name": "Setup fee",
        "payment_term": "in_advance",
        "price": {"type": "flat", "amount": "25"},
    }
    assert card.v1() == {
        "type": "flat_fee",
        "key": "setup",
        "name": "Setup fee",
        "billingCadence": None,
        "price": {"type": "flat", "amount": "25", "paymentTerm": "in_advance"},
    }


def test_usage_rate_cards_must_be_in_arrears_and_recurring() -> None:
    with pytest.raises(ValueError, match="always in arrears"):
        RateCardInput("a", "a", PriceInput.unit(1), payment_term=PaymentTerm.IN_ADVANCE)
    with pytest.raises(ValueError, match="need a billing cadence"):
        RateCardInput("a", "a", PriceInput.unit(1), billing_cadence=None)


def test_price_inputs_validate_their_parts() -> None:
    with pytest.raises(ValueError, match="needs an amount"):
        PriceInput("unit")
    with pytest.raises(ValueError, match="at least one tier"):
        PriceInput.graduated()
    with pytest.raises(ValueError, match="unit amount, a flat amount"):
        TierInput.of(up_to=10)
    with pytest.raises(ValueError, match="not a number"):
        PriceInput.unit("ten")
    assert PriceInput.volume(TierInput.of(flat="5")).v3() == {
        "type": "volume",
        "tiers": [{"flat_price": {"type": "flat", "amount": "5"}}],
    }


def test_plan_needs_a_phase() -> None:
    with pytest.raises(ValueError, match="at least one phase"):
        PlanInput("p", "p", "USD", phases=())


def test_event_cloudevent_equals_the_recorded_ingest_request(head: Recording) -> None:
    sent = recorded(head, "ingest_0")["request_body"]
    event = Event(
        id=sent["id"],
        type=sent["type"],
        subject=sent["subject"],
        time=datetime(2026, 11, 27, 7, 46, 47, 416000, tzinfo=UTC),
        data={"value": "7"},
    )

    assert event.cloudevent() == sent


def test_event_time_must_be_utc() -> None:
    with pytest.raises(ValueError, match="not a timezone-aware UTC"):
        Event("e", "t", "s", datetime(2026, 1, 1))  # naive: the point of the test
    with pytest.raises(ValueError, match="not a timezone-aware UTC"):
        Event("e", "t", "s", datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2))))


def test_timing_values() -> None:
    assert timing_value("immediate") == "immediate"
    assert timing_value("next_billing_cycle") == "next_billing_cycle"
    assert timing_value(datetime(2026, 9, 18, 16, 0, tzinfo=UTC)) == "2026-09-18T16:00:00Z"
    assert timing_value(datetime(2026, 9, 18, 16, 0, 0, 250000, tzinfo=UTC)) == "2026-09-18T16:00:00.25Z"
    with pytest.raises(ValueError, match="timing must be one of"):
        timing_value("tomorrow")  # type: ignore[arg-type]


def test_edit_ops_write_v1_customizations_and_pass_raw_ops_through() -> None:
    price_change = RateCardInput("api_calls_1755", "API calls", PriceInput.unit("0.20"), feature_key="api_calls_1755")

    ops = edit_ops_v1([AddItem("default", price_change), RemoveItem("default", "tokens"), {"op": "unschedule_edit"}])

    assert ops == [
        {
            "op": "add_item",
            "phaseKey": "default",
            "rateCard": {
                "type": "usage_based",
                "key": "api_calls_1755",
                "name": "API calls",
                "featureKey": "api_calls_1755",
                "billingCadence": "P1M",
                "price": {"type": "unit", "amount": "0.2"},
            },
        },
        {"op": "remove_item", "phaseKey": "default", "itemKey": "tokens"},
        {"op": "unschedule_edit"},
    ]
