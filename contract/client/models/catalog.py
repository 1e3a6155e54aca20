"""Typed views of the catalogue OpenMeter answers with: server version, meters, features,
customers, billing profiles, credit grants and balances, prices and plans.

Each view is read through its shape in :mod:`contract.wire.catalog` (the same table the offline
OpenMeter writes from); what is left here is what a view adds: defaults, the HEAD vs #4412-window
shape of a balance, and prices in v1's vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, Self

from contract.model.domain import PaymentTerm, PriceType, SettlementMode, Tier
from contract.model.domain import Price as DomainPrice
from contract.wire import catalog as w
from contract.wire import read as p
from contract.wire.prices import PRICE, TIER, kind_of
from contract.wire.shape import Api, Shape

ApiVersion = Api

__all__ = [
    "ApiVersion",
    "BillingProfile",
    "CreditBalance",
    "CreditBalances",
    "CreditGrant",
    "Customer",
    "Feature",
    "Meter",
    "Plan",
    "PlanPhase",
    "PlanRateCard",
    "PriceTierView",
    "PriceView",
    "ServerVersion",
]


class _V3View:
    """A view read whole through one v3 shape, its ``_shape``."""

    __slots__ = ()
    _shape: ClassVar[Shape]

    @classmethod
    def from_v3(cls, data: Any) -> Self:
        return cls._shape.build(cls, p.obj(data), "v3")


@dataclass(frozen=True, slots=True)
class ServerVersion:
    version: str
    os: str | None = None
    arch: str | None = None

    @classmethod
    def from_api(cls, data: Any) -> ServerVersion:
        return w.SERVER_VERSION.build(cls, p.obj(data), "v3")


@dataclass(frozen=True, slots=True)
class Meter(_V3View):
    _shape: ClassVar[Shape] = w.METER

    id: str
    key: str
    name: str
    event_type: str
    aggregation: str
    value_property: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Feature(_V3View):
    _shape: ClassVar[Shape] = w.FEATURE

    id: str
    key: str
    name: str
    meter_id: str | None = None


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
        keys = w.CUSTOMER.read(d, "v3", only=("subject_keys",))["subject_keys"]
        return w.CUSTOMER.build(cls, d, "v3", subject_keys=tuple(str(k) for k in keys or ()))


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
        return w.PROFILE.build(cls, d, "v3", raw=dict(d))


@dataclass(frozen=True, slots=True)
class CreditGrant(_V3View):
    _shape: ClassVar[Shape] = w.GRANT

    id: str
    name: str
    amount: Decimal
    currency: str
    funding_method: str | None = None
    status: str | None = None
    priority: int | None = None
    effective_at: datetime | None = None  # HEAD does not return it (observed live)


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
        head = "live" in d or "settled" in d or "available" not in d
        return w.BALANCE.build(cls, d, "v3", path, shape="head" if head else "bug_window")


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


def _either(tier: Mapping[str, Any], name: str) -> Any:
    """A tier field under its v3 key or its v1 key (prices are read in both)."""
    return tier.get(TIER.key(name, "v3"), tier.get(TIER.key(name, "v1")))


def _tier(raw: Any, tpath: str) -> PriceTierView:
    t = p.obj(raw, tpath)
    unit, flat, up_to = _either(t, "unit_price"), _either(t, "flat_price"), _either(t, "up_to")
    return PriceTierView(
        up_to=None if up_to is None else p.to_decimal(up_to, p.join(tpath, "up_to")),
        unit_amount=(None if unit is None else p.opt_decimal(p.obj(unit, tpath), "amount", tpath)),
        flat_amount=(None if flat is None else p.opt_decimal(p.obj(flat, tpath), "amount", tpath)),
    )


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
        price_type, mode = kind_of(p.req_str(d, "type", path), p.opt_str(d, "mode", path))
        tiers = tuple(_tier(raw, p.join(p.join(path, "tiers"), i)) for i, raw in enumerate(p.items(d, "tiers", path)))
        term = p.opt_str(d, PRICE.key("payment_term", "v1"), path) or p.opt_str(d, "payment_term", path) or payment_term
        return cls(type=price_type, amount=p.opt_decimal(d, "amount", path), payment_term=term, mode=mode, tiers=tiers)

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


def opt_price(data: Mapping[str, Any], key: str, path: str, payment_term: str | None = None) -> PriceView | None:
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

    @classmethod
    def from_api(cls, data: Any, path: str, api: Api, shape: Shape = w.RATE_CARD) -> PlanRateCard:
        """A rate card; v1 keeps the payment term in the price, v3 on the card."""
        rc = p.obj(data, path)
        term = shape.read(rc, api, path, only=("payment_term",))["payment_term"]
        price = opt_price(rc, "price", path, term)
        if api == "v1" and price is not None:
            term = price.payment_term
        return shape.build(cls, rc, api, path, payment_term=term, price=price)


@dataclass(frozen=True, slots=True)
class PlanPhase:
    key: str
    name: str
    duration: str | None
    rate_cards: tuple[PlanRateCard, ...]

    @classmethod
    def from_api(cls, data: Any, path: str, api: Api) -> PlanPhase:
        ph = p.obj(data, path)
        where = p.join(path, w.PHASE.key("rate_cards", api))
        cards = tuple(
            PlanRateCard.from_api(rc, p.join(where, j), api)
            for j, rc in enumerate(w.PHASE.read(ph, api, path, only=("rate_cards",))["rate_cards"] or ())
        )
        return w.PHASE.build(cls, ph, api, path, rate_cards=cards)


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
    created_via: Api = "v3"
    effective_from: datetime | None = None

    @classmethod
    def from_api(cls, data: Any, api: Api, created_via: Api | None = None) -> Plan:
        d = p.obj(data)
        phases = tuple(PlanPhase.from_api(ph, p.join("phases", i), api) for i, ph in enumerate(p.items(d, "phases")))
        return w.PLAN.build(cls, d, api, phases=phases, created_via=created_via or api)

    @classmethod
    def from_v3(cls, data: Any, created_via: Api = "v3") -> Plan:
        return cls.from_api(data, "v3", created_via)

    @classmethod
    def from_v1(cls, data: Any) -> Plan:
        return cls.from_api(data, "v1")
