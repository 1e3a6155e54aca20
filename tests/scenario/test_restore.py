"""The restore step: a plan change scheduled for later is undone; the successor's artifacts go."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.commands.explore import load_known
from contract.compare import FindingKind
from contract.errors import InputError
from contract.explore.classify import classify
from contract.model import Behaviour
from contract.scenario.loader import load_scenario
from contract.scenario.result import Verdict
from contract.scenario.runner import Runner
from contract.scenario.targets import open_offline, open_replay

FINDING = Path("fixtures/findings/restore-leaves-deleted-successor-charge.yaml")
ONE_TIME_FEE = Path("fixtures/findings/restore-one-time-fee-sync-fails.yaml")
#: ``omcontract run fixtures/findings/restore-one-time-fee-sync-fails.yaml --record ...`` against a
#: native HEAD 7e57a394a (2026-12-03), worker-log lines included
ONE_TIME_FEE_RECORDING = Path(__file__).parent / "data" / "head-restore-one-time-fee.jsonl"


def test_the_offline_openmeter_deletes_the_successors_charge_and_agrees() -> None:
    scenario = load_scenario(FINDING)
    with open_offline(Behaviour.HEAD) as session:
        result = Runner(session.env).run(scenario)
    assert result.verdict is Verdict.AGREE, [f.one_line() for s in result.steps for f in s.findings]
    restore = result.steps[-1]
    successor = result.subscription_ids[1]
    assert result.subscription_ids[0] in restore.summary and successor in restore.summary
    assert restore.expected is not None  # the previous subscription goes on with its own charges
    assert all(not a.id.startswith(successor) for a in restore.expected.items)


def test_restore_needs_a_plan_change_scheduled_for_later(tmp_path: Path) -> None:
    text = FINDING.read_text().replace("timing: next_billing_cycle", "timing: immediate")
    path = tmp_path / FINDING.name
    path.write_text(text)
    with pytest.raises(InputError, match="restore needs a plan change scheduled for later"):
        load_scenario(path)


def test_head_restoring_a_one_time_fee_fails_every_sync_and_leaves_the_successors_fee() -> None:
    """Replayed from a live HEAD run: the restored subscription's sync is refused (shrink to an
    instant period) up to the DLQ, and the deleted successor's one-time fee, due at an instant,
    is still live: named by the invariant, and classed as the known finding it is."""
    with open_replay(ONE_TIME_FEE_RECORDING) as session:
        assert session.recording is not None
        result = Runner(session.env).run(load_scenario(ONE_TIME_FEE), run_id=session.recording.run_id)
    assert result.verdict is Verdict.DISAGREE
    assert [s.verdict for s in result.steps] == [Verdict.AGREE, Verdict.AGREE, Verdict.DISAGREE]
    restore = result.steps[-1]
    restored, successor = result.subscription_ids
    shrink = [ev for ev in restore.logs if ev.signature == "shrink-to-instant-refused" and ev.subscription_id]
    assert [(ev.subscription_id, ev.conclusive, ev.attempts) for ev in shrink] == [(restored, True, 10)]
    assert any(ev.signature == "message-dlq" and ev.subscription_id == restored for ev in restore.logs)
    invariant = [f for f in restore.findings if f.kind is FindingKind.INVARIANT]
    assert [(f.id, f.field) for f in invariant] == [(f"{successor}/default/other_fee/v[0]", "artifact-after-active-to")]
    failure = classify(result)
    assert failure is not None and failure.key == "log shrink-to-instant-refused"
    assert Path(load_known(None)[failure.key]) == ONE_TIME_FEE
