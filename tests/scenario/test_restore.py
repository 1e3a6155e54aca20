"""The restore step: a plan change scheduled for later is undone; the successor's artifacts go."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.errors import InputError
from contract.model import Behaviour
from contract.scenario.loader import load_scenario
from contract.scenario.result import Verdict
from contract.scenario.runner import Runner
from contract.scenario.targets import open_offline

FINDING = Path("fixtures/findings/restore-leaves-deleted-successor-charge.yaml")


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
