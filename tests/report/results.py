"""Hand-built run results for the report tests, modelled on the recorded #4412 runs.

Ids, keys and times come from shared/openmeter/recorded/ (bug build ``f67a8a103``, HEAD
``7e57a394a``): subscription ``01M8DZSWV3W0XMQ5309B3ZPD4H`` subscribed at 07:51:31Z, cancelled
immediately at 07:51:34.224693Z.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from contract.compare.findings import Finding, FindingKind
from contract.model.domain import Backend
from contract.model.snapshot import Artifact, MirrorLine, Snapshot, SyncState
from contract.model.time import Period
from contract.scenario.result import (
    Exchange,
    LogEvidence,
    RunResult,
    ScenarioResult,
    StepResult,
    Target,
    TargetKind,
    Verdict,
)

BASE = "http://127.0.0.1:48889"
SUB = "01M8DZSWV3W0XMQ5309B3ZPD4H"
CUSTOMER = "01M8DZSWQGN7RZQPEN7FA6C29T"
PLAN = "01M8DZSWT4MFA8EQVQ0A5MR3VW"
RUN = "1795765891731_183"
API_CALLS = f"{SUB}/default/api_calls_{RUN}/v[0]/period[0]"
TOKENS = f"{SUB}/default/tokens_{RUN}/v[0]/period[0]"
SCENARIO_4412 = "issue-4412-cti-cancel-immediately"
SECRET = "om-test-SECRET-1234"

START = datetime(2026, 11, 27, 7, 51, 31, tzinfo=UTC)
PERIOD_END = datetime(2026, 12, 27, 7, 51, 31, tzinfo=UTC)
ACTIVE_TO = datetime(2026, 11, 27, 7, 51, 34, 224693, tzinfo=UTC)
CANCEL_END = datetime(2026, 11, 27, 7, 51, 34, tzinfo=UTC)  # activeTo floored to the second

CONFIG = {"credits": True, "credit_then_invoice": True}
VERSION = {"version": "unknown", "os": "linux", "arch": "amd64"}


def ts(text: str) -> str:
    return f"2026-11-27T{text}Z"


def charge(uid: str, end: datetime, status: str) -> Artifact:
    period = Period(START, end)
    return Artifact(
        id=uid,
        backend=Backend.CHARGE,
        service_period=period,
        invoice_at=end,
        billing_period=period,
        full_service_period=Period(START, PERIOD_END),
        amount=Decimal("0.1"),
        status=status,
        mirror=MirrorLine(service_period=period, billing_period=period, invoice_at=end),
        subscription_id=SUB,
    )


def expected_after_cancel() -> Snapshot:
    return Snapshot(
        items=(charge(API_CALLS, CANCEL_END, "active"), charge(TOKENS, CANCEL_END, "active")),
        sync_state=SyncState(has_billables=True, next_sync_after=CANCEL_END),
    )


def observed_after_cancel() -> Snapshot:
    return Snapshot(
        items=(charge(API_CALLS, PERIOD_END, "created"), charge(TOKENS, PERIOD_END, "created")),
        gathering_invoice_exists=True,
        sync_state=SyncState(has_billables=True, next_sync_after=PERIOD_END),
    )


def untrimmed_findings() -> tuple[Finding, ...]:
    out: list[Finding] = []
    for uid in (API_CALLS, TOKENS):
        for fld, want, got in (
            ("service_period.to", "2026-11-27T07:51:34Z", "2026-12-27T07:51:31Z"),
            ("invoice_at", "2026-11-27T07:51:34Z", "2026-12-27T07:51:31Z"),
            ("status", "active", "created"),
            ("mirror.service_period.to", "2026-11-27T07:51:34Z", "2026-12-27T07:51:31Z"),
            ("mirror.invoice_at", "2026-11-27T07:51:34Z", "2026-12-27T07:51:31Z"),
        ):
            out.append(Finding(FindingKind.DIFFERENT, "not trimmed to activeTo", "cancel", uid, fld, want, got))
    out.append(
        Finding(
            FindingKind.LOG,
            "duplicate unique id across persisted lines and charges (10 attempts, DLQ)",
            "cancel",
        )
    )
    return tuple(out)


def worker_log_lines() -> tuple[str, ...]:
    """What the bug build's billing worker logs: 3 lines per attempt, 10 attempts, then the DLQ."""
    error = f"synchronize subscription: duplicate unique id across persisted lines and charges: {API_CALLS}"
    lines: list[str] = []
    for attempt in range(10):
        second = "07:51:34" if attempt < 6 else "07:51:35"
        common = {"ts": ts(second), "caller": "openmeter/watermill/router/metrics.go:60"}
        lines.append(
            json.dumps({**common, "level": "WARN", "msg": "error while executing locked transaction, rolling back"})
        )
        lines.append(
            json.dumps(
                {
                    **common,
                    "level": "WARN",
                    "msg": "Message handler failed, will retry later",
                    "error.message": error,
                }
            )
        )
        if attempt < 9:
            lines.append(
                json.dumps(
                    {
                        **common,
                        "level": "WARN",
                        "msg": "Error occurred, retrying",
                        "retry_no": attempt + 1,
                        "max_retries": 9,
                    }
                )
            )
    lines.append(
        json.dumps(
            {
                "ts": ts("07:51:35"),
                "level": "ERROR",
                "msg": "Failed to process message, message is going to DLQ",
                "error.message": error,
            }
        )
    )
    return tuple(lines)


def dup_id_evidence(lines: tuple[str, ...] | None = None) -> LogEvidence:
    return LogEvidence(
        signature="duplicate-unique-id",
        title="sync fails: duplicate unique id across persisted lines and charges",
        upstream_issue="openmeterio/openmeter#4412",
        conclusive=True,
        subscription_id=SUB,
        unique_id=API_CALLS,
        attempts=10,
        first_ts=datetime(2026, 11, 27, 7, 51, 34, tzinfo=UTC),
        last_ts=datetime(2026, 11, 27, 7, 51, 35, tzinfo=UTC),
        lines=worker_log_lines() if lines is None else lines,
    )


def cancel_exchange() -> Exchange:
    return Exchange("POST", f"{BASE}/api/v3/openmeter/subscriptions/{SUB}/cancel", {"timing": "immediate"}, 200)


def subscribe_exchanges() -> tuple[Exchange, ...]:
    return (
        Exchange(
            "POST",
            f"{BASE}/api/v3/openmeter/subscriptions",
            {"customer": {"id": CUSTOMER}, "plan": {"id": PLAN}},
            201,
        ),
        Exchange(
            "GET",
            f"{BASE}/api/v3/openmeter/customers/{CUSTOMER}/charges?page%5Bsize%5D=100&sort=service_period.from",
            None,
            200,
        ),
    )


def ingest_exchanges() -> tuple[Exchange, ...]:
    body = {
        "specversion": "1.0",
        "id": f"evt_{RUN}_0",
        "source": "contract-suite",
        "type": f"ev_api_calls_{RUN}",
        "subject": f"subj_4412_{RUN}",
        "time": "2026-11-27T07:51:33.153Z",
        "data": {"value": 5},
    }
    return (Exchange("POST", f"{BASE}/api/v1/events", body, 204, "application/cloudevents+json"),)


def agreeing_steps() -> tuple[StepResult, ...]:
    return (
        StepResult(
            1,
            "subscribe",
            f"subscribe {SUB} to plan_4412 from {START:%Y-%m-%dT%H:%M:%SZ}",
            Verdict.AGREE,
            exchanges=subscribe_exchanges(),
            waited_seconds=1.1,
            sync_ran=True,
        ),
        StepResult(
            2,
            "ingest",
            "4 usage events (api_calls ×2, tokens ×2)",
            Verdict.AGREE,
            exchanges=ingest_exchanges(),
            waited_seconds=1.0,
        ),
        StepResult(
            3,
            "cancel",
            "cancel immediate → activeTo 2026-11-27T07:51:34.224693Z",
            Verdict.AGREE,
            exchanges=(cancel_exchange(),),
            waited_seconds=1.2,
            sync_ran=True,
        ),
    )


def cancel_disagreement() -> StepResult:
    return StepResult(
        index=3,
        name="cancel",
        summary="cancel immediate → activeTo 2026-11-27T07:51:34.224693Z",
        verdict=Verdict.DISAGREE,
        findings=untrimmed_findings(),
        expected=expected_after_cancel(),
        observed=observed_after_cancel(),
        logs=(dup_id_evidence(),),
        exchanges=(cancel_exchange(),),
        waited_seconds=60.8,
        sync_ran=False,
        explanation="the engine's issue-4412 behaviour predicts exactly what was observed",
    )


def scenario_4412(verdict: Verdict = Verdict.AGREE) -> ScenarioResult:
    steps = agreeing_steps()
    if verdict is Verdict.DISAGREE:
        steps = (*steps[:2], cancel_disagreement())
    return ScenarioResult(
        scenario_id=SCENARIO_4412,
        title="Credit-then-invoice subscription cancelled immediately",
        verdict=verdict,
        steps=steps,
        provenance="https://github.com/openmeterio/openmeter/issues/4412",
        known_issues=("openmeterio/openmeter#4412",),
        duration_seconds=63.4 if verdict is Verdict.DISAGREE else 4.2,
        run_id=RUN,
        customer_id=CUSTOMER,
        subscription_ids=(SUB,),
        source_path="fixtures/scenarios/issue-4412.yaml",
    )


def simple_scenario(scenario_id: str, title: str, seconds: float) -> ScenarioResult:
    steps = (
        StepResult(1, "subscribe", "subscribe to plan_usage", Verdict.AGREE, waited_seconds=1.0, sync_ran=True),
        StepResult(2, "cancel", "cancel next_billing_cycle", Verdict.AGREE, waited_seconds=0.4, sync_ran=True),
    )
    return ScenarioResult(
        scenario_id,
        title,
        Verdict.AGREE,
        steps,
        duration_seconds=seconds,
        source_path=f"fixtures/scenarios/{scenario_id}.yaml",
    )


def skipped_scenario() -> ScenarioResult:
    return ScenarioResult(
        "cti-plan-edit-add-item",
        "Plan edit adds an item on a running subscription",
        Verdict.SKIPPED,
        reason="needs the v1 plan-edit endpoint, absent on this build",
        source_path="fixtures/scenarios/cti-plan-edit-add-item.yaml",
    )


def live_target(build: str) -> Target:
    return Target(TargetKind.LIVE, BASE, version=dict(VERSION), build=build, config=dict(CONFIG))


def head_run() -> RunResult:
    """HEAD agrees: three scenarios, all agree."""
    return RunResult(
        target=live_target("7e57a394a"),
        scenarios=(
            scenario_4412(Verdict.AGREE),
            simple_scenario("cti-cancel-next-billing-cycle", "Cancel at the next billing cycle", 2.5),
            simple_scenario("cti-continue-after-cancel", "Continue (undo) a cancel", 3.0),
        ),
        started_at=START - timedelta(seconds=2),
        finished_at=START + timedelta(seconds=12),
    )


def bug_run() -> RunResult:
    """The bug build: #4412 at the cancel step, one agreeing and one skipped scenario."""
    return RunResult(
        target=live_target("f67a8a103"),
        scenarios=(
            scenario_4412(Verdict.DISAGREE),
            simple_scenario("cti-cancel-next-billing-cycle", "Cancel at the next billing cycle", 2.5),
            skipped_scenario(),
        ),
        started_at=START - timedelta(seconds=2),
        finished_at=START + timedelta(seconds=70),
    )


def offline_run() -> RunResult:
    target = Target(
        TargetKind.OFFLINE,
        "http://127.0.0.1:0",
        version={"version": "offline-fake"},
        config=dict(CONFIG),
        behaviour="head",
    )
    return RunResult(target, (scenario_4412(Verdict.AGREE),), START, START + timedelta(seconds=1))


def replay_run() -> RunResult:
    target = Target(
        TargetKind.REPLAY,
        BASE,
        version=dict(VERSION),
        build="f67a8a103",
        config=dict(CONFIG),
        recording="shared/openmeter/recorded/bug-4412.jsonl",
    )
    return RunResult(target, (scenario_4412(Verdict.DISAGREE),), START, START + timedelta(seconds=2))


def secret_run() -> RunResult:
    """The bug run with the recognisable key planted wherever OpenMeter or the user can put text."""
    step = cancel_disagreement()
    leaky_exchange = Exchange(
        "POST",
        f"{BASE}/api/v3/openmeter/subscriptions/{SUB}/cancel?token={SECRET}",
        {"timing": "immediate", "note": f"key {SECRET}", SECRET: [SECRET]},
        200,
    )
    leaky_log = replace(
        dup_id_evidence(),
        lines=(*worker_log_lines(), f'{{"msg":"auth","key":"{SECRET}"}}'),
        subscription_id=f"{SUB}-{SECRET}",
    )
    step = replace(
        step,
        summary=f"cancel with Authorization: Bearer {SECRET}",
        findings=(*step.findings, Finding(FindingKind.REFUSED, f"401 for key {SECRET}", "cancel")),
        logs=(leaky_log,),
        exchanges=(leaky_exchange,),
        explanation=f"the key {SECRET} was rejected",
    )
    scenario = scenario_4412(Verdict.DISAGREE)
    scenario = replace(scenario, steps=(*scenario.steps[:2], step), title=f"uses {SECRET}")
    skipped = replace(skipped_scenario(), reason=f"OPENMETER_API_KEY={SECRET} refused")
    target = replace(
        live_target("f67a8a103"),
        base_url=f"http://{SECRET}@127.0.0.1:48889",
        config={**CONFIG, "api_key": SECRET},
    )
    return RunResult(target, (scenario, skipped), START, START + timedelta(seconds=70))
