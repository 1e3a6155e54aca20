"""contract.scenario.judge: refusals, "never synced" against "synced wrongly", explanations, dedupe."""

from __future__ import annotations

from dataclasses import replace

from contract.client import OpenMeterProblem
from contract.client.errors import Problem, ValidationIssue
from contract.compare import Expectation, Finding, FindingKind
from contract.model import Behaviour, Snapshot
from contract.scenario.environment import LIVE_FIELDS
from contract.scenario.judge import (
    accepted_instead_of_refused,
    behaviour_explanation,
    dedupe,
    log_finding,
    not_synced,
    refusal,
)
from contract.scenario.loader import load_scenario
from contract.scenario.model import CancelStep, Refusal
from contract.scenario.result import Verdict
from tests.report.results import API_CALLS, SUB, dup_id_evidence

from .conftest import SCENARIOS

SCENARIO = load_scenario(SCENARIOS / "issue-4412-cti-cancel-immediately.yaml")
CONFLICT = OpenMeterProblem(
    method="POST",
    path="/api/v1/subscriptions/x/cancel",
    status=409,
    problem=Problem(409, "Conflict", "no", issues=(ValidationIssue("no", code="already_canceled"),)),
)


def _cancel(refused: Refusal | None = None) -> CancelStep:
    return CancelStep(index=3, line=9, refused=refused)


EVIDENCE = dup_id_evidence()


def test_an_expected_refusal_agrees_and_another_status_or_code_disagrees() -> None:
    assert refusal(_cancel(Refusal(409, "already_canceled")), CONFLICT) == (
        "cancel refused as expected: 409",
        Verdict.AGREE,
        (),
    )
    summary, verdict, findings = refusal(_cancel(Refusal(400, "other")), CONFLICT)
    assert (summary, verdict) == (f"cancel refused: {CONFLICT}", Verdict.DISAGREE)
    assert [(f.field, f.expected, f.actual) for f in findings] == [
        ("status", "400", "409"),
        ("code", "other", "already_canceled"),
    ]


def test_an_unexpected_refusal_disagrees() -> None:
    summary, verdict, findings = refusal(_cancel(), CONFLICT)
    assert verdict is Verdict.DISAGREE and summary == f"cancel refused: {CONFLICT}"
    assert [(f.kind, f.message, f.actual) for f in findings] == [
        (FindingKind.REFUSED, f"OpenMeter refused the step: {CONFLICT}", "409")
    ]


def test_an_accepted_step_that_had_to_be_refused_is_a_finding() -> None:
    assert accepted_instead_of_refused(_cancel()) is None
    finding = accepted_instead_of_refused(_cancel(Refusal(409, "already_canceled")))
    assert finding is not None
    assert finding.message == "OpenMeter accepted the step; expected a refusal with status 409 (already_canceled)"
    assert (finding.expected, finding.actual) == ("409", "accepted")


def test_an_unchanged_state_that_should_have_changed_is_not_synced() -> None:
    before = {"sub": Snapshot()}
    expect_gathering = {"sub": Expectation.from_snapshot(Snapshot(gathering_invoice_exists=True), LIVE_FIELDS)}
    finding = not_synced(_cancel(), before, {"sub": Snapshot()}, expect_gathering, 20.04)
    assert finding is not None and finding.kind is FindingKind.NOT_SYNCED
    assert finding.message.startswith("OpenMeter changed nothing in the 20.0s after the step")
    # something changed: the sync happened (wrongly, if anything differs)
    changed = {"sub": Snapshot(gathering_invoice_exists=True)}
    assert not_synced(_cancel(), before, changed, expect_gathering, 20.0) is None
    # nothing changed and nothing had to
    nothing = {"sub": Expectation.from_snapshot(Snapshot(), LIVE_FIELDS)}
    assert not_synced(_cancel(), before, {"sub": Snapshot()}, nothing, 20.0) is None


def test_a_behaviour_is_named_only_with_its_signature_in_the_worker_log() -> None:
    dup = EVIDENCE
    assert behaviour_explanation(Behaviour.ISSUE_4412, ["boom"], [dup], logs_available=True) == (
        "the engine's issue-4412 behaviour predicts exactly what was observed (its sync fails: boom)"
    )
    assert "does not show its signature (duplicate-unique-id)" in behaviour_explanation(
        Behaviour.ISSUE_4412, [], [], logs_available=True
    )
    assert "there is no worker log to confirm it" in behaviour_explanation(
        Behaviour.ISSUE_4412, [], [], logs_available=False
    )


def test_log_findings_quote_the_signature_or_the_unknown_error() -> None:
    known = log_finding(EVIDENCE, "cancel")
    assert known.message == (
        "sync fails: duplicate unique id across persisted lines and charges (openmeterio/openmeter#4412), 10 attempt(s)"
    )
    assert known.id == API_CALLS
    unknown = log_finding(
        replace(EVIDENCE, signature="unknown-failure", error_first="bad\nthing", dead_lettered=True), "cancel"
    )
    assert unknown.message == "sync failed, no known signature: 'bad thing', 10 attempt(s), DLQ"
    assert unknown.id == SUB


def test_dedupe_keeps_the_first_of_equal_findings_in_order() -> None:
    a = Finding(FindingKind.MISSING, "one", id="x")
    b = Finding(FindingKind.MISSING, "two", id="y")
    again = Finding(FindingKind.MISSING, "one, said again", id="x")
    assert dedupe([a, b, again]) == [a, b]
