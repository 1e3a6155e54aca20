"""Money: the one rounding function of the reference engine.

OpenMeter rounds amounts to the currency's minor unit, half away from zero
(shared/design/sync-model.md §0). Every amount the engine produces goes through
:func:`round_money`; amounts are :class:`~decimal.Decimal` built from strings, never floats.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

# ISO 4217 minor units for the currencies that do not use two decimals; everything else has two.
_MINOR_UNITS: dict[str, int] = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


_CONTEXT = Context(prec=50, rounding=ROUND_HALF_UP)
_EXPONENTS: dict[str, Decimal] = {}


def minor_units(currency: str) -> int:
    """Decimal places of ``currency``'s minor unit (USD: 2, JPY: 0, KWD: 3)."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` to ``currency``'s minor unit, ties away from zero (``2.255`` -> ``2.26``)."""
    exponent = _EXPONENTS.get(currency)
    if exponent is None:
        exponent = _EXPONENTS[currency] = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP, context=_CONTEXT)


def prorate(amount: Decimal, numerator_seconds: Decimal, denominator_seconds: Decimal, currency: str) -> Decimal:
    """``round_money(amount × numerator / denominator)`` computed exactly before rounding."""
    ratio_amount = _CONTEXT.divide(_CONTEXT.multiply(amount, numerator_seconds), denominator_seconds)
    return round_money(ratio_amount, currency)


def format_money(amount: Decimal | None) -> str:
    """A stable text form: ``5`` for 5.00, ``2.26`` for 2.260; ``-`` for None."""
    if amount is None:
        return "-"
    if amount == amount.to_integral_value():
        return str(amount.quantize(Decimal(1)))
    return format(amount.normalize(), "f")


__all__ = ["format_money", "minor_units", "prorate", "round_money"]
