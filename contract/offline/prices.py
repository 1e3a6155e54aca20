"""Prices the offline OpenMeter reads from requests and writes in answers, as the engine's
:class:`~contract.model.domain.Price`.

Both versions' shapes (v3 ``graduated``/``volume`` and ``free``, v1 ``tiered`` + ``mode`` and
``paymentTerm``; their keys and rendering) are :mod:`contract.wire.prices`'. This module adds what
OpenMeter checks when it reads one (its validation messages): v3 refuses unknown keys and usage
prices paid in advance, tiers need a price and only the last may be unbounded, amounts are
Numeric strings and never negative. Amounts are written as OpenMeter normalises them (``"0.10"``
-> ``"0.1"``).
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from contract.model.domain import PaymentTerm, Price, PriceType, Tier
from contract.offline.problems import Api, ApiError, Fields
from contract.wire.prices import PRICE, TIER, TIERED_MODES, domain_price_body
from contract.wire.read import format_numeric as numeric

E = TypeVar("E", bound=Enum)

__all__ = ["numeric", "parse_choice", "parse_payment_term", "parse_price", "price_v1", "price_v3"]


def parse_choice(value: str | None, field: str, choices: type[E], default: E, reason: str) -> E:
    """One of an enum's values (``default`` when absent); otherwise a 400 with ``reason``."""
    if value is None:
        return default
    try:
        return choices(value)
    except ValueError:
        raise ApiError.bad_field(field, reason, "enum") from None


def parse_payment_term(value: str | None, field: str) -> PaymentTerm:
    reason = f"unknown payment term {value!r} (in_advance, in_arrears)"
    return parse_choice(value, field, PaymentTerm, PaymentTerm.IN_ARREARS, reason)


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


def _tier(raw: Any, path: str, api: Api) -> Tier:
    """One tier; v3 refuses unknown keys and nested prices of the wrong type."""
    keys = {name: TIER.key(name, api) for name in ("up_to", "unit_price", "flat_price")}
    f = Fields(raw, path, allowed=keys.values() if api == "v3" else None)
    nested = ("type", "amount") if api == "v3" else None
    unit = f.opt_obj(keys["unit_price"], allowed=nested)
    flat = f.opt_obj(keys["flat_price"], allowed=nested)
    if unit is None and flat is None:
        raise ApiError.bad_field(path, f"a tier needs {keys['unit_price']}, {keys['flat_price']} or both", "required")
    if api == "v3":
        for inner, kind in ((unit, "unit"), (flat, "flat")):
            if inner is not None and inner.req_str("type") != kind:
                raise ApiError.bad_field(inner.at("type"), f"must be {kind}", "enum")
    return Tier(
        up_to=f.opt_numeric(keys["up_to"]),
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


_KINDS: dict[Api, tuple[str, ...]] = {"v3": ("unit", "flat", *TIERED_MODES, "free"), "v1": ("unit", "flat", "tiered")}


def parse_price(raw: Any, path: str, api: Api, term: PaymentTerm = PaymentTerm.IN_ARREARS) -> Price | None:
    """A rate-card price (None: free, or v1's absent price). v3's payment term is the rate card's
    (``term``); v1's flat price carries its own."""
    if raw is None and api == "v1":
        return None
    f = Fields(raw, path, allowed=("type", "amount", "tiers") if api == "v3" else None)
    kind = f.req_str("type")
    if kind not in _KINDS[api]:
        raise ApiError.bad_field(f.at("type"), f"unsupported price type {kind!r} ({', '.join(_KINDS[api])})", "enum")
    if kind == "free":
        return None
    if kind == "tiered":
        kind = f.req_str("mode")
        if kind not in TIERED_MODES:
            raise ApiError.bad_field(f.at("mode"), "must be graduated or volume", "enum")
    if kind == "flat":
        if api == "v1":
            key = PRICE.key("payment_term", api)
            term = parse_payment_term(f.opt_str(key), f.at(key))
        return _price(PriceType.FLAT, f.numeric("amount"), term, path)
    if term is not PaymentTerm.IN_ARREARS:
        raise ApiError.bad_field(path, "usage based prices must be paid in arrears", "format")
    if kind == "unit":
        return _price(PriceType.UNIT, f.numeric("amount"), PaymentTerm.IN_ARREARS, path)
    tiers = tuple(_tier(t, f"{f.at('tiers')}[{i}]", api) for i, t in enumerate(f.items("tiers")))
    _check_tiers(tiers, f.at("tiers"))
    return _price(PriceType.TIERED, Decimal(0), PaymentTerm.IN_ARREARS, path, mode=kind, tiers=tiers)


def price_v3(price: Price | None) -> dict[str, Any]:
    body = domain_price_body(price, "v3")
    assert body is not None  # v3 writes a free price as {"type": "free"}
    return body


def price_v1(price: Price | None) -> dict[str, Any] | None:
    return domain_price_body(price, "v1")
