"""A scenario's set-up: meters, features, the customer (and its billing profile), grants and plans.

Everything here only prepares the run; OpenMeter refusing any of it says nothing about sync. The
rate-card input is shared with the ``edit`` action, which adds rate cards to a running subscription.
"""

from __future__ import annotations

from decimal import Decimal

from contract.client import OpenMeterClient
from contract.client.inputs import PhaseInput, PlanInput, PriceInput, RateCardInput, TierInput
from contract.model.domain import PaymentTerm
from contract.scenario.model import PlanSpec, RateCardSpec
from contract.scenario.runstate import RunState


def prepare(client: OpenMeterClient, run: RunState) -> None:
    """Create what the scenario's ``setup`` names, remembering OpenMeter's ids in ``run``."""
    sc, keys, c = run.scenario, run.keys, client
    with c.step("setup"):
        for f in sc.setup.features:
            meter = c.create_meter(
                keys.meters[f.key],
                f"meter {f.key}",
                keys.event_types[f.key],
                aggregation=f.meter.aggregation.value,
                value_property=f.meter.value_property or "$.value",
            )
            feature = c.create_feature(keys.features[f.key], f.name, meter.id)
            run.features[f.key] = (feature.id, meter.id)
        cust = sc.setup.customer
        customer = c.create_customer(
            keys.customer, cust.name or f"omcontract {keys.run_id}", cust.currency, [keys.subject]
        )
        run.customer_id = customer.id
        if not sc.profile.is_default:
            profile = c.create_profile_from_default(
                f"omcontract {keys.run_id}",
                progressive_billing=sc.profile.progressive_billing,
                end_proration=sc.profile.end_proration.value if sc.profile.end_proration else None,
            )
            c.set_customer_profile(customer.id, profile.id)
        for g in sc.setup.grants:
            c.create_credit_grant(customer.id, g.amount, g.currency, g.name or f"grant {keys.run_id}")
        for plan in sc.setup.plans:
            created = c.create_plan(plan_input(run, plan))
            c.publish_plan(created.id)
            run.plans[plan.key] = created.id


def rate_card_input(run: RunState, rc: RateCardSpec) -> RateCardInput:
    price: PriceInput | None = None
    term = PaymentTerm.IN_ARREARS
    if rc.price is not None:
        kind = rc.price.kind.value
        if kind == "flat":
            price = PriceInput.flat(rc.price.amount or Decimal(0))
            term = rc.price.payment_term
        elif kind == "unit":
            price = PriceInput.unit(rc.price.amount or Decimal(0))
        else:
            tiers = tuple(TierInput.of(up_to=t.up_to, unit=t.unit_amount, flat=t.flat_amount) for t in rc.price.tiers)
            price = PriceInput.graduated(*tiers) if kind == "graduated" else PriceInput.volume(*tiers)
    feature_id = run.features[rc.feature][0] if rc.feature else None
    return RateCardInput(
        key=run.keys.item_key(rc.key),
        name=rc.name,
        price=price,
        feature_id=feature_id,
        feature_key=run.keys.features[rc.feature] if rc.feature else None,
        billing_cadence=str(rc.billing_cadence) if rc.billing_cadence is not None else None,
        payment_term=term,
    )


def plan_input(run: RunState, plan: PlanSpec) -> PlanInput:
    phases = tuple(
        PhaseInput(
            key=ph.key,
            name=ph.name,
            rate_cards=tuple(rate_card_input(run, rc) for rc in ph.rate_cards),
            duration=str(ph.duration) if ph.duration is not None else None,
        )
        for ph in plan.phases
    )
    return PlanInput(
        key=run.keys.plans[plan.key],
        name=plan.name,
        currency=plan.currency,
        phases=phases,
        billing_cadence=str(plan.billing_cadence),
        pro_rating=plan.pro_rating,
        settlement_mode=plan.settlement_mode,
    )
