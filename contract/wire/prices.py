"""Prices and their tiers in OpenMeter's two shapes, written from one neutral description.

* v3: ``{"type": "unit"|"flat", "amount"}``, ``{"type": "graduated"|"volume", "tiers": [{up_to_amount,
  unit_price: {type: unit, amount}, flat_price: {type: flat, amount}}]}``, ``{"type": "free"}``; the
  payment term lives on the rate card (``payment_term``);
* v1: ``{"type": "unit"|"flat", "amount", "paymentTerm"}``, ``{"type": "tiered", "mode", "tiers":
  [{upToAmount, unitPrice, flatPrice}]}`` with both tier price keys present (null when unset); v1
  has no free price (the rate card's price is ``null``).

The neutral *kind* is v3's word (``unit``, ``flat``, ``graduated``, ``volume``, ``free``); v1's
``tiered`` + ``mode`` is derived from it, and read back into it by :func:`kind_of`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

from contract.model.domain import Price, PriceType
from contract.wire.read import format_numeric
from contract.wire.shape import LIST, RAW, STR, Api, Shape

__all__ = ["PRICE", "TIER", "TIERED_MODES", "TierLike", "domain_price_body", "kind_of", "price_body", "tier_body"]

#: v3 price types that v1 spells ``{"type": "tiered", "mode": ...}``.
TIERED_MODES = ("graduated", "volume")

TIER = Shape.of(up_to=STR.at(v3="up_to_amount"), unit_price=RAW.null_in_v1_too(), flat_price=RAW.null_in_v1_too())
PRICE = Shape.of(type=STR, mode=STR.at(v3=None), amount=STR, payment_term=STR.at(v3=None), tiers=LIST)


class TierLike(Protocol):
    @property
    def up_to(self) -> Decimal | None: ...
    @property
    def unit_amount(self) -> Decimal | None: ...
    @property
    def flat_amount(self) -> Decimal | None: ...


def _amount(kind: str, amount: Decimal | None) -> dict[str, Any] | None:
    return None if amount is None else {"type": kind, "amount": format_numeric(amount)}


def tier_body(tier: TierLike, api: Api) -> dict[str, Any]:
    values = {
        "up_to": tier.up_to,
        "unit_price": _amount("unit", tier.unit_amount),
        "flat_price": _amount("flat", tier.flat_amount),
    }
    return TIER.write(values, api)


def price_body(
    api: Api,
    kind: str,
    *,
    amount: Decimal | None = None,
    tiers: Sequence[TierLike] = (),
    payment_term: str | None = None,
) -> dict[str, Any] | None:
    """The price in ``api``'s shape (None: v1's free price); ``payment_term`` only on v1 flat prices."""
    if kind == "free":
        return {"type": "free"} if api == "v3" else None
    values: dict[str, Any] = {"type": kind}
    if kind in TIERED_MODES:
        if api == "v1":
            values.update(type="tiered", mode=kind)
        values["tiers"] = [tier_body(t, api) for t in tiers]
    else:
        values["amount"] = amount
        if kind == "flat":
            values["payment_term"] = payment_term
    return PRICE.write(values, api)


def domain_price_body(price: Price | None, api: Api) -> dict[str, Any] | None:
    """The engine's price (None: free) as ``api`` renders it."""
    if price is None:
        return price_body(api, "free")
    if price.type is PriceType.TIERED:
        return price_body(api, price.mode or "graduated", tiers=price.tiers)
    return price_body(api, price.type.value, amount=price.amount, payment_term=price.payment_term.value)


def kind_of(price_type: str, mode: str | None) -> tuple[str, str | None]:
    """v3's ``graduated``/``volume`` as v1's vocabulary: ``("tiered", mode)``; others unchanged."""
    if price_type in TIERED_MODES:
        return "tiered", price_type
    return price_type, mode
