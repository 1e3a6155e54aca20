"""What the offline catalogue's resources share: timestamps as the server writes them, currency
codes read strictly, and plain copies of JSON objects kept in frozen values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from contract.model.time import format_time
from contract.offline.problems import ApiError, Fields

__all__ = ["EMPTY", "currency_code", "plain", "timestamp"]

_CURRENCY = re.compile(r"^[A-Z]{3}$")
EMPTY: Mapping[str, Any] = MappingProxyType({})


def timestamp(value: datetime) -> str:
    return format_time(value)


def currency_code(f: Fields, name: str, *, required: bool = False) -> str | None:
    value = f.req_str(name) if required else f.opt_str(name)
    if value is not None and not _CURRENCY.match(value):
        raise ApiError.bad_field(f.at(name), f"not a currency code: {value!r}", "pattern")
    return value


def plain(value: Any) -> Any:
    """``value`` with every mapping a dict and every sequence a list (JSON, mutable again)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
