"""Domain inputs of the reference sync engine: what OpenMeter's subscription sync is told.

Vocabulary follows OpenMeter (``openmeter/subscription``, ``openmeter/productcatalog``):
a :class:`Subscription` has ordered :class:`Phase` s; each phase has, per item key, an ordered
list of :class:`ItemVersion` s (edits close a version and append the next); each version carries a
:class:`RateCard` with an optional :class:`Price`. Deployment switches and the billing profile
live in :class:`SyncConfig`.

Everything here is immutable and validated at construction; parsing from YAML or JSON happens at
the edges (``contract.oracle``, ``contract.scenario``, ``contract.client``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from contract.model.time import Duration, Period, require_utc


class SettlementMode(enum.StrEnum):
    CREDIT_THEN_INVOICE = "credit_then_invoice"
    CREDIT_ONLY = "credit_only"


class PaymentTerm(enum.StrEnum):
    IN_ADVANCE = "in_advance"
    IN_ARREARS = "in_arrears"


class PriceType(enum.StrEnum):
    FLAT = "flat"
    UNIT = "unit"
    TIERED = "tiered"
    PACKAGE = "package"
    DYNAMIC = "dynamic"


class EndProrationMode(enum.StrEnum):
    """Billing profile ``subscriptionEndProrationMode``."""

    BILL_ACTUAL_PERIOD = "bill_actual_period"
    BILL_FULL_PERIOD = "bill_full_period"


class Backend(enum.StrEnum):
    """Where sync puts an artifact: an invoice line on the gathering invoice, or a charge."""

    LINE = "line"
    CHARGE = "charge"


@dataclass(frozen=True, slots=True)
class Tier:
    up_to: Decimal | None = None
    flat_amount: Decimal | None = None
    unit_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Price:
    """A rate-card price. Flat prices have a payment term; every usage price is in arrears.

    ``amount`` is the flat amount or the unit amount; tiered prices may carry ``tiers`` instead.
    """

    type: PriceType
    amount: Decimal = Decimal(0)
    payment_term: PaymentTerm = PaymentTerm.IN_ARREARS
    mode: str | None = None
    tiers: tuple[Tier, ...] = ()

    def __post_init__(self) -> None:
        if self.type is not PriceType.FLAT and self.payment_term is not PaymentTerm.IN_ARREARS:
            raise ValueError(f"{self.type.value} prices are always in arrears")

    @property
    def is_flat(self) -> bool:
        return self.type is PriceType.FLAT

    @property
    def bills_progressively(self) -> bool:
        """Whether a usage line of this price may be invoiced before its period ends (progressive
        billing). Upstream's volume-tiered pricer is a non-progressive one (``billing/rating/
        service/rate/tieredvolume.go``): the tier depends on the whole period's quantity."""
        return self.type is not PriceType.FLAT and not (self.type is PriceType.TIERED and self.mode == "volume")

    @property
    def in_advance(self) -> bool:
        return self.payment_term is PaymentTerm.IN_ADVANCE and self.type is PriceType.FLAT


@dataclass(frozen=True, slots=True)
class RateCard:
    name: str = ""
    feature_key: str | None = None
    price: Price | None = None
    billing_cadence: Duration | None = None  # None: one-time (flat prices only)

    def __post_init__(self) -> None:
        if self.price is not None and not self.price.is_flat and self.billing_cadence is None:
            raise ValueError("usage-priced rate cards need a billing cadence")


@dataclass(frozen=True, slots=True)
class ItemVersion:
    """One subscription item row: a rate card active over ``[active_from, active_to)``."""

    key: str
    active_from: datetime
    rate_card: RateCard
    active_to: datetime | None = None
    id: str = ""

    def __post_init__(self) -> None:
        require_utc(self.active_from, "active_from")
        if self.active_to is not None:
            require_utc(self.active_to, "active_to")
            if self.active_to < self.active_from:
                raise ValueError(f"item {self.key}: active_to {self.active_to} before active_from")


@dataclass(frozen=True, slots=True)
class Phase:
    key: str
    start_after: Duration
    items: dict[str, tuple[ItemVersion, ...]] = field(default_factory=dict)
    id: str = ""
    sort_hint: int = 0

    def __hash__(self) -> int:  # dict field: hash by identity of the key data
        return hash((self.key, self.id, str(self.start_after)))


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    customer_id: str
    currency: str
    active_from: datetime
    billing_anchor: datetime
    billing_cadence: Duration | None
    phases: tuple[Phase, ...]
    active_to: datetime | None = None
    pro_rating: bool = True
    settlement_mode: SettlementMode = SettlementMode.CREDIT_THEN_INVOICE

    def __post_init__(self) -> None:
        require_utc(self.active_from, "active_from")
        require_utc(self.billing_anchor, "billing_anchor")
        if self.active_to is not None:
            require_utc(self.active_to, "active_to")
        if not self.phases:
            raise ValueError(f"subscription {self.id}: no phases")

    def is_active_at(self, t: datetime) -> bool:
        return self.active_from <= t and (self.active_to is None or t < self.active_to)

    def with_active_to(self, active_to: datetime | None) -> Subscription:
        return replace(self, active_to=active_to)


@dataclass(frozen=True, slots=True)
class SyncConfig:
    """Deployment flags and billing-profile settings that change what sync does."""

    credits_enabled: bool = True
    credit_then_invoice: bool = True
    namespace_credits_gate: bool = True
    end_proration: EndProrationMode = EndProrationMode.BILL_ACTUAL_PERIOD
    progressive_billing: bool = False
    #: The profile issues an invoice as soon as nothing holds it (``autoAdvance`` with a zero
    #: ``draftPeriod``) and its invoicing app settles payment at once (the sandbox app): OpenMeter's
    #: default profile, and every profile the suite derives from it. Off: drafts wait for approval.
    auto_advance: bool = False


__all__ = [
    "Backend",
    "Duration",
    "EndProrationMode",
    "ItemVersion",
    "PaymentTerm",
    "Period",
    "Phase",
    "Price",
    "PriceType",
    "RateCard",
    "SettlementMode",
    "Subscription",
    "SyncConfig",
    "Tier",
]
