from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from contract.model.domain import SettlementMode
from contract.model.time import Period
from contract.wire import read as r


def test_format_numeric_writes_openmeter_numerics() -> None:
    assert [r.format_numeric(Decimal(v)) for v in ("0.10", "10", "1E+1", "-0.0", "100.000", "0.05")] == [
        "0.1",
        "10",
        "10",
        "0",
        "100",
        "0.05",
    ]


def test_join_builds_field_paths() -> None:
    assert r.join("", "key") == "key"
    assert r.join("phases", 0) == "phases[0]"
    assert r.join("phases[0]", "rateCards") == "phases[0].rateCards"


@pytest.mark.parametrize(
    ("reader", "value", "message"),
    [
        (r.req_str, None, "at.k: missing"),
        (r.req_str, 5, "at.k: expected a string, got int"),
        (r.opt_str, [], "at.k: expected a string, got list"),
        (r.opt_bool, "true", "at.k: expected a boolean, got str"),
        (r.opt_int, 1.5, "at.k: expected an integer, got 1.5"),
        (r.items, {}, "at.k: expected a list, got dict"),
        (r.opt_obj, [], "at.k: expected an object, got list"),
        (r.req_time, None, "at.k: missing"),
        (r.opt_time, 5, "at.k: expected an RFC 3339 timestamp, got int"),
        (r.opt_decimal, "ten", "at.k: not a number: 'ten'"),
        (r.req_decimal, None, "at.k: missing"),
        (r.req_period, None, "at.k: missing"),
        (r.opt_period, {"from": "2026-01-01T00:00:00Z"}, "at.k.to: missing"),
        (r.opt_settlement, "pay_later", "at.k: unknown settlement mode 'pay_later'"),
    ],
)
def test_every_reader_names_the_field_and_why(reader: Callable[..., Any], value: Any, message: str) -> None:
    data = {} if value is None else {"k": value}
    with pytest.raises(r.ShapeError) as info:
        reader(data, "k", "at")
    assert str(info.value) == message


def test_absent_and_null_read_as_none_or_empty() -> None:
    data = {"k": None}
    readers = (r.opt_str, r.opt_bool, r.opt_int, r.opt_obj, r.opt_time, r.opt_decimal, r.opt_period, r.opt_settlement)
    assert [reader(data, "k") for reader in readers] == [None] * len(readers)
    assert r.items(data, "k") == []


def test_readers_return_typed_values() -> None:
    data = {
        "t": "2026-01-31T00:00:00.000001Z",
        "d": "0.10",
        "p": {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"},
        "s": "credit_only",
    }
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    assert r.req_time(data, "t") == datetime(2026, 1, 31, 0, 0, 0, 1, tzinfo=UTC)
    assert r.req_decimal(data, "d") == Decimal("0.1")
    assert r.req_period(data, "p") == Period(start, end)
    assert r.opt_settlement(data, "s") is SettlementMode.CREDIT_ONLY
    assert r.nested_id({"plan": {"id": "p1"}}, "plan") == "p1"
