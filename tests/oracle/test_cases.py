"""Every oracle case in fixtures/oracle passes through the reference engine (ground truth)."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.compare.findings import FindingKind
from contract.model.engine import Behaviour
from contract.oracle.case import OracleCase, SyncStep, load_case
from contract.oracle.runner import run_case

REPO = Path(__file__).resolve().parents[2]
ORACLE = REPO / "fixtures" / "oracle"
SHARED_ORACLE = REPO.parent / "shared" / "oracle"
CASE_FILES = sorted(ORACLE.glob("*.yaml"))


def test_the_fixture_corpus_is_present() -> None:
    assert len(CASE_FILES) >= 40


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_oracle_case_passes_at_head(path: Path) -> None:
    case = load_case(path)
    assert case.id == path.stem
    result = run_case(case, Behaviour.HEAD)
    assert result.passed, "\n".join(f.one_line() for f in result.findings)
    assert any(outcome.checked for outcome in result.steps)


def _resyncs_a_mirrored_charge(case: OracleCase) -> bool:
    """Whether, at HEAD, a sync runs after a step that left a charge with a mirror line: §4 says
    exactly those syncs fail in the #4412 window (the loader reads the mirror line's copied id)."""
    mirrored = False
    for outcome in run_case(case, Behaviour.HEAD).steps:
        if isinstance(outcome.step, SyncStep) and mirrored:
            return True
        if outcome.snapshot is not None:
            mirrored = mirrored or any(a.mirror is not None for a in outcome.snapshot.items)
    return False


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_under_issue_4412_a_case_fails_exactly_when_it_resyncs_a_mirrored_charge(path: Path) -> None:
    case = load_case(path)
    result = run_case(case, Behaviour.ISSUE_4412)
    errors = [f for f in result.findings if f.kind is FindingKind.ERROR]
    if not _resyncs_a_mirrored_charge(case):
        assert result.passed, "\n".join(f.one_line() for f in result.findings)
        assert not errors
        return
    assert not result.passed
    assert errors, "a failure under issue-4412 must start with the sync error"
    assert all((f.actual or "").startswith("duplicate unique id across persisted lines and charges: ") for f in errors)
    assert path.stem.endswith("-cti")


def test_the_issue_4412_partition_is_not_trivial() -> None:
    failing = [p.stem for p in CASE_FILES if _resyncs_a_mirrored_charge(load_case(p))]
    assert "O16-aligned-cancellation-cti" in failing
    assert 0 < len(failing) < len(CASE_FILES) // 2


def test_issue_4412_fails_the_motivating_case_at_its_resync() -> None:
    result = run_case(load_case(ORACLE / "O16-aligned-cancellation-cti.yaml"), Behaviour.ISSUE_4412)
    [error] = [f for f in result.findings if f.kind is FindingKind.ERROR]
    assert error.step == "step 3 (sync)"
    assert error.actual == (
        "duplicate unique id across persisted lines and charges: S/default/api-requests-total/v[0]/period[0]"
    )


@pytest.mark.skipif(not SHARED_ORACLE.is_dir(), reason=f"shared folder not present: {SHARED_ORACLE}")
def test_fixtures_are_byte_identical_copies_of_the_shared_oracle() -> None:
    shared = {p.name: p.read_bytes() for p in SHARED_ORACLE.glob("*.yaml")}
    local = {p.name: p.read_bytes() for p in CASE_FILES}
    assert local == shared
