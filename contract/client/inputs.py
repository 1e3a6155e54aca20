"""Typed request inputs, and their v1 (camelCase) and v3 (snake_case) bodies.

Callers describe *what* to create; the client picks the API version and this module writes the
body for it through :mod:`contract.wire` (the offline OpenMeter renders the same shapes from
there). Amounts are Decimals (strings and ints are accepted and converted), written as OpenMeter
Numerics (``"0.1"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from contract.model.domain import PaymentTerm, SettlementMode
from contract.model.time import format_time, require_utc
from contract.wire.catalog import plan_body, rate_card_body
from contract.wire.prices import price_body, tier_body
from contract.wire.shape import Api

Amount = Decimal | int | str
PriceKind = Literal["unit", "flat", "graduated", "volume", "free"]
TimingName = Literal["immediate", "next_billing_cycle"]
Timing = TimingName | datetime
_TIMINGS = ("immediate", "next_billing_cycle")


def _dec(value: Amount | None, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value))
    except Exception:
        raise ValueError(f"{what}: not a number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"{what}: not a finite number: {value!r}")
    return result


def timing_value(timing: Timing) -> str:
    """``immediate`` / ``next_billing_cycle`` or an RFC 3339 UTC instant."""
    if isinstance(timing, datetime):
        return format_time(require_utc(timing, "timing"))
    if timing not in _TIMINGS:
        raise ValueError(f"timing must be one of {', '.join(_TIMINGS)} or a UTC datetime, got {timing!r}")
    return timing


class _Body:
    """An input with one ``body(api)``; ``v3()`` and ``v1()`` name the version."""

    __slots__ = ()

    def body(self, api: Api) -> dict[str, Any]:
        raise NotImplementedError

    def v3(self) -> dict[str, Any]:
        return self.body("v3")

    def v1(self) -> dict[str, Any]:
        return self.body("v1")


@dataclass(frozen=True, slots=True)
class TierInput(_Body):
    """One tier of a graduated/volume price; omit ``up_to`` on the last tier."""

    up_to: Decimal | None = None
    unit_amount: Decimal | None = None
    flat_amount: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "up_to", _dec(self.up_to, "tier up_to"))
        object.__setattr__(self, "unit_amount", _dec(self.unit_amount, "tier unit amount"))
        object.__setattr__(self, "flat_amount", _dec(self.flat_amount, "tier flat amount"))
        if self.unit_amount is None and self.flat_amount is None:
            raise ValueError("a tier needs a unit amount, a flat amount, or both")

    @classmethod
    def of(cls, *, up_to: Amount | None = None, unit: Amount | None = None, flat: Amount | None = None) -> TierInput:
        """Build a tier from strings or numbers: ``TierInput.of(up_to="100", unit="0.10")``."""
        return cls(_dec(up_to, "tier up_to"), _dec(unit, "tier unit amount"), _dec(flat, "tier flat amount"))

    def body(self, api: Api) -> dict[str, Any]:
        return tier_body(self, api)


@dataclass(frozen=True, slots=True)
class PriceInput:
    """A rate-card price: ``unit``/``flat`` (``amount``), ``graduated``/``volume`` (``tiers``), ``free``."""

    kind: PriceKind
    amount: Decimal | None = None
    tiers: tuple[TierInput, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", _dec(self.amount, f"{self.kind} price amount"))
        object.__setattr__(self, "tiers", tuple(self.tiers))
        if self.kind in ("unit", "flat") and self.amount is None:
            raise ValueError(f"a {self.kind} price needs an amount")
        if self.kind in ("graduated", "volume") and not self.tiers:
            raise ValueError(f"a {self.kind} price needs at least one tier")
        if self.kind not in ("unit", "flat", "graduated", "volume", "free"):
            raise ValueError(f"unknown price kind {self.kind!r}")

    @classmethod
    def unit(cls, amount: Amount) -> PriceInput:
        return cls("unit", _dec(amount, "unit price amount"))

    @classmethod
    def flat(cls, amount: Amount) -> PriceInput:
        return cls("flat", _dec(amount, "flat price amount"))

    @classmethod
    def graduated(cls, *tiers: TierInput) -> PriceInput:
        return cls("graduated", tiers=tiers)

    @classmethod
    def volume(cls, *tiers: TierInput) -> PriceInput:
        return cls("volume", tiers=tiers)

    @property
    def is_flat(self) -> bool:
        return self.kind == "flat"

    def body(self, api: Api, payment_term: PaymentTerm | None = None) -> dict[str, Any]:
        """The price in ``api``'s shape (``payment_term``: v1 flat prices carry it)."""
        term = None if payment_term is None else payment_term.value
        body = price_body(api, self.kind, amount=self.amount, tiers=self.tiers, payment_term=term)
        if body is None:
            raise ValueError("v1 has no free price; omit the price instead")
        return body

    def v3(self) -> dict[str, Any]:
        return self.body("v3")

    def v1(self, payment_term: PaymentTerm | None = None) -> dict[str, Any]:
        return self.body("v1", payment_term)


@dataclass(frozen=True, slots=True)
class RateCardInput(_Body):
    """A plan rate card. Usage prices reference a feature; flat prices may (``billing_cadence``
    None means one-time). ``payment_term`` is always sent, so v1 and v3 mean the same thing."""

    key: str
    name: str
    price: PriceInput | None
    feature_id: str | None = None
    feature_key: str | None = None
    billing_cadence: str | None = "P1M"
    payment_term: PaymentTerm = PaymentTerm.IN_ARREARS

    def __post_init__(self) -> None:
        object.__setattr__(self, "payment_term", PaymentTerm(self.payment_term))
        if self.price is not None and not self.price.is_flat:
            if self.billing_cadence is None:
                raise ValueError(f"rate card {self.key}: usage prices need a billing cadence")
            if self.payment_term is not PaymentTerm.IN_ARREARS:
                raise ValueError(f"rate card {self.key}: usage prices are always in arrears")

    @property
    def is_usage(self) -> bool:
        return self.price is not None and not self.price.is_flat

    def body(self, api: Api) -> dict[str, Any]:
        """The rate card in ``api``'s shape; v1 references a feature by key (OpenMeter requires
        key == feature key), v3 by id."""
        price = PriceInput("free") if self.price is None else self.price
        return rate_card_body(
            api,
            self,
            price=None if api == "v1" and self.price is None else price.body(api, self.payment_term),
            usage=self.is_usage,
            payment_term=self.payment_term.value,
            feature_key=self.feature_key or (self.key if self.feature_id else None),
        )


@dataclass(frozen=True, slots=True)
class PhaseInput:
    key: str
    name: str
    rate_cards: tuple[RateCardInput, ...]
    duration: str | None = None  # only the last phase may omit it

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate_cards", tuple(self.rate_cards))


@dataclass(frozen=True, slots=True)
class PlanInput:
    """A plan to create. ``settlement_mode`` None leaves OpenMeter's default (credit_then_invoice)."""

    key: str
    name: str
    currency: str
    phases: tuple[PhaseInput, ...]
    billing_cadence: str = "P1M"
    pro_rating: bool = True
    settlement_mode: SettlementMode | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "phases", tuple(self.phases))
        if self.settlement_mode is not None:
            object.__setattr__(self, "settlement_mode", SettlementMode(self.settlement_mode))
        if not self.phases:
            raise ValueError(f"plan {self.key}: at least one phase is required")

    def body(self, api: Api, *, with_settlement_mode: bool = True) -> dict[str, Any]:
        if with_settlement_mode:
            return plan_body(api, self)
        return plan_body(api, self, settlement_mode=None)

    def v3(self, *, with_settlement_mode: bool = True) -> dict[str, Any]:
        return self.body("v3", with_settlement_mode=with_settlement_mode)

    def v1(self) -> dict[str, Any]:
        return self.body("v1")


@dataclass(frozen=True, slots=True)
class Event:
    """A CloudEvents usage event. ``subject`` is the customer key or one of its subject keys;
    ``type`` the meter's event type; ``id`` unique per run (OpenMeter deduplicates on source+id)."""

    id: str
    type: str
    subject: str
    time: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    source: str = "contract-suite"

    def __post_init__(self) -> None:
        require_utc(self.time, f"event {self.id} time")

    def __hash__(self) -> int:
        return hash((self.id, self.source))

    def cloudevent(self) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": format_time(self.time),
            "data": dict(self.data),
        }


@dataclass(frozen=True, slots=True)
class AddItem:
    """Edit op ``add_item``: adding an existing key closes its running version and appends one."""

    phase_key: str
    rate_card: RateCardInput

    def v1(self) -> dict[str, Any]:
        return {"op": "add_item", "phaseKey": self.phase_key, "rateCard": self.rate_card.v1()}


@dataclass(frozen=True, slots=True)
class RemoveItem:
    phase_key: str
    item_key: str

    def v1(self) -> dict[str, Any]:
        return {"op": "remove_item", "phaseKey": self.phase_key, "itemKey": self.item_key}


EditOp = AddItem | RemoveItem


def add_item(phase_key: str, rate_card: RateCardInput) -> AddItem:
    return AddItem(phase_key, rate_card)


def remove_item(phase_key: str, item_key: str) -> RemoveItem:
    return RemoveItem(phase_key, item_key)


def edit_ops_v1(ops: Sequence[EditOp | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Typed ops as v1 ``customizations``; raw dicts (other ops) pass through unchanged."""
    out: list[dict[str, Any]] = []
    for op in ops:
        out.append(op.v1() if isinstance(op, AddItem | RemoveItem) else dict(op))
    return out


__all__ = [
    "AddItem",
    "Amount",
    "EditOp",
    "Event",
    "PhaseInput",
    "PlanInput",
    "PriceInput",
    "PriceKind",
    "RateCardInput",
    "RemoveItem",
    "TierInput",
    "Timing",
    "TimingName",
    "add_item",
    "edit_ops_v1",
    "remove_item",
    "timing_value",
]
