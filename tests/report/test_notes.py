"""Step notes (observations that do not change a verdict) reach both reports, bounded on a terminal."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console

from contract.report import render_markdown, render_terminal
from contract.scenario.result import RunResult, ScenarioResult, StepResult, Target, TargetKind, Verdict

NOTES = tuple(f"response does not match the OpenAPI document: data[{i}].status" for i in range(4))


def _result() -> RunResult:
    step = StepResult(0, "subscribe", "subscribed", Verdict.AGREE, notes=NOTES)
    scenario = ScenarioResult("plan-change", "Changing plans", Verdict.AGREE, steps=(step,))
    t = datetime(2026, 11, 27, tzinfo=UTC)
    return RunResult(Target(TargetKind.LIVE, "http://127.0.0.1:48888"), (scenario,), t, t)


def test_markdown_lists_every_note_under_its_scenario() -> None:
    md = render_markdown(_result())
    assert "**Notes** (observations that do not change the verdict):" in md
    for note in NOTES:
        assert f"- step 0 (subscribe): {note}" in md


def test_terminal_shows_two_notes_and_points_to_the_rest() -> None:
    console = Console(record=True, width=200, force_terminal=False)
    render_terminal(_result(), console)
    out = console.export_text()
    assert out.count("note: plan-change step 0 subscribe:") == 2
    assert "note: plan-change: 2 more note(s) in the Markdown report" in out
    assert "1 agree, 0 disagree" in out
