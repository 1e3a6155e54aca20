from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from contract.compare.findings import Finding, FindingKind
from contract.model.snapshot import Snapshot
from contract.model.time import Period
from contract.report.common import (
    config_text,
    evidence_facts,
    evidence_headline,
    excerpt,
    finding_text,
    identity,
    mask_result,
    mask_value,
    scalar,
    sorted_findings,
    target_note,
    untrimmed,
    untrimmed_summary,
    upstream_issues,
    verdict_counts_text,
    version_text,
    went_to_dlq,
    what_happened,
)
from contract.scenario.result import ScenarioResult, StepResult, Target, TargetKind, Verdict

from .results import (
    API_CALLS,
    CANCEL_END,
    PERIOD_END,
    SECRET,
    SUB,
    TOKENS,
    bug_run,
    cancel_disagreement,
    dup_id_evidence,
    head_run,
    secret_run,
)


def star(text: str) -> str:
    return text.replace(SECRET, "***")


def test_mask_value_masks_strings_keys_and_nested_values_but_not_enums_or_numbers() -> None:
    masked = mask_value({SECRET: (SECRET, [f"a {SECRET} b", 3, Decimal("1.5")])}, star)
    assert masked == {"***": ("***", ["a *** b", 3, Decimal("1.5")])}
    assert mask_value(Verdict.AGREE, lambda _: "x") is Verdict.AGREE
    assert mask_value(TargetKind.LIVE, lambda _: "x") is TargetKind.LIVE


def test_mask_value_rebuilds_frozen_dataclasses_keeping_untouched_parts() -> None:
    period = Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    finding = Finding(FindingKind.DIFFERENT, f"m {SECRET}", "cancel", "id", "f", SECRET, "x")
    assert mask_value(finding, star) == Finding(FindingKind.DIFFERENT, "m ***", "cancel", "id", "f", "***", "x")
    assert mask_value(period, star) is period


def test_mask_result_leaves_no_secret_anywhere_in_the_run() -> None:
    masked = mask_result(secret_run(), star)
    assert SECRET not in repr(masked)
    assert SECRET in repr(secret_run())
    assert masked.scenarios[0].steps[2].exchanges[0].request_body["***"] == ["***"]


def test_identity_mask_returns_the_run_itself() -> None:
    run = bug_run()
    assert mask_result(run, identity) is run
    assert identity("abc") == "abc"


def test_scalar_and_config_text_spell_values_as_json_sorted_by_key() -> None:
    assert scalar(True) == "true"
    assert scalar(None) == "null"
    assert scalar(3) == "3"
    assert scalar({"b": 1, "a": [1]}) == '{"a": [1], "b": 1}'
    assert config_text({"credits": True, "credit_then_invoice": False}) == "credit_then_invoice=false, credits=true"
    assert config_text({}) == "—"


def test_version_text_puts_the_version_first_then_the_rest_sorted() -> None:
    target = Target(TargetKind.LIVE, "http://om", version={"version": "v1.2", "os": "linux", "arch": "arm64"})
    assert version_text(target) == "v1.2 (arch arm64, os linux)"
    assert version_text(Target(TargetKind.LIVE, "http://om")) == "unknown"


def test_target_note_warns_for_offline_and_replay_only() -> None:
    offline = target_note(Target(TargetKind.OFFLINE, "http://127.0.0.1:0", behaviour="issue-4412"))
    replay = target_note(Target(TargetKind.REPLAY, "http://om", recording="bug-4412.jsonl"))
    assert offline is not None and "not evidence about OpenMeter" in offline and "issue-4412" in offline
    assert replay is not None and "bug-4412.jsonl" in replay and "no OpenMeter was contacted" in replay
    assert target_note(Target(TargetKind.LIVE, "http://om")) is None


def test_verdict_counts_text_mentions_errors_only_when_there_are_some() -> None:
    assert verdict_counts_text(bug_run()) == "1 agree, 1 disagree, 1 skipped"
    errored = ScenarioResult("s", "t", Verdict.ERROR, reason="OpenMeter went away")
    run = replace(head_run(), scenarios=(*head_run().scenarios, errored))
    assert verdict_counts_text(run) == "3 agree, 0 disagree, 0 skipped, 1 error"


def test_findings_sort_missing_then_extra_then_different_then_by_id_and_field() -> None:
    findings = [
        Finding(FindingKind.LOG, "log"),
        Finding(FindingKind.DIFFERENT, "d", id="b", field="z"),
        Finding(FindingKind.DIFFERENT, "d", id="b", field="a"),
        Finding(FindingKind.EXTRA, "e", id="c"),
        Finding(FindingKind.MISSING, "m", id="d"),
        Finding(FindingKind.DIFFERENT, "d", id="a", field="z"),
    ]
    order = [(f.kind.value, f.id, f.field) for f in sorted_findings(findings)]
    assert order == [
        ("missing", "d", None),
        ("extra", "c", None),
        ("different", "a", "z"),
        ("different", "b", "a"),
        ("different", "b", "z"),
        ("log", None, None),
    ]


def test_finding_text_shows_field_expected_arrow_actual() -> None:
    f = Finding(FindingKind.DIFFERENT, "not trimmed", id="u/v[0]", field="invoice_at", expected="A", actual="B")
    assert finding_text(f) == "different u/v[0] invoice_at: A → B — not trimmed"
    assert finding_text(Finding(FindingKind.MISSING, "gone", id="u")) == "missing u — gone"
    assert finding_text(Finding(FindingKind.NOT_SYNCED, "nothing changed")) == "not_synced — nothing changed"


def test_dlq_is_detected_from_the_dead_letter_line_only() -> None:
    evidence = dup_id_evidence()
    assert went_to_dlq(evidence)
    without = replace(evidence, lines=evidence.lines[:-1])
    assert not went_to_dlq(without)
    topic_line = '{"msg":"mark topic to be provisioned","topic":"om_sys.billing_worker_dlq"}'
    assert not went_to_dlq(replace(evidence, lines=(topic_line,)))


def test_evidence_facts_and_headline_name_signature_issue_attempts_and_dlq() -> None:
    facts = dict(evidence_facts(dup_id_evidence()))
    assert facts == {
        "signature": "duplicate-unique-id",
        "upstream issue": "openmeterio/openmeter#4412",
        "conclusive": "yes",
        "subscription": SUB,
        "unique id": API_CALLS,
        "attempts": "10",
        "DLQ": "yes",
        "first": "2026-11-27T07:51:34Z",
        "last": "2026-11-27T07:51:35Z",
    }
    assert evidence_headline(dup_id_evidence()).startswith("duplicate-unique-id (openmeterio/openmeter#4412) — ")


def test_excerpt_keeps_short_logs_and_cuts_long_ones_to_twenty_lines_keeping_the_tail() -> None:
    short = tuple(f"l{n}" for n in range(20))
    assert excerpt(short) == list(short)
    long = tuple(f"l{n}" for n in range(31))
    cut = excerpt(long)
    assert len(cut) == 20
    assert cut[:9] == [f"l{n}" for n in range(9)]
    assert cut[9] == "… 12 lines omitted …"
    assert cut[10:] == [f"l{n}" for n in range(21, 31)]


def test_untrimmed_lists_charges_and_mirror_lines_that_end_after_the_engine_end() -> None:
    left = untrimmed(cancel_disagreement())
    assert [(u.id, u.what) for u in left] == [
        (API_CALLS, "charge"),
        (API_CALLS, "mirror line"),
        (TOKENS, "charge"),
        (TOKENS, "mirror line"),
    ]
    assert all(u.expected_end == CANCEL_END and u.actual_end == PERIOD_END for u in left)
    assert untrimmed_summary(left) == "2 charges and 2 mirror lines"
    assert untrimmed_summary(left[:1]) == "1 charge"


def test_untrimmed_is_empty_without_both_snapshots() -> None:
    assert untrimmed(replace(cancel_disagreement(), expected=None)) == []


def test_upstream_issues_come_from_log_evidence_of_problem_steps() -> None:
    assert upstream_issues(bug_run()) == ["openmeterio/openmeter#4412"]
    assert upstream_issues(head_run()) == []


def test_what_happened_tells_the_4412_story() -> None:
    text = what_happened(cancel_disagreement())
    assert text == (
        "Step 3 (cancel): cancel immediate → activeTo 2026-11-27T07:51:34.224693Z. "
        "After waiting 60.8 s, OpenMeter's state differs from the reference engine's prediction: "
        "10 fields differ on 2 artifacts. "
        "Left untrimmed: 2 charges and 2 mirror lines still end later than the engine expects. "
        'The billing worker logged "sync fails: duplicate unique id across persisted lines and charges" '
        f"(duplicate-unique-id, openmeterio/openmeter#4412) 10 times for subscription {SUB}, "
        "then sent the message to the dead-letter queue. "
        "The subscription's sync state was not updated: no sync succeeded after this step."
    )


def test_what_happened_counts_missing_and_extra_and_names_the_sync_error() -> None:
    step = StepResult(
        2,
        "renew",
        "advance to the next period",
        Verdict.DISAGREE,
        findings=(
            Finding(FindingKind.MISSING, "m", id="a"),
            Finding(FindingKind.MISSING, "m", id="b"),
            Finding(FindingKind.EXTRA, "e", id="c"),
        ),
        observed=Snapshot(error="duplicate unique id across persisted lines and charges: x."),
    )
    assert what_happened(step, "the offline fake") == (
        "Step 2 (renew): advance to the next period. The offline fake's state differs from the reference "
        "engine's prediction: 2 expected artifacts missing, 1 unexpected artifact present. "
        "Sync error: duplicate unique id across persisted lines and charges: x."
    )


def test_dlq_is_credited_from_a_separate_dlq_signature_of_the_same_subscription() -> None:
    retries = replace(dup_id_evidence(), lines=dup_id_evidence().lines[:-1])
    dlq = replace(
        dup_id_evidence(),
        signature="message-dlq",
        title="message is going to the dead-letter queue",
        upstream_issue=None,
        attempts=1,
        lines=(),
    )
    other_subscription = replace(dlq, subscription_id="01OTHER")
    other_unique_id = replace(dlq, unique_id=TOKENS)
    assert went_to_dlq(retries, (retries, dlq))
    assert dict(evidence_facts(retries, (retries, dlq)))["DLQ"] == "yes"
    assert not went_to_dlq(retries, (retries, other_subscription))
    assert not went_to_dlq(retries, (retries, other_unique_id))
    assert not went_to_dlq(retries, (retries,))
