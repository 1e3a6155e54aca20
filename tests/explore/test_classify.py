"""Failure classes: one key per bug, whatever step or ids it showed with."""

from __future__ import annotations

from contract.explore.classify import classify
from contract.findings import Finding, FindingKind
from contract.scenario.result import LogEvidence, ScenarioResult, StepResult, Verdict
from contract.stack.failures import normalise


def _result(step: StepResult) -> ScenarioResult:
    return ScenarioResult("x", "t", Verdict.DISAGREE, steps=(step,))


def _evidence(signature: str, upstream: str | None = None, error: str | None = None) -> LogEvidence:
    return LogEvidence(signature, "t", upstream, True, "SUB", None, 3, None, None, error_first=error)


def test_a_known_signature_names_the_class_whatever_the_step() -> None:
    for kind in ("cancel", "edit"):
        step = StepResult(
            1, f"steps[1].{kind}", "s", Verdict.DISAGREE, logs=(_evidence("duplicate-unique-id", "o/r#1"),)
        )
        cls = classify(_result(step))
        assert cls is not None and cls.key == "log duplicate-unique-id (o/r#1)" and cls.known_issue == "o/r#1"
        assert cls.step_kind == kind


def test_unknown_failures_group_by_normalised_text() -> None:
    texts = [
        "patch charge 01JZ0000000000000000000001: period 2026-12-03T10:00:00Z after 2026-12-04T00:00:00Z",
        "patch charge 01JZ0000000000000000000777: period 2027-01-01T00:00:00Z after 2027-02-01T00:00:00Z",
    ]
    keys = {
        classify(
            _result(
                StepResult(1, "steps[1].cancel", "s", Verdict.DISAGREE, logs=(_evidence("unknown-failure", error=t),))
            )
        ).key  # type: ignore[union-attr]
        for t in texts
    }
    assert keys == {"sync failed: patch charge <id>: period <time> after <time>"}


def test_invariants_then_differences() -> None:
    inv = Finding(FindingKind.INVARIANT, "m", field="artifact-after-active-to")
    diff = Finding(FindingKind.DIFFERENT, "m", field="service_period")
    step = StepResult(2, "steps[2].cancel", "s", Verdict.DISAGREE, findings=(diff, inv))
    assert classify(_result(step)).key == "cancel: invariant artifact-after-active-to"  # type: ignore[union-attr]
    step = StepResult(2, "steps[2].cancel", "s", Verdict.DISAGREE, findings=(diff,))
    assert classify(_result(step)).key == "cancel: different service_period"  # type: ignore[union-attr]


def test_agreement_and_skips_have_no_class() -> None:
    assert classify(ScenarioResult("x", "t", Verdict.AGREE)) is None
    assert classify(ScenarioResult("x", "t", Verdict.SKIPPED)) is None


def test_normalise_replaces_run_keys_and_numbers() -> None:
    assert normalise("feature api_calls_1795765605940_1a2b3c4d: 42 items") == "feature api_calls_<run>: <n> items"
