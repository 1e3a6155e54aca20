"""Plans of the offline OpenMeter: parsed strictly from a v1 or a v3 request, rendered in either
version, and the checks publishing makes.

Where each version keeps a field is :mod:`contract.wire.catalog`'s (the client writes its requests
from the same tables); one parser and one renderer serve both versions. What differs beyond a key's
spelling: v3 refuses unknown keys, names a rate card's feature by id and keeps its payment term on
the card; v1 names the feature by key and says the card's ``type``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from contract.model.domain import PaymentTerm, Price, SettlementMode
from contract.model.time import PLAN_CADENCES, Duration, cadences_align
from contract.offline.catalog.common import RESOURCE_FIELDS, currency_code
from contract.offline.prices import parse_choice, parse_payment_term, parse_price
from contract.offline.problems import Api, ApiError, Fields, Issue
from contract.wire.catalog import PHASE, PLAN, RATE_CARD, plan_body, rate_card_body
from contract.wire.prices import domain_price_body

__all__ = [
    "PLAN_CADENCES",
    "Plan",
    "PlanPhase",
    "PlanRateCard",
    "parse_plan_v1",
    "parse_plan_v3",
    "parse_rate_card_v1",
    "rate_card_issues",
    "validate_plan",
]


#: What v3 accepts (``additionalProperties: false``); v1 bodies are not checked for extra keys.
_V3_PLAN_KEYS = (*RESOURCE_FIELDS, "key", "currency", "billing_cadence", "pro_rating_enabled", "phases")
_V3_PHASE_KEYS = (*RESOURCE_FIELDS, "key", "duration", "rate_cards")
_V3_RATE_CARD_KEYS = (
    *RESOURCE_FIELDS,
    "key",
    "feature",
    "currency",
    "billing_cadence",
    "price",
    "unit_config",
    "payment_term",
    "commitments",
    "discounts",
    "tax_config",
    "entitlement",
)


class FeatureRef(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def key(self) -> str: ...


FeatureLookup = Callable[[str], FeatureRef | None]
FeatureById = FeatureLookup
FeatureByKey = FeatureLookup


@dataclass(frozen=True, slots=True)
class PlanRateCard:
    key: str
    name: str
    feature_id: str | None
    feature_key: str | None
    billing_cadence: Duration | None
    payment_term: PaymentTerm
    price: Price | None

    def body(self, api: Api) -> dict[str, Any]:
        flat = self.price is not None and self.price.is_flat
        return rate_card_body(
            api,
            self,
            price=domain_price_body(self.price, api),
            usage=self.price is not None and not flat,
            payment_term=self.payment_term.value if flat else None,
            feature_key=self.feature_key,
        )


@dataclass(frozen=True, slots=True)
class PlanPhase:
    key: str
    name: str
    duration: Duration | None
    rate_cards: tuple[PlanRateCard, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    key: str
    version: int
    name: str
    currency: str
    billing_cadence: Duration
    pro_rating: bool
    settlement_mode: SettlementMode
    phases: tuple[PlanPhase, ...]
    created_at: datetime
    status: str = "draft"  # draft -> active -> archived
    effective_from: datetime | None = None
    updated_at: datetime | None = None

    def body(self, api: Api) -> dict[str, Any]:
        return plan_body(
            api,
            self,
            id=self.id,
            version=self.version,
            status=self.status,
            created_at=self.created_at,
            updated_at=self.updated_at or self.created_at,
            effective_from=self.effective_from,
        )

    def v3(self) -> dict[str, Any]:
        return self.body("v3")

    def v1(self) -> dict[str, Any]:
        return self.body("v1")


def _settlement(value: str | None, field_name: str) -> SettlementMode:
    reason = "must be credit_then_invoice or credit_only"
    return parse_choice(value, field_name, SettlementMode, SettlementMode.CREDIT_THEN_INVOICE, reason)


def _check_phase_durations(phases: Sequence[PlanPhase], path: str) -> None:
    if not phases:
        raise ApiError.bad_field(path, "at least one phase is required", "minItems")
    for i, ph in enumerate(phases[:-1]):
        if ph.duration is None:
            raise ApiError.bad_field(f"{path}[{i}].duration", "only the last phase may omit its duration", "required")
    keys = [ph.key for ph in phases]
    if len(set(keys)) != len(keys):
        raise ApiError.bad_field(path, "phase keys must be unique", "uniqueItems")


def _feature(rc: Fields, api: Api, lookup: FeatureLookup) -> tuple[str | None, str | None]:
    """The rate card's feature as ``(id, key)``: v3 names it ``{"id"}``, v1 by key; it must exist."""
    if api == "v3":
        where = "feature"
        ref = rc.obj(where).req_str("id") if rc.has(where) else None
    else:
        where = RATE_CARD.key("feature_key", api)
        ref = rc.opt_str(where)
    if ref is None:
        return None, None
    feature = lookup(ref)
    if feature is None:
        raise ApiError.bad_field(rc.at(where), f"feature {ref} not found", "format")
    return feature.id, feature.key


def _rate_card(
    rc: Fields, api: Api, lookup: FeatureLookup, term: PaymentTerm, price: Callable[[], Price | None]
) -> PlanRateCard:
    """What v1 and v3 rate cards share: the feature, key, name and cadence, then ``price()``."""
    feature_id, feature_key = _feature(rc, api, lookup)
    key = rc.key("key") if api == "v3" else rc.req_str("key")
    name = rc.req_str("name")
    cadence = rc.opt_duration(RATE_CARD.key("billing_cadence", api))
    return PlanRateCard(key, name, feature_id, feature_key, cadence, term, price())


def _rate_card_v3(raw: Any, path: str, feature_by_id: FeatureById) -> PlanRateCard:
    rc = Fields(raw, path, allowed=_V3_RATE_CARD_KEYS)
    term = parse_payment_term(rc.opt_str("payment_term"), rc.at("payment_term"))
    return _rate_card(
        rc, "v3", feature_by_id, term, lambda: parse_price(rc.obj("price").data, rc.at("price"), "v3", term)
    )


def parse_rate_card_v1(raw: Any, path: str, feature_by_key: FeatureByKey) -> PlanRateCard:
    """A v1 rate card (plans, and ``add_item`` edits)."""
    rc = Fields(raw, path)
    kind = rc.req_str("type")
    if kind not in ("usage_based", "flat_fee"):
        raise ApiError.bad_field(rc.at("type"), "must be usage_based or flat_fee", "enum")
    price = parse_price(rc.raw("price"), rc.at("price"), "v1")
    if kind == "usage_based" and (price is None or price.is_flat):
        raise ApiError.bad_field(rc.at("price"), "usage_based rate cards need a unit or tiered price", "format")
    if kind == "flat_fee" and price is not None and not price.is_flat:
        raise ApiError.bad_field(rc.at("price"), "flat_fee rate cards need a flat price", "format")
    term = price.payment_term if price is not None else PaymentTerm.IN_ARREARS
    return _rate_card(rc, "v1", feature_by_key, term, lambda: price)


def _opt_bool_at(f: Fields, where: str) -> bool | None:
    """A boolean at a dotted path (v1 ``proRatingConfig.enabled``); a missing parent reads as None."""
    *parents, leaf = where.split(".")
    inner: Fields | None = f
    for part in parents:
        inner = inner.opt_obj(part) if inner is not None else None
    return inner.opt_bool(leaf) if inner is not None else None


def _parse_plan(
    f: Fields, api: Api, rate_card: Callable[[Any, str], PlanRateCard], *, new_id: str, version: int, now: datetime
) -> Plan:
    key = f.key("key")
    phases: list[PlanPhase] = []
    cards_key = PHASE.key("rate_cards", api)
    for i, raw in enumerate(f.items("phases", required=True)):
        ph = Fields(raw, f"{f.at('phases')}[{i}]", allowed=_V3_PHASE_KEYS if api == "v3" else None)
        cards = tuple(
            rate_card(rc, f"{ph.at(cards_key)}[{j}]") for j, rc in enumerate(ph.items(cards_key, required=True))
        )
        phases.append(PlanPhase(ph.key("key"), ph.req_str("name"), ph.opt_duration("duration"), cards))
    _check_phase_durations(phases, f.at("phases"))
    cadence_key = PLAN.key("billing_cadence", api)
    cadence = f.opt_duration(cadence_key)
    if cadence is None:
        raise ApiError.bad_field(f.at(cadence_key), "required", "required")
    currency = currency_code(f, "currency", required=True)
    assert currency is not None
    pro_rating = _opt_bool_at(f, PLAN.key("pro_rating_enabled", api))
    settlement_key = PLAN.key("settlement_mode", api)
    return Plan(
        new_id,
        key,
        version,
        f.req_str("name"),
        currency,
        cadence,
        True if pro_rating is None else pro_rating,
        _settlement(f.opt_str(settlement_key), f.at(settlement_key)),
        tuple(phases),
        now,
    )


def parse_plan_v3(
    body: Any,
    *,
    new_id: str,
    version: int,
    now: datetime,
    feature_by_id: FeatureById,
    accept_settlement_mode: bool = True,
) -> Plan:
    """A v3 plan; a build without v3 ``settlement_mode`` refuses the key (``accept_settlement_mode``)."""
    allowed = (*_V3_PLAN_KEYS, "settlement_mode") if accept_settlement_mode else _V3_PLAN_KEYS
    f = Fields(body, allowed=allowed)

    def rate_card(raw: Any, path: str) -> PlanRateCard:
        return _rate_card_v3(raw, path, feature_by_id)

    return _parse_plan(f, "v3", rate_card, new_id=new_id, version=version, now=now)


def parse_plan_v1(body: Any, *, new_id: str, version: int, now: datetime, feature_by_key: FeatureByKey) -> Plan:
    def rate_card(raw: Any, path: str) -> PlanRateCard:
        return parse_rate_card_v1(raw, path, feature_by_key)

    return _parse_plan(Fields(body), "v1", rate_card, new_id=new_id, version=version, now=now)


def rate_card_issues(card: PlanRateCard, plan_cadence: Duration, where: str) -> list[Issue]:
    """What publishing (and a v1 ``add_item`` edit) checks of one rate card at ``where``."""
    issues: list[Issue] = []
    if card.feature_key is not None and card.key != card.feature_key:
        issues.append(
            Issue("rate_card_key_feature_key_mismatch", "rate card key must match feature key", f"{where}.key")
        )
    if card.price is not None and not card.price.is_flat and card.feature_key is None:
        issues.append(
            Issue("usage_based_price_with_no_feature", "usage based price must have a feature", f"{where}.feature")
        )
    cadence = card.billing_cadence
    if card.price is not None and cadence is not None and not cadences_align(plan_cadence, cadence):
        reason = "ratecards with prices must have compatible billing cadence"
        issues.append(Issue("rate_card_billing_cadence_unaligned", reason, f"{where}.billing_cadence", "warning"))
    return issues


def validate_plan(plan: Plan) -> list[Issue]:
    """What publishing checks (upstream productcatalog validation, the parts the suite meets)."""
    issues: list[Issue] = []
    if str(plan.billing_cadence) not in PLAN_CADENCES:
        reason = f"billing cadence must be one of {', '.join(PLAN_CADENCES)}"
        issues.append(Issue("plan_billing_cadence_invalid", reason, "billing_cadence"))
    for i, ph in enumerate(plan.phases):
        for j, rc in enumerate(ph.rate_cards):
            issues += rate_card_issues(rc, plan.billing_cadence, f"phases[{i}].rate_cards[{j}]")
    return issues
