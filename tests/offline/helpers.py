"""Helpers for the offline OpenMeter tests: the #4412 set-up through the real client, and reading
charges and invoices until the fake's worker has caught up."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from contract.client import OpenMeterClient
from contract.client.inputs import PhaseInput, PlanInput, PriceInput, RateCardInput, TierInput
from contract.client.models import Charge, Customer, Feature, Invoice, Meter, Plan
from contract.model.domain import SettlementMode

START = datetime(2026, 11, 27, 7, 46, 46, 133013, tzinfo=UTC)
REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = REPO_ROOT / "fixtures" / "scenarios"


@dataclass
class Setup:
    customer: Customer
    meters: dict[str, Meter]
    features: dict[str, Feature]
    plan: Plan


def usage_plan(key: str, features: dict[str, Feature], *, cadence: str = "P1M", api_price: str = "0.10") -> PlanInput:
    """The #4412 plan: a unit price and a graduated price, both usage based, in arrears."""
    return PlanInput(
        key=key,
        name="Plan 4412",
        currency="USD",
        billing_cadence=cadence,
        settlement_mode=SettlementMode.CREDIT_THEN_INVOICE,
        phases=(
            PhaseInput(
                "default",
                "Default",
                (
                    RateCardInput(
                        "api_calls",
                        "api_calls",
                        PriceInput.unit(api_price),
                        feature_id=features["api_calls"].id,
                        billing_cadence=cadence,
                    ),
                    RateCardInput(
                        "tokens",
                        "tokens",
                        PriceInput.graduated(TierInput.of(up_to="100", unit="0.10"), TierInput.of(unit="0.05")),
                        feature_id=features["tokens"].id,
                        billing_cadence=cadence,
                    ),
                ),
            ),
        ),
    )


def setup_4412(om: OpenMeterClient, *, cadence: str = "P1M", grant: bool = True) -> Setup:
    meters = {name: om.create_meter(f"m_{name}", f"meter {name}", f"ev_{name}") for name in ("api_calls", "tokens")}
    features = {name: om.create_feature(name, name, meter.id) for name, meter in meters.items()}
    customer = om.create_customer("cust_4412", "Customer 4412", "USD", ["subj_4412"])
    if grant:
        om.create_credit_grant(customer.id, "10", "USD", "Promo 4412")
    plan = om.create_plan(usage_plan("plan_4412", features, cadence=cadence))
    om.publish_plan(plan.id)
    return Setup(customer, meters, features, plan)


def settled(om: OpenMeterClient, customer_id: str, reads: int = 3) -> tuple[list[Charge], list[Invoice]]:
    """Charges and invoices after enough reads for every pending sync to have run."""
    charges: list[Charge] = []
    invoices: list[Invoice] = []
    for _ in range(reads):
        charges = om.list_charges(customer_id)
        invoices = om.list_invoices(customer_id)
    return charges, invoices


def problem_body(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of an ``application/problem+json`` response (asserting it is one)."""
    assert response.headers["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert isinstance(body, dict)
    return body
