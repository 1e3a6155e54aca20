from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from contract.client.inputs import PhaseInput, PlanInput, PriceInput, RateCardInput
from contract.model.domain import PaymentTerm, Price, PriceType, SettlementMode
from contract.model.time import Duration
from contract.offline.catalog import Plan, PlanPhase, PlanRateCard
from contract.wire.catalog import PLAN, PRO_RATING_MODE, RATE_CARD, plan_body

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _client_plan() -> PlanInput:
    cards = (
        RateCardInput("api_calls", "API calls", PriceInput.unit("0.10"), feature_id="01F", feature_key="api_calls"),
        RateCardInput("fee", "Fee", PriceInput.flat("30"), billing_cadence=None, payment_term=PaymentTerm.IN_ADVANCE),
    )
    return PlanInput(
        "pro", "Pro", "USD", (PhaseInput("default", "Default", cards),), settlement_mode=SettlementMode.CREDIT_ONLY
    )


def _offline_plan() -> Plan:
    cards = (
        PlanRateCard(
            "api_calls",
            "API calls",
            "01F",
            "api_calls",
            Duration.parse("P1M"),
            PaymentTerm.IN_ARREARS,
            Price(PriceType.UNIT, Decimal("0.1"), PaymentTerm.IN_ARREARS),
        ),
        PlanRateCard(
            "fee",
            "Fee",
            None,
            None,
            None,
            PaymentTerm.IN_ADVANCE,
            Price(PriceType.FLAT, Decimal(30), PaymentTerm.IN_ADVANCE),
        ),
    )
    phase = PlanPhase("default", "Default", None, cards)
    return Plan("01P", "pro", 1, "Pro", "USD", Duration.parse("P1M"), True, SettlementMode.CREDIT_ONLY, (phase,), NOW)


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


_SERVER_ONLY = ("id", "version", "status", "created_at", "updated_at")


def test_the_client_v1_request_and_the_offline_v1_answer_share_one_plan_shape() -> None:
    answered = _offline_plan().body("v1")
    assert _without(answered, *(PLAN.key(n, "v1") for n in _SERVER_ONLY)) == _client_plan().body("v1")


def test_the_client_v3_request_and_the_offline_v3_answer_share_one_plan_shape() -> None:
    sent = _client_plan().body("v3")
    answered = _without(_offline_plan().body("v3"), *(PLAN.key(n, "v3") for n in _SERVER_ONLY))
    assert _without(answered, "phases") == _without(sent, "phases")
    cards_sent = sent["phases"][0]["rate_cards"]
    cards_answered = answered["phases"][0]["rate_cards"]
    # requests always send a rate card's payment term; answers only a flat price's
    assert cards_sent[0] == {**cards_answered[0], "payment_term": "in_arrears"}
    assert cards_sent[1] == cards_answered[1]


def test_v1_plans_carry_pro_rating_as_a_config_object() -> None:
    body = plan_body("v1", _client_plan())
    assert body["proRatingConfig"] == {"enabled": True, "mode": PRO_RATING_MODE}
    assert "pro_rating_enabled" in plan_body("v3", _client_plan())


def test_rate_cards_name_the_feature_by_id_in_v3_and_by_key_in_v1() -> None:
    card = _client_plan().phases[0].rate_cards[0]
    assert card.body("v3")["feature"] == {"id": "01F"}
    assert "featureKey" not in card.body("v3") and "feature_key" not in card.body("v3")
    v1 = card.body("v1")
    assert (v1["type"], v1["featureKey"]) == ("usage_based", "api_calls")
    assert RATE_CARD.key("feature_key", "v1") == "featureKey"
