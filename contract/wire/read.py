"""Small, strict readers for JSON bodies: every failure names the field path and why.

The readers a :class:`contract.wire.shape.Field` names (``opt_str``, ``req_time``, ...) all take
``(data, key, path)``; a failure raises :class:`ShapeError`, which the client turns into
:class:`contract.client.errors.OpenMeterResponseError`. :func:`format_numeric` writes amounts the
way OpenMeter normalises them, for request bodies and for the offline OpenMeter's answers alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from contract.model.domain import SettlementMode
from contract.model.time import Period, parse_time

T = TypeVar("T")

__all__ = [
    "ShapeError",
    "format_numeric",
    "items",
    "join",
    "nested_id",
    "obj",
    "opt_bool",
    "opt_decimal",
    "opt_int",
    "opt_obj",
    "opt_period",
    "opt_settlement",
    "opt_str",
    "opt_time",
    "req_decimal",
    "req_period",
    "req_str",
    "req_time",
    "to_decimal",
    "to_period",
    "to_time",
]


class ShapeError(ValueError):
    """A response body that does not have the shape the client needs."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field or '<body>'}: {reason}")
        self.field = field
        self.reason = reason


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _convert(data: Mapping[str, Any], key: str, path: str, convert: Callable[[Any, str], T]) -> T | None:
    """``convert(data[key], its path)``; None when absent or ``null``."""
    value = data.get(key)
    return None if value is None else convert(value, join(path, key))


def _typed(data: Mapping[str, Any], key: str, path: str, kind: type[T], what: str) -> T | None:
    """``data[key]`` if it is a ``kind``; None when absent or ``null``."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, kind):
        raise ShapeError(join(path, key), f"expected {what}, got {type(value).__name__}")
    return value


def _required(value: T | None, key: str, path: str) -> T:
    if value is None:
        raise ShapeError(join(path, key), "missing")
    return value


def obj(value: Any, path: str = "") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ShapeError(path, f"expected an object, got {type(value).__name__}")
    return value


def opt_obj(data: Mapping[str, Any], key: str, path: str = "") -> Mapping[str, Any] | None:
    return _convert(data, key, path, obj)


def items(data: Mapping[str, Any], key: str, path: str = "") -> list[Any]:
    """A list field; missing or ``null`` (Go's nil slice) reads as empty."""
    return _typed(data, key, path, list, "a list") or []


def req_str(data: Mapping[str, Any], key: str, path: str = "") -> str:
    return _required(opt_str(data, key, path), key, path)


def opt_str(data: Mapping[str, Any], key: str, path: str = "") -> str | None:
    return _typed(data, key, path, str, "a string")


def opt_bool(data: Mapping[str, Any], key: str, path: str = "") -> bool | None:
    return _typed(data, key, path, bool, "a boolean")


def opt_int(data: Mapping[str, Any], key: str, path: str = "") -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ShapeError(join(path, key), f"expected an integer, got {value!r}")
    return int(value)


def to_time(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise ShapeError(path, f"expected an RFC 3339 timestamp, got {type(value).__name__}")
    try:
        return parse_time(value)
    except ValueError as err:
        raise ShapeError(path, str(err)) from None


def req_time(data: Mapping[str, Any], key: str, path: str = "") -> datetime:
    return _required(opt_time(data, key, path), key, path)


def opt_time(data: Mapping[str, Any], key: str, path: str = "") -> datetime | None:
    return _convert(data, key, path, to_time)


def to_decimal(value: Any, path: str) -> Decimal:
    """A Numeric (string like ``"0.1"``) or a JSON number, as an exact Decimal."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ShapeError(path, f"expected a numeric string, got {type(value).__name__}")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise ShapeError(path, f"not a number: {value!r}") from None
    if not result.is_finite():
        raise ShapeError(path, f"not a finite number: {value!r}")
    return result


def opt_decimal(data: Mapping[str, Any], key: str, path: str = "") -> Decimal | None:
    return _convert(data, key, path, to_decimal)


def req_decimal(data: Mapping[str, Any], key: str, path: str = "") -> Decimal:
    return _required(opt_decimal(data, key, path), key, path)


def to_period(value: Any, path: str) -> Period:
    """A ``{from, to}`` period; both ends are required."""
    period = obj(value, path)
    return Period(req_time(period, "from", path), req_time(period, "to", path))


def opt_period(data: Mapping[str, Any], key: str, path: str = "") -> Period | None:
    return _convert(data, key, path, to_period)


def req_period(data: Mapping[str, Any], key: str, path: str = "") -> Period:
    return _required(opt_period(data, key, path), key, path)


def nested_id(data: Mapping[str, Any], key: str, path: str = "") -> str | None:
    """``data[key].id`` or None."""
    inner = opt_obj(data, key, path)
    if inner is None:
        return None
    return opt_str(inner, "id", join(path, key))


def format_numeric(value: Decimal | int | str) -> str:
    """A Decimal as OpenMeter's Numeric string: no exponent, no trailing zeros (``"0.1"``)."""
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    text = format(d.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def opt_settlement(data: Mapping[str, Any], key: str, path: str = "") -> SettlementMode | None:
    raw = opt_str(data, key, path)
    if raw is None:
        return None
    try:
        return SettlementMode(raw)
    except ValueError:
        raise ShapeError(join(path, key), f"unknown settlement mode {raw!r}") from None
