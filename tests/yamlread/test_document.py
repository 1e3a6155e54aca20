"""One YAML document for both formats (contract.yamlread.document): each keeps its wording."""

from __future__ import annotations

import pytest

from contract.errors import InputError
from contract.scenario.node import SCENARIO_WORDING
from contract.yamlread import CASE_WORDING, Wording, child_path, compose_document


@pytest.mark.parametrize(
    ("wording", "syntax", "empty"),
    [
        (CASE_WORDING, "f.yaml:2: not valid YAML: ", "f.yaml:1: empty file"),
        (SCENARIO_WORDING, "f.yaml:2: invalid YAML: ", "f.yaml: empty file: expected a scenario"),
    ],
)
def test_syntax_and_empty_documents_are_one_line_errors_in_the_formats_words(
    wording: Wording, syntax: str, empty: str
) -> None:
    with pytest.raises(InputError) as bad:
        compose_document("a: [1,\nb: }\n", "f.yaml", wording)
    assert str(bad.value).startswith(syntax) and "\n" not in str(bad.value)
    with pytest.raises(InputError) as nothing:
        compose_document("# only a comment\n", "f.yaml", wording)
    assert str(nothing.value).startswith(empty)


def test_limits_apply_to_every_document() -> None:
    with pytest.raises(InputError, match="nested deeper than"):
        compose_document("[" * 100 + "]" * 100, "f.yaml", CASE_WORDING)


def test_child_paths() -> None:
    assert (child_path("", "steps"), child_path("steps", 3), child_path("steps[3]", "cancel")) == (
        "steps",
        "steps[3]",
        "steps[3].cancel",
    )
