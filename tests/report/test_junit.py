from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from contract.report.junit import render_junit
from contract.scenario.result import ScenarioResult, StepResult, Verdict

from .results import SCENARIO_4412, SECRET, bug_run, cancel_disagreement, dup_id_evidence, head_run


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml.encode("utf-8"))


def suite_of(root: ET.Element) -> ET.Element:
    suites = root.findall("testsuite")
    assert len(suites) == 1
    return suites[0]


def counts(element: ET.Element) -> dict[str, str]:
    return {k: element.get(k, "") for k in ("tests", "failures", "errors", "skipped")}


def test_document_is_testsuites_with_one_omcontract_suite() -> None:
    xml = render_junit(bug_run())
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = parse(xml)
    assert root.tag == "testsuites"
    assert suite_of(root).get("name") == "omcontract"


def test_counts_on_suite_and_root_match_the_testcases() -> None:
    root = parse(render_junit(bug_run()))
    suite = suite_of(root)
    # 3 steps of #4412 + 2 steps of the agreeing scenario + 1 case for the skipped scenario
    assert counts(suite) == {"tests": "6", "failures": "1", "errors": "0", "skipped": "1"}
    assert counts(root) == counts(suite)
    assert len(suite.findall("testcase")) == 6
    assert suite.get("time") == "72.000"
    assert suite.get("timestamp") == "2026-11-27T07:51:29Z"


def test_testcases_are_named_by_scenario_and_step() -> None:
    suite = suite_of(parse(render_junit(bug_run())))
    names = [(c.get("classname"), c.get("name"), c.get("time")) for c in suite.findall("testcase")]
    assert names[:3] == [
        (SCENARIO_4412, "step 1: subscribe", "1.100"),
        (SCENARIO_4412, "step 2: ingest", "1.000"),
        (SCENARIO_4412, "step 3: cancel", "60.800"),
    ]


def test_cancel_step_fails_naming_the_signature_and_4412() -> None:
    suite = suite_of(parse(render_junit(bug_run())))
    case = suite.find(f"testcase[@classname='{SCENARIO_4412}'][@name='step 3: cancel']")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("type") == "disagree"
    message = failure.get("message", "")
    assert "duplicate-unique-id" in message and "#4412" in message and "×10" in message and "DLQ" in message
    body = failure.text or ""
    assert "service_period.to: 2026-11-27T07:51:34Z → 2026-12-27T07:51:31Z" in body
    assert "Log evidence: duplicate-unique-id (openmeterio/openmeter#4412)" in body
    assert "  attempts: 10" in body and "  DLQ: yes" in body
    assert "Explanation: the engine's issue-4412 behaviour predicts exactly what was observed" in body
    out = case.find("system-out")
    assert out is not None and "curl -X POST" in (out.text or "")


def test_agreeing_steps_have_no_failure_and_skipped_scenario_has_its_reason() -> None:
    suite = suite_of(parse(render_junit(bug_run())))
    failing = [c for c in suite.findall("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failing] == ["step 3: cancel"]
    skipped = suite.find("testcase[@classname='cti-plan-edit-add-item']/skipped")
    assert skipped is not None
    assert skipped.get("message") == "needs the v1 plan-edit endpoint, absent on this build"


def test_properties_carry_the_target() -> None:
    suite = suite_of(parse(render_junit(bug_run())))
    props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert props["target.kind"] == "live"
    assert props["target.version"] == "unknown"
    assert props["target.build"] == "f67a8a103"
    assert props["target.url"] == "http://127.0.0.1:48889"
    assert props["target.evidence"] == "true"


def test_error_scenario_becomes_an_error_element() -> None:
    errored = ScenarioResult("cti-renewal", "Renewal", Verdict.ERROR, reason="OpenMeter stopped answering")
    suite = suite_of(parse(render_junit(replace(head_run(), scenarios=(errored,)))))
    assert counts(suite) == {"tests": "1", "failures": "0", "errors": "1", "skipped": "0"}
    error = suite.find("testcase[@name='scenario']/error")
    assert error is not None and error.get("message") == "OpenMeter stopped answering"


def test_error_step_is_an_error_and_later_skipped_steps_are_skipped() -> None:
    steps = (
        StepResult(1, "subscribe", "subscribe", Verdict.AGREE),
        StepResult(2, "cancel", "cancel", Verdict.ERROR),
        StepResult(3, "renew", "renew", Verdict.SKIPPED),
    )
    scenario = ScenarioResult("s", "t", Verdict.ERROR, steps, reason="connection refused")
    suite = suite_of(parse(render_junit(replace(head_run(), scenarios=(scenario,)))))
    assert counts(suite) == {"tests": "3", "failures": "0", "errors": "1", "skipped": "1"}
    error = suite.find("testcase[@name='step 2: cancel']/error")
    assert error is not None and error.get("message") == "connection refused"


def test_disagreeing_scenario_without_a_disagreeing_step_still_counts_as_a_failure() -> None:
    scenario = ScenarioResult("s", "t", Verdict.DISAGREE, reason="final state differs")
    suite = suite_of(parse(render_junit(replace(head_run(), scenarios=(scenario,)))))
    assert counts(suite)["failures"] == "1"


def test_control_characters_from_logs_are_dropped_so_the_xml_stays_valid() -> None:
    step = replace(cancel_disagreement(), logs=(dup_id_evidence(lines=("\x1b[31mred\x1b[0m going to DLQ",)),))
    scenario = ScenarioResult("s", "t", Verdict.DISAGREE, (step,))
    root = parse(render_junit(replace(head_run(), scenarios=(scenario,))))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and "[31mred[0m going to DLQ" in (failure.text or "")


def test_secret_never_reaches_the_junit_when_masked() -> None:
    from .results import secret_run

    xml = render_junit(secret_run(), mask=lambda s: s.replace(SECRET, "***"))
    assert SECRET not in xml
    assert "***" in xml
    assert SECRET in render_junit(secret_run())  # the planted key does reach an unmasked report
