"""Typed views of OpenMeter responses, parsed at the edge.

One model per thing the suite reads, whichever API version (v1 camelCase, v3 snake_case) or build
(HEAD, #4412 window) it came from. Parsing rules:

* timestamps via :func:`contract.model.time.parse_time` — UTC, microseconds kept;
* money and quantities as :class:`~decimal.Decimal` (OpenMeter normalises ``"0.10"`` to ``"0.1"``;
  the Decimal compares equal either way);
* unknown extra fields are ignored; a ``null`` list (Go's nil slice) reads as empty;
* prices in one vocabulary (v1's, shared with :mod:`contract.model.domain`): v3 ``graduated`` /
  ``volume`` become ``type="tiered"`` with ``mode="graduated"`` / ``"volume"``;
* v1 invoice lines carry the subscription id and the item id swapped (upstream
  ``mapSubscriptionReferencesToAPI``); :meth:`InvoiceLine.from_v1` swaps them back.

A body that lacks a needed field raises :class:`~contract.client._parse.ShapeError` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from contract.client import _parse as p
from contract.model.domain import PaymentTerm, PriceType, SettlementMode, Tier
from contract.model.domain import Price as DomainPrice
from contract.model.time import Period

ApiVersion = Literal["v1", "v3"]


def _settlement(data: Mapping[str, Any], key: str, path: str) -> SettlementMode | None:
    raw = p.opt_str(data, key, path)
    if raw is None:
        return None
    try:
        return SettlementMode(raw)
    except ValueError:
        raise p.ShapeError(p.join(path, key), f"unknown settlement mode {raw!r}") from None


# --------------------------------------------------------------------------------------- basics


@dataclass(frozen=True, slots=True)
class ServerVersion:
    version: str
    os: str | None = None
    arch: str | None = None

    @classmethod
    def from_api(cls, data: Any) -> ServerVersion:
        d = p.obj(data)
        return cls(version=p.req_str(d, "version"), os=p.opt_str(d, "os"), arch=p.opt_str(d, "arch"))


@dataclass(frozen=True, slots=True)
class Meter:
    id: str
    key: str
    name: str
    event_type: str
    aggregation: str
    value_property: str | None = None
    created_at: datetime | None = None

    @classmethod
    def from_v3(cls, data: Any) -> Meter:
        d = p.obj(data)
        return cls(
            id=p.req_str(d, "id"),
            key=p.req_str(d, "key"),
            name=p.opt_str(d, "name") or "",
            event_type=p.req_str(d, "event_type"),
            aggregation=p.req_str(d, "aggregation"),
            value_property=p.opt_str(d, "value_property"),
            created_at=p.opt_time(d, "created_at"),
        )


@dataclass(frozen=True, slots=True)
class Feature:
    id: str
    key: str
    name: str
    meter_id: str | None = None

    @classmethod
    def from_v3(cls, data: Any) -> Feature:
        d = p.obj(data)
        return cls(
            id=p.req_str(d, "id"),
            key=p.req_str(d, "key"),
            name=p.opt_str(d, "name") or "",
            meter_id=p.nested_id(d, "meter"),
        )


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    key: str
    name: str
    currency: str | None = None
    subject_keys: tuple[str, ...] = ()

    @classmethod
    def from_v3(cls, data: Any) -> Customer:
        d = p.obj(data)
        attribution = p.opt_obj(d, "usage_attribution") or {}
        keys = p.items(attribution, "subject_keys", "usage_attribution")
        return cls(
            id=p.req_str(d, "id"),
            key=p.req_str(d, "key"),
            name=p.opt_str(d, "name") or "",
            currency=p.opt_str(d, "currency"),
            subject_keys=tuple(str(k) for k in keys),
        )


@dataclass(frozen=True, slots=True)
class BillingProfile:
    """A v3 billing profile. ``raw`` keeps the body for cloning (``create_profile_from_default``)."""

    id: str
    name: str
    is_default: bool
    auto_advance: bool | None = None
    progressive_billing: bool | None = None
    end_proration: str | None = None
    collection_interval: str | None = None
    raw: Mapping[str, Any] | None = None

    def __hash__(self) -> int:
        return hash((self.id, self.name, self.is_default))

    @classmethod
    def from_v3(cls, data: Any) -> BillingProfile:
        d = p.obj(data)
        workflow = p.opt_obj(d, "workflow") or {}
        invoicing = p.opt_obj(workflow, "invoicing", "workflow") or {}
        collection = p.opt_obj(workflow, "collection", "workflow") or {}
        return cls(
            id=p.req_str(d, "id"),
            name=p.opt_str(d, "name") or "",
            is_default=bool(p.opt_bool(d, "default")),
            auto_advance=p.opt_bool(invoicing, "auto_advance", "workflow.invoicing"),
            progressive_billing=p.opt_bool(invoicing, "progressive_billing", "workflow.invoicing"),
            end_proration=p.opt_str(invoicing, "subscription_end_proration_mode", "workflow.invoicing"),
            collection_interval=p.opt_str(collection, "interval", "workflow.collection"),
            raw=dict(d),
        )


@dataclass(frozen=True, slots=True)
class CreditGrant:
    id: str
    name: str
    amount: Decimal
    currency: str
    funding_method: str | None = None
    status: str | None = None
    priority: int | None = None
    effective_at: datetime | None = None  # HEAD does not return it (observed live)

    @classmethod
    def from_v3(cls, data: Any) -> CreditGrant:
        d = p.obj(data)
        amount = p.opt_decimal(d, "amount")
        if amount is None:
            raise p.ShapeError("amount", "missing")
        return cls(
            id=p.req_str(d, "id"),
            name=p.opt_str(d, "name") or "",
            amount=amount,
            currency=p.req_str(d, "currency"),
            funding_method=p.opt_str(d, "funding_method"),
            status=p.opt_str(d, "status"),
            priority=p.opt_int(d, "priority"),
            effective_at=p.opt_time(d, "effective_at"),
        )


@dataclass(frozen=True, slots=True)
class CreditBalance:
    """One currency's credit balance.

    HEAD: ``{currency, live, settled, pending}``; #4412-window build: ``{available, currency,
    pending}`` (``shape`` says which). :attr:`spendable` is ``live`` (HEAD) or ``available``.
    """

    currency: str
    shape: Literal["head", "bug_window"]
    live: Decimal | None = None
    settled: Decimal | None = None
    pending: Decimal | None = None
    available: Decimal | None = None

    @property
    def spendable(self) -> Decimal | None:
        return self.live if self.live is not None else self.available

    @classmethod
    def from_v3(cls, data: Any, path: str = "") -> CreditBalance:
        d = p.obj(data, path)
        has_head = "live" in d or "settled" in d
        return cls(
            currency=p.req_str(d, "currency", path),
            shape="head" if has_head or "available" not in d else "bug_window",
            live=p.opt_decimal(d, "live", path),
            settled=p.opt_decimal(d, "settled", path),
            pending=p.opt_decimal(d, "pending", path),
            available=p.opt_decimal(d, "available", path),
        )


@dataclass(frozen=True, slots=True)
class CreditBalances:
    retrieved_at: datetime | None
    balances: tuple[CreditBalance, ...]

    def for_currency(self, currency: str) -> CreditBalance | None:
        for balance in self.balances:
            if balance.currency == currency:
                return balance
        return None

    @classmethod
    def from_v3(cls, data: Any) -> CreditBalances:
        d = p.obj(data)
        if "balances" in d:
            rows = p.items(d, "balances")
            balances = tuple(CreditBalance.from_v3(r, p.join("balances", i)) for i, r in enumerate(rows))
        elif "currency" in d:  # a flat single balance
            balances = (CreditBalance.from_v3(d),)
        else:
            raise p.ShapeError("balances", "missing")
        return cls(retrieved_at=p.opt_time(d, "retrieved_at"), balances=balances)


# --------------------------------------------------------------------------------------- prices


@dataclass(frozen=True, slots=True)
class PriceTierView:
    up_to: Decimal | None = None
    unit_amount: Decimal | None = None
    flat_amount: Decimal | None = None


_V3_TIERED = {"graduated": "graduated", "volume": "volume"}


@dataclass(frozen=True, slots=True)
class PriceView:
    """A price in v1 vocabulary: ``type`` flat / unit / tiered / package / dynamic / free."""

    type: str
    amount: Decimal | None = None
    payment_term: str | None = None
    mode: str | None = None
    tiers: tuple[PriceTierView, ...] = ()

    @classmethod
    def from_api(cls, data: Any, path: str = "price", payment_term: str | None = None) -> PriceView:
        """Parse a v1 or v3 price (``unitPrice``/``unit_price``, ``tiered``/``graduated``)."""
        d = p.obj(data, path)
        raw_type = p.req_str(d, "type", path)
        mode = p.opt_str(d, "mode", path)
        price_type = raw_type
        if raw_type in _V3_TIERED:
            price_type, mode = "tiered", _V3_TIERED[raw_type]
        tiers = []
        for i, raw in enumerate(p.items(d, "tiers", path)):
            tpath = p.join(p.join(path, "tiers"), i)
            t = p.obj(raw, tpath)
            unit = t.get("unit_price", t.get("unitPrice"))
            flat = t.get("flat_price", t.get("flatPrice"))
            up_to = t.get("up_to_amount", t.get("upToAmount"))
            tiers.append(
                PriceTierView(
                    up_to=None if up_to is None else p.to_decimal(up_to, p.join(tpath, "up_to")),
                    unit_amount=(None if unit is None else p.opt_decimal(p.obj(unit, tpath), "amount", tpath)),
                    flat_amount=(None if flat is None else p.opt_decimal(p.obj(flat, tpath), "amount", tpath)),
                )
            )
        term = p.opt_str(d, "paymentTerm", path) or p.opt_str(d, "payment_term", path) or payment_term
        return cls(
            type=price_type,
            amount=p.opt_decimal(d, "amount", path),
            payment_term=term,
            mode=mode,
            tiers=tuple(tiers),
        )

    def to_domain(self) -> DomainPrice | None:
        """The engine's :class:`contract.model.domain.Price`; None for a free price."""
        if self.type == "free":
            return None
        try:
            price_type = PriceType(self.type)
        except ValueError:
            raise ValueError(f"price type {self.type!r} has no engine equivalent") from None
        term = PaymentTerm.IN_ARREARS
        if price_type is PriceType.FLAT and self.payment_term:
            term = PaymentTerm(self.payment_term)
        return DomainPrice(
            type=price_type,
            amount=self.amount if self.amount is not None else Decimal(0),
            payment_term=term,
            mode=self.mode,
            tiers=tuple(Tier(up_to=t.up_to, flat_amount=t.flat_amount, unit_amount=t.unit_amount) for t in self.tiers),
        )


def _opt_price(data: Mapping[str, Any], key: str, path: str, payment_term: str | None = None) -> PriceView | None:
    value = data.get(key)
    if value is None:
        return None
    return PriceView.from_api(value, p.join(path, key), payment_term)


# ---------------------------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class PlanRateCard:
    key: str
    name: str
    feature_id: str | None = None
    feature_key: str | None = None
    billing_cadence: str | None = None
    payment_term: str | None = None
    price: PriceView | None = None


@dataclass(frozen=True, slots=True)
class PlanPhase:
    key: str
    name: str
    duration: str | None
    rate_cards: tuple[PlanRateCard, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """A plan. ``created_via`` says which API created it (v1 when v3 lacked ``settlement_mode``)."""

    id: str
    key: str
    version: int
    name: str
    status: str
    currency: str | None
    billing_cadence: str | None
    pro_rating_enabled: bool | None
    settlement_mode: SettlementMode | None
    phases: tuple[PlanPhase, ...]
    created_via: ApiVersion = "v3"
    effective_from: datetime | None = None

    @classmethod
    def from_v3(cls, data: Any, created_via: ApiVersion = "v3") -> Plan:
        d = p.obj(data)
        phases = []
        for i, raw in enumerate(p.items(d, "phases")):
            path = p.join("phases", i)
            ph = p.obj(raw, path)
            cards = []
            for j, rc_raw in enumerate(p.items(ph, "rate_cards", path)):
                rpath = p.join(p.join(path, "rate_cards"), j)
                rc = p.obj(rc_raw, rpath)
                term = p.opt_str(rc, "payment_term", rpath)
                cards.append(
                    PlanRateCard(
                        key=p.req_str(rc, "key", rpath),
                        name=p.opt_str(rc, "name", rpath) or "",
                        feature_id=p.nested_id(rc, "feature", rpath),
                        feature_key=p.opt_str(rc, "feature_key", rpath),
                        billing_cadence=p.opt_str(rc, "billing_cadence", rpath),
                        payment_term=term,
                        price=_opt_price(rc, "price", rpath, term),
                    )
                )
            phases.append(
                PlanPhase(
                    key=p.req_str(ph, "key", path),
                    name=p.opt_str(ph, "name", path) or "",
                    duration=p.opt_str(ph, "duration", path),
                    rate_cards=tuple(cards),
                )
            )
        return cls(
            id=p.req_str(d, "id"),
            key=p.req_str(d, "key"),
            version=p.opt_int(d, "version") or 0,
            name=p.opt_str(d, "name") or "",
            status=p.opt_str(d, "status") or "",
            currency=p.opt_str(d, "currency"),
            billing_cadence=p.opt_str(d, "billing_cadence"),
            pro_rating_enabled=p.opt_bool(d, "pro_rating_enabled"),
            settlement_mode=_settlement(d, "settlement_mode", ""),
            phases=tuple(phases),
            created_via=created_via,
            effective_from=p.opt_time(d, "effective_from"),
        )

    @classmethod
    def from_v1(cls, data: Any) -> Plan:
        d = p.obj(data)
        phases = []
        for i, raw in enumerate(p.items(d, "phases")):
            path = p.join("phases", i)
            ph = p.obj(raw, path)
            cards = []
            for j, rc_raw in enumerate(p.items(ph, "rateCards", path)):
                rpath = p.join(p.join(path, "rateCards"), j)
                rc = p.obj(rc_raw, rpath)
                price = _opt_price(rc, "price", rpath)
                cards.append(
                    PlanRateCard(
                        key=p.req_str(rc, "key", rpath),
                        name=p.opt_str(rc, "name", rpath) or "",
                        feature_id=None,
                        feature_key=p.opt_str(rc, "featureKey", rpath),
                        billing_cadence=p.opt_str(rc, "billingCadence", rpath),
                        payment_term=price.payment_term if price else None,
                        price=price,
                    )
                )
            phases.append(
                PlanPhase(
                    key=p.req_str(ph, "key", path),
                    name=p.opt_str(ph, "name", path) or "",
                    duration=p.opt_str(ph, "duration", path),
                    rate_cards=tuple(cards),
                )
            )
        pro_rating = p.opt_obj(d, "proRatingConfig")
        return cls(
            id=p.req_str(d, "id"),
            key=p.req_str(d, "key"),
            version=p.opt_int(d, "version") or 0,
            name=p.opt_str(d, "name") or "",
            status=p.opt_str(d, "status") or "",
            currency=p.opt_str(d, "currency"),
            billing_cadence=p.opt_str(d, "billingCadence"),
            pro_rating_enabled=p.opt_bool(pro_rating, "enabled", "proRatingConfig") if pro_rating else None,
            settlement_mode=_settlement(d, "settlementMode", ""),
            phases=tuple(phases),
            created_via="v1",
            effective_from=p.opt_time(d, "effectiveFrom"),
        )


# -------------------------------------------------------------------------------- subscriptions


@dataclass(frozen=True, slots=True)
class SubscriptionSummary:
    """What create / cancel / continue / edit answer with.

    The #4412-window v3 answers only ``id, labels, customer_id, plan_id, billing_anchor, status``
    and timestamps: read ``active_from``/``active_to`` from :meth:`OpenMeterClient.get_subscription`.
    """

    id: str
    status: str
    customer_id: str | None
    plan_id: str | None = None
    billing_anchor: datetime | None = None
    active_from: datetime | None = None
    active_to: datetime | None = None
    settlement_mode: SettlementMode | None = None
    billing_cadence: str | None = None
    current_period: Period | None = None
    via: ApiVersion = "v3"

    @classmethod
    def from_v3(cls, data: Any, path: str = "") -> SubscriptionSummary:
        d = p.obj(data, path)
        plan_id = p.opt_str(d, "plan_id", path) or p.nested_id(d, "plan", path)
        return cls(
            id=p.req_str(d, "id", path),
            status=p.req_str(d, "status", path),
            customer_id=p.opt_str(d, "customer_id", path),
            plan_id=plan_id,
            billing_anchor=p.opt_time(d, "billing_anchor", path),
            active_from=p.opt_time(d, "active_from", path),
            active_to=p.opt_time(d, "active_to", path),
            settlement_mode=_settlement(d, "settlement_mode", path),
            billing_cadence=p.opt_str(d, "billing_cadence", path),
            current_period=p.opt_period(d, "current_period", path),
            via="v3",
        )

    @classmethod
    def from_v1(cls, data: Any, path: str = "") -> SubscriptionSummary:
        d = p.obj(data, path)
        alignment = p.opt_obj(d, "alignment", path) or {}
        return cls(
            id=p.req_str(d, "id", path),
            status=p.req_str(d, "status", path),
            customer_id=p.opt_str(d, "customerId", path),
            plan_id=p.nested_id(d, "plan", path),
            billing_anchor=p.opt_time(d, "billingAnchor", path),
            active_from=p.opt_time(d, "activeFrom", path),
            active_to=p.opt_time(d, "activeTo", path),
            settlement_mode=_settlement(d, "settlementMode", path),
            billing_cadence=p.opt_str(d, "billingCadence", path),
            current_period=p.opt_period(alignment, "currentAlignedBillingPeriod", p.join(path, "alignment")),
            via="v1",
        )


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """A plan change: the subscription that ended and the one that starts (new id)."""

    current: SubscriptionSummary
    next: SubscriptionSummary


@dataclass(frozen=True, slots=True)
class RateCardView:
    name: str
    key: str
    feature_key: str | None = None
    billing_cadence: str | None = None
    price: PriceView | None = None

    @property
    def payment_term(self) -> str | None:
        return self.price.payment_term if self.price else None


@dataclass(frozen=True, slots=True)
class SubscriptionItemView:
    """One subscription item version (a row of ``itemTimelines``), µs-precise timestamps."""

    id: str
    key: str
    active_from: datetime
    active_to: datetime | None
    rate_card: RateCardView
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_v1(cls, data: Any, path: str) -> SubscriptionItemView:
        d = p.obj(data, path)
        key = p.req_str(d, "key", path)
        nested = p.opt_obj(d, "rateCard", path)
        src, spath = (nested, p.join(path, "rateCard")) if nested is not None else (d, path)
        rate_card = RateCardView(
            name=p.opt_str(src, "name", spath) or p.opt_str(d, "name", path) or "",
            key=p.opt_str(src, "key", spath) or key,
            feature_key=p.opt_str(src, "featureKey", spath),
            billing_cadence=p.opt_str(src, "billingCadence", spath),
            price=_opt_price(src, "price", spath),
        )
        return cls(
            id=p.req_str(d, "id", path),
            key=key,
            active_from=p.req_time(d, "activeFrom", path),
            active_to=p.opt_time(d, "activeTo", path),
            rate_card=rate_card,
            created_at=p.opt_time(d, "createdAt", path),
            updated_at=p.opt_time(d, "updatedAt", path),
        )


@dataclass(frozen=True, slots=True)
class ItemTimeline:
    """All versions of one item key in a phase, in order (edits close a version, append the next)."""

    key: str
    versions: tuple[SubscriptionItemView, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionPhaseView:
    id: str
    key: str
    name: str
    active_from: datetime
    active_to: datetime | None
    items: tuple[SubscriptionItemView, ...]
    item_timelines: tuple[ItemTimeline, ...]

    def timeline(self, item_key: str) -> tuple[SubscriptionItemView, ...]:
        for timeline in self.item_timelines:
            if timeline.key == item_key:
                return timeline.versions
        return ()

    def timelines_by_key(self) -> dict[str, tuple[SubscriptionItemView, ...]]:
        return {t.key: t.versions for t in self.item_timelines}


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """The subscription as OpenMeter stored it (v1 ``GET /api/v1/subscriptions/{id}``).

    This is what the reference engine is fed, so every timestamp keeps its microseconds.
    """

    id: str
    status: str
    customer_id: str
    currency: str | None
    active_from: datetime
    active_to: datetime | None
    billing_anchor: datetime
    billing_cadence: str | None
    pro_rating_enabled: bool
    pro_rating_mode: str | None
    settlement_mode: SettlementMode | None
    phases: tuple[SubscriptionPhaseView, ...]
    plan_id: str | None = None
    plan_key: str | None = None
    plan_version: int | None = None
    current_aligned_billing_period: Period | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def item_ids(self) -> frozenset[str]:
        """Every item id of every version (ids change after a cancel or an edit: re-read)."""
        return frozenset(v.id for ph in self.phases for t in ph.item_timelines for v in t.versions)

    @classmethod
    def from_v1(cls, data: Any) -> SubscriptionView:
        d = p.obj(data)
        phases = []
        for i, raw in enumerate(p.items(d, "phases")):
            path = p.join("phases", i)
            ph = p.obj(raw, path)
            item_list = tuple(
                SubscriptionItemView.from_v1(it, p.join(p.join(path, "items"), j))
                for j, it in enumerate(p.items(ph, "items", path))
            )
            timelines_raw = ph.get("itemTimelines")
            timelines: list[ItemTimeline] = []
            if timelines_raw is not None:
                tl = p.obj(timelines_raw, p.join(path, "itemTimelines"))
                for key, versions in tl.items():
                    tpath = p.join(p.join(path, "itemTimelines"), str(key))
                    if versions is None:
                        versions = []
                    if not isinstance(versions, list):
                        raise p.ShapeError(tpath, "expected a list of item versions")
                    parsed = sorted(
                        (SubscriptionItemView.from_v1(v, p.join(tpath, k)) for k, v in enumerate(versions)),
                        key=lambda v: v.active_from,
                    )
                    timelines.append(ItemTimeline(key=str(key), versions=tuple(parsed)))
                # Go writes map keys sorted; keep the phase's item order (rate-card order) instead
                order = {item.key: i for i, item in reversed(list(enumerate(item_list)))}
                timelines.sort(key=lambda t: order.get(t.key, len(order)))
            else:  # no timelines: one version per item, grouped by key in order of appearance
                grouped: dict[str, list[SubscriptionItemView]] = {}
                for item in item_list:
                    grouped.setdefault(item.key, []).append(item)
                timelines = [ItemTimeline(k, tuple(v)) for k, v in grouped.items()]
            phases.append(
                SubscriptionPhaseView(
                    id=p.req_str(ph, "id", path),
                    key=p.req_str(ph, "key", path),
                    name=p.opt_str(ph, "name", path) or "",
                    active_from=p.req_time(ph, "activeFrom", path),
                    active_to=p.opt_time(ph, "activeTo", path),
                    items=item_list,
                    item_timelines=tuple(timelines),
                )
            )
        pro_rating = p.opt_obj(d, "proRatingConfig") or {}
        plan = p.opt_obj(d, "plan") or {}
        alignment = p.opt_obj(d, "alignment") or {}
        enabled = p.opt_bool(pro_rating, "enabled", "proRatingConfig")
        return cls(
            id=p.req_str(d, "id"),
            status=p.req_str(d, "status"),
            customer_id=p.req_str(d, "customerId"),
            currency=p.opt_str(d, "currency"),
            active_from=p.req_time(d, "activeFrom"),
            active_to=p.opt_time(d, "activeTo"),
            billing_anchor=p.req_time(d, "billingAnchor"),
            billing_cadence=p.opt_str(d, "billingCadence"),
            pro_rating_enabled=True if enabled is None else enabled,
            pro_rating_mode=p.opt_str(pro_rating, "mode", "proRatingConfig"),
            settlement_mode=_settlement(d, "settlementMode", ""),
            phases=tuple(phases),
            plan_id=p.opt_str(plan, "id", "plan"),
            plan_key=p.opt_str(plan, "key", "plan"),
            plan_version=p.opt_int(plan, "version", "plan"),
            current_aligned_billing_period=p.opt_period(alignment, "currentAlignedBillingPeriod", "alignment"),
            created_at=p.opt_time(d, "createdAt"),
            updated_at=p.opt_time(d, "updatedAt"),
        )


def _money_field(data: Mapping[str, Any], key: str, path: str) -> Decimal | None:
    """A Numeric, or (HEAD, observed live) a money object ``{"amount": "30", "currency": ""}``."""
    value = data.get(key)
    if isinstance(value, Mapping):
        return p.opt_decimal(value, "amount", p.join(path, key))
    return p.opt_decimal(data, key, path)


# ------------------------------------------------------------------------------------- invoices


@dataclass(frozen=True, slots=True)
class LineSubscriptionRef:
    """Which subscription item and billing period a line belongs to (ids already un-swapped)."""

    subscription_id: str | None
    phase_id: str | None
    item_id: str | None
    billing_period: Period | None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    id: str
    name: str
    managed_by: str | None
    status: str | None
    period: Period
    invoice_at: datetime | None
    feature_key: str | None = None
    price: PriceView | None = None
    subscription: LineSubscriptionRef | None = None
    invoice_id: str | None = None
    quantity: Decimal | None = None
    total: Decimal | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None

    @classmethod
    def from_v1(cls, data: Any, path: str = "", *, swap_subscription_ids: bool = True) -> InvoiceLine:
        d = p.obj(data, path)
        ref = None
        sub = p.opt_obj(d, "subscription", path)
        if sub is not None:
            spath = p.join(path, "subscription")
            sub_id = p.nested_id(sub, "subscription", spath)
            item_id = p.nested_id(sub, "item", spath)
            if swap_subscription_ids:  # upstream writes them the wrong way round
                sub_id, item_id = item_id, sub_id
            ref = LineSubscriptionRef(
                subscription_id=sub_id,
                phase_id=p.nested_id(sub, "phase", spath),
                item_id=item_id,
                billing_period=p.opt_period(sub, "billingPeriod", spath),
            )
        rate_card = p.opt_obj(d, "rateCard", path) or {}
        price = _opt_price(d, "price", path)
        if price is None:
            price = _opt_price(rate_card, "price", p.join(path, "rateCard"))
        totals = p.opt_obj(d, "totals", path) or {}
        return cls(
            id=p.req_str(d, "id", path),
            name=p.opt_str(d, "name", path) or "",
            managed_by=p.opt_str(d, "managedBy", path),
            status=p.opt_str(d, "status", path),
            period=p.req_period(d, "period", path),
            invoice_at=p.opt_time(d, "invoiceAt", path),
            feature_key=p.opt_str(d, "featureKey", path) or p.opt_str(rate_card, "featureKey", path),
            price=price,
            subscription=ref,
            invoice_id=p.nested_id(d, "invoice", path),
            quantity=p.opt_decimal(d, "quantity", path),
            total=p.opt_decimal(totals, "total", p.join(path, "totals")),
            created_at=p.opt_time(d, "createdAt", path),
            updated_at=p.opt_time(d, "updatedAt", path),
            deleted_at=p.opt_time(d, "deletedAt", path),
        )


@dataclass(frozen=True, slots=True)
class Invoice:
    """A v1 invoice. Identify the gathering invoice by ``status`` (its ``type`` says standard)."""

    id: str
    status: str
    extended_status: str | None
    immutable: bool | None
    currency: str
    period: Period | None
    lines: tuple[InvoiceLine, ...]
    type: str | None = None
    number: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None

    @property
    def is_gathering(self) -> bool:
        return self.status == "gathering"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @classmethod
    def from_v1(cls, data: Any, path: str = "", *, swap_subscription_ids: bool = True) -> Invoice:
        d = p.obj(data, path)
        details = p.opt_obj(d, "statusDetails", path) or {}
        dpath = p.join(path, "statusDetails")
        lines = tuple(
            InvoiceLine.from_v1(line, p.join(p.join(path, "lines"), i), swap_subscription_ids=swap_subscription_ids)
            for i, line in enumerate(p.items(d, "lines", path))
        )
        return cls(
            id=p.req_str(d, "id", path),
            status=p.req_str(d, "status", path),
            extended_status=p.opt_str(details, "extendedStatus", dpath),
            immutable=p.opt_bool(details, "immutable", dpath),
            currency=p.req_str(d, "currency", path),
            period=p.opt_period(d, "period", path),
            lines=lines,
            type=p.opt_str(d, "type", path),
            number=p.opt_str(d, "number", path),
            created_at=p.opt_time(d, "createdAt", path),
            updated_at=p.opt_time(d, "updatedAt", path),
            deleted_at=p.opt_time(d, "deletedAt", path),
        )


# -------------------------------------------------------------------------------------- charges


@dataclass(frozen=True, slots=True)
class ChargeSubscriptionRef:
    id: str
    phase_id: str | None
    item_id: str | None


@dataclass(frozen=True, slots=True)
class Charge:
    """A v3 charge (``usage_based`` or ``flat_fee``), HEAD or #4412-window shape.

    HEAD has ``lifecycle_controller`` (and ``feature_id``, ``system_intent``); the #4412-window
    build has ``managed_by`` instead — ``shape`` says which was seen.
    """

    id: str
    type: str
    status: str
    name: str
    unique_reference_id: str | None
    subscription: ChargeSubscriptionRef | None
    service_period: Period
    full_service_period: Period | None
    billing_period: Period | None
    invoice_at: datetime
    settlement_mode: SettlementMode | None
    currency: str
    shape: Literal["head", "bug_window"]
    feature_key: str | None = None
    feature_id: str | None = None
    price: PriceView | None = None
    amount_after_proration: Decimal | None = None
    payment_term: str | None = None
    lifecycle_controller: str | None = None
    managed_by: str | None = None
    advance_after: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None

    @property
    def is_deleted(self) -> bool:
        return self.status == "deleted" or self.deleted_at is not None

    @classmethod
    def from_v3(cls, data: Any, path: str = "") -> Charge:
        d = p.obj(data, path)
        sub = p.opt_obj(d, "subscription", path)
        ref = None
        if sub is not None:
            spath = p.join(path, "subscription")
            phase = p.opt_obj(sub, "phase", spath) or {}
            ppath = p.join(spath, "phase")
            ref = ChargeSubscriptionRef(
                id=p.req_str(sub, "id", spath),
                phase_id=p.opt_str(phase, "id", ppath),
                item_id=p.nested_id(phase, "item", ppath),
            )
        term = p.opt_str(d, "payment_term", path)
        lifecycle = p.opt_str(d, "lifecycle_controller", path)
        managed_by = p.opt_str(d, "managed_by", path)
        return cls(
            id=p.req_str(d, "id", path),
            type=p.req_str(d, "type", path),
            status=p.req_str(d, "status", path),
            name=p.opt_str(d, "name", path) or "",
            unique_reference_id=p.opt_str(d, "unique_reference_id", path),
            subscription=ref,
            service_period=p.req_period(d, "service_period", path),
            full_service_period=p.opt_period(d, "full_service_period", path),
            billing_period=p.opt_period(d, "billing_period", path),
            invoice_at=p.req_time(d, "invoice_at", path),
            settlement_mode=_settlement(d, "settlement_mode", path),
            currency=p.req_str(d, "currency", path),
            shape="bug_window" if managed_by is not None and lifecycle is None else "head",
            feature_key=p.opt_str(d, "feature_key", path),
            feature_id=p.opt_str(d, "feature_id", path),
            price=_opt_price(d, "price", path, term),
            amount_after_proration=_money_field(d, "amount_after_proration", path),
            payment_term=term,
            lifecycle_controller=lifecycle,
            managed_by=managed_by,
            advance_after=p.opt_time(d, "advance_after", path),
            created_at=p.opt_time(d, "created_at", path),
            updated_at=p.opt_time(d, "updated_at", path),
            deleted_at=p.opt_time(d, "deleted_at", path),
        )


__all__ = [
    "ApiVersion",
    "BillingProfile",
    "ChangeResult",
    "Charge",
    "ChargeSubscriptionRef",
    "CreditBalance",
    "CreditBalances",
    "CreditGrant",
    "Customer",
    "Feature",
    "Invoice",
    "InvoiceLine",
    "ItemTimeline",
    "LineSubscriptionRef",
    "Meter",
    "Plan",
    "PlanPhase",
    "PlanRateCard",
    "PriceTierView",
    "PriceView",
    "RateCardView",
    "ServerVersion",
    "SubscriptionItemView",
    "SubscriptionPhaseView",
    "SubscriptionSummary",
    "SubscriptionView",
]
