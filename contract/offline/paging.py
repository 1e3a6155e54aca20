"""Query parameters of the offline OpenMeter: positive integers, booleans, v1 paging and v3 pages.

v1 lists take ``page`` (from 1) and ``pageSize`` (default 100); v3 lists take ``page[number]``
and ``page[size]`` and answer ``{data, meta: {page: {number, size, total}}}``. A bad value is a
400 problem naming the parameter, as OpenMeter answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from contract.offline.problems import ApiError

__all__ = ["V1_MAX_PAGE_SIZE", "V3_MAX_PAGE_SIZE", "bool_param", "positive_int", "v1_paging", "v3_page"]

V1_MAX_PAGE_SIZE = 1000
V3_MAX_PAGE_SIZE = 1000
_MAX_PAGE = 1_000_000


def positive_int(raw: str | None, field: str, default: int, maximum: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError.bad_field(field, f"expected an integer, got {raw!r}", "type") from None
    if value < 1 or value > maximum:
        raise ApiError.bad_field(field, f"must be between 1 and {maximum}", "minimum" if value < 1 else "maximum")
    return value


def bool_param(raw: str | None, field: str) -> bool:
    if raw is None:
        return False
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ApiError.bad_field(field, f"expected true or false, got {raw!r}", "type")


def v1_paging(page: str | None, size: str | None) -> tuple[int, int]:
    """``(page, pageSize)`` of a v1 list."""
    return (
        positive_int(page, "page", 1, _MAX_PAGE),
        positive_int(size, "pageSize", 100, V1_MAX_PAGE_SIZE),
    )


def v3_page(request: httpx.Request, rows: Iterable[Any], *, default_size: int) -> dict[str, Any]:
    """A v3 page: ``{data, meta: {page: {number, size, total}}}``; an empty page has ``data: null``
    (Go's nil slice, as observed live)."""
    params = request.url.params
    number = positive_int(params.get("page[number]"), "page[number]", 1, _MAX_PAGE)
    size = positive_int(params.get("page[size]"), "page[size]", default_size, V3_MAX_PAGE_SIZE)
    everything = list(rows)
    chosen = everything[(number - 1) * size : number * size]
    return {
        "data": chosen or None,
        "meta": {"page": {"size": size, "number": number, "total": len(everything)}},
    }
