"""A scenario's ``setup`` (features, customer, grants, plans with phases, rate cards and prices)
and its top-level ``requires``, ``profile`` and ``known_issues``, read into typed values.

Besides the shape, the rules OpenMeter enforces are checked here, with its error codes named
where it has one: a rate card's key equals its feature's key, a usage price needs a feature and a
billing cadence, a rate card's cadence aligns with the plan's (:func:`~contract.model.time.
cadences_align`), plan cadences are ones OpenMeter accepts, and a phase has rate cards.
"""

from __future__ import annotations

import re
from decimal import Decimal

import yaml

from contract.model.domain import EndProrationMode, PaymentTerm, SettlementMode
from contract.model.time import PLAN_CADENCES, Duration, cadences_align
from contract.scenario.model import (
    Aggregation,
    CustomerSpec,
    FeatureSpec,
    GrantSpec,
    MeterSpec,
    PhaseSpec,
    PlanSpec,
    PriceKind,
    PriceSpec,
    Profile,
    RateCardSpec,
    Requires,
    Setup,
    TierSpec,
)
from contract.scenario.node import ScenarioNode
from contract.yamlread import missing_ref, optional, optional_text

#: Plan billing cadences OpenMeter accepts (``plan_billing_cadence_invalid`` otherwise).
_ISSUE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+#[0-9]+$")


def read_setup(n: ScenarioNode, requires: Requires) -> Setup:
    """The ``setup`` block: features, the customer, plans (referencing features) and grants."""
    m = n.mapping(("features", "customer", "grants", "plans"), ("customer", "plans"))
    features = _features(optional(m, "features"))
    customer = _customer(m["customer"])
    return Setup(
        features=features,
        customer=customer,
        plans=_plans(m["plans"], {f.key: f for f in features}, customer),
        grants=_grants(optional(m, "grants"), customer, requires),
    )


def _features(n: ScenarioNode | None) -> tuple[FeatureSpec, ...]:
    if n is None:
        return ()
    out: list[FeatureSpec] = []
    seen: dict[str, int] = {}
    for item in n.seq():
        m = item.mapping(("key", "name", "meter"), ("key", "meter"))
        key = m["key"].key()
        if key in seen:
            raise m["key"].error(f"duplicate feature key {key!r} (first at line {seen[key]})")
        seen[key] = m["key"].line
        mm = m["meter"].mapping(("aggregation", "value_property"), ("aggregation",))
        aggregation = Aggregation(mm["aggregation"].choice([a.value for a in Aggregation], "aggregation"))
        value_property = optional_text(mm, "value_property")
        if value_property is None and aggregation is not Aggregation.COUNT:
            raise m["meter"].error(
                f'value_property is required for aggregation {aggregation.value} (e.g. "$.value")',
                m["meter"].sub("value_property"),
            )
        out.append(FeatureSpec(key, optional_text(m, "name") or key, MeterSpec(aggregation, value_property)))
    return tuple(out)


def _customer(n: ScenarioNode) -> CustomerSpec:
    m = n.mapping(("currency", "name"), ("currency",))
    return CustomerSpec(currency=m["currency"].currency(), name=optional_text(m, "name"))


def _grants(n: ScenarioNode | None, customer: CustomerSpec, requires: Requires) -> tuple[GrantSpec, ...]:
    if n is None:
        return ()
    out: list[GrantSpec] = []
    for item in n.seq():
        if not requires.credits:
            raise item.error(
                "credit grants need requires.credits: true (without credits OpenMeter wires "
                "the grant endpoints to no-op services)"
            )
        m = item.mapping(("amount", "currency", "name", "priority"), ("amount",))
        priority = optional(m, "priority")
        prio = priority.integer() if priority is not None else None
        if prio is not None and prio < 1:
            raise m["priority"].error(f"must be at least 1, got {prio}")
        currency = optional(m, "currency")
        out.append(
            GrantSpec(
                amount=m["amount"].decimal(positive=True),
                currency=currency.currency() if currency is not None else customer.currency,
                name=optional_text(m, "name"),
                priority=prio,
            )
        )
    return tuple(out)


_PRICE_KEYS: dict[PriceKind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    PriceKind.FLAT: (("type", "amount", "payment_term"), ("amount",)),
    PriceKind.UNIT: (("type", "amount", "payment_term"), ("amount",)),
    PriceKind.GRADUATED: (("type", "tiers", "payment_term"), ("tiers",)),
    PriceKind.VOLUME: (("type", "tiers", "payment_term"), ("tiers",)),
}


def _price(n: ScenarioNode) -> PriceSpec:
    if not isinstance(n.node, yaml.MappingNode):
        raise n.error(f"expected a mapping (or null for an unpriced rate card), got {n.kind_name()}")
    type_node = next(
        (n.child(v, n.sub("type")) for k, v in n.node.value if isinstance(k, yaml.ScalarNode) and k.value == "type"),
        None,
    )
    if type_node is None:
        raise n.error("required field missing", n.sub("type"))
    kind = PriceKind(type_node.choice([k.value for k in PriceKind], "price type"))
    allowed, required = _PRICE_KEYS[kind]
    m = n.mapping(allowed, required, what=f"key for a {kind.value} price")
    term_node = optional(m, "payment_term")
    if kind is PriceKind.FLAT:
        term = (
            PaymentTerm(term_node.choice([t.value for t in PaymentTerm], "payment term"))
            if term_node is not None
            else PaymentTerm.IN_ADVANCE
        )
    else:
        term = PaymentTerm.IN_ARREARS
        terms = [t.value for t in PaymentTerm]
        if term_node is not None and term_node.choice(terms, "payment term") != "in_arrears":
            raise term_node.error(f"{kind.value} prices are always in arrears")
    if "amount" in m:
        return PriceSpec(kind, amount=m["amount"].decimal(), payment_term=term)
    return PriceSpec(kind, payment_term=term, tiers=_tiers(m["tiers"]))


def _tiers(n: ScenarioNode) -> tuple[TierSpec, ...]:
    items = n.seq()
    if not items:
        raise n.error("a tiered price needs at least one tier")
    out: list[TierSpec] = []
    previous: Decimal | None = None
    for i, item in enumerate(items):
        m = item.mapping(("up_to", "unit_amount", "flat_amount"))
        last = i == len(items) - 1
        up_node = optional(m, "up_to")
        up_to = up_node.decimal(positive=True) if up_node is not None else None
        if up_to is None and not last:
            raise item.error("every tier but the last needs up_to", item.sub("up_to"))
        if up_to is not None and last:
            raise (up_node or item).error("the last tier must not have up_to (it is open-ended)")
        if up_to is not None and previous is not None and up_to <= previous:
            raise (up_node or item).error(f"up_to must increase from tier to tier ({up_to} <= {previous})")
        previous = up_to if up_to is not None else previous
        unit = optional(m, "unit_amount")
        flat = optional(m, "flat_amount")
        if unit is None and flat is None:
            raise item.error("a tier needs unit_amount, flat_amount or both")
        out.append(
            TierSpec(
                up_to=up_to,
                unit_amount=unit.decimal() if unit is not None else None,
                flat_amount=flat.decimal() if flat is not None else None,
            )
        )
    return tuple(out)


def rate_card(
    n: ScenarioNode, features: dict[str, FeatureSpec], plan_cadence: Duration, plan_cadence_text: str
) -> RateCardSpec:
    m = n.mapping(("key", "name", "feature", "billing_cadence", "price"))
    feature_node = optional(m, "feature")
    feature: str | None = None
    if feature_node is not None:
        feature = feature_node.key()
        if feature not in features:
            raise feature_node.error(missing_ref("feature", feature, features))
    key_node = optional(m, "key")
    if key_node is None:
        if feature is None:
            raise n.error("required field missing (a rate card without a feature needs a key)", n.sub("key"))
        key = feature
    else:
        key = key_node.key()
        if feature is not None and key != feature:
            raise key_node.error(
                f"a rate card with a feature must use the feature's key: key {key!r} != "
                f"feature {feature!r} (OpenMeter: rate_card_key_feature_key_mismatch)"
            )
        if feature is None and key in features:
            raise key_node.error(f"{key!r} is a feature key: reference it with feature: {key}")
    price_node = optional(m, "price")
    price = _price(price_node) if price_node is not None else None
    cadence_node = optional(m, "billing_cadence")
    cadence: Duration | None = None
    if cadence_node is not None:
        cadence = cadence_node.duration()
        if not cadences_align(plan_cadence, cadence):
            raise cadence_node.error(
                f"rate-card billing cadence {cadence_node.node.value} is not aligned with the plan's billing "
                f"cadence {plan_cadence_text} (it must equal, divide or be a multiple of it)"
            )
    if price is not None and price.kind.is_usage:
        if feature is None:
            raise n.error(f"a {price.kind.value} (usage) price needs a feature", n.sub("feature"))
        if cadence is None:
            raise n.error(
                f"a {price.kind.value} (usage) price needs a billing_cadence (only flat prices may be one-time)",
                n.sub("billing_cadence"),
            )
    return RateCardSpec(
        key=key, name=optional_text(m, "name") or key, feature=feature, billing_cadence=cadence, price=price
    )


_PLAN_KEYS = ("key", "name", "currency", "billing_cadence", "pro_rating", "settlement_mode", "phases")


def _plans(n: ScenarioNode, features: dict[str, FeatureSpec], customer: CustomerSpec) -> tuple[PlanSpec, ...]:
    items = n.seq()
    if not items:
        raise n.error("at least one plan is required")
    out: list[PlanSpec] = []
    seen: dict[str, int] = {}
    for item in items:
        m = item.mapping(_PLAN_KEYS, ("key", "currency", "billing_cadence", "phases"))
        key = m["key"].key()
        if key in seen:
            raise m["key"].error(f"duplicate plan key {key!r} (first at line {seen[key]})")
        seen[key] = m["key"].line
        currency = m["currency"].currency()
        if currency != customer.currency:
            raise m["currency"].error(f"plan currency {currency} differs from the customer's {customer.currency}")
        cadence_node = m["billing_cadence"]
        cadence = cadence_node.duration()
        cadence_text = str(cadence_node.node.value)
        if cadence not in {Duration.parse(c) for c in PLAN_CADENCES}:
            raise cadence_node.error(
                f"plan billing cadence {cadence_text} is not one OpenMeter accepts "
                f"(allowed: {', '.join(PLAN_CADENCES)})"
            )
        pro_rating = m["pro_rating"].boolean() if optional(m, "pro_rating") is not None else True
        mode_node = optional(m, "settlement_mode")
        mode = (
            SettlementMode(mode_node.choice([s.value for s in SettlementMode], "settlement mode"))
            if mode_node is not None
            else None
        )
        phases = _phases(m["phases"], features, cadence, cadence_text)
        out.append(
            PlanSpec(
                key=key,
                name=optional_text(m, "name") or key,
                currency=currency,
                billing_cadence=cadence,
                phases=phases,
                pro_rating=pro_rating,
                settlement_mode=mode,
            )
        )
    return tuple(out)


def _phases(
    n: ScenarioNode, features: dict[str, FeatureSpec], cadence: Duration, cadence_text: str
) -> tuple[PhaseSpec, ...]:
    items = n.seq()
    if not items:
        raise n.error("a plan needs at least one phase")
    out: list[PhaseSpec] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        m = item.mapping(("key", "name", "duration", "rate_cards"), ("key",))
        key = m["key"].key()
        if key in seen:
            raise m["key"].error(f"duplicate phase key {key!r} (first at line {seen[key]})")
        seen[key] = m["key"].line
        duration_node = optional(m, "duration")
        if duration_node is None and i < len(items) - 1:
            raise item.error("only the last phase may be open-ended: set duration (e.g. P1M)", item.sub("duration"))
        duration = duration_node.duration() if duration_node is not None else None
        cards: list[RateCardSpec] = []
        card_lines: dict[str, int] = {}
        rc_node = optional(m, "rate_cards")
        for rc_item in rc_node.seq() if rc_node is not None else []:
            rc = rate_card(rc_item, features, cadence, cadence_text)
            if rc.key in card_lines:
                raise rc_item.error(
                    f"duplicate rate-card key {rc.key!r} in phase {key!r} (first at line {card_lines[rc.key]})"
                )
            card_lines[rc.key] = rc_item.line
            cards.append(rc)
        if not cards:  # OpenMeter refuses to publish such a plan: plan_phase_has_no_rate_cards (seen live)
            raise item.error(
                f"phase {key!r} has no rate cards; OpenMeter refuses to publish such a plan "
                "(plan_phase_has_no_rate_cards): give a free trial an unpriced item",
                item.sub("rate_cards"),
            )
        out.append(PhaseSpec(key=key, name=optional_text(m, "name") or key, duration=duration, rate_cards=tuple(cards)))
    return tuple(out)


def read_requires(n: ScenarioNode | None) -> Requires:
    if n is None:
        return Requires()
    m = n.mapping(("credits", "credit_then_invoice"))
    credits = m["credits"].boolean() if optional(m, "credits") is not None else True
    cti = m["credit_then_invoice"].boolean() if optional(m, "credit_then_invoice") is not None else credits
    if cti and not credits:
        raise m.get("credit_then_invoice", n).error(
            "credit_then_invoice: true needs credits: true (lines become charges only when both are on)"
        )
    return Requires(credits=credits, credit_then_invoice=cti)


def read_profile(n: ScenarioNode | None) -> Profile:
    if n is None:
        return Profile()
    m = n.mapping(("progressive_billing", "end_proration"))
    progressive = optional(m, "progressive_billing")
    proration = optional(m, "end_proration")
    modes = [e.value for e in EndProrationMode]
    return Profile(
        progressive_billing=progressive.boolean() if progressive is not None else None,
        end_proration=(EndProrationMode(proration.choice(modes, "end proration")) if proration is not None else None),
    )


def read_known_issues(n: ScenarioNode | None) -> tuple[str, ...]:
    if n is None:
        return ()
    out: list[str] = []
    for item in n.seq():
        value = item.text()
        if not _ISSUE.match(value):
            raise item.error(f"known issue {value!r} must read owner/repo#number (e.g. openmeterio/openmeter#4412)")
        out.append(value)
    return tuple(out)


__all__ = ["PLAN_CADENCES", "rate_card", "read_known_issues", "read_profile", "read_requires", "read_setup"]
