from __future__ import annotations

import re

import pytest

from contract.model.persisted import object_id
from contract.offline.ids import IdFactory, Kind

CROCKFORD_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def test_ids_are_26_crockford_characters_naming_their_kind() -> None:
    ids = IdFactory()
    sub = ids.new(Kind.SUBSCRIPTION)
    item = ids.new(Kind.ITEM)
    assert CROCKFORD_ULID.match(sub) and CROCKFORD_ULID.match(item)
    assert sub == "01S00000000000000000000001"
    assert item == "01J00000000000000000000002"


def test_the_same_calls_give_the_same_ids() -> None:
    first, second = IdFactory(), IdFactory()
    assert [first.new(k) for k in Kind] == [second.new(k) for k in Kind]


def test_ids_never_collide_with_the_engines_own_ids() -> None:
    ids = IdFactory()
    ours = {ids.new(Kind.CUSTOMER) for _ in range(50)}
    engine = {object_id(n) for n in range(1, 200)}
    assert not ours & engine


def test_trace_ids_are_32_hex_digits_and_advance_the_counter() -> None:
    ids = IdFactory()
    trace = ids.trace_id()
    assert re.fullmatch(r"[0-9a-f]{32}", trace)
    assert ids.new(Kind.METER).endswith("2")


def test_a_negative_start_is_refused() -> None:
    with pytest.raises(ValueError, match="start at 0 or more"):
        IdFactory(-1)
