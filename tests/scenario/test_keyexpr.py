"""Selecting scenarios with a ``-k`` expression (contract.scenario.keyexpr)."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.errors import InputError
from contract.scenario.keyexpr import select
from contract.scenario.loader import load_scenarios
from contract.scenario.model import Scenario
from tests.scenario.test_loader import write


@pytest.fixture
def corpus(tmp_path: Path) -> list[Scenario]:
    names = ["issue-4412-cti", "issue-4412-credit-only", "renewal", "plan-edit", "plan-change"]
    for name in names:
        write(tmp_path, "steps:\n  - subscribe: {plan: usage}\n", name=name)
    return load_scenarios([tmp_path])


@pytest.mark.parametrize(
    ("expression", "ids"),
    [
        ("", ["issue-4412-credit-only", "issue-4412-cti", "plan-change", "plan-edit", "renewal"]),
        ("4412", ["issue-4412-credit-only", "issue-4412-cti"]),
        ("PLAN", ["plan-change", "plan-edit"]),
        ("not 4412", ["plan-change", "plan-edit", "renewal"]),
        ("renewal or plan-edit", ["plan-edit", "renewal"]),
        ("4412 and not credit", ["issue-4412-cti"]),
        ("not (plan or renewal)", ["issue-4412-credit-only", "issue-4412-cti"]),
        ("plan and change or renewal", ["plan-change", "renewal"]),
        ("nothing-matches", []),
    ],
)
def test_select_matches_k_expressions(corpus: list[Scenario], expression: str, ids: list[str]) -> None:
    assert [s.id for s in select(corpus, expression)] == ids


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("a or", "unexpected end"),
        ("(a", "unexpected end"),
        ("a b", "unexpected 'b'"),
        ("and a", "unexpected 'and'"),
        ("a )", "unexpected ')'"),
    ],
)
def test_bad_selection_is_an_input_error(corpus: list[Scenario], expression: str, reason: str) -> None:
    with pytest.raises(InputError) as err:
        select(corpus, expression)
    assert err.value.field == "-k" and reason in str(err.value)
