"""The runner end to end against the offline OpenMeter (every layer but a real server)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from contract.client import OpenMeterClient
from contract.clock import VirtualClock
from contract.compare import Finding, FindingKind
from contract.model import Behaviour
from contract.offline import OfflineOpenMeter
from contract.scenario.loader import load_scenario, load_scenarios
from contract.scenario.model import Scenario
from contract.scenario.result import ScenarioResult, Target, TargetKind, Verdict
from contract.scenario.runner import Environment, PollPolicy, Runner
from contract.scenario.targets import open_offline, scan_logs

from .conftest import SCENARIOS

ALL = load_scenarios([SCENARIOS])
REPRO = SCENARIOS / "issue-4412-cti-cancel-immediately.yaml"


def _config_of(scenario: Scenario) -> str:
    if scenario.requires.credit_then_invoice:
        return "cti"
    return "no-cti" if scenario.requires.credits else "no-credits"


def _run(scenario: Scenario, behaviour: Behaviour = Behaviour.HEAD) -> ScenarioResult:
    with open_offline(behaviour, config_name=_config_of(scenario)) as session:
        return Runner(session.env).run(scenario)


def _findings(result: ScenarioResult) -> list[str]:
    return [f.one_line() for s in result.steps for f in s.findings]


@pytest.mark.parametrize("scenario", ALL, ids=[s.id for s in ALL])
def test_every_scenario_agrees_with_the_offline_openmeter_playing_head(scenario: Scenario) -> None:
    result = _run(scenario)
    assert result.verdict is Verdict.AGREE, (result.reason, _findings(result))
    assert len(result.steps) == len(scenario.steps)
    assert result.subscription_ids  # every scenario subscribes


def test_the_4412_repro_disagrees_at_the_cancel_with_the_log_signature_and_the_explanation() -> None:
    result = _run(load_scenario(REPRO), Behaviour.ISSUE_4412)
    assert result.verdict is Verdict.DISAGREE
    assert [s.verdict for s in result.steps] == [Verdict.AGREE] * 3 + [Verdict.DISAGREE]
    cancel = result.steps[3]
    untrimmed = {f.id for f in cancel.findings if f.kind is FindingKind.DIFFERENT and f.field == "service_period"}
    assert len(untrimmed) == 2
    signatures = {ev.signature: ev for ev in cancel.logs}
    dup = signatures["duplicate-unique-id"]
    assert dup.upstream_issue == "openmeterio/openmeter#4412" and dup.conclusive
    assert dup.subscription_id == result.subscription_ids[0]
    assert any(ev.terminal for ev in cancel.logs)  # the DLQ line
    assert sum(ev.attempts for ev in cancel.logs if ev.signature == "duplicate-unique-id") == 10
    assert any(f.kind is FindingKind.LOG and "#4412" in f.message for f in cancel.findings)
    assert cancel.explanation and "issue-4412 behaviour predicts exactly what was observed" in cancel.explanation


def test_a_sync_that_never_happens_is_reported_as_not_synced_within_the_deadline() -> None:
    clock = VirtualClock(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    fake = OfflineOpenMeter(Behaviour.HEAD, clock=clock, sync_after_reads=10**9)
    client = OpenMeterClient(fake.base_url, transport=fake.transport)
    env = Environment(
        client=client,
        clock=clock,
        target=Target(TargetKind.OFFLINE, fake.base_url),
        logs=fake.logs,
        poll=PollPolicy(deadline_s=20),
        scan_logs=scan_logs,
    )
    result = Runner(env).run(load_scenario(REPRO))
    first = result.steps[0]
    assert first.verdict is Verdict.DISAGREE
    assert {f.kind for f in first.findings} >= {FindingKind.NOT_SYNCED, FindingKind.MISSING}
    not_synced = next(f for f in first.findings if f.kind is FindingKind.NOT_SYNCED)
    assert "changed nothing in the 2" in not_synced.message  # the ~20 s actually waited (virtual)
    assert 20 <= first.waited_seconds < 30  # bounded by the deadline (virtual seconds)
    assert result.verdict is Verdict.DISAGREE


class _RefuseSubscriptions(httpx.BaseTransport):
    """Answers subscription creation with OpenMeter's 409 problem; everything else goes through."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/subscriptions"):
            problem = {
                "type": "about:blank",
                "title": "Conflict",
                "status": 409,
                "detail": "conflict",
                "extensions": {
                    "validationErrors": [
                        {
                            "field": "",
                            "code": "only_single_subscription_allowed_per_customer_at_a_time",
                            "message": "only one subscription",
                        }
                    ]
                },
            }
            return httpx.Response(409, json=problem, headers={"Content-Type": "application/problem+json"})
        return self.inner.handle_request(request)


def test_an_unexpected_refusal_is_a_finding_with_its_status_and_code_and_ends_the_scenario() -> None:
    with open_offline(Behaviour.HEAD, wrap_transport=_RefuseSubscriptions) as session:
        result = Runner(session.env).run(load_scenario(REPRO))
    assert result.verdict is Verdict.DISAGREE
    assert len(result.steps) == 1  # nothing after a refused subscribe can be judged
    [finding] = result.steps[0].findings
    assert finding.kind is FindingKind.REFUSED and finding.actual == "409"
    assert "only_single_subscription_allowed_per_customer_at_a_time" in finding.message
    assert result.reason and "409" in result.reason


@pytest.fixture
def expected_refusal() -> Iterator[Scenario]:
    yield load_scenario(SCENARIOS / "continue-after-immediate-cancel-refused.yaml")


def test_an_expected_refusal_agrees_only_with_its_exact_status(expected_refusal: Scenario) -> None:
    result = _run(expected_refusal)
    assert result.verdict is Verdict.AGREE
    assert "refused as expected: 403" in result.steps[-1].summary
    step = expected_refusal.steps[-1]
    assert step.refused is not None and step.refused.status == 403


_STARTS = [
    datetime(2026, 11, 27, 9, 0, 0, tzinfo=UTC),  # on a whole second
    datetime(2026, 11, 27, 9, 0, 0, 950000, tzinfo=UTC),  # a cancel would land in the next second
    datetime(2026, 1, 31, 23, 59, 59, 990000, tzinfo=UTC),  # month end, last instant of a second
]


@pytest.mark.parametrize("start", _STARTS, ids=["whole-second", "late-in-second", "month-end"])
@pytest.mark.parametrize("name", ["flat-fee-in-advance-prorated", "issue-4412-cti-cancel-immediately", "plan-edit"])
def test_verdicts_do_not_depend_on_where_in_the_second_the_run_starts(name: str, start: datetime) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    with open_offline(Behaviour.HEAD, start=start) as session:
        result = Runner(session.env).run(scenario)
    assert result.verdict is Verdict.AGREE, _findings(result)


class _FailFirstInvoiceRead(httpx.BaseTransport):
    """The first invoice listing after a cancel answers 500, as HEAD did once mid plan change."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.cancelled = False
        self.failed = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/cancel"):
            self.cancelled = True
        if self.cancelled and not self.failed and request.url.path == "/api/v1/billing/invoices":
            self.failed += 1
            problem = {"type": "about:blank", "title": "Internal Server Error", "status": 500, "detail": "boom"}
            return httpx.Response(500, json=problem, headers={"Content-Type": "application/problem+json"})
        return self.inner.handle_request(request)


def test_a_passing_server_error_while_polling_is_a_note_not_a_verdict() -> None:
    wrapped: list[_FailFirstInvoiceRead] = []

    def wrap(inner: httpx.BaseTransport) -> httpx.BaseTransport:
        wrapped.append(_FailFirstInvoiceRead(inner))
        return wrapped[-1]

    with open_offline(Behaviour.HEAD, wrap_transport=wrap) as session:
        result = Runner(session.env).run(load_scenario(REPRO))
    assert wrapped[0].failed == 1
    assert result.verdict is Verdict.AGREE, _findings(result)
    cancel = result.steps[3]
    assert len(cancel.notes) == 1 and "500" in cancel.notes[0]


class _ChargesNeverMatchTheSpec:
    """A response validator that objects to every charges listing (stands in for openapi-core)."""

    def validate(
        self, method: str, url: str, status: int, body: object, *, content_type: str | None = None
    ) -> list[Finding]:
        if method == "GET" and url.split("?")[0].endswith("/charges"):
            return [
                Finding(FindingKind.SCHEMA, "data[0].status: not one of the documented values", field="data[0].status")
            ]
        return []


@pytest.mark.parametrize(("mode", "verdict"), [("note", Verdict.AGREE), ("strict", Verdict.DISAGREE)])
def test_schema_mismatches_are_notes_by_default_and_findings_when_strict(mode: str, verdict: Verdict) -> None:
    with open_offline(Behaviour.HEAD) as session:
        session.env.client.validator = _ChargesNeverMatchTheSpec()  # type: ignore[assignment]
        session.env.schema_findings = mode
        result = Runner(session.env).run(load_scenario(REPRO))
    assert result.verdict is verdict
    first = result.steps[0]
    if mode == "note":
        assert any("does not match the OpenAPI document" in n and "data[0].status" in n for n in first.notes)
    else:
        assert any(f.kind is FindingKind.SCHEMA and f.field == "data[0].status" for f in first.findings)
