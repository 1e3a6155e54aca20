"""Strict YAML nodes (contract.yamlread.node): typed by tag, errors at the node's own line."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from contract.errors import InputError
from contract.model.time import Duration
from contract.yamlread import CASE_WORDING, YamlNode, compose_document, missing_ref, optional, unknown


def root(text: str) -> YamlNode:
    return YamlNode(compose_document(text, "f.yaml", CASE_WORDING), "", "f.yaml")


def test_readers_take_values_by_tag() -> None:
    m = root("s: text\nb: true\ni: 3\nd: '0.10'\np: P1M\nn: null\nc: sum\n").mapping("sbidpnc")
    assert (m["s"].text(), m["b"].boolean(), m["i"].integer()) == ("text", True, 3)
    assert (m["d"].decimal(), m["p"].duration()) == (Decimal("0.10"), Duration(months=1))
    assert optional(m, "n") is None and m["c"].choice(["sum", "count"], "aggregation") == "sum"


@pytest.mark.parametrize(
    ("text", "read", "message"),
    [
        ("a: 1\nb: 2\n", lambda n: n.mapping(["a"]), "f.yaml:2: b: unknown key 'b' (allowed: a)"),
        ("a: 1\na: 2\n", lambda n: n.mapping(["a"]), "f.yaml:2: a: duplicate key (first at line 1)"),
        ("a: 1\n", lambda n: n.mapping(["a", "b"], ["b"]), "f.yaml:1: b: required field missing"),
        ("a:\n  - x\n", lambda n: n.mapping(["a"])["a"].text(), "f.yaml:2: a: expected a string, got a list"),
        (
            "a: 0.1\n",
            lambda n: n.mapping(["a"])["a"].decimal(),
            'f.yaml:1: a: write decimals as quoted strings: "0.1", not 0.1 (YAML numbers lose precision)',
        ),
        ("a: '-P1M'\n", lambda n: n.mapping(["a"])["a"].duration(), "f.yaml:1: a: must be a positive duration"),
    ],
)
def test_errors_name_file_line_field_and_reason(text: str, read: Callable[[YamlNode], object], message: str) -> None:
    with pytest.raises(InputError) as err:
        read(root(text))
    assert str(err.value).startswith(message)


def test_unknown_names_come_with_a_hint() -> None:
    assert (
        unknown("key", "nme", ["name", "expect"]) == "unknown key 'nme'; did you mean 'name'? (allowed: name, expect)"
    )
    assert missing_ref("plan", "Usage", ["usage"]) == "unknown plan 'Usage'; did you mean 'usage'? (defined: usage)"
    assert unknown("field", "x", []) == "unknown field 'x' (none are allowed)"
