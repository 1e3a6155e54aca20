"""A step's ``expect`` block is typed at load (contract.scenario.expect_reader): bad blocks are
refused with ``file:line: field: reason`` before any step runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.compare.expectation import Partial
from contract.errors import InputError
from contract.model.domain import Backend
from contract.scenario.loader import load_scenario
from tests.scenario.test_loader import HEAD_LINES, write

GOOD_ID = "S/default/api_calls/v[0]/period[0]"


def _error(tmp_path: Path, expect: str) -> InputError:
    path = write(tmp_path, f"steps:\n  - subscribe: {{plan: usage}}\n    expect:\n{expect}")
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert err.value.file == str(path)
    return err.value


@pytest.mark.parametrize(
    ("expect", "line", "field", "reason"),
    [
        (
            f'      items: [{{id: "{GOOD_ID}", backend: chrage}}]\n',
            4,
            "steps[0].expect.items[0].backend",
            "unknown backend 'chrage' (line or charge)",
        ),
        (
            f'      items:\n        - "{GOOD_ID}"\n        - {{id: "{GOOD_ID}"}}\n',
            6,
            "steps[0].expect.items[1]",
            f"id {GOOD_ID!r} is listed twice",
        ),
        (
            "      absent: [api_calls]\n",
            4,
            "steps[0].expect.absent[0]",
            "not a unique reference id: 'api_calls'",
        ),
        (
            "      items:\n        - {id: S/default/api_calls}\n",
            5,
            "steps[0].expect.items[0].id",
            "not a unique reference id: 'S/default/api_calls'",
        ),
        (
            '      deleted_charges: ["S/default/api_calls/period[0]"]\n',
            4,
            "steps[0].expect.deleted_charges[0]",
            "not a unique reference id",
        ),
        (
            f'      items: [{{id: "{GOOD_ID}", amount: 1.5}}]\n',
            4,
            "steps[0].expect.items[0].amount",
            'write decimals as quoted strings: "1.5", not 1.5',
        ),
        ("      partial: maybe\n", 4, "steps[0].expect.partial", 'expected true, false or "lines"'),
    ],
)
def test_a_bad_expect_is_refused_at_load_with_its_line(
    tmp_path: Path, expect: str, line: int, field: str, reason: str
) -> None:
    err = _error(tmp_path, expect)
    assert (err.line, err.field) == (HEAD_LINES + line, field)
    assert reason in err.reason


def test_the_typed_expectation_maps_logical_ids_to_a_runs_real_ones(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "steps:\n  - subscribe: {plan: usage}\n    expect:\n"
        f'      items: ["{GOOD_ID}", {{id: "S/default/platform_fee/v[0]/period[0]", backend: line}}]\n'
        '      deleted_charges: ["S/default/tokens/v[0]/period[0]"]\n'
        '      absent: ["S/default/tokens/v[0]/period[1]"]\n'
        "      partial: lines\n",
    )
    sc = load_scenario(path)
    expect = sc.steps[0].expect
    assert expect is not None
    keys = sc.keys_for_run("1700000000000_abc")
    real = expect.for_run(lambda logical: keys.real_unique_id(logical, "01SUB"))
    assert [i.id for i in real.items] == [
        "01SUB/default/api_calls_1700000000000_abc/v[0]/period[0]",
        "01SUB/default/platform_fee/v[0]/period[0]",
    ]
    assert real.items[1].backend is Backend.LINE and real.partial is Partial.LINES
    assert [i.id for i in real.deleted_charges] == ["01SUB/default/tokens_1700000000000_abc/v[0]/period[0]"]
    assert real.absent == ("01SUB/default/tokens_1700000000000_abc/v[0]/period[1]",)
    assert [i.id for i in expect.expected.items] == [GOOD_ID, "S/default/platform_fee/v[0]/period[0]"]


def test_an_expect_with_only_a_refusal_has_no_expectation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "steps:\n  - subscribe: {plan: usage}\n  - subscribe: {plan: usage}\n"
        "    expect: {refused: {status: 409, code: only_one}}\n",
    )
    step = load_scenario(path).steps[1]
    assert step.expect is None and step.refused is not None
    assert (step.refused.status, step.refused.code) == (409, "only_one")
