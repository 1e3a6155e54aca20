"""Typed views of billing: v1 invoices and their lines, v3 charges (HEAD or #4412-window shape).

Shapes come from :mod:`contract.wire.billing`. v1 invoice lines carry the subscription id and the
item id swapped (upstream ``mapSubscriptionReferencesToAPI``); :meth:`InvoiceLine.from_v1` swaps
them back unless told not to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from contract.model.domain import SettlementMode
from contract.model.time import Period
from contract.wire import billing as w
from contract.wire import read as p

from .catalog import PriceView, opt_price

__all__ = ["Charge", "ChargeSubscriptionRef", "Invoice", "InvoiceLine", "LineSubscriptionRef"]


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
            ref = w.LINE_SUBSCRIPTION.build(LineSubscriptionRef, sub, "v1", p.join(path, "subscription"))
            if swap_subscription_ids:  # upstream writes them the wrong way round
                ref = LineSubscriptionRef(ref.item_id, ref.phase_id, ref.subscription_id, ref.billing_period)
        rate_card = p.opt_obj(d, "rateCard", path) or {}
        price = opt_price(d, "price", path)
        if price is None:
            price = opt_price(rate_card, "price", p.join(path, "rateCard"))
        feature_key = p.opt_str(d, "featureKey", path) or p.opt_str(rate_card, "featureKey", path)
        return w.INVOICE_LINE.build(cls, d, "v1", path, feature_key=feature_key, price=price, subscription=ref)


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
        lines = tuple(
            InvoiceLine.from_v1(line, p.join(p.join(path, "lines"), i), swap_subscription_ids=swap_subscription_ids)
            for i, line in enumerate(p.items(d, "lines", path))
        )
        return w.INVOICE.build(cls, d, "v1", path, lines=lines)


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
            ref = w.CHARGE_SUBSCRIPTION.build(ChargeSubscriptionRef, sub, "v3", p.join(path, "subscription"))
        seen = w.CHARGE.read(d, "v3", path, only=("payment_term", "lifecycle_controller", "managed_by"))
        bug_window = seen["managed_by"] is not None and seen["lifecycle_controller"] is None
        return w.CHARGE.build(
            cls,
            d,
            "v3",
            path,
            subscription=ref,
            shape="bug_window" if bug_window else "head",
            price=opt_price(d, "price", path, seen["payment_term"]),
        )
