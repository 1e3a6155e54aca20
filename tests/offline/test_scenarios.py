"""The lead's runner against the offline OpenMeter: the #4412 scenario agrees on HEAD and disagrees,
at the cancel step, with the worker log's evidence, on the #4412-window behaviour."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contract.client import OpenMeterClient
from contract.clock import VirtualClock
from contract.model import Behaviour
from contract.offline import OfflineOpenMeter
from contract.scenario.loader import load_scenario
from contract.scenario.result import ScenarioResult, Target, TargetKind, Verdict
from contract.scenario.runner import Environment, ForceSyncOutcome, Runner
from contract.scenario.targets import scan_logs

from .helpers import SCENARIOS

ClientFor = Callable[[OfflineOpenMeter], OpenMeterClient]


def _run(
    behaviour: Behaviour, name: str, clock: VirtualClock, client_for: ClientFor
) -> tuple[ScenarioResult, OfflineOpenMeter]:
    fake = OfflineOpenMeter(behaviour, clock=clock)
    env = Environment(
        client=client_for(fake),
        clock=clock,
        target=Target(
            TargetKind.OFFLINE,
            fake.base_url,
            version={"version": f"offline-{behaviour.value}"},
            behaviour=behaviour.value,
        ),
        logs=fake.logs,
        sync_states=fake.sync_states,
        force_sync=lambda customer_id: ForceSyncOutcome(fake.force_sync(customer_id), "offline fake sync"),
        behaviour=Behaviour.HEAD,
        scan_logs=scan_logs,
        server_config=fake.server_config,
    )
    return Runner(env).run(load_scenario(SCENARIOS / f"{name}.yaml"), run_id="offline1"), fake


@pytest.fixture
def scenario_file() -> None:
    if not (SCENARIOS / "issue-4412-cti-cancel-immediately.yaml").exists():
        pytest.skip("fixtures/scenarios/issue-4412-cti-cancel-immediately.yaml is absent")


@pytest.mark.usefixtures("scenario_file")
def test_the_4412_scenario_agrees_with_the_head_behaviour(clock: VirtualClock, client_for: ClientFor) -> None:
    result, _ = _run(Behaviour.HEAD, "issue-4412-cti-cancel-immediately", clock, client_for)
    assert result.verdict is Verdict.AGREE, [f.message for s in result.steps for f in s.findings]
    assert [s.verdict for s in result.steps] == [Verdict.AGREE] * 4
    assert result.steps[-1].sync_ran is True


@pytest.mark.usefixtures("scenario_file")
def test_the_4412_scenario_disagrees_at_the_cancel_on_the_bug_behaviour(
    clock: VirtualClock, client_for: ClientFor
) -> None:
    result, _ = _run(Behaviour.ISSUE_4412, "issue-4412-cti-cancel-immediately", clock, client_for)
    assert result.verdict is Verdict.DISAGREE
    assert [s.verdict for s in result.steps] == [
        Verdict.AGREE,
        Verdict.AGREE,
        Verdict.AGREE,
        Verdict.DISAGREE,
    ]
    cancel = result.steps[-1]
    assert cancel.sync_ran is False
    evidence = {ev.signature: ev for ev in cancel.logs}
    assert evidence["duplicate-unique-id"].attempts == 10 and evidence["duplicate-unique-id"].conclusive
    assert evidence["duplicate-unique-id"].subscription_id == result.subscription_ids[0]
    assert "message-dlq" in evidence
    assert (
        cancel.explanation is not None
        and "issue-4412 behaviour predicts exactly what was observed" in cancel.explanation
    )
