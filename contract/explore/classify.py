"""Failure classes: which disagreements are "the same bug".

A campaign finds many failing examples of one bug; it shrinks and reports each *class* once. The
class of a failing result is the most specific evidence of its first disagreeing step:

1. a known failure signature with an upstream issue (``log duplicate-unique-id
   (openmeterio/openmeter#4412)``) — the same bug whatever step triggered it;
2. an unknown failure: the worker's error text with ids, times and numbers normalised
   (``sync failed: cannot patch charge <id>: ...``);
3. an invariant broken (``after cancel: invariant artifact-after-active-to``);
4. otherwise the step kind and what differed (``cancel: different service_period, mirror``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from contract.findings import FindingKind
from contract.scenario.result import ScenarioResult, StepResult, Verdict
from contract.stack.failures import normalise

__all__ = ["FailureClass", "classify", "normalise", "slug_of"]

_STEP_KIND = re.compile(r"\.([a-z_]+)$")


@dataclass(frozen=True, slots=True)
class FailureClass:
    """One distinct failure: ``key`` groups examples; ``step_kind`` is where it first showed."""

    key: str
    step_kind: str
    known_issue: str | None = None

    @property
    def slug(self) -> str:
        return slug_of(self.key)


def slug_of(key: str) -> str:
    """A file-name-safe form of a class key (the stem of the scenario file written for it)."""
    slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")
    return slug[:60].rstrip("-") or "failure"


def _kind_of(step: StepResult) -> str:
    found = _STEP_KIND.search(step.name)
    return found.group(1) if found else step.name


def _step_class(step: StepResult) -> FailureClass:
    kind = _kind_of(step)
    for ev in step.logs:
        if ev.conclusive and ev.upstream_issue:
            return FailureClass(f"log {ev.signature} ({ev.upstream_issue})", kind, ev.upstream_issue)
    for ev in step.logs:
        if ev.signature == "unknown-failure" and ev.error_first:
            return FailureClass(f"sync failed: {normalise(ev.error_first)}", kind)
    for ev in step.logs:
        if ev.conclusive and ev.signature != "message-dlq":
            return FailureClass(f"log {ev.signature}", kind)
    invariants = sorted({f.field or f.message for f in step.findings if f.kind is FindingKind.INVARIANT})
    if invariants:
        return FailureClass(f"{kind}: invariant {', '.join(invariants)}", kind)
    refused = [f for f in step.findings if f.kind is FindingKind.REFUSED]
    if refused:
        return FailureClass(f"{kind}: refused {refused[0].actual or ''}".rstrip(), kind)
    if any(ev.terminal for ev in step.logs):
        return FailureClass("log message-dlq", kind)
    parts = sorted(
        {
            f"{f.kind.value} {f.field}" if f.field else f.kind.value
            for f in step.findings
            if f.kind not in (FindingKind.LOG, FindingKind.SCHEMA)
        }
    )
    return FailureClass(f"{kind}: {', '.join(parts) or 'disagree'}", kind)


def classify(result: ScenarioResult) -> FailureClass | None:
    """The failure class of ``result``; None when it agreed or was skipped."""
    if result.verdict in (Verdict.AGREE, Verdict.SKIPPED):
        return None
    if result.verdict is Verdict.ERROR:
        return FailureClass(f"could not run: {normalise(result.reason or 'unknown reason')}", "run")
    step = result.first_disagreement
    if step is None:
        return FailureClass(f"disagree: {normalise(result.reason or 'no step')}", "setup")
    return _step_class(step)
