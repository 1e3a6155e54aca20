from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import pytest

from contract.compare.findings import Finding, FindingKind
from contract.report.markdown import code, fenced, render_markdown, text
from contract.scenario.result import RunResult, ScenarioResult, StepResult, Verdict

from .conftest import SnapshotCheck
from .results import (
    API_CALLS,
    BASE,
    SECRET,
    SUB,
    TOKENS,
    bug_run,
    cancel_disagreement,
    dup_id_evidence,
    head_run,
    offline_run,
    replay_run,
    secret_run,
)

RUNS = [head_run, bug_run, offline_run, replay_run]


def star(value: str) -> str:
    return value.replace(SECRET, "***")


def section(markdown: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level.

    Not for sections holding shell code: its ``# comments`` look like headings.
    """
    level = len(heading) - len(heading.lstrip("#"))
    start = markdown.index(heading + "\n")
    rest = markdown[start + len(heading) + 1 :]
    stop = re.search(rf"^#{{1,{level}}} ", rest, flags=re.MULTILINE)
    return rest[: stop.start()] if stop else rest


@pytest.mark.parametrize("build", RUNS, ids=[b.__name__ for b in RUNS])
def test_markdown_matches_snapshot(build: Callable[[], RunResult], snapshot: SnapshotCheck) -> None:
    snapshot(f"markdown-{build.__name__}.md", render_markdown(build()))


def test_rendering_twice_gives_the_same_text() -> None:
    assert render_markdown(bug_run()) == render_markdown(bug_run())


def test_title_names_the_scenario_the_step_and_the_upstream_issue() -> None:
    first = render_markdown(bug_run()).splitlines()[0]
    assert first == (
        "# issue-4412-cti-cancel-immediately: OpenMeter disagrees with the reference engine "
        "at step 3 (cancel) — openmeterio/openmeter#4412"
    )


def test_title_of_an_agreeing_run_gives_the_totals_and_no_issue() -> None:
    assert render_markdown(head_run()).splitlines()[0] == "# omcontract: 3 agree, 0 disagree, 0 skipped"


def test_title_without_a_matching_signature_names_no_issue() -> None:
    run = bug_run()
    scenario = run.scenarios[0]
    step = replace(scenario.steps[2], logs=())
    run = replace(run, scenarios=(replace(scenario, steps=(*scenario.steps[:2], step)),))
    title = render_markdown(run).splitlines()[0]
    assert title.endswith("at step 3 (cancel)")
    assert "#4412" not in title


def test_offline_report_warns_and_blames_the_fake_not_openmeter() -> None:
    run = offline_run()
    scenario = replace(
        run.scenarios[0], verdict=Verdict.DISAGREE, steps=(*run.scenarios[0].steps[:2], cancel_disagreement())
    )
    markdown = render_markdown(replace(run, scenarios=(scenario,)))
    assert markdown.splitlines()[0].startswith(
        "# [offline] issue-4412-cti-cancel-immediately: the offline fake disagrees with the reference engine"
    )
    assert "> **Warning:** Offline run, not evidence about OpenMeter:" in markdown
    assert "These requests were answered by the offline fake, not by OpenMeter." in markdown


def test_replay_report_names_the_recording() -> None:
    markdown = render_markdown(replay_run())
    assert "- **Recording:** `shared/openmeter/recorded/bug-4412.jsonl`" in markdown
    assert "> **Warning:** Replay: the recorded run" in markdown
    assert markdown.startswith("# [replay] issue-4412-cti-cancel-immediately: OpenMeter disagrees")


def test_target_section_gives_version_build_url_and_config() -> None:
    target = section(render_markdown(bug_run()), "## Target")
    assert "- **OpenMeter version:** unknown (arch amd64, os linux)" in target
    assert "- **Build / image:** `f67a8a103`" in target
    assert f"- **URL:** `{BASE}`" in target
    assert "- **Config:** `credit_then_invoice=true, credits=true`" in target


def test_scenario_lists_provenance_and_a_row_per_step() -> None:
    markdown = render_markdown(bug_run())
    scenario = section(markdown, "## Scenario `issue-4412-cti-cancel-immediately` — disagree")
    assert "- **Provenance:** https://github.com/openmeterio/openmeter/issues/4412" in scenario
    assert "| 3 | cancel | **disagree** | 11 | 60.8 s | no | cancel immediate → activeTo" in scenario
    assert "| 1 | subscribe | agree | 0 | 1.1 s | yes |" in scenario


def test_expected_vs_actual_table_per_artifact() -> None:
    table = section(render_markdown(bug_run()), "#### Expected vs actual")
    assert f"**`{API_CALLS}` (charge)**" in table
    assert f"**`{TOKENS}` (charge)**" in table
    assert "| `service_period.to` | `2026-11-27T07:51:34Z` | `2026-12-27T07:51:31Z` |" in table
    assert "| `status` | `active` | `created` |" in table
    assert table.count("| `mirror.service_period.to` |") == 2


def test_untrimmed_charges_and_mirror_lines_are_listed() -> None:
    left = section(render_markdown(bug_run()), "#### Left untrimmed")
    rows = [line for line in left.splitlines() if line.startswith("| `")]
    assert len(rows) == 4
    assert f"| `{API_CALLS}` | mirror line | `2026-11-27T07:51:34Z` | `2026-12-27T07:51:31Z` |" in rows


def test_missing_and_extra_artifacts_have_their_own_lists() -> None:
    step = StepResult(
        4,
        "renew",
        "advance",
        Verdict.DISAGREE,
        findings=(
            Finding(FindingKind.EXTRA, "no longer in the target state", id=f"{SUB}/default/x/v[0]/period[1]"),
            Finding(FindingKind.MISSING, "the engine creates it", id=f"{SUB}/default/x/v[1]/period[0]"),
        ),
    )
    scenario = ScenarioResult("s", "t", Verdict.DISAGREE, (step,))
    markdown = render_markdown(replace(bug_run(), scenarios=(scenario,)))
    assert f"- `{SUB}/default/x/v[1]/period[0]` — the engine creates it" in section(markdown, "#### Missing")
    assert f"- `{SUB}/default/x/v[0]/period[1]` — no longer in the target state" in section(markdown, "#### Extra")
    assert "#### Expected vs actual" not in markdown


def test_log_excerpt_is_fenced_and_at_most_twenty_lines_ending_with_the_dlq_line() -> None:
    log = section(
        render_markdown(bug_run()),
        "#### Billing-worker log: `duplicate-unique-id` — sync fails: "
        "duplicate unique id across persisted lines and charges (openmeterio/openmeter#4412)",
    )
    assert "| attempts | 10 |" in log and "| DLQ | yes |" in log
    assert "Log excerpt (20 of 30 lines):" in log
    body = log.split("```text\n", 1)[1].split("\n```", 1)[0].splitlines()
    assert len(body) == 20
    assert "message is going to DLQ" in body[-1]


def test_explanation_is_shown_for_the_step() -> None:
    assert "**Explanation.** the engine's issue-4412 behaviour predicts exactly what was observed" in render_markdown(
        bug_run()
    )


def test_how_to_reproduce_gives_the_cancel_as_curl_with_a_key_placeholder() -> None:
    repro = render_markdown(bug_run()).split("#### How to reproduce\n", 1)[1]
    assert (
        "# step 3: cancel\n"
        "# answered 200\n"
        f"curl -X POST '{BASE}/api/v3/openmeter/subscriptions/{SUB}/cancel' \\\n"
        '  -H "Authorization: Bearer $OPENMETER_API_KEY" \\\n'
        "  -H 'Content-Type: application/json' \\\n"
        """  --data '{"timing": "immediate"}'\n```"""
    ) in repro
    assert "<details><summary>Earlier steps (3 requests)</summary>" in repro


def test_secret_never_reaches_the_markdown_when_masked() -> None:
    markdown = render_markdown(secret_run(), mask=star)
    assert SECRET not in markdown
    assert markdown.count("***") >= 8  # url, body key and values, log line, finding, title, reason, config
    assert "Bearer $OPENMETER_API_KEY" in markdown


def test_without_a_mask_the_planted_secret_is_visible() -> None:
    # Proves the masking test above can fail.
    assert SECRET in render_markdown(secret_run())


def test_text_from_openmeter_cannot_break_tables_or_inject_html() -> None:
    assert text("a|b <script> *x* `y`\nz") == "a\\|b \\<script\\> \\*x\\* \\`y\\` z"
    assert code("v[0]|x", in_table=True) == "`v[0]\\|x`"
    assert code("a `b` c") == "``a `b` c``"
    assert code("`") == "`` ` ``"


def test_fence_is_longer_than_backticks_inside() -> None:
    assert fenced(["```", "x"], "text") == ["````text", "```", "x", "````"]
    assert fenced(["plain"]) == ["```", "plain", "```"]


def test_log_line_with_backticks_does_not_close_the_fence() -> None:
    step = replace(cancel_disagreement(), logs=(dup_id_evidence(lines=("```", "tail going to DLQ")),))
    scenario = ScenarioResult("s", "t", Verdict.DISAGREE, (step,))
    markdown = render_markdown(replace(bug_run(), scenarios=(scenario,)))
    assert "````text\n```\ntail going to DLQ\n````" in markdown


def test_error_scenario_without_steps_gives_its_reason() -> None:
    errored = ScenarioResult("cti-renewal", "Renewal", Verdict.ERROR, reason="OpenMeter stopped answering")
    markdown = render_markdown(replace(head_run(), scenarios=(errored,)))
    assert markdown.splitlines()[0] == "# omcontract could not run cti-renewal"
    assert "- **Reason:** OpenMeter stopped answering" in markdown
