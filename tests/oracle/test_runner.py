"""Running oracle cases through the engine (contract.oracle.runner)."""

from __future__ import annotations

from pathlib import Path

from contract.compare.findings import FindingKind
from contract.oracle.case import load_case
from contract.oracle.runner import run_case

ORACLE = Path(__file__).resolve().parents[2] / "fixtures" / "oracle"


def test_steps_produce_snapshots_only_where_the_engine_ran() -> None:
    result = run_case(load_case(ORACLE / "O16-aligned-cancellation-cti.yaml"))
    kinds = [(o.step.kind, o.snapshot is not None, o.checked) for o in result.steps]
    assert kinds == [("sync", True, True), ("cancel", False, False), ("sync", True, True)]
    last = result.steps[-1].snapshot
    assert last is not None and last.operations is not None and last.operations.delete == 2
    assert result.elapsed_ms >= 0


def test_until_step_stops_early() -> None:
    result = run_case(load_case(ORACLE / "O16-aligned-cancellation-cti.yaml"), until_step=1)
    assert len(result.steps) == 1
    snapshot = result.steps[0].snapshot
    assert snapshot is not None and len(snapshot.items) == 2


def test_kept_is_decided_against_the_snapshot_before_the_step() -> None:
    result = run_case(load_case(ORACLE / "O19-usage-based-gathering-update-cti.yaml"))
    last = result.steps[-1].snapshot
    assert last is not None
    kept = {a.id: a.kept for a in last.items}
    assert kept == {
        "S/first-phase/api-requests-total/v[0]/period[0]": True,
        "S/second-phase/api-requests-total/v[0]/period[0]": False,
    }


def test_a_misaligned_cancel_is_reported_as_refused(tmp_path: Path) -> None:
    src = (ORACLE / "O17-in-arrears-one-time-fee-lines.yaml").read_text()
    bad = src.replace('timing: "2024-01-15T00:00:00Z"', 'timing: "2024-01-16T00:00:00Z"')
    assert bad != src
    path = tmp_path / "misaligned.yaml"
    path.write_text(bad)
    result = run_case(load_case(path))
    refused = [f for f in result.findings if f.kind is FindingKind.REFUSED]
    assert [f.message for f in refused] == [
        "cancel refused: cannot cancel aligned subscription with custom misaligned timing"
    ]
