"""The Markdown bug report: ready to paste into a GitHub issue.

Shape: a title naming the disagreeing scenario and, when a known worker-log signature matched,
the upstream issue(s); the target (version, build, URL, config, and a warning for offline and
replay runs); then per scenario its provenance, verdict and a steps table, and for each step that
disagrees or errored: what happened, an expected-vs-actual table per artifact, the artifacts
missing / extra / left untrimmed, the worker-log evidence with an excerpt (at most
:data:`~contract.report.common.excerpt`'s 20 lines), the explanation, and ``curl`` commands to
reproduce it.

Every string of the run passes through ``mask`` before anything is rendered (see
:func:`~contract.report.common.mask_result`). Text from the run is escaped for Markdown; ids,
fields and values are code spans. The output depends only on the run: no clock, sorted listings.
"""

from __future__ import annotations

import re
from collections import defaultdict

from contract.compare.findings import Finding, FindingKind
from contract.report.common import (
    Mask,
    artifact_kind,
    config_text,
    evidence_facts,
    excerpt,
    finding_text,
    fmt_seconds,
    fmt_time,
    identity,
    is_artifact_finding,
    mask_result,
    problem_steps,
    sorted_findings,
    target_note,
    untrimmed,
    upstream_issues,
    verdict_counts_text,
    version_text,
    what_happened,
)
from contract.report.curl import curl_script
from contract.scenario.result import RunResult, ScenarioResult, StepResult, Target, TargetKind, Verdict

_PROSE_SPECIALS = re.compile(r"([\\`*<>|])")
_BACKTICKS = re.compile(r"`+")


def render_markdown(result: RunResult, *, mask: Mask = identity) -> str:
    """The run as a GitHub-flavoured Markdown bug report (ends with one newline)."""
    result = mask_result(result, mask)
    out: list[str] = [f"# {text(_title(result))}", ""]
    out += _target_section(result)
    for scenario in result.scenarios:
        out += _scenario_section(scenario, result.target)
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# Escaping.


def text(value: str) -> str:
    """Prose from the run, safe in a paragraph or a table cell (one line, specials escaped)."""
    return _PROSE_SPECIALS.sub(r"\\\1", " ".join(value.splitlines()))


def code(value: str, *, in_table: bool = False) -> str:
    """An inline code span holding ``value`` verbatim (on one line)."""
    value = " ".join(value.splitlines())
    longest = max((len(m) for m in _BACKTICKS.findall(value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or not value.strip() else ""
    span = f"{fence}{pad}{value}{pad}{fence}"
    return span.replace("|", "\\|") if in_table else span


def fenced(lines: list[str], info: str = "") -> list[str]:
    """A fenced code block longer than any backtick run inside it."""
    longest = max((len(m) for line in lines for m in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *lines, fence]


def _table(header: list[str], align: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


# ---------------------------------------------------------------------------------------------
# Title and target.


def _subject(target: Target) -> str:
    return "the offline fake" if target.kind is TargetKind.OFFLINE else "OpenMeter"


def _title(result: RunResult) -> str:
    subject = _subject(result.target)
    disagreeing = [s for s in result.scenarios if s.verdict is Verdict.DISAGREE]
    erroring = [s for s in result.scenarios if s.verdict is Verdict.ERROR]
    issues = upstream_issues(result)
    if len(disagreeing) == 1:
        scenario = disagreeing[0]
        step = scenario.first_disagreement
        where = f" at step {step.index} ({step.name})" if step else ""
        title = f"{scenario.scenario_id}: {subject} disagrees with the reference engine{where}"
    elif disagreeing:
        ids = ", ".join(s.scenario_id for s in disagreeing)
        title = f"{len(disagreeing)} scenarios: {subject} disagrees with the reference engine ({ids})"
    elif erroring:
        title = f"omcontract could not run {', '.join(s.scenario_id for s in erroring)}"
    else:
        title = f"omcontract: {verdict_counts_text(result)}"
    if issues:
        title += " — " + ", ".join(issues)
    if result.target.kind is not TargetKind.LIVE:
        title = f"[{result.target.kind.value}] {title}"
    return title


def _target_section(result: RunResult) -> list[str]:
    target = result.target
    out = ["## Target", ""]
    note = target_note(target)
    if note:
        out += [f"> **Warning:** {text(note)}", ""]
    elapsed = (result.finished_at - result.started_at).total_seconds()
    facts = [
        ("Kind", target.kind.value),
        ("URL", code(target.base_url)),
        ("OpenMeter version", text(version_text(target))),
        ("Build / image", code(target.build) if target.build else "—"),
        ("Config", code(config_text(target.config)) if target.config else "—"),
    ]
    if target.behaviour:
        facts.append(("Engine behaviour", code(target.behaviour)))
    if target.recording:
        facts.append(("Recording", code(target.recording)))
    facts += [
        (
            "Run",
            f"{fmt_time(result.started_at)} → {fmt_time(result.finished_at)} ({fmt_seconds(elapsed)})",
        ),
        ("Verdicts", verdict_counts_text(result)),
    ]
    out += [f"- **{label}:** {value}" for label, value in facts]
    out.append("")
    return out


# ---------------------------------------------------------------------------------------------
# Scenarios and steps.


def _scenario_section(scenario: ScenarioResult, target: Target) -> list[str]:
    out = [f"## Scenario {code(scenario.scenario_id)} — {scenario.verdict.value}", ""]
    if scenario.title:
        out += [text(scenario.title), ""]
    verdict = f"**{scenario.verdict.value}**"
    first = scenario.first_disagreement
    if first is not None:
        verdict += f" (first disagreement at step {first.index}, {text(first.name)})"
    facts: list[tuple[str, str]] = [("Verdict", verdict)]
    if scenario.provenance:
        facts.append(("Provenance", text(scenario.provenance)))
    if scenario.known_issues:
        facts.append(("Known issues", ", ".join(text(i) for i in sorted(scenario.known_issues))))
    if scenario.reason:
        facts.append(("Reason", text(scenario.reason)))
    if scenario.source_path:
        facts.append(("Scenario file", code(scenario.source_path)))
    if scenario.run_id:
        facts.append(("Run id", code(scenario.run_id)))
    if scenario.customer_id:
        facts.append(("Customer", code(scenario.customer_id)))
    if scenario.subscription_ids:
        facts.append(("Subscriptions", ", ".join(code(s) for s in scenario.subscription_ids)))
    facts.append(("Duration", fmt_seconds(scenario.duration_seconds)))
    out += [f"- **{label}:** {value}" for label, value in facts]
    out.append("")
    if scenario.steps:
        out += ["### Steps", ""]
        out += _steps_table(scenario.steps)
        out.append("")
        notes = [(step, note) for step in scenario.steps for note in step.notes]
        if notes:
            out += ["**Notes** (observations that do not change the verdict):", ""]
            out += [f"- step {step.index} ({text(step.name)}): {text(note)}" for step, note in notes]
            out.append("")
    for step in problem_steps(scenario.steps):
        out += _step_section(scenario, step, target)
    return out


def _sync_ran(step: StepResult) -> str:
    if step.sync_ran is None:
        return "—"
    return "yes" if step.sync_ran else "no"


def _steps_table(steps: tuple[StepResult, ...]) -> list[str]:
    rows = [
        [
            str(step.index),
            text(step.name),
            step.verdict.value if step.verdict is Verdict.AGREE else f"**{step.verdict.value}**",
            str(len(step.findings)),
            fmt_seconds(step.waited_seconds),
            _sync_ran(step),
            text(step.summary),
        ]
        for step in steps
    ]
    return _table(
        ["#", "step", "verdict", "findings", "waited", "sync ran", "summary"],
        ["---:", "---", "---", "---:", "---:", "---", "---"],
        rows,
    )


def _step_section(scenario: ScenarioResult, step: StepResult, target: Target) -> list[str]:
    out = [f"### Step {step.index}: {text(step.name)} — {step.verdict.value}", ""]
    out += [f"**What happened.** {text(what_happened(step, _subject(target)))}", ""]
    if step.verdict is Verdict.ERROR and scenario.reason and not step.findings:
        out += [f"**Error.** {text(scenario.reason)}", ""]
    out += _expected_vs_actual(step)
    out += _missing_extra(step)
    out += _untrimmed(step)
    out += _other_findings(step)
    out += _log_evidence(step)
    if step.explanation:
        out += [f"**Explanation.** {text(step.explanation)}", ""]
    out += _reproduce(scenario, step, target)
    return out


def _artifact_label(step: StepResult, uid: str) -> str:
    kind = artifact_kind(step, uid)
    return f"{code(uid)} ({kind})" if kind else code(uid)


def _expected_vs_actual(step: StepResult) -> list[str]:
    by_id: dict[str, list[Finding]] = defaultdict(list)
    for f in step.findings:
        if f.kind is FindingKind.DIFFERENT and f.id is not None:
            by_id[f.id].append(f)
    if not by_id:
        return []
    out = ["#### Expected vs actual", ""]
    for uid in sorted(by_id):
        out += [f"**{_artifact_label(step, uid)}**", ""]
        rows = [
            [
                code(f.field, in_table=True) if f.field else "—",
                code(f.expected, in_table=True) if f.expected is not None else "—",
                code(f.actual, in_table=True) if f.actual is not None else "—",
            ]
            for f in sorted_findings(by_id[uid])
        ]
        out += _table(["field", "expected (engine)", "actual"], ["---", "---", "---"], rows)
        out.append("")
    return out


def _missing_extra(step: StepResult) -> list[str]:
    out: list[str] = []
    groups = (
        (FindingKind.MISSING, "Missing", "the engine expects them; they are not there"),
        (FindingKind.EXTRA, "Extra", "they are there; the engine does not expect them"),
    )
    for kind, label, gloss in groups:
        found = [f for f in sorted_findings(step.findings) if f.kind is kind and f.id is not None]
        if not found:
            continue
        out += [f"#### {label}", "", f"{gloss[:1].upper()}{gloss[1:]}:", ""]
        for f in found:
            message = f" — {text(f.message)}" if f.message else ""
            out.append(f"- {_artifact_label(step, f.id or '')}{message}")
        out.append("")
    return out


def _untrimmed(step: StepResult) -> list[str]:
    left = untrimmed(step)
    if not left:
        return []
    rows = [
        [code(u.id, in_table=True), u.what, code(fmt_time(u.expected_end)), code(fmt_time(u.actual_end))] for u in left
    ]
    return [
        "#### Left untrimmed",
        "",
        "Their service period ends later than the reference engine expects:",
        "",
        *_table(["id", "what", "expected end", "actual end"], ["---", "---", "---", "---"], rows),
        "",
    ]


def _other_findings(step: StepResult) -> list[str]:
    others = [f for f in sorted_findings(step.findings) if not is_artifact_finding(f)]
    if not others:
        return []
    return ["#### Other findings", "", *[f"- {text(finding_text(f))}" for f in others], ""]


def _log_evidence(step: StepResult) -> list[str]:
    out: list[str] = []
    for ev in step.logs:
        issue = f" ({text(ev.upstream_issue)})" if ev.upstream_issue else ""
        out += [f"#### Billing-worker log: {code(ev.signature)} — {text(ev.title)}{issue}", ""]
        rows = []
        for label, value in evidence_facts(ev, step.logs):
            plain = label in ("upstream issue", "conclusive", "attempts", "DLQ") or value == "—"
            rows.append([label, text(value) if plain else code(value, in_table=True)])
        out += _table(["fact", "value"], ["---", "---"], rows)
        out.append("")
        if ev.lines:
            lines = excerpt(ev.lines)
            shown = f"{len(lines)} of {len(ev.lines)}" if len(lines) < len(ev.lines) else f"{len(lines)}"
            out += [f"Log excerpt ({shown} lines):", ""]
            out += fenced(lines, "text")
            out.append("")
    return out


def _reproduce(scenario: ScenarioResult, step: StepResult, target: Target) -> list[str]:
    out = ["#### How to reproduce", ""]
    if target.kind is TargetKind.OFFLINE:
        out += ["These requests were answered by the offline fake, not by OpenMeter.", ""]
    out.append("Set `OPENMETER_API_KEY` if your OpenMeter needs one (the open-source server ignores it).")
    out.append("")
    if step.exchanges:
        out += fenced([f"# step {step.index}: {step.name}", *_script(step, target)], "sh")
    else:
        out.append("No HTTP requests were recorded for this step.")
    out.append("")
    earlier = [s for s in scenario.steps if s.index < step.index and s.exchanges]
    if earlier:
        count = sum(len(s.exchanges) for s in earlier)
        noun = "request" if count == 1 else "requests"
        out += [f"<details><summary>Earlier steps ({count} {noun})</summary>", ""]
        lines: list[str] = []
        for s in earlier:
            if lines:
                lines.append("")
            lines += [f"# step {s.index}: {s.name}", *_script(s, target)]
        out += fenced(lines, "sh")
        out += ["", "</details>", ""]
    return out


def _script(step: StepResult, target: Target) -> list[str]:
    return curl_script(step.exchanges, base_url=target.base_url).splitlines()
