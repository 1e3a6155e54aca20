"""contract.scenario.actions: the action table covers every step kind; acting returns a value."""

from __future__ import annotations

import typing
from dataclasses import replace
from types import MappingProxyType

import pytest

from contract.compare import FindingKind
from contract.model import Behaviour
from contract.scenario.actions import ACTIONS, Acted, Actor, act
from contract.scenario.environment import ForceSyncOutcome, StopScenario
from contract.scenario.loader import load_scenario
from contract.scenario.model import STEP_TYPES, ResyncStep, Step, SubscribeStep, WaitStep
from contract.scenario.prepare import prepare
from contract.scenario.runstate import RunState
from contract.scenario.targets import open_offline
from contract.scenario.timeexpr import NOW
from contract.scenario.timeline import EngineTimeline

from .conftest import SCENARIOS

REPRO = SCENARIOS / "issue-4412-cti-cancel-immediately.yaml"


def _run_state() -> RunState:
    scenario = load_scenario(REPRO)
    return RunState(scenario, scenario.keys_for_run("t1"), EngineTimeline(scenario.sync_config(), Behaviour.HEAD))


def test_every_step_type_the_model_defines_has_an_action() -> None:
    missing = {t.kind for t in STEP_TYPES} - {t.kind for t in ACTIONS}
    assert not missing, f"step kinds without an action: {sorted(missing)}"
    assert set(ACTIONS) == set(STEP_TYPES) == set(typing.get_args(Step))


@pytest.mark.parametrize("step_type", STEP_TYPES, ids=[t.kind for t in STEP_TYPES])
def test_each_action_takes_the_step_type_it_is_registered_for(step_type: type) -> None:
    hints = typing.get_type_hints(ACTIONS[step_type].perform)
    assert hints["step"] is step_type


def test_only_subscribe_runs_before_there_is_a_subscription() -> None:
    assert [t.kind for t, a in ACTIONS.items() if not a.needs_subscription] == ["subscribe"]


def test_a_step_before_the_subscription_stops_the_scenario_with_what_to_do() -> None:
    step = WaitStep(index=2, line=1, until=NOW)
    with (
        open_offline(Behaviour.HEAD) as session,
        pytest.raises(StopScenario, match=r"step 2 \(wait\) needs a subscription: subscribe first"),
    ):
        act(Actor(session.env), _run_state(), step)


def test_a_step_kind_missing_from_the_table_is_not_supported() -> None:
    table = MappingProxyType({t: a for t, a in ACTIONS.items() if t is not WaitStep})
    run = _run_state()
    run.subscription_id = "sub"
    with (
        open_offline(Behaviour.HEAD) as session,
        pytest.raises(StopScenario, match="step kind wait is not supported by this runner"),
    ):
        act(Actor(session.env), run, WaitStep(index=1, line=1, until=NOW), table)


def test_a_failed_forced_sync_comes_back_as_a_finding_and_the_jobs_log_text() -> None:
    with open_offline(Behaviour.HEAD, config_name="cti") as session:
        env = replace(session.env, force_sync=lambda customer: ForceSyncOutcome(False, "exit 1", "the job's output"))
        actor, run = Actor(env), _run_state()
        prepare(env.client, run)
        subscribed = act(actor, run, SubscribeStep(index=0, line=1, plan=run.scenario.setup.plans[0].key))
        assert subscribed.awaits_sync and subscribed.summary.startswith(f"subscribed {run.subscription_id} from ")
        assert subscribed.findings == () and subscribed.log_text == ""

        acted = act(actor, run, ResyncStep(index=1, line=2))

    assert acted == Acted(
        "forced a subscription sync: it FAILED",
        True,
        findings=acted.findings,
        log_text="the job's output",
    )
    assert [(f.kind, f.message, f.step) for f in acted.findings] == [
        (FindingKind.ERROR, "the forced sync failed: exit 1", "steps[1].resync")
    ]
    assert [c.kind for c in run.timeline.calls] == ["sync", "sync_only"]  # a forced sync does not invoice
