"""Prices between OpenMeter's JSON (v1 and v3) and the engine's :class:`~contract.model.domain.Price`.

* v3: ``{"type": "unit"|"flat", "amount"}``, ``{"type": "graduated"|"volume", "tiers": [{up_to_amount,
  unit_price: {type: unit, amount}, flat_price: {type: flat, amount}}]}``, ``{"type": "free"}``; the
  payment term lives on the rate card (``payment_term``);
* v1: ``{"type": "unit"|"flat", "amount", "paymentTerm"}``, ``{"type": "tiered", "mode", "tiers":
  [{upToAmount, unitPrice, flatPrice}]}`` with both tier price keys present (null when unset).

Amounts are written as OpenMeter normalises them (``"0.10"`` -> ``"0.1"``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NoReturn

from contract.model.domain import PaymentTerm, Price, PriceType, Tier
from contract.offline.problems import ApiError, Fields

__all__ = ["numeric", "parse_payment_term", "parse_price_v1", "parse_price_v3", "price_v1", "price_v3"]


def numeric(value: Decimal) -> str:
    """A Decimal as OpenMeter's Numeric string: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def parse_payment_term(value: str | None, field: str) -> PaymentTerm:
    if value is None:
        return PaymentTerm.IN_ARREARS
    try:
        return PaymentTerm(value)
    except ValueError:
        raise ApiError.bad_field(field, f"unknown payment term {value!r} (in_advance, in_arrears)", "enum") from None


def _price(
    price_type: PriceType,
    amount: Decimal,
    term: PaymentTerm,
    field: str,
    *,
    mode: str | None = None,
    tiers: tuple[Tier, ...] = (),
) -> Price:
    if amount < 0:
        raise ApiError.bad_field(f"{field}.amount", "must not be negative", "minimum")
    try:
        return Price(price_type, amount, term, mode, tiers)
    except ValueError as err:
        raise ApiError.bad_field(field, str(err), "format") from None


def _tier_v3(raw: Any, path: str) -> Tier:
    f = Fields(raw, path, allowed=("up_to_amount", "unit_price", "flat_price"))
    unit = f.opt_obj("unit_price", allowed=("type", "amount"))
    flat = f.opt_obj("flat_price", allowed=("type", "amount"))
    if unit is None and flat is None:
        raise ApiError.bad_field(path, "a tier needs unit_price, flat_price or both", "required")
    if unit is not None and unit.req_str("type") != "unit":
        raise ApiError.bad_field(unit.at("type"), "must be unit", "enum")
    if flat is not None and flat.req_str("type") != "flat":
        raise ApiError.bad_field(flat.at("type"), "must be flat", "enum")
    return Tier(
        up_to=f.opt_numeric("up_to_amount"),
        flat_amount=flat.numeric("amount") if flat is not None else None,
        unit_amount=unit.numeric("amount") if unit is not None else None,
    )


def _check_tiers(tiers: tuple[Tier, ...], path: str) -> None:
    if not tiers:
        raise ApiError.bad_field(path, "at least one tier is required", "minItems")
    for i, tier in enumerate(tiers[:-1]):
        if tier.up_to is None:
            raise ApiError.bad_field(f"{path}[{i}]", "only the last tier may omit its upper bound", "required")
    if tiers[-1].up_to is not None:
        raise ApiError.bad_field(f"{path}[{len(tiers) - 1}]", "the last tier must not have an upper bound", "format")


def parse_price_v3(raw: Any, term: PaymentTerm, path: str) -> Price | None:
    """A v3 rate-card price (None for ``free``); ``term`` is the rate card's payment term."""
    f = Fields(raw, path, allowed=("type", "amount", "tiers"))
    kind = f.req_str("type")
    if kind == "free":
        return None
    if kind == "flat":
        return _price(PriceType.FLAT, f.numeric("amount"), term, path)
    if kind == "unit":
        if term is not PaymentTerm.IN_ARREARS:
            _usage_in_advance(path)
        return _price(PriceType.UNIT, f.numeric("amount"), PaymentTerm.IN_ARREARS, path)
    if kind in ("graduated", "volume"):
        if term is not PaymentTerm.IN_ARREARS:
            _usage_in_advance(path)
        tiers = tuple(_tier_v3(t, f"{f.at('tiers')}[{i}]") for i, t in enumerate(f.items("tiers")))
        _check_tiers(tiers, f.at("tiers"))
        return _price(PriceType.TIERED, Decimal(0), PaymentTerm.IN_ARREARS, path, mode=kind, tiers=tiers)
    raise ApiError.bad_field(
        f.at("type"), f"unsupported price type {kind!r} (unit, flat, graduated, volume, free)", "enum"
    )


def _usage_in_advance(path: str) -> NoReturn:
    raise ApiError.bad_field(path, "usage based prices must be paid in arrears", "format")


def _tier_v1(raw: Any, path: str) -> Tier:
    f = Fields(raw, path)
    unit = f.opt_obj("unitPrice")
    flat = f.opt_obj("flatPrice")
    if unit is None and flat is None:
        raise ApiError.bad_field(path, "a tier needs unitPrice, flatPrice or both", "required")
    return Tier(
        up_to=f.opt_numeric("upToAmount"),
        flat_amount=flat.numeric("amount") if flat is not None else None,
        unit_amount=unit.numeric("amount") if unit is not None else None,
    )


def parse_price_v1(raw: Any, path: str) -> Price | None:
    """A v1 rate-card price (None when absent)."""
    if raw is None:
        return None
    f = Fields(raw, path)
    kind = f.req_str("type")
    if kind == "unit":
        return _price(PriceType.UNIT, f.numeric("amount"), PaymentTerm.IN_ARREARS, path)
    if kind == "flat":
        term = parse_payment_term(f.opt_str("paymentTerm"), f.at("paymentTerm"))
        return _price(PriceType.FLAT, f.numeric("amount"), term, path)
    if kind == "tiered":
        mode = f.req_str("mode")
        if mode not in ("graduated", "volume"):
            raise ApiError.bad_field(f.at("mode"), "must be graduated or volume", "enum")
        tiers = tuple(_tier_v1(t, f"{f.at('tiers')}[{i}]") for i, t in enumerate(f.items("tiers")))
        _check_tiers(tiers, f.at("tiers"))
        return _price(PriceType.TIERED, Decimal(0), PaymentTerm.IN_ARREARS, path, mode=mode, tiers=tiers)
    raise ApiError.bad_field(f.at("type"), f"unsupported price type {kind!r} (unit, flat, tiered)", "enum")


def price_v3(price: Price | None) -> dict[str, Any]:
    if price is None:
        return {"type": "free"}
    if price.type is PriceType.TIERED:
        tiers: list[dict[str, Any]] = []
        for tier in price.tiers:
            out: dict[str, Any] = {}
            if tier.up_to is not None:
                out["up_to_amount"] = numeric(tier.up_to)
            if tier.unit_amount is not None:
                out["unit_price"] = {"type": "unit", "amount": numeric(tier.unit_amount)}
            if tier.flat_amount is not None:
                out["flat_price"] = {"type": "flat", "amount": numeric(tier.flat_amount)}
            tiers.append(out)
        return {"type": price.mode or "graduated", "tiers": tiers}
    return {"type": price.type.value, "amount": numeric(price.amount)}


def price_v1(price: Price | None) -> dict[str, Any] | None:
    if price is None:
        return None
    if price.type is PriceType.TIERED:
        tiers: list[dict[str, Any]] = []
        for tier in price.tiers:
            out: dict[str, Any] = {
                "flatPrice": None
                if tier.flat_amount is None
                else {"type": "flat", "amount": numeric(tier.flat_amount)},
                "unitPrice": None
                if tier.unit_amount is None
                else {"type": "unit", "amount": numeric(tier.unit_amount)},
            }
            if tier.up_to is not None:
                out["upToAmount"] = numeric(tier.up_to)
            tiers.append(out)
        return {"type": "tiered", "mode": price.mode or "graduated", "tiers": tiers}
    body: dict[str, Any] = {"type": price.type.value, "amount": numeric(price.amount)}
    if price.is_flat:
        body["paymentTerm"] = price.payment_term.value
    return body
