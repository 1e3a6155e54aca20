"""The terminal summary: one screen that says whether OpenMeter agrees, and if not, where and why.

Layout: a header naming the target (with a warning for offline and replay runs), one table row
per scenario, then for each scenario with a problem its failing steps — up to
:data:`MAX_FINDINGS` findings each, the worker-log evidence and the explanation — and finally the
totals line ``N agree, N disagree, N skipped``.

Everything is printed as :class:`rich.text.Text` (never console markup), so brackets in unique
ids such as ``v[0]/period[0]`` are shown as they are. Colour is rich's decision: none when the
console is not a terminal.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from contract.compare.findings import FindingKind
from contract.report.common import (
    Mask,
    artifact_kind,
    config_text,
    evidence_facts,
    evidence_headline,
    finding_text,
    fmt_seconds,
    identity,
    mask_result,
    plural,
    problem_steps,
    sorted_findings,
    target_note,
    verdict_counts_text,
)
from contract.scenario.result import RunResult, ScenarioResult, StepResult, Verdict

MAX_FINDINGS = 10
MAX_NOTES = 2  # per scenario; the Markdown report has them all

VERDICT_STYLE: dict[Verdict, str] = {
    Verdict.AGREE: "green",
    Verdict.DISAGREE: "bold red",
    Verdict.SKIPPED: "yellow",
    Verdict.ERROR: "bold magenta",
}


def render_terminal(result: RunResult, console: Console, *, mask: Mask = identity) -> None:
    """Print the run's summary on ``console`` (every string from the run passes ``mask``)."""
    result = mask_result(result, mask)
    _header(result, console)
    console.print(_scenario_table(result))
    for scenario in result.scenarios:
        steps = problem_steps(scenario.steps)
        if steps:
            _scenario_detail(scenario, steps, console)
    for scenario in result.scenarios:
        notes = [(step, note) for step in scenario.steps for note in step.notes]
        for step, note in notes[:MAX_NOTES]:
            console.print(Text(f"note: {scenario.scenario_id} step {step.index} {step.name}: {note}", style="yellow"))
        if len(notes) > MAX_NOTES:
            more = len(notes) - MAX_NOTES
            console.print(
                Text(f"note: {scenario.scenario_id}: {more} more note(s) in the Markdown report", style="yellow")
            )
    console.print()
    console.print(Text(verdict_counts_text(result), style="bold"))


def _header(result: RunResult, console: Console) -> None:
    target = result.target
    console.print(Text.assemble(("omcontract", "bold"), " — ", target.describe()))
    console.print(Text(f"config: {config_text(target.config)}", style="dim"))
    note = target_note(target)
    if note:
        console.print(Text(note, style="bold yellow"))


def _verdict_text(verdict: Verdict) -> Text:
    return Text(verdict.value, style=VERDICT_STYLE[verdict])


def _scenario_table(result: RunResult) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("scenario", overflow="fold")
    table.add_column("verdict")
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for scenario in result.scenarios:
        table.add_row(
            scenario.scenario_id,
            _verdict_text(scenario.verdict),
            fmt_seconds(scenario.duration_seconds),
            _scenario_detail_cell(scenario),
        )
    return table


def _scenario_detail_cell(scenario: ScenarioResult) -> str:
    if scenario.verdict in (Verdict.SKIPPED, Verdict.ERROR) and scenario.reason:
        return scenario.reason
    step = scenario.first_disagreement
    if step is None:
        return plural(len(scenario.steps), "step")
    text = f"step {step.index} {step.name}: {plural(len(step.findings), 'finding')}"
    signatures = sorted({ev.signature for ev in step.logs})
    if signatures:
        text += f"; log: {', '.join(signatures)}"
    return text


def _scenario_detail(scenario: ScenarioResult, steps: list[StepResult], console: Console) -> None:
    console.print()
    mark = "✗" if scenario.verdict is Verdict.DISAGREE else "!"
    console.print(
        Text.assemble((f"{mark} {scenario.scenario_id}", VERDICT_STYLE[scenario.verdict]), f" — {scenario.title}")
    )
    if scenario.reason:
        console.print(Padding(Text(scenario.reason), (0, 0, 0, 2)))
    for step in steps:
        _step_detail(step, console)


def _step_detail(step: StepResult, console: Console) -> None:
    console.print(
        Padding(
            Text.assemble(
                (f"step {step.index} {step.name}", "bold"),
                " (",
                _verdict_text(step.verdict),
                f"): {step.summary}",
            ),
            (0, 0, 0, 2),
        )
    )
    _findings(step, console)
    for evidence in step.logs:
        console.print(Padding(Text.assemble(("log: ", "bold"), evidence_headline(evidence)), (0, 0, 0, 4)))
        facts = dict(evidence_facts(evidence, step.logs))
        rows = (
            f"subscription {facts['subscription']}, attempts {facts['attempts']}, DLQ {facts['DLQ']}, "
            f"conclusive {facts['conclusive']}",
            f"unique id {facts['unique id']}",
            f"first {facts['first']}, last {facts['last']}",
        )
        quoted = tuple(f"{label}: {text}" for label, text in facts.items() if label.startswith("error ("))
        for row in rows + quoted:
            console.print(Padding(Text(row), (0, 0, 0, 9)))
    if step.explanation:
        console.print(Padding(Text.assemble(("explanation: ", "bold"), step.explanation), (0, 0, 0, 4)))


def _findings(step: StepResult, console: Console) -> None:
    """Up to MAX_FINDINGS findings; field differences grouped under their artifact's id."""
    findings = sorted_findings(step.findings)
    group: str | None = None
    for finding in findings[:MAX_FINDINGS]:
        if finding.kind is FindingKind.DIFFERENT and finding.id is not None:
            if finding.id != group:
                group = finding.id
                kind = artifact_kind(step, finding.id)
                label = f" ({kind})" if kind else ""
                console.print(Padding(Text(f"different {finding.id}{label}"), (0, 0, 0, 4)))
            field = f"{finding.field}: " if finding.field else ""
            expected = finding.expected if finding.expected is not None else "—"
            actual = finding.actual if finding.actual is not None else "—"
            message = f" — {finding.message}" if finding.message else ""
            console.print(Padding(Text(f"{field}{expected} → {actual}{message}"), (0, 0, 0, 6)))
        else:
            group = None
            console.print(Padding(Text(finding_text(finding)), (0, 0, 0, 4)))
    if len(findings) > MAX_FINDINGS:
        more = len(findings) - MAX_FINDINGS
        console.print(Padding(Text(f"… and {plural(more, 'more finding')}", style="dim"), (0, 0, 0, 4)))
