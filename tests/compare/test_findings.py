"""The finding vocabulary (contract.compare.findings)."""

from __future__ import annotations

from contract.compare.findings import Finding, FindingKind


def test_one_line_names_step_id_field_and_values() -> None:
    f = Finding(
        FindingKind.DIFFERENT,
        "status differs",
        step="step 2",
        id="S/p/a/v[0]/period[0]",
        field="status",
        expected="active",
        actual="created",
    )
    assert (
        f.one_line() == "different [step 2] S/p/a/v[0]/period[0] status: expected active got created — status differs"
    )


def test_one_line_without_values() -> None:
    assert Finding(FindingKind.LOG, "dead-letter queue").one_line() == "log  — dead-letter queue"
