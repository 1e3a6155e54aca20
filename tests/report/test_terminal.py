from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace

import pytest
from rich.console import Console

from contract.report.terminal import MAX_FINDINGS, render_terminal
from contract.scenario.result import RunResult, ScenarioResult, Verdict

from .conftest import SnapshotCheck
from .results import API_CALLS, SECRET, SUB, bug_run, head_run, offline_run, replay_run, secret_run


def screen(result: RunResult, console: Console, **kwargs: object) -> str:
    """The terminal text with trailing blanks removed (rich pads lines to the console width)."""
    render_terminal(result, console, **kwargs)  # type: ignore[arg-type]
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


RUNS = [head_run, bug_run, offline_run, replay_run]


@pytest.mark.parametrize("build", RUNS, ids=[b.__name__ for b in RUNS])
def test_terminal_matches_snapshot(build: Callable[[], RunResult], console: Console, snapshot: SnapshotCheck) -> None:
    snapshot(f"terminal-{build.__name__}.txt", screen(build(), console))


def test_header_names_the_target_and_totals_line_ends_the_screen(console: Console) -> None:
    lines = screen(bug_run(), console).splitlines()
    assert lines[0] == "omcontract — live OpenMeter at http://127.0.0.1:48889, version unknown, build f67a8a103"
    assert lines[-1] == "1 agree, 1 disagree, 1 skipped"


def test_offline_target_says_it_is_not_evidence_about_openmeter(console: Console) -> None:
    text = screen(offline_run(), console)
    assert "Offline run, not evidence about OpenMeter:" in text


def test_replay_target_says_it_is_a_replay_of_the_recording(console: Console) -> None:
    text = screen(replay_run(), console)
    assert "Replay: the recorded run shared/openmeter/recorded/bug-4412.jsonl was judged again" in text


def test_disagreeing_step_shows_findings_log_evidence_and_explanation(console: Console) -> None:
    text = screen(bug_run(), console)
    assert "step 3 cancel (disagree): cancel immediate → activeTo 2026-11-27T07:51:34.224693Z" in text
    assert f"different {API_CALLS} (charge)" in text
    assert "service_period.to: 2026-11-27T07:51:34Z → 2026-12-27T07:51:31Z" in text
    assert "log: duplicate-unique-id (openmeterio/openmeter#4412)" in text
    assert f"subscription {SUB}, attempts 10, DLQ yes, conclusive yes" in text
    assert "first 2026-11-27T07:51:34Z, last 2026-11-27T07:51:35Z" in text
    assert "explanation: the engine's issue-4412 behaviour predicts exactly what was observed" in text


def test_at_most_ten_findings_are_listed_then_a_count_of_the_rest(console: Console) -> None:
    text = screen(bug_run(), console)
    arrows = [line for line in text.splitlines() if line.startswith("      ") and " → " in line]
    assert len(arrows) == MAX_FINDINGS == 10
    assert "… and 1 more finding" in text


def test_agreeing_run_lists_no_step_details(console: Console) -> None:
    text = screen(head_run(), console)
    assert "✗" not in text and "explanation" not in text
    assert text.splitlines()[-1] == "3 agree, 0 disagree, 0 skipped"


def test_error_scenario_row_gives_the_reason_and_the_totals_count_it(console: Console) -> None:
    errored = ScenarioResult("cti-renewal", "Renewal", Verdict.ERROR, reason="OpenMeter stopped answering")
    text = screen(replace(head_run(), scenarios=(errored,)), console)
    assert "cti-renewal" in text and "OpenMeter stopped answering" in text
    assert text.splitlines()[-1] == "0 agree, 0 disagree, 0 skipped, 1 error"


def test_no_colour_codes_when_the_console_is_not_a_terminal(console: Console) -> None:
    render_terminal(bug_run(), console)
    assert "\x1b[" not in console.file.getvalue()  # type: ignore[attr-defined]


def test_verdicts_are_coloured_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True, color_system="standard")
    render_terminal(bug_run(), console)
    text = out.getvalue()
    assert "\x1b[1;31mdisagree" in text  # red
    assert "\x1b[32magree" in text  # green
    assert "\x1b[33mskipped" in text  # yellow


def test_secret_never_reaches_the_terminal_when_masked(console: Console) -> None:
    text = screen(secret_run(), console, mask=lambda s: s.replace(SECRET, "***"))
    assert SECRET not in text
    assert "***" in text


def test_without_a_mask_the_planted_secret_is_visible(console: Console) -> None:
    # Proves the masking test above can fail: the planted key does reach the screen.
    assert SECRET in screen(secret_run(), console)
