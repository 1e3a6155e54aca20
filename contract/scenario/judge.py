"""The judge: what a step should leave behind, how OpenMeter's state differs, and what explains it.

:func:`expectations` pairs the engine's prediction for each subscription of the run with the step's
written ``expect`` (pinned: it checks only what it lists); :func:`judge` compares them with what was
observed (:func:`contract.compare.diff`). :func:`not_synced` tells "sync never happened" from "sync
happened wrongly"; :func:`log_finding` turns conclusive worker-log evidence into a finding;
:func:`refusal` judges a step OpenMeter refused. On a disagreement :func:`explain` asks the engine's
other behaviours (e.g. ``issue-4412``) whether they predict exactly what was observed, naming one
only when the worker log shows its signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from contract.client import OpenMeterProblem
from contract.compare import Expectation, Finding, FindingKind, Partial, diff
from contract.model import Behaviour, Snapshot, mark_kept
from contract.scenario.environment import LIVE_FIELDS
from contract.scenario.model import Expectation as ScenarioExpectation
from contract.scenario.model import Step
from contract.scenario.result import LogEvidence, Verdict
from contract.scenario.runstate import RunState

#: The worker-log signature each historical behaviour of the engine leaves (its fingerprint).
BEHAVIOUR_SIGNATURES: dict[Behaviour, str] = {Behaviour.ISSUE_4412: "duplicate-unique-id"}

PINNED = "#pinned"  # the key suffix of a step's written expectation


def expectations(run: RunState, step: Step, predicted: dict[str, Snapshot]) -> dict[str, Expectation]:
    out: dict[str, Expectation] = {}
    if run.not_predicted is None:
        out = {sid: Expectation.from_snapshot(snap, LIVE_FIELDS) for sid, snap in predicted.items()}
    if step.expect is not None and run.subscription_id is not None:
        out[run.subscription_id + PINNED] = pinned(run, step.expect)
    return out


def pinned(run: RunState, expect: ScenarioExpectation) -> Expectation:
    """A step's written expectation (typed at load), its ids made the run's real ones."""
    assert run.subscription_id is not None
    sid = run.subscription_id
    return expect.for_run(lambda logical: run.keys.real_unique_id(logical, sid))


def judge(
    step: Step,
    expected: dict[str, Expectation],
    observed: dict[str, Snapshot],
    before: dict[str, Snapshot],
) -> list[Finding]:
    findings: list[Finding] = []
    for key, expectation in expected.items():
        sid = key.removesuffix(PINNED)
        snap = observed.get(sid)
        if snap is None:
            continue
        if sid in before:
            snap = mark_kept(before[sid], snap)
        if key.endswith(PINNED) and expectation.partial is Partial.NONE:
            # a written expectation pins only what it lists; the engine prediction covers the rest
            expectation = replace(expectation, partial=Partial.ALL)
        findings.extend(diff(expectation, snap, step.label))
    return dedupe(findings)


def not_synced(
    step: Step,
    before: dict[str, Snapshot],
    observed: dict[str, Snapshot],
    expected: dict[str, Expectation],
    waited_s: float,
) -> Finding | None:
    """The finding when OpenMeter still shows the pre-step state although the prediction differs from it.

    A subscription the step created had nothing before it (an empty snapshot)."""
    was = {sid: before.get(sid, Snapshot()) for sid in observed}
    if any(was[sid] != observed[sid] for sid in observed):
        return None
    if not any(diff(expected[sid], was[sid], step.label) for sid in was if sid in expected):
        return None
    return Finding(
        FindingKind.NOT_SYNCED,
        f"OpenMeter changed nothing in the {waited_s:.1f}s after the step: "
        "the sync did not run or failed (see the worker log)",
        step=step.label,
    )


def log_finding(ev: LogEvidence, step: str) -> Finding:
    """The finding of one piece of conclusive log evidence, quoting the worker's error text."""
    if ev.signature == "unknown-failure":
        text = (ev.error_first or "").replace("\n", " ")
        dlq = ", DLQ" if ev.dead_lettered else ""
        return Finding(
            FindingKind.LOG,
            f"sync failed, no known signature: {text!r}, {ev.attempts} attempt(s){dlq}",
            step=step,
            id=ev.subscription_id,
        )
    return Finding(
        FindingKind.LOG,
        f"{ev.title}" + (f" ({ev.upstream_issue})" if ev.upstream_issue else "") + f", {ev.attempts} attempt(s)",
        step=step,
        id=ev.unique_id or ev.subscription_id,
    )


def accepted_instead_of_refused(step: Step) -> Finding | None:
    """The finding when OpenMeter accepted a step whose ``expect.refused`` says it must refuse."""
    if step.refused is None:
        return None
    return Finding(
        FindingKind.REFUSED,
        f"OpenMeter accepted the step; expected a refusal with status "
        f"{step.refused.status}" + (f" ({step.refused.code})" if step.refused.code else ""),
        step=step.label,
        expected=str(step.refused.status),
        actual="accepted",
    )


def refusal(step: Step, err: OpenMeterProblem) -> tuple[str, Verdict, tuple[Finding, ...]]:
    """A refused step judged against its ``expect.refused``: summary, verdict and findings.

    A refusal nobody expected is a disagreement the rest of the scenario cannot go on from."""
    expected = step.refused
    if expected is None:
        finding = Finding(
            FindingKind.REFUSED, f"OpenMeter refused the step: {err}", step=step.label, actual=str(err.status)
        )
        return f"{step.kind} refused: {err}", Verdict.DISAGREE, (finding,)
    problems = []
    if err.status != expected.status:
        problems.append(
            Finding(
                FindingKind.REFUSED,
                "refused with another status",
                step=step.label,
                field="status",
                expected=str(expected.status),
                actual=str(err.status),
            )
        )
    if expected.code is not None and expected.code not in err.codes:
        problems.append(
            Finding(
                FindingKind.REFUSED,
                "refused with other problem codes",
                step=step.label,
                field="code",
                expected=expected.code,
                actual=", ".join(err.codes) or "none",
            )
        )
    if problems:
        return f"{step.kind} refused: {err}", Verdict.DISAGREE, tuple(problems)
    return f"{step.kind} refused as expected: {err.status}", Verdict.AGREE, ()


def behaviour_explanation(
    behaviour: Behaviour, errors: Sequence[str], logs: Sequence[LogEvidence], logs_available: bool
) -> str:
    """Name a historical behaviour as the explanation only when the log shows its signature."""
    err = f" (its sync fails: {errors[-1]})" if errors else ""
    signature = BEHAVIOUR_SIGNATURES.get(behaviour)
    if signature is None or any(ev.signature == signature for ev in logs):
        return f"the engine's {behaviour.value} behaviour predicts exactly what was observed{err}"
    if not logs_available:
        return (
            f"the state is consistent with the engine's {behaviour.value} behaviour{err}, but there is no "
            f"worker log to confirm it: the evidence (signature {signature}) is missing"
        )
    return (
        f"the state is consistent with the engine's {behaviour.value} behaviour{err}, but the worker log "
        f"does not show its signature ({signature}): another cause is likely"
    )


def explain(
    run: RunState,
    behaviour: Behaviour,
    observed: dict[str, Snapshot],
    quiet: bool,
    sync_ran: bool | None,
    logs: Sequence[LogEvidence],
    logs_available: bool,
) -> str | None:
    """Why a step disagrees, as far as the run can tell (None: nothing to add)."""
    parts: list[str] = []
    if run.not_predicted is not None:
        return "; ".join([run.not_predicted, *([] if quiet else ["OpenMeter's state was still changing"])])

    def differs(snap: Snapshot, prediction: Snapshot) -> bool:
        return bool(diff(Expectation.from_snapshot(prediction, LIVE_FIELDS), snap))

    engine_disagrees = any(differs(snap, run.timeline.snapshot(sid, run.customer_id)) for sid, snap in observed.items())
    for other_behaviour in Behaviour:
        if other_behaviour is behaviour or not engine_disagrees:
            continue
        other = run.timeline.replay_as(other_behaviour)
        if all(not differs(snap, other.snapshot(sid, run.customer_id)) for sid, snap in observed.items()):
            parts.append(behaviour_explanation(other_behaviour, other.errors, logs, logs_available))
    if sync_ran is False:
        parts.append("the sync-state table shows no successful sync since the step")
    if not quiet:
        parts.append("OpenMeter's state was still changing at the deadline")
    return "; ".join(parts) or None


def dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for f in findings:
        key = (f.kind, f.id, f.field, f.expected, f.actual)
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out
