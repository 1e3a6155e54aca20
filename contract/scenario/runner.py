"""The runner: drive a scenario through OpenMeter's API and judge every step against the engine.

For each step the runner

1. performs the action (:mod:`contract.scenario.actions`, one function per step kind) through
   :class:`~contract.client.OpenMeterClient` — a refusal is compared with the step's
   ``expect.refused``, an unexpected one ends the scenario — and the action re-reads the subscription
   *as OpenMeter stored it* and asks the reference engine what sync must leave behind;
2. asks the observer (:mod:`contract.scenario.observer`) to poll charges (v3) and invoices (v1) until
   they match the prediction and are quiet, or the deadline passes, or the worker log shows the sync
   failing;
3. has the judge (:mod:`contract.scenario.judge`) compare, attach worker-log evidence, tell "sync
   never happened" from "sync happened wrongly" and, on a disagreement, ask the engine's other
   behaviours (e.g. ``issue-4412``) whether they predict exactly what was observed.

The runner only orchestrates: what each part finds for a step comes back as a value
(:class:`~contract.scenario.actions.Acted`, :class:`~contract.scenario.observer.Observation`) and is
put together into a :class:`StepResult`. The clock, the log source, the sync-state reader and the
forced sync are passed in (:class:`Environment`), so the same runner serves a live OpenMeter, the
offline fake and a replay.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from contract.client import OpenMeterClient, OpenMeterError, OpenMeterProblem, OpenMeterUnreachable
from contract.compare import Finding, FindingKind
from contract.scenario import invariants
from contract.scenario.actions import Acted, Actor, act
from contract.scenario.environment import (
    LIVE_FIELDS,
    Environment,
    ForceSync,
    ForceSyncOutcome,
    LogReader,
    PollPolicy,
    StopScenario,
    SyncStateLookup,
)
from contract.scenario.judge import (
    accepted_instead_of_refused,
    expectations,
    explain,
    judge,
    log_finding,
    not_synced,
    refusal,
)
from contract.scenario.model import ResyncStep, Scenario, Step, new_run_id
from contract.scenario.observer import Observer
from contract.scenario.prepare import prepare
from contract.scenario.result import Exchange, ScenarioResult, StepResult, Verdict
from contract.scenario.runstate import RunState
from contract.scenario.timeline import EngineCall, EngineTimeline

__all__ = [
    "LIVE_FIELDS",
    "EngineCall",
    "EngineTimeline",
    "Environment",
    "ForceSync",
    "ForceSyncOutcome",
    "LogReader",
    "PollPolicy",
    "Runner",
    "StopScenario",
    "SyncStateLookup",
]


class Runner:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.actor = Actor(env)
        self.observer = Observer(env)

    @property
    def client(self) -> OpenMeterClient:
        return self.env.client

    def run(self, scenario: Scenario, *, run_id: str | None = None) -> ScenarioResult:
        started = self.env.clock.monotonic()
        skip = self._skip_reason(scenario)
        if skip is not None:
            return ScenarioResult(
                scenario.id,
                scenario.title,
                Verdict.SKIPPED,
                reason=skip,
                provenance=scenario.provenance,
                known_issues=scenario.known_issues,
                source_path=scenario.source,
            )
        keys = scenario.keys_for_run(run_id or new_run_id())
        run = RunState(scenario, keys, EngineTimeline(scenario.sync_config(), self.env.behaviour))
        if self.client.recorder is not None:
            self.client.recorder.note(
                "start",
                scenario=scenario.id,
                run_id=keys.run_id,
                target=self.env.target.kind.value,
                deadline_s=self.env.poll.deadline_s,  # a replay polls as long as the run did
            )
        steps: list[StepResult] = []
        verdict, reason = self._setup_or_fail(run)
        if verdict is Verdict.AGREE:
            for step in scenario.steps:
                self.env.say(f"{scenario.id}: step {step.index + 1}/{len(scenario.steps)} {step.label}")
                result, stop = self._step_or_stop(run, step)
                if result is not None:
                    steps.append(result)
                    if result.verdict is not Verdict.AGREE:
                        verdict = result.verdict if verdict is not Verdict.ERROR else verdict
                if stop is not None:
                    reason = stop
                    if result is None:
                        verdict = Verdict.ERROR
                    break
        return ScenarioResult(
            scenario_id=scenario.id,
            title=scenario.title,
            verdict=verdict,
            steps=tuple(steps),
            provenance=scenario.provenance,
            known_issues=scenario.known_issues,
            reason=reason,
            duration_seconds=round(self.env.clock.monotonic() - started, 3),
            run_id=keys.run_id,
            customer_id=run.customer_id or None,
            subscription_ids=tuple(run.subscriptions),
            source_path=scenario.source,
        )

    def _setup_or_fail(self, run: RunState) -> tuple[Verdict, str | None]:
        self.env.say(f"{run.scenario.id}: set-up (run {run.keys.run_id})")
        try:
            prepare(self.client, run)
        except OpenMeterUnreachable as err:
            return Verdict.ERROR, str(err)
        except OpenMeterError as err:
            # Setup only prepares the scenario (meters, features, customer, plans): OpenMeter refusing
            # or failing it says nothing about sync, so it is not a disagreement, but a run that could
            # not be made (exit 3, OpenMeter failing).
            return Verdict.ERROR, f"setup failed: {err}"
        return Verdict.AGREE, None

    def _step_or_stop(self, run: RunState, step: Step) -> tuple[StepResult | None, str | None]:
        """Run one step; the second value says why the scenario cannot go on (None: it can)."""
        try:
            result = self._run_step(run, step)
        except _StopWith as stop:
            return stop.result, stop.result.summary
        except OpenMeterUnreachable as err:
            return StepResult(step.index, step.label, f"OpenMeter unreachable: {err}", Verdict.ERROR), str(err)
        except OpenMeterError as err:  # an answer the client cannot read: a contract finding
            finding = Finding(FindingKind.SCHEMA, str(err), step=step.label)
            return StepResult(
                step.index, step.label, f"unexpected answer: {err}", Verdict.DISAGREE, findings=(finding,)
            ), str(err)
        except StopScenario as err:
            return None, str(err)
        if result.verdict is Verdict.ERROR:
            return result, result.summary
        return result, None

    def _skip_reason(self, scenario: Scenario) -> str | None:
        if self.env.force_sync is None and any(isinstance(s, ResyncStep) for s in scenario.steps):
            # a capability this target lacks, like a configuration it does not have: skip, say why
            return (
                "needs a way to force a subscription sync (a resync step): give --force-sync-command "
                "(attach mode) or let omcontract boot the stack"
            )
        known = self.env.server_config
        if known is None:
            return None
        need = {
            "credits": scenario.requires.credits,
            "credit_then_invoice": scenario.requires.credit_then_invoice,
        }
        for name, wanted in need.items():
            have = known.get(name)
            if have is not None and have != wanted:
                return (
                    f"needs OpenMeter with {name} {'on' if wanted else 'off'}; "
                    f"this one has it {'on' if have else 'off'}"
                )
        return None

    @contextlib.contextmanager
    def _step_exchanges(self) -> Iterator[list[Exchange]]:
        """Collect the HTTP exchanges made inside the block (for curl reproductions)."""
        collected: list[Exchange] = []

        def listener(method: str, url: str, body: Any, status: int | None) -> None:
            collected.append(Exchange(method, url, body, status))

        self.client.add_exchange_listener(listener)
        try:
            yield collected
        finally:
            self.client.remove_exchange_listener(listener)

    # -------------------------------------------------------------- a step
    def _run_step(self, run: RunState, step: Step) -> StepResult:
        log_mark = self.observer.log_mark()
        try:
            return self._run_marked_step(run, step, log_mark)
        finally:
            self._record_worker_log(run, step, log_mark)

    def _record_worker_log(self, run: RunState, step: Step, log_mark: object | None) -> None:
        """Recordings carry the step's worker-log lines about the run's subscriptions (one note per
        step, even when empty), so a replay shows the same log evidence."""
        recorder = self.client.recorder
        if recorder is None:
            return
        from contract.stack.signatures import subscription_of

        mine = set(run.subscriptions)
        lines = [r.raw for r in self.observer.log_records(log_mark) if subscription_of(r) in mine]
        recorder.note(f"{step.index}:{step.kind}", worker_log=lines, logs_available=self.env.logs is not None)

    def _run_marked_step(self, run: RunState, step: Step, log_mark: object | None) -> StepResult:
        with self.client.collect_findings() as schema:
            t0 = self.env.clock.monotonic()
            synced_before = self.observer.synced_at(run)
            before = dict(run.last_observed)
            with self._step_exchanges() as exchanges, self.client.step(f"{step.index}:{step.kind}"):
                acted = self._act(run, step, exchanges, t0)
                if isinstance(acted, StepResult):
                    return acted
                predicted = self.observer.predicted(run)
                expected = expectations(run, step, predicted)
                seen = self.observer.await_sync(
                    run, step, predicted, lambda observed: judge(step, expected, observed, before), log_mark
                )
                run.last_observed = seen.observed
        logs = self.observer.log_evidence(run, log_mark) + self.observer.text_evidence(run, acted.log_text)
        synced_after = self.observer.synced_at(run)
        sync_ran = None
        if synced_after is not None or synced_before is not None:
            sync_ran = synced_after is not None and synced_after != synced_before
        findings = list(acted.findings)
        if seen.findings and (late := not_synced(step, before, seen.observed, expected, seen.waited_s)):
            findings.append(late)
        findings += seen.findings
        notes = list(seen.notes)
        for found in schema:
            if self.env.schema_findings == "strict":
                findings.append(found)
            else:
                notes.append(f"response does not match the OpenAPI document: {found.one_line()}")
        findings += [log_finding(ev, step.label) for ev in logs if ev.conclusive]
        active_to = {sid: view.active_to for sid, view in run.views.items()}
        findings += invariants.check(step.label, step.kind, seen.observed, active_to, sync_ran, frozenset(run.deleted))
        if run.not_predicted is not None:
            notes.append(f"not predicted: {run.not_predicted}; judged by the invariants only")
        explanation = None
        if findings:
            logs_available = self.env.logs is not None
            explanation = explain(run, self.env.behaviour, seen.observed, seen.quiet, sync_ran, logs, logs_available)
        current = run.subscription_id or ""
        return StepResult(
            index=step.index,
            name=step.label,
            summary=acted.summary,
            verdict=Verdict.DISAGREE if findings else Verdict.AGREE,
            findings=tuple(findings),
            expected=predicted.get(current) if predicted else None,
            observed=seen.observed.get(current) if seen.observed else None,
            logs=tuple(logs),
            exchanges=tuple(exchanges),
            waited_seconds=round(self.env.clock.monotonic() - t0, 3),
            sync_ran=sync_ran,
            explanation=explanation,
            notes=tuple(dict.fromkeys(notes)),
        )

    def _act(self, run: RunState, step: Step, exchanges: list[Exchange], t0: float) -> Acted | StepResult:
        """Perform the step: what it did, or its result when there is no sync to await.

        A refusal is judged against ``expect.refused``; so is an acceptance; a step that awaits no
        sync agrees once OpenMeter's state is read back."""
        try:
            acted = act(self.actor, run, step)
        except OpenMeterProblem as err:
            return self._refused(step, err, exchanges)
        except OpenMeterUnreachable as err:
            return StepResult(
                step.index, step.label, f"OpenMeter unreachable: {err}", Verdict.ERROR, exchanges=tuple(exchanges)
            )
        accepted = accepted_instead_of_refused(step)
        if accepted is not None:
            return StepResult(
                step.index,
                step.label,
                acted.summary,
                Verdict.DISAGREE,
                findings=(accepted,),
                exchanges=tuple(exchanges),
            )
        if not acted.awaits_sync or run.subscription_id is None:
            run.last_observed = self.observer.refreshed(run)
            return StepResult(
                step.index,
                step.label,
                acted.summary,
                Verdict.AGREE,
                exchanges=tuple(exchanges),
                waited_seconds=round(self.env.clock.monotonic() - t0, 3),
            )
        return acted

    def _refused(self, step: Step, err: OpenMeterProblem, exchanges: list[Exchange]) -> StepResult:
        summary, verdict, findings = refusal(step, err)
        result = StepResult(step.index, step.label, summary, verdict, findings=findings, exchanges=tuple(exchanges))
        if step.refused is None:
            raise _StopWith(result)  # the rest of the scenario depends on this step
        return result


class _StopWith(StopScenario):
    def __init__(self, result: StepResult) -> None:
        super().__init__(result.summary)
        self.result = result
