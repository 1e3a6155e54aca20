"""contract.scenario.observer: polling until quiet, stopping early on a failed sync, the worker log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
import pytest

from contract.client import OpenMeterClient, OpenMeterProblem
from contract.client.errors import Problem
from contract.clock import VirtualClock
from contract.compare import Finding, FindingKind
from contract.model import Behaviour, Snapshot
from contract.scenario.environment import Environment, PollPolicy
from contract.scenario.loader import load_scenario
from contract.scenario.observer import REPEATED_FAILURE_AFTER_S, Observer
from contract.scenario.result import LogEvidence, Target, TargetKind
from contract.scenario.runstate import RunState
from contract.scenario.timeline import EngineTimeline
from contract.worklog.records import LogRecord

from .conftest import SCENARIOS

STEP = load_scenario(SCENARIOS / "issue-4412-cti-cancel-immediately.yaml").steps[0]
DIFFERENT = Finding(FindingKind.DIFFERENT, "differs", step="s")


class _Log:
    def mark(self) -> int:
        return 0

    def read_from(self, mark: int, since: datetime | None = None) -> list[LogRecord]:
        return []


def _evidence(*, subscription: str | None = "sub", attempts: int = 1, terminal: bool = False) -> LogEvidence:
    return LogEvidence(
        signature="duplicate-unique-id",
        title="duplicate unique id",
        upstream_issue=None,
        conclusive=True,
        subscription_id=subscription,
        unique_id=None,
        attempts=attempts,
        first_ts=None,
        last_ts=None,
        terminal=terminal,
    )


def _env(evidence: Sequence[LogEvidence] = (), deadline_s: float = 30.0) -> Environment:
    def scan(records: Sequence[LogRecord], subscriptions: Sequence[str]) -> list[LogEvidence]:
        return list(evidence)

    return Environment(
        client=OpenMeterClient("http://om.invalid", transport=httpx.MockTransport(lambda r: httpx.Response(500))),
        clock=VirtualClock(datetime(2026, 3, 3, 10, 0, tzinfo=UTC)),
        target=Target(TargetKind.OFFLINE, "http://om.invalid"),
        logs=_Log(),
        scan_logs=scan,
        poll=PollPolicy(deadline_s=deadline_s),
    )


def _run() -> RunState:
    scenario = load_scenario(SCENARIOS / "issue-4412-cti-cancel-immediately.yaml")
    run = RunState(scenario, scenario.keys_for_run("t1"), EngineTimeline(scenario.sync_config(), Behaviour.HEAD))
    run.subscription_id = "sub"
    run.subscriptions.append("sub")
    return run


class _Reads(Observer):
    """An observer whose reads give the snapshots (or raise the errors) it is handed, in order, then
    repeat the last one."""

    def __init__(self, env: Environment, reads: Sequence[Snapshot | OpenMeterProblem]) -> None:
        super().__init__(env)
        self.reads = list(reads)
        self.count = 0

    def observe(self, run: RunState, predicted: dict[str, Snapshot]) -> dict[str, Snapshot]:
        self.count += 1
        read = self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]
        if isinstance(read, OpenMeterProblem):
            raise read
        return {"sub": read}


def test_a_state_that_matches_stops_polling_once_it_is_quiet() -> None:
    env = _env()
    observer = _Reads(env, [Snapshot()])
    seen = observer.await_sync(_run(), STEP, {}, lambda observed: [], observer.log_mark())
    assert observer.count == env.poll.quiet_snapshots
    assert seen.quiet and seen.findings == () and seen.notes == ()
    assert seen.observed == {"sub": Snapshot()}


def test_a_difference_that_never_goes_away_is_polled_until_the_deadline() -> None:
    env = _env(deadline_s=20)
    observer = _Reads(env, [Snapshot()])
    seen = observer.await_sync(_run(), STEP, {}, lambda observed: [DIFFERENT], observer.log_mark())
    assert seen.findings == (DIFFERENT,) and seen.quiet
    assert 20 <= seen.waited_s < 25


def test_the_dlq_line_stops_polling_as_soon_as_the_state_is_quiet() -> None:
    env = _env([_evidence(terminal=True)])
    observer = _Reads(env, [Snapshot()])
    seen = observer.await_sync(_run(), STEP, {}, lambda observed: [DIFFERENT], observer.log_mark())
    assert observer.count == env.poll.quiet_snapshots
    assert seen.findings == (DIFFERENT,) and seen.waited_s < 1


def test_a_server_error_during_the_sync_is_noted_and_polling_goes_on() -> None:
    problem = OpenMeterProblem(
        method="GET", path="/api/v1/billing/invoices", status=503, problem=Problem(503, "x", "y")
    )
    observer = _Reads(_env(), [problem, Snapshot()])
    seen = observer.await_sync(_run(), STEP, {}, lambda observed: [], observer.log_mark())
    assert seen.quiet and seen.findings == ()
    assert seen.notes == (f"{problem} — answered during the sync; a later read was tried",)


def test_a_client_error_on_a_read_is_the_steps_answer() -> None:
    problem = OpenMeterProblem(
        method="GET", path="/api/v1/billing/invoices", status=404, problem=Problem(404, "x", "y")
    )
    observer = _Reads(_env(), [problem])
    with pytest.raises(OpenMeterProblem):
        observer.await_sync(_run(), STEP, {}, lambda observed: [], observer.log_mark())


@pytest.mark.parametrize(
    ("evidence", "waited_s", "failed"),
    [
        (_evidence(terminal=True), 0.0, True),  # the DLQ line
        (_evidence(attempts=3), REPEATED_FAILURE_AFTER_S, True),  # a failure repeated, long enough
        (_evidence(attempts=3), REPEATED_FAILURE_AFTER_S - 0.1, False),  # repeated, but too soon
        (_evidence(attempts=2), 60.0, False),  # too few attempts
        (_evidence(subscription="other", terminal=True), 0.0, False),  # another run's subscription
        (_evidence(subscription=None, terminal=True), 0.0, True),  # attributed to none: can explain any
    ],
)
def test_a_sync_counts_as_failed_on_the_dlq_line_or_a_repeated_failure(
    evidence: LogEvidence, waited_s: float, failed: bool
) -> None:
    observer = Observer(_env([evidence]))
    assert observer.sync_failed(_run(), observer.log_mark(), waited_s) is failed


def test_no_worker_log_means_no_mark_and_no_records() -> None:
    env = _env()
    env.logs = None
    observer = Observer(env)
    assert observer.log_mark() is None
    assert observer.log_records(0) == []
    assert observer.text_evidence(_run(), "") == []
