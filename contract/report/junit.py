"""JUnit XML for CI: one ``testcase`` per scenario step.

Shape (the common JUnit dialect that GitLab, Jenkins and GitHub test reporters read)::

    <testsuites name="omcontract" tests failures errors skipped time>
      <testsuite name="omcontract" tests failures errors skipped time timestamp>
        <properties> target.kind, target.url, target.version, target.build, … </properties>
        <testcase classname="<scenario id>" name="step <index>: <name>" time="<waited>">
          <failure message=… type="disagree">findings, log evidence, explanation</failure>
          | <error message=… type="error">…</error>
          | <skipped message="<reason>"/>
          <system-out>curl reproduction</system-out>        (failing steps only)
        </testcase>

A scenario without steps (skipped or errored before its first step), or one whose verdict no
step carries, gets one ``testcase`` named ``scenario`` so the counts always add up.
Every string of the run passes through ``mask``; characters XML 1.0 cannot hold are dropped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from contract.report.common import (
    Mask,
    config_text,
    evidence_facts,
    evidence_headline,
    excerpt,
    finding_text,
    fmt_time,
    identity,
    mask_result,
    plural,
    sorted_findings,
    target_note,
    went_to_dlq,
    what_happened,
)
from contract.report.curl import curl_script
from contract.scenario.result import RunResult, ScenarioResult, StepResult, Target, TargetKind, Verdict

SUITE_NAME = "omcontract"

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(value: str) -> str:
    return _XML_ILLEGAL.sub("", value)


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


class _Counts:
    __slots__ = ("errors", "failures", "skipped", "tests")

    def __init__(self) -> None:
        self.tests = self.failures = self.errors = self.skipped = 0


def render_junit(result: RunResult, *, mask: Mask = identity) -> str:
    """The run as a JUnit XML document (UTF-8 declaration, indented, ends with a newline)."""
    result = mask_result(result, mask)
    elapsed = (result.finished_at - result.started_at).total_seconds()
    root = ET.Element("testsuites", {"name": SUITE_NAME})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME, "timestamp": fmt_time(result.started_at)})
    _properties(suite, result.target)
    counts = _Counts()
    for scenario in result.scenarios:
        _scenario_cases(suite, scenario, result.target, counts)
    for element in (root, suite):
        element.set("tests", str(counts.tests))
        element.set("failures", str(counts.failures))
        element.set("errors", str(counts.errors))
        element.set("skipped", str(counts.skipped))
        element.set("time", _seconds(elapsed))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _properties(suite: ET.Element, target: Target) -> None:
    props = ET.SubElement(suite, "properties")
    values: list[tuple[str, str]] = [
        ("target.kind", target.kind.value),
        ("target.url", target.base_url),
        ("target.version", str(target.version.get("version", "unknown"))),
        ("target.build", target.build or ""),
        ("target.config", config_text(target.config)),
        ("target.evidence", "true" if target.is_evidence else "false"),
    ]
    if target.behaviour:
        values.append(("target.behaviour", target.behaviour))
    if target.recording:
        values.append(("target.recording", target.recording))
    note = target_note(target)
    if note:
        values.append(("target.note", note))
    for name, value in values:
        ET.SubElement(props, "property", {"name": name, "value": _clean(value)})


def _scenario_cases(suite: ET.Element, scenario: ScenarioResult, target: Target, counts: _Counts) -> None:
    for step in scenario.steps:
        _step_case(suite, scenario, step, target, counts)
    verdicts = {s.verdict for s in scenario.steps}
    if scenario.verdict not in verdicts and scenario.verdict is not Verdict.AGREE:
        _scenario_case(suite, scenario, counts)


def _case(suite: ET.Element, classname: str, name: str, seconds: float, counts: _Counts) -> ET.Element:
    counts.tests += 1
    return ET.SubElement(
        suite, "testcase", {"classname": _clean(classname), "name": _clean(name), "time": _seconds(seconds)}
    )


def _step_case(suite: ET.Element, scenario: ScenarioResult, step: StepResult, target: Target, counts: _Counts) -> None:
    case = _case(suite, scenario.scenario_id, f"step {step.index}: {step.name}", step.waited_seconds, counts)
    if step.verdict is Verdict.DISAGREE:
        counts.failures += 1
        failure = ET.SubElement(case, "failure", {"message": _clean(_failure_message(step)), "type": "disagree"})
        failure.text = _clean(_details(step, target))
    elif step.verdict is Verdict.ERROR:
        counts.errors += 1
        message = scenario.reason or step.summary or "the step could not be run"
        error = ET.SubElement(case, "error", {"message": _clean(message), "type": "error"})
        error.text = _clean(_details(step, target))
    elif step.verdict is Verdict.SKIPPED:
        counts.skipped += 1
        ET.SubElement(case, "skipped", {"message": _clean(scenario.reason or step.summary or "skipped")})
    if step.verdict in (Verdict.DISAGREE, Verdict.ERROR) and step.exchanges:
        out = ET.SubElement(case, "system-out")
        out.text = _clean(curl_script(step.exchanges, base_url=target.base_url) + "\n")


def _scenario_case(suite: ET.Element, scenario: ScenarioResult, counts: _Counts) -> None:
    case = _case(suite, scenario.scenario_id, "scenario", scenario.duration_seconds, counts)
    reason = scenario.reason or scenario.verdict.value
    if scenario.verdict is Verdict.SKIPPED:
        counts.skipped += 1
        ET.SubElement(case, "skipped", {"message": _clean(reason)})
    elif scenario.verdict is Verdict.ERROR:
        counts.errors += 1
        ET.SubElement(case, "error", {"message": _clean(reason), "type": "error"})
    else:
        counts.failures += 1
        ET.SubElement(case, "failure", {"message": _clean(reason), "type": "disagree"})


def _failure_message(step: StepResult) -> str:
    """One line: counts, then each log signature with its upstream issue, attempts and DLQ."""
    parts = [f"disagrees with the reference engine: {plural(len(step.findings), 'finding')}"]
    for ev in step.logs:
        dlq = ", DLQ" if went_to_dlq(ev, step.logs) else ""
        issue = f" {ev.upstream_issue}" if ev.upstream_issue else ""
        parts.append(f"{ev.signature}{issue} ×{ev.attempts}{dlq}")
    return "; ".join(parts)


def _details(step: StepResult, target: Target) -> str:
    subject = "the offline fake" if target.kind is TargetKind.OFFLINE else "OpenMeter"
    lines = [what_happened(step, subject), ""]
    findings = sorted_findings(step.findings)
    if findings:
        lines.append("Findings:")
        lines += [f"  {finding_text(f)}" for f in findings]
        lines.append("")
    for ev in step.logs:
        lines.append(f"Log evidence: {evidence_headline(ev)}")
        lines += [f"  {label}: {value}" for label, value in evidence_facts(ev, step.logs)]
        if ev.lines:
            lines.append("  excerpt:")
            lines += [f"    {line}" for line in excerpt(ev.lines)]
        lines.append("")
    if step.explanation:
        lines += [f"Explanation: {step.explanation}", ""]
    return "\n".join(lines).rstrip() + "\n"
