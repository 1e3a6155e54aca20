"""What the offline catalogue's resources share: the fields every resource answers with,
timestamps as the server writes them, currency codes read strictly, and plain copies of JSON
objects kept in frozen values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from contract.model.time import format_time
from contract.offline.problems import Api, ApiError, Fields
from contract.wire.shape import camel_keys

__all__ = ["EMPTY", "RESOURCE_FIELDS", "currency_code", "plain", "resource", "timestamp"]

#: What every v3 resource body may carry besides its own fields.
RESOURCE_FIELDS = ("name", "description", "labels")

_CURRENCY = re.compile(r"^[A-Z]{3}$")
EMPTY: Mapping[str, Any] = MappingProxyType({})


def timestamp(value: datetime) -> str:
    return format_time(value)


def resource(api: Api, *, id: str, name: str, created_at: datetime, key: str | None = None) -> dict[str, Any]:
    """What every resource answers with: id, (key,) name and timestamps; v3 adds empty ``labels``."""
    stamp = timestamp(created_at)
    body: dict[str, Any] = {"created_at": stamp, "id": id, "name": name, "updated_at": stamp}
    if key is not None:
        body["key"] = key
    if api == "v3":
        body["labels"] = {}
        return body
    return dict(camel_keys(body))


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
