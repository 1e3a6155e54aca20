"""The offline OpenMeter's resources other than subscriptions: meters, features, customers, billing
profiles, credit grants, plans and usage events — each a frozen value, parsed strictly from the
request body it is created with, and rendered the way the live server answers (shared/openmeter/
recorded/head-4412.jsonl; public-api.md §2, §7).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from contract.model.domain import EndProrationMode, PaymentTerm, Price, SettlementMode, SyncConfig
from contract.model.time import Duration, Period, cadences_align, floor_second, format_time
from contract.offline.prices import (
    numeric,
    parse_payment_term,
    parse_price_v1,
    parse_price_v3,
    price_v1,
    price_v3,
)
from contract.offline.problems import ApiError, Fields, Issue

__all__ = [
    "AGGREGATIONS",
    "PLAN_CADENCES",
    "Customer",
    "Feature",
    "Grant",
    "Meter",
    "Plan",
    "PlanPhase",
    "PlanRateCard",
    "Profile",
    "UsageEvent",
    "aggregate",
    "default_profile",
    "invoice_workflow_v1",
    "parse_customer",
    "parse_event",
    "parse_feature",
    "parse_grant",
    "parse_meter",
    "parse_plan_v1",
    "parse_plan_v3",
    "parse_profile",
    "parse_rate_card_v1",
    "validate_plan",
]

AGGREGATIONS = ("sum", "count", "unique_count", "avg", "min", "max", "latest")
PLAN_CADENCES = ("P1W", "P2W", "P4W", "P1M", "P3M", "P6M", "P12M", "P1Y")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MAX_EXTERNAL_KEY = 256
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _t(value: datetime) -> str:
    return format_time(value)


def _currency(f: Fields, name: str, *, required: bool = False) -> str | None:
    value = f.req_str(name) if required else f.opt_str(name)
    if value is not None and not _CURRENCY.match(value):
        raise ApiError.bad_field(f.at(name), f"not a currency code: {value!r}", "pattern")
    return value


# ------------------------------------------------------------------------------ meters, features


@dataclass(frozen=True, slots=True)
class Meter:
    id: str
    key: str
    name: str
    aggregation: str
    event_type: str
    value_property: str | None
    created_at: datetime

    def v3(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "aggregation": self.aggregation,
            "created_at": _t(self.created_at),
            "dimensions": None,
            "event_type": self.event_type,
            "id": self.id,
            "key": self.key,
            "labels": {},
            "name": self.name,
            "updated_at": _t(self.created_at),
        }
        if self.value_property is not None:
            body["value_property"] = self.value_property
        return body


def parse_meter(body: Any, *, new_id: str, now: datetime) -> Meter:
    f = Fields(
        body,
        allowed=(
            "name",
            "description",
            "labels",
            "key",
            "aggregation",
            "event_type",
            "events_from",
            "value_property",
            "dimensions",
        ),
    )
    key = f.key("key")
    aggregation = f.req_str("aggregation")
    if aggregation not in AGGREGATIONS:
        raise ApiError.bad_field(f.at("aggregation"), f"must be one of {', '.join(AGGREGATIONS)}", "enum")
    value_property = f.opt_str("value_property")
    if aggregation != "count" and value_property is None:
        raise ApiError.bad_field(f.at("value_property"), f"required for {aggregation} meters", "required")
    if value_property is not None and not value_property.startswith("$"):
        raise ApiError.bad_field(f.at("value_property"), "must be a JSONPath starting with $", "pattern")
    return Meter(new_id, key, f.req_str("name"), aggregation, f.req_str("event_type"), value_property, now)


@dataclass(frozen=True, slots=True)
class Feature:
    id: str
    key: str
    name: str
    meter_id: str | None
    created_at: datetime

    def v3(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "created_at": _t(self.created_at),
            "id": self.id,
            "key": self.key,
            "labels": {},
            "name": self.name,
            "updated_at": _t(self.created_at),
        }
        if self.meter_id is not None:
            body["meter"] = {"id": self.meter_id}
        return body

    def v1(self, meter: Meter | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "createdAt": _t(self.created_at),
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "updatedAt": _t(self.created_at),
        }
        if meter is not None:
            body["meterSlug"] = meter.key
        return body


def parse_feature(body: Any, *, new_id: str, now: datetime) -> tuple[Feature, str | None]:
    """The feature and the meter id it references (the caller checks that meter exists)."""
    f = Fields(body, allowed=("name", "description", "labels", "key", "meter", "unit_cost"))
    key = f.key("key")
    meter = f.opt_obj("meter", allowed=("id", "filters"))
    meter_id = meter.req_str("id") if meter is not None else None
    return Feature(new_id, key, f.req_str("name"), meter_id, now), meter_id


# ------------------------------------------------------------------------------ customers, profiles


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    key: str
    name: str
    currency: str | None
    subject_keys: tuple[str, ...]
    created_at: datetime
    profile_id: str | None = None  # a pinned billing profile; None: the default profile

    def usage_subjects(self) -> frozenset[str]:
        """Event subjects attributed to this customer: its key and its subject keys."""
        return frozenset((self.key, *self.subject_keys))

    def v3(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "created_at": _t(self.created_at),
            "id": self.id,
            "key": self.key,
            "labels": {},
            "name": self.name,
            "updated_at": _t(self.created_at),
            "usage_attribution": {"subject_keys": list(self.subject_keys)},
        }
        if self.currency is not None:
            body["currency"] = self.currency
        return body

    def v1_ref(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "usageAttribution": {"subjectKeys": list(self.subject_keys)},
        }


def parse_customer(body: Any, *, new_id: str, now: datetime) -> Customer:
    f = Fields(
        body,
        allowed=(
            "name",
            "description",
            "labels",
            "key",
            "usage_attribution",
            "primary_email",
            "currency",
            "billing_address",
        ),
    )
    key = f.req_str("key")
    if not key.strip() or len(key) > _MAX_EXTERNAL_KEY:
        raise ApiError.bad_field(f.at("key"), f"must be 1 to {_MAX_EXTERNAL_KEY} characters", "maxLength")
    attribution = f.opt_obj("usage_attribution", allowed=("subject_keys",))
    subjects: list[str] = []
    if attribution is not None:
        for i, raw in enumerate(attribution.items("subject_keys")):
            if not isinstance(raw, str) or not raw:
                raise ApiError.bad_field(
                    f"{attribution.at('subject_keys')}[{i}]", "expected a non-empty string", "type"
                )
            subjects.append(raw)
    return Customer(new_id, key, f.req_str("name"), _currency(f, "currency"), tuple(subjects), now)


@dataclass(frozen=True, slots=True)
class Profile:
    """A billing profile; ``workflow``/``supplier``/``apps`` are kept as the v3 JSON objects."""

    id: str
    name: str
    default: bool
    supplier: Mapping[str, Any] = field(hash=False)
    workflow: Mapping[str, Any] = field(hash=False)
    apps: Mapping[str, Any] = field(hash=False)
    created_at: datetime

    def invoicing(self) -> Mapping[str, Any]:
        value = self.workflow.get("invoicing")
        return value if isinstance(value, Mapping) else _EMPTY

    def sync_config(self, base: SyncConfig) -> SyncConfig:
        """``base`` with this profile's progressive billing and subscription-end proration."""
        invoicing = self.invoicing()
        progressive = invoicing.get("progressive_billing")
        mode = invoicing.get("subscription_end_proration_mode")
        end = base.end_proration
        if isinstance(mode, str):
            try:
                end = EndProrationMode(mode)
            except ValueError:
                end = base.end_proration
        return SyncConfig(
            credits_enabled=base.credits_enabled,
            credit_then_invoice=base.credit_then_invoice,
            namespace_credits_gate=base.namespace_credits_gate,
            end_proration=end,
            progressive_billing=progressive if isinstance(progressive, bool) else base.progressive_billing,
            auto_advance=base.auto_advance,
        )

    def v3(self) -> dict[str, Any]:
        return {
            "apps": dict(self.apps),
            "created_at": _t(self.created_at),
            "default": self.default,
            "id": self.id,
            "labels": {},
            "name": self.name,
            "supplier": dict(self.supplier),
            "updated_at": _t(self.created_at),
            "workflow": _plain(self.workflow),
        }


_SANDBOX_LISTING = {
    "capabilities": [
        {
            "description": "Process payments",
            "key": "sandbox_collect_payment",
            "name": "Payment",
            "type": "collectPayments",
        },
        {
            "description": "Calculate tax for a payment",
            "key": "sandbox_calculate_tax",
            "name": "Calculate Tax",
            "type": "calculateTax",
        },
        {
            "description": "Invoice a customer",
            "key": "sandbox_invoice_customer",
            "name": "Invoice Customer",
            "type": "invoiceCustomers",
        },
    ],
    "description": "Sandbox can be used to test OpenMeter without external connections.",
    "installMethods": ["no_credentials_required"],
    "name": "Sandbox",
    "type": "sandbox",
}


def _camel(value: Any) -> Any:
    """v3 snake_case keys as v1 camelCase (``auto_advance`` -> ``autoAdvance``)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            head, *rest = str(key).split("_")
            out[head + "".join(part.title() for part in rest)] = _camel(inner)
        return out
    if isinstance(value, list | tuple):
        return [_camel(v) for v in value]
    return value


def invoice_workflow_v1(profile: Profile, app_created_at: datetime) -> dict[str, Any]:
    """The ``workflow`` snapshot a v1 invoice carries: the profile's apps (the sandbox app) and settings."""
    apps: dict[str, Any] = {}
    for role, ref in profile.apps.items():
        app_id = ref.get("id") if isinstance(ref, Mapping) else None
        apps[role] = {
            "createdAt": _t(app_created_at),
            "id": app_id,
            "listing": _plain(_SANDBOX_LISTING),
            "name": "Sandbox",
            "status": "ready",
            "type": "sandbox",
            "updatedAt": _t(app_created_at),
        }
    settings = _camel(profile.workflow)
    invoicing = settings.setdefault("invoicing", {})
    if isinstance(invoicing, dict):
        invoicing.setdefault("dueAfter", "P30D")
    return {"apps": apps, "sourceBillingProfileId": profile.id, "workflow": settings}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def default_profile(config: SyncConfig, *, profile_id: str, app_id: str, supplier_id: str, now: datetime) -> Profile:
    """The auto-provisioned ``openmeter-sandbox`` profile; its invoicing settings are ``config``'s."""
    workflow = {
        "collection": {"alignment": {"type": "subscription"}, "interval": "PT1H"},
        "invoicing": {
            "auto_advance": True,
            "draft_period": "P0D",
            "progressive_billing": config.progressive_billing,
            "subscription_end_proration_mode": config.end_proration.value,
        },
        "payment": {"collection_method": "charge_automatically"},
        "tax": {"enabled": True, "enforced": False},
    }
    app = {"id": app_id}
    return Profile(
        profile_id,
        "openmeter-sandbox",
        True,
        {"id": supplier_id, "name": "OpenMeter", "addresses": [{"country": "US"}]},
        workflow,
        {"tax": app, "invoicing": app, "payment": app},
        now,
    )


_PROGRESSIVE_MODES = tuple(m.value for m in EndProrationMode)


def parse_profile(body: Any, *, new_id: str, now: datetime, known_apps: Sequence[str]) -> Profile:
    f = Fields(body, allowed=("name", "description", "labels", "supplier", "workflow", "apps", "default"))
    name = f.req_str("name")
    default = f.opt_bool("default")
    if default is None:
        raise ApiError.bad_field(f.at("default"), "required", "required")
    supplier = f.obj("supplier", allowed=("id", "key", "name", "tax_id", "addresses"))
    if supplier.has("id"):
        raise ApiError.bad_field(supplier.at("id"), "read-only property", "readOnly")
    workflow = f.obj("workflow", allowed=("collection", "invoicing", "payment", "tax"))
    invoicing = workflow.opt_obj(
        "invoicing",
        allowed=(
            "auto_advance",
            "draft_period",
            "progressive_billing",
            "subscription_end_proration_mode",
            "due_after",
        ),
    )
    if invoicing is not None:
        invoicing.opt_bool("progressive_billing")
        invoicing.opt_bool("auto_advance")
        mode = invoicing.opt_str("subscription_end_proration_mode")
        if mode is not None and mode not in _PROGRESSIVE_MODES:
            raise ApiError.bad_field(
                invoicing.at("subscription_end_proration_mode"),
                f"must be one of {', '.join(_PROGRESSIVE_MODES)}",
                "enum",
            )
    apps = f.obj("apps", allowed=("tax", "invoicing", "payment"))
    refs: dict[str, Any] = {}
    for role in ("tax", "invoicing", "payment"):
        app_id = apps.obj(role, allowed=("id",)).req_str("id")
        if app_id not in known_apps:
            raise ApiError.bad_field(apps.at(role), f"app {app_id} not found", "format")
        refs[role] = {"id": app_id}
    return Profile(new_id, name, default, _plain(supplier.data), _plain(workflow.data), refs, now)


# ------------------------------------------------------------------------------ credit grants


@dataclass(frozen=True, slots=True)
class Grant:
    id: str
    customer_id: str
    name: str
    funding_method: str
    currency: str
    amount: Decimal
    priority: int
    key: str | None
    created_at: datetime

    def v3(self, tax_code_id: str) -> dict[str, Any]:
        return {
            "amount": numeric(self.amount),
            "created_at": _t(self.created_at),
            "currency": self.currency,
            "funding_method": self.funding_method,
            "id": self.id,
            "labels": {},
            "name": self.name,
            "priority": self.priority,
            "status": "active",
            "tax_config": {"tax_code": {"id": tax_code_id}},
            "updated_at": _t(self.created_at),
        }


def parse_grant(body: Any, *, new_id: str, customer_id: str, now: datetime) -> Grant:
    f = Fields(
        body,
        allowed=(
            "name",
            "description",
            "labels",
            "funding_method",
            "currency",
            "amount",
            "purchase",
            "tax_config",
            "filters",
            "priority",
            "effective_at",
            "expires_after",
            "key",
        ),
    )
    method = f.req_str("funding_method")
    if method not in ("none", "invoice", "external"):
        raise ApiError.bad_field(f.at("funding_method"), "must be one of none, invoice, external", "enum")
    amount = f.numeric("amount")
    if amount <= 0:
        raise ApiError.bad_field(f.at("amount"), "must be greater than 0", "minimum")
    currency = _currency(f, "currency", required=True)
    assert currency is not None
    f.opt_time("effective_at")
    f.opt_duration("expires_after")
    priority = f.opt_int("priority")
    return Grant(
        new_id,
        customer_id,
        f.req_str("name"),
        method,
        currency,
        amount,
        10 if priority is None else priority,
        f.opt_str("key"),
        now,
    )


# ------------------------------------------------------------------------------ plans


@dataclass(frozen=True, slots=True)
class PlanRateCard:
    key: str
    name: str
    feature_id: str | None
    feature_key: str | None
    billing_cadence: Duration | None
    payment_term: PaymentTerm
    price: Price | None

    def v3(self) -> dict[str, Any]:
        body: dict[str, Any] = {"key": self.key, "name": self.name}
        if self.billing_cadence is not None:
            body["billing_cadence"] = str(self.billing_cadence)
        if self.feature_id is not None:
            body["feature"] = {"id": self.feature_id}
        if self.price is not None and self.price.is_flat:
            body["payment_term"] = self.payment_term.value
        body["price"] = price_v3(self.price)
        return body


@dataclass(frozen=True, slots=True)
class PlanPhase:
    key: str
    name: str
    duration: Duration | None
    rate_cards: tuple[PlanRateCard, ...]

    def v3(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "key": self.key,
            "name": self.name,
            "rate_cards": [rc.v3() for rc in self.rate_cards],
        }
        if self.duration is not None:
            body["duration"] = str(self.duration)
        return body


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

    def v3(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "billing_cadence": str(self.billing_cadence),
            "created_at": _t(self.created_at),
            "currency": self.currency,
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "phases": [ph.v3() for ph in self.phases],
            "pro_rating_enabled": self.pro_rating,
            "settlement_mode": self.settlement_mode.value,
            "status": self.status,
            "updated_at": _t(self.updated_at or self.created_at),
            "version": self.version,
        }
        if self.effective_from is not None:
            body["effective_from"] = _t(self.effective_from)
        return body

    def v1(self) -> dict[str, Any]:
        phases = []
        for ph in self.phases:
            cards = []
            for rc in ph.rate_cards:
                card: dict[str, Any] = {
                    "type": "flat_fee" if rc.price is None or rc.price.is_flat else "usage_based",
                    "key": rc.key,
                    "name": rc.name,
                    "billingCadence": str(rc.billing_cadence) if rc.billing_cadence else None,
                    "price": price_v1(rc.price),
                }
                if rc.feature_key is not None:
                    card["featureKey"] = rc.feature_key
                cards.append(card)
            phases.append(
                {
                    "key": ph.key,
                    "name": ph.name,
                    "duration": str(ph.duration) if ph.duration is not None else None,
                    "rateCards": cards,
                }
            )
        body: dict[str, Any] = {
            "billingCadence": str(self.billing_cadence),
            "createdAt": _t(self.created_at),
            "currency": self.currency,
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "phases": phases,
            "proRatingConfig": {"enabled": self.pro_rating, "mode": "prorate_prices"},
            "settlementMode": self.settlement_mode.value,
            "status": self.status,
            "updatedAt": _t(self.updated_at or self.created_at),
            "version": self.version,
        }
        if self.effective_from is not None:
            body["effectiveFrom"] = _t(self.effective_from)
        return body


FeatureById = Callable[[str], Feature | None]
FeatureByKey = Callable[[str], Feature | None]


def _settlement(value: str | None, field_name: str) -> SettlementMode:
    if value is None:
        return SettlementMode.CREDIT_THEN_INVOICE
    try:
        return SettlementMode(value)
    except ValueError:
        raise ApiError.bad_field(field_name, "must be credit_then_invoice or credit_only", "enum") from None


def _check_phase_durations(phases: Sequence[PlanPhase], path: str) -> None:
    if not phases:
        raise ApiError.bad_field(path, "at least one phase is required", "minItems")
    for i, ph in enumerate(phases[:-1]):
        if ph.duration is None:
            raise ApiError.bad_field(f"{path}[{i}].duration", "only the last phase may omit its duration", "required")
    keys = [ph.key for ph in phases]
    if len(set(keys)) != len(keys):
        raise ApiError.bad_field(path, "phase keys must be unique", "uniqueItems")


def parse_plan_v3(
    body: Any,
    *,
    new_id: str,
    version: int,
    now: datetime,
    feature_by_id: FeatureById,
    accept_settlement_mode: bool = True,
) -> Plan:
    allowed = [
        "name",
        "description",
        "labels",
        "key",
        "currency",
        "billing_cadence",
        "pro_rating_enabled",
        "phases",
    ]
    if accept_settlement_mode:
        allowed.append("settlement_mode")
    f = Fields(body, allowed=allowed)
    key = f.key("key")
    phases: list[PlanPhase] = []
    for i, raw in enumerate(f.items("phases", required=True)):
        ph = Fields(
            raw,
            f"{f.at('phases')}[{i}]",
            allowed=("name", "description", "labels", "key", "duration", "rate_cards"),
        )
        cards: list[PlanRateCard] = []
        for j, rc_raw in enumerate(ph.items("rate_cards", required=True)):
            rc = Fields(
                rc_raw,
                f"{ph.at('rate_cards')}[{j}]",
                allowed=(
                    "name",
                    "description",
                    "labels",
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
                ),
            )
            term = parse_payment_term(rc.opt_str("payment_term"), rc.at("payment_term"))
            feature_id = rc.obj("feature").req_str("id") if rc.has("feature") else None
            feature_key = None
            if feature_id is not None:
                feature = feature_by_id(feature_id)
                if feature is None:
                    raise ApiError.bad_field(rc.at("feature"), f"feature {feature_id} not found", "format")
                feature_key = feature.key
            cards.append(
                PlanRateCard(
                    key=rc.key("key"),
                    name=rc.req_str("name"),
                    feature_id=feature_id,
                    feature_key=feature_key,
                    billing_cadence=rc.opt_duration("billing_cadence"),
                    payment_term=term,
                    price=parse_price_v3(rc.obj("price").data, term, rc.at("price")),
                )
            )
        phases.append(PlanPhase(ph.key("key"), ph.req_str("name"), ph.opt_duration("duration"), tuple(cards)))
    _check_phase_durations(phases, f.at("phases"))
    cadence = f.opt_duration("billing_cadence")
    if cadence is None:
        raise ApiError.bad_field(f.at("billing_cadence"), "required", "required")
    currency = _currency(f, "currency", required=True)
    assert currency is not None
    pro_rating = f.opt_bool("pro_rating_enabled")
    return Plan(
        new_id,
        key,
        version,
        f.req_str("name"),
        currency,
        cadence,
        True if pro_rating is None else pro_rating,
        _settlement(f.opt_str("settlement_mode"), f.at("settlement_mode")),
        tuple(phases),
        now,
    )


def parse_rate_card_v1(raw: Any, path: str, feature_by_key: FeatureByKey) -> PlanRateCard:
    """A v1 rate card (plans, and ``add_item`` edits)."""
    rc = Fields(raw, path)
    kind = rc.req_str("type")
    if kind not in ("usage_based", "flat_fee"):
        raise ApiError.bad_field(rc.at("type"), "must be usage_based or flat_fee", "enum")
    price = parse_price_v1(rc.raw("price"), rc.at("price"))
    if kind == "usage_based" and (price is None or price.is_flat):
        raise ApiError.bad_field(rc.at("price"), "usage_based rate cards need a unit or tiered price", "format")
    if kind == "flat_fee" and price is not None and not price.is_flat:
        raise ApiError.bad_field(rc.at("price"), "flat_fee rate cards need a flat price", "format")
    feature_key = rc.opt_str("featureKey")
    feature_id = None
    if feature_key is not None:
        feature = feature_by_key(feature_key)
        if feature is None:
            raise ApiError.bad_field(rc.at("featureKey"), f"feature {feature_key} not found", "format")
        feature_id = feature.id
    return PlanRateCard(
        key=rc.req_str("key"),
        name=rc.req_str("name"),
        feature_id=feature_id,
        feature_key=feature_key,
        billing_cadence=rc.opt_duration("billingCadence"),
        payment_term=price.payment_term if price is not None else PaymentTerm.IN_ARREARS,
        price=price,
    )


def parse_plan_v1(body: Any, *, new_id: str, version: int, now: datetime, feature_by_key: FeatureByKey) -> Plan:
    f = Fields(body)
    key = f.key("key")
    phases: list[PlanPhase] = []
    for i, raw in enumerate(f.items("phases", required=True)):
        ph = Fields(raw, f"{f.at('phases')}[{i}]")
        cards = tuple(
            parse_rate_card_v1(rc, f"{ph.at('rateCards')}[{j}]", feature_by_key)
            for j, rc in enumerate(ph.items("rateCards", required=True))
        )
        phases.append(PlanPhase(ph.key("key"), ph.req_str("name"), ph.opt_duration("duration"), cards))
    _check_phase_durations(phases, f.at("phases"))
    cadence = f.opt_duration("billingCadence")
    if cadence is None:
        raise ApiError.bad_field(f.at("billingCadence"), "required", "required")
    currency = _currency(f, "currency", required=True)
    assert currency is not None
    pro = f.opt_obj("proRatingConfig")
    enabled = pro.opt_bool("enabled") if pro is not None else None
    return Plan(
        new_id,
        key,
        version,
        f.req_str("name"),
        currency,
        cadence,
        True if enabled is None else enabled,
        _settlement(f.opt_str("settlementMode"), f.at("settlementMode")),
        tuple(phases),
        now,
    )


def validate_plan(plan: Plan) -> list[Issue]:
    """What publishing checks (upstream productcatalog validation, the parts the suite meets)."""
    issues: list[Issue] = []
    if str(plan.billing_cadence) not in PLAN_CADENCES:
        issues.append(
            Issue(
                "plan_billing_cadence_invalid",
                f"billing cadence must be one of {', '.join(PLAN_CADENCES)}",
                "billing_cadence",
            )
        )
    for i, ph in enumerate(plan.phases):
        for j, rc in enumerate(ph.rate_cards):
            where = f"phases[{i}].rate_cards[{j}]"
            if rc.feature_key is not None and rc.key != rc.feature_key:
                issues.append(
                    Issue(
                        "rate_card_key_feature_key_mismatch",
                        "rate card key must match feature key",
                        f"{where}.key",
                    )
                )
            if rc.price is not None and not rc.price.is_flat and rc.feature_key is None:
                issues.append(
                    Issue(
                        "usage_based_price_with_no_feature",
                        "usage based price must have a feature",
                        f"{where}.feature",
                    )
                )
            if (
                rc.price is not None
                and rc.billing_cadence is not None
                and not cadences_align(plan.billing_cadence, rc.billing_cadence)
            ):
                issues.append(
                    Issue(
                        "rate_card_billing_cadence_unaligned",
                        "ratecards with prices must have compatible billing cadence",
                        f"{where}.billing_cadence",
                        "warning",
                    )
                )
    return issues


# ------------------------------------------------------------------------------ usage events


@dataclass(frozen=True, slots=True)
class UsageEvent:
    id: str
    source: str
    type: str
    subject: str
    time: datetime
    data: Mapping[str, Any] = field(hash=False)


def parse_event(raw: Any, path: str, *, now: datetime) -> UsageEvent:
    """One CloudEvent; without ``time`` it happened ``now`` (when it was received)."""
    f = Fields(raw, path)
    spec = f.req_str("specversion")
    if spec != "1.0":
        raise ApiError.bad_field(f.at("specversion"), "must be 1.0", "enum")
    time = f.opt_time("time")
    data = f.raw("data")
    if data is not None and not isinstance(data, Mapping):
        raise ApiError.bad_field(f.at("data"), "expected an object", "type")
    return UsageEvent(
        f.req_str("id"),
        f.req_str("source"),
        f.req_str("type"),
        f.req_str("subject"),
        time if time is not None else now,
        MappingProxyType(dict(data or {})),
    )


def _json_path(data: Mapping[str, Any], path: str) -> Any:
    """``$.a.b`` lookups (the value properties meters use)."""
    value: Any = data
    for part in path.removeprefix("$").strip(".").split("."):
        if not part:
            continue
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _event_value(event: UsageEvent, meter: Meter) -> Decimal | None:
    if meter.value_property is None:
        return Decimal(1)
    raw = _json_path(event.data, meter.value_property)
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        return Decimal(raw if isinstance(raw, str) else str(raw))
    except ArithmeticError:
        return None


def aggregate(
    meter: Meter,
    events: Sequence[UsageEvent],
    *,
    subjects: frozenset[str] | None = None,
    period: Period | None = None,
) -> tuple[Decimal, Period] | None:
    """The meter's value over ``events`` (its event type; optional subjects and ``[from, to)``), and
    the minute-aligned window the rows cover; None when no event counts."""
    values: list[tuple[datetime, Decimal]] = []
    for event in events:
        if event.type != meter.event_type:
            continue
        if subjects is not None and event.subject not in subjects:
            continue
        if period is not None and not period.start <= event.time < period.end:
            continue
        if meter.aggregation == "count":
            values.append((event.time, Decimal(1)))
            continue
        value = _event_value(event, meter)
        if value is not None and value.is_finite():
            values.append((event.time, value))
    if not values:
        return None
    amounts = [v for _, v in values]
    match meter.aggregation:
        case "count" | "sum":
            total = sum(amounts, Decimal(0))
        case "min":
            total = min(amounts)
        case "max":
            total = max(amounts)
        case "avg":
            total = sum(amounts, Decimal(0)) / len(amounts)
        case "latest":
            total = max(values, key=lambda tv: tv[0])[1]
        case _:  # unique_count
            total = Decimal(len(set(amounts)))
    first = floor_second(min(t for t, _ in values)).replace(second=0)
    last = floor_second(max(t for t, _ in values)).replace(second=0) + timedelta(minutes=1)
    return total, Period(first, last)
