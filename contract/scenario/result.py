"""The outcome of running scenarios: what the reports render and the CLI maps to exit codes.

A :class:`RunResult` holds one :class:`ScenarioResult` per scenario, each with one
:class:`StepResult` per step. Every difference is a :class:`~contract.compare.findings.Finding`;
worker-log evidence is a :class:`LogEvidence`; the requests of a step are kept as
:class:`Exchange` s so a report can print them as ``curl`` commands.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contract.compare.findings import Finding
from contract.errors import EXIT_DISAGREE, EXIT_NO_OPENMETER, EXIT_OK
from contract.model.snapshot import Snapshot


class Verdict(enum.StrEnum):
    AGREE = "agree"
    DISAGREE = "disagree"
    SKIPPED = "skipped"
    ERROR = "error"  # the scenario could not be run (bad input, OpenMeter gone)


class TargetKind(enum.StrEnum):
    LIVE = "live"  # a real OpenMeter (booted or attached)
    OFFLINE = "offline"  # the suite's offline fake: not evidence about OpenMeter
    REPLAY = "replay"  # a recorded run judged again without a server


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    base_url: str
    version: dict[str, Any] = field(default_factory=dict)  # GET /version as served
    build: str | None = None  # e.g. the native tool's OMNATIVE_REV, or the image tag
    config: dict[str, Any] = field(default_factory=dict)  # credits / credit_then_invoice as known
    behaviour: str | None = None  # offline fake: the engine behaviour it plays
    recording: str | None = None  # replay: the file judged

    @property
    def is_evidence(self) -> bool:
        """Only a live target says anything about OpenMeter itself."""
        return self.kind is not TargetKind.OFFLINE

    def describe(self) -> str:
        version = self.version.get("version", "unknown")
        parts = [f"{self.kind.value} OpenMeter at {self.base_url}", f"version {version}"]
        if self.build:
            parts.append(f"build {self.build}")
        if self.behaviour:
            parts.append(f"engine behaviour {self.behaviour}")
        if self.recording:
            parts.append(f"recording {self.recording}")
        if self.kind is TargetKind.OFFLINE:
            parts.append("(offline fake: not evidence about OpenMeter)")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP request of a step (secrets already masked), for ``curl`` reproductions."""

    method: str
    url: str
    request_body: Any = None
    status: int | None = None
    content_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class LogEvidence:
    """Worker-log lines that match a known failure signature, attributed to a subscription."""

    signature: str  # catalogue id, e.g. "duplicate-unique-id"
    title: str  # human description of the signature
    upstream_issue: str | None  # e.g. "openmeterio/openmeter#4412"
    conclusive: bool
    subscription_id: str | None
    unique_id: str | None
    attempts: int
    first_ts: datetime | None
    last_ts: datetime | None
    lines: tuple[str, ...] = ()  # excerpts, masked
    terminal: bool = False  # the signature ends message processing (the DLQ line)
    #: the worker's own error text (``error.message``) of the first and last failing attempt, verbatim
    error_first: str | None = None
    error_last: str | None = None
    dead_lettered: bool = False  # the message reached the DLQ (unknown failures say so themselves)


@dataclass(frozen=True, slots=True)
class StepResult:
    index: int
    name: str  # e.g. "cancel"
    summary: str  # one line: what was done, e.g. "cancel immediate → activeTo 2026-…"
    verdict: Verdict
    findings: tuple[Finding, ...] = ()
    expected: Snapshot | None = None
    observed: Snapshot | None = None
    logs: tuple[LogEvidence, ...] = ()
    exchanges: tuple[Exchange, ...] = ()
    waited_seconds: float = 0.0
    sync_ran: bool | None = None  # from the sync-state table when known
    explanation: str | None = None  # e.g. "engine behaviour issue-4412 predicts exactly this"
    #: observations worth a look that do not change the verdict (e.g. a read that answered 500 once)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario_id: str
    title: str
    verdict: Verdict
    steps: tuple[StepResult, ...] = ()
    provenance: str | None = None
    known_issues: tuple[str, ...] = ()
    reason: str | None = None  # why skipped / errored
    duration_seconds: float = 0.0
    run_id: str | None = None
    customer_id: str | None = None
    subscription_ids: tuple[str, ...] = ()
    source_path: str | None = None

    @property
    def first_disagreement(self) -> StepResult | None:
        return next((s for s in self.steps if s.verdict is Verdict.DISAGREE), None)


@dataclass(frozen=True, slots=True)
class RunResult:
    target: Target
    scenarios: tuple[ScenarioResult, ...]
    started_at: datetime
    finished_at: datetime

    @property
    def verdict(self) -> Verdict:
        verdicts = {s.verdict for s in self.scenarios}
        if Verdict.ERROR in verdicts:
            return Verdict.ERROR
        if Verdict.DISAGREE in verdicts:
            return Verdict.DISAGREE
        if verdicts == {Verdict.SKIPPED}:
            return Verdict.SKIPPED
        return Verdict.AGREE

    def counts(self) -> dict[Verdict, int]:
        out = dict.fromkeys(Verdict, 0)
        for s in self.scenarios:
            out[s.verdict] += 1
        return out

    @property
    def exit_code(self) -> int:
        """0 all agree (or skipped), 1 a disagreement, 3 OpenMeter became unusable mid-run."""
        verdict = self.verdict
        if verdict is Verdict.DISAGREE:
            return EXIT_DISAGREE
        if verdict is Verdict.ERROR:
            return EXIT_NO_OPENMETER
        return EXIT_OK
