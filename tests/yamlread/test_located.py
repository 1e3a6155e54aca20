"""Located YAML values (contract.yamlread.located)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from contract.errors import InputError
from contract.model.time import Duration, Period
from contract.yamlread import from_data, parse_yaml


def test_values_remember_their_line_and_path() -> None:
    root = parse_yaml("a:\n  b:\n    - x: 1\n    - x: '2'\n", "f.yaml")
    item = root.mapping()["a"].mapping()["b"].seq()[1].mapping()["x"]
    assert (item.line, item.path, item.value) == (4, "a.b[1].x", "2")


def test_duplicate_keys_are_an_error() -> None:
    with pytest.raises(InputError) as err:
        parse_yaml("a: 1\na: 2\n", "f.yaml")
    assert str(err.value) == "f.yaml:2: a: duplicate key"


def test_empty_documents_are_an_error() -> None:
    with pytest.raises(InputError, match=r"^f\.yaml:1: empty file$"):
        parse_yaml("", "f.yaml")


def test_scalar_readers() -> None:
    root = parse_yaml(
        "t: 2024-01-01T00:00:00Z\ns: '2024-01-01T00:00:00.5Z'\nd: P1M\nn: '2.26'\ni: 3\nb: true\n"
        "p: ['2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z']\n",
        "f.yaml",
    ).mapping()
    assert root["t"].time() == datetime(2024, 1, 1, tzinfo=UTC)
    assert root["s"].time().microsecond == 500000
    assert root["d"].duration() == Duration(months=1)
    assert root["n"].decimal() == Decimal("2.26")
    assert root["i"].integer() == 3 and root["i"].decimal() == Decimal(3)
    assert root["b"].boolean() is True
    assert root["p"].period() == Period(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC))


def test_reader_errors_name_the_field() -> None:
    root = parse_yaml("p: ['2024-02-01T00:00:00Z', '2024-01-01T00:00:00Z']\nb: yes-ish\n", "f.yaml").mapping()
    with pytest.raises(InputError, match=r"^f\.yaml:1: p: period ends before it starts$"):
        root["p"].period()
    with pytest.raises(InputError, match=r"^f\.yaml:2: b: expected true or false, got str 'yes-ish'$"):
        root["b"].boolean()


def test_from_data_wraps_plain_values_with_one_line() -> None:
    node = from_data({"items": [{"id": "x"}]}, file="s.yaml", line=7, path="steps[0].expect")
    item = node.mapping()["items"].seq()[0].mapping()["id"]
    assert (item.line, item.path, item.text()) == (7, "steps[0].expect.items[0].id", "x")
