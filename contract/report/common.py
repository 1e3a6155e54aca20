"""What every report needs: masking a whole run, and the small facts derived from a step.

The three renderers (:mod:`~contract.report.terminal`, :mod:`~contract.report.markdown`,
:mod:`~contract.report.junit`) never mask strings one by one. They call :func:`mask_result` first,
which rebuilds the :class:`~contract.scenario.result.RunResult` with *every* string in it (ids,
URLs, request bodies, log lines, messages, dictionary keys) passed through the mask, so a string
that comes from OpenMeter or the user cannot reach a report unmasked.

Everything here is deterministic: no clock, and collections are rendered in sorted order.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from contract.compare.findings import Finding, FindingKind
from contract.model.domain import Backend
from contract.model.snapshot import Artifact
from contract.model.time import format_time
from contract.scenario.result import LogEvidence, RunResult, StepResult, Target, TargetKind, Verdict

Mask = Callable[[str], str]

T = TypeVar("T")

# Findings are listed in this order of kinds, then by id and field.
_KIND_ORDER: dict[FindingKind, int] = {
    kind: n
    for n, kind in enumerate(
        (
            FindingKind.MISSING,
            FindingKind.EXTRA,
            FindingKind.DIFFERENT,
            FindingKind.ERROR,
            FindingKind.NOT_SYNCED,
            FindingKind.LOG,
            FindingKind.REFUSED,
            FindingKind.SCHEMA,
        )
    )
}

_DLQ = re.compile(r"going to DLQ", re.IGNORECASE)


def identity(text: str) -> str:
    """The default mask: leaves text as it is."""
    return text


def mask_value(value: T, mask: Mask) -> T:
    """``value`` with every string inside it (recursively) passed through ``mask``.

    Walks dataclasses, tuples, lists, dicts (keys too) and sets; enum members, datetimes,
    decimals and numbers are returned unchanged (a ``StrEnum`` member is a vocabulary word, not
    text from OpenMeter).
    """
    return _mask(value, mask)  # type: ignore[no-any-return]


def _mask(value: Any, mask: Mask) -> Any:
    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, str):
        return mask(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            if not f.init:
                continue
            old = getattr(value, f.name)
            new = _mask(old, mask)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, tuple):
        return tuple(_mask(v, mask) for v in value)
    if isinstance(value, list):
        return [_mask(v, mask) for v in value]
    if isinstance(value, dict):
        return {_mask(k, mask): _mask(v, mask) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return type(value)(_mask(v, mask) for v in value)
    return value


def mask_result(result: RunResult, mask: Mask) -> RunResult:
    """The run with every string masked; the identity mask returns ``result`` itself."""
    if mask is identity:
        return result
    return mask_value(result, mask)


# ---------------------------------------------------------------------------------------------
# Small formatting helpers shared by the renderers.


def fmt_seconds(seconds: float) -> str:
    return f"{seconds:.1f} s"


def fmt_time(t: datetime | None) -> str:
    return format_time(t) if t is not None else "—"


def scalar(value: Any) -> str:
    """A config or version value as text: JSON spelling for booleans, null and containers."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def config_text(config: dict[str, Any]) -> str:
    """``credit_then_invoice=true, credits=true`` (sorted by key); ``—`` when unknown."""
    if not config:
        return "—"
    return ", ".join(f"{k}={scalar(v)}" for k, v in sorted(config.items()))


def version_text(target: Target) -> str:
    """``unknown (arch amd64, os linux)`` from the ``GET /version`` body."""
    version = target.version.get("version")
    rest = [f"{k} {scalar(v)}" for k, v in sorted(target.version.items()) if k != "version"]
    head = scalar(version) if version is not None else "unknown"
    return f"{head} ({', '.join(rest)})" if rest else head


def target_note(target: Target) -> str | None:
    """The caveat a reader must see before trusting the verdicts, or ``None`` for a live run."""
    if target.kind is TargetKind.OFFLINE:
        behaviour = f" (engine behaviour {target.behaviour})" if target.behaviour else ""
        return f"Offline run, not evidence about OpenMeter: the suite's own fake{behaviour} answered."
    if target.kind is TargetKind.REPLAY:
        recording = f" {target.recording}" if target.recording else ""
        return f"Replay: the recorded run{recording} was judged again; no OpenMeter was contacted during this run."
    return None


def verdict_counts_text(result: RunResult) -> str:
    """``N agree, N disagree, N skipped`` (and ``, N error`` when any scenario errored)."""
    counts = result.counts()
    text = f"{counts[Verdict.AGREE]} agree, {counts[Verdict.DISAGREE]} disagree, {counts[Verdict.SKIPPED]} skipped"
    if counts[Verdict.ERROR]:
        text += f", {counts[Verdict.ERROR]} error"
    return text


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


# ---------------------------------------------------------------------------------------------
# Findings.


def finding_sort_key(f: Finding) -> tuple[int, str, str, str, str, str]:
    return (
        _KIND_ORDER.get(f.kind, len(_KIND_ORDER)),
        f.id or "",
        f.field or "",
        f.expected or "",
        f.actual or "",
        f.message,
    )


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=finding_sort_key)


def finding_text(f: Finding) -> str:
    """One line for a list: ``different <id> invoice_at: <expected> → <actual> — message``."""
    head = " ".join(p for p in (f.kind.value, f.id) if p)
    if f.field is not None or f.expected is not None or f.actual is not None:
        field = f"{f.field}: " if f.field else ""
        head += f" {field}{f.expected if f.expected is not None else '—'} → "
        head += f.actual if f.actual is not None else "—"
    return f"{head} — {f.message}" if f.message else head


def is_artifact_finding(f: Finding) -> bool:
    return f.id is not None and f.kind in (FindingKind.MISSING, FindingKind.EXTRA, FindingKind.DIFFERENT)


# ---------------------------------------------------------------------------------------------
# Log evidence.


DLQ_SIGNATURE = "message-dlq"  # the stack catalogue's terminal signature


def went_to_dlq(evidence: LogEvidence, step_logs: Iterable[LogEvidence] = ()) -> bool:
    """Whether the message behind ``evidence`` was sent to the dead-letter queue.

    True when its own excerpt holds the DLQ line, or when another piece of evidence of the same
    step (``step_logs``) is the DLQ line for the same subscription (and unique id, when both
    name one) — the stack's catalogue reports the DLQ line as its own signature.
    """
    if evidence.dead_lettered or any(_DLQ.search(line) for line in evidence.lines):
        return True
    for other in step_logs:
        if other is evidence:
            continue
        if other.signature != DLQ_SIGNATURE and not any(_DLQ.search(line) for line in other.lines):
            continue
        if evidence.subscription_id is None or other.subscription_id != evidence.subscription_id:
            continue
        if evidence.unique_id and other.unique_id and other.unique_id != evidence.unique_id:
            continue
        return True
    return False


def evidence_headline(evidence: LogEvidence) -> str:
    issue = f" ({evidence.upstream_issue})" if evidence.upstream_issue else ""
    return f"{evidence.signature}{issue} — {evidence.title}"


def evidence_facts(evidence: LogEvidence, step_logs: Iterable[LogEvidence] = ()) -> list[tuple[str, str]]:
    """The facts of one piece of log evidence, in reading order, as (label, value).

    ``step_logs``: all evidence of the step, so a separate DLQ signature counts (see
    :func:`went_to_dlq`).
    """
    quoted = [("error (first attempt)", evidence.error_first), ("error (last attempt)", evidence.error_last)]
    if evidence.error_last == evidence.error_first:
        quoted = quoted[:1]
    facts = [
        ("signature", evidence.signature if evidence.signature != "unknown-failure" else "no known signature"),
        ("upstream issue", evidence.upstream_issue or "—"),
        ("conclusive", "yes" if evidence.conclusive else "no"),
        ("subscription", evidence.subscription_id or "—"),
        ("unique id", evidence.unique_id or "—"),
        ("attempts", str(evidence.attempts)),
        ("DLQ", "yes" if went_to_dlq(evidence, step_logs) else "no"),
        ("first", fmt_time(evidence.first_ts)),
        ("last", fmt_time(evidence.last_ts)),
    ]
    return facts + [(label, text) for label, text in quoted if text]


def excerpt(lines: tuple[str, ...], limit: int = 20) -> list[str]:
    """At most ``limit`` lines: the head, a marker, and the tail (where the DLQ line is)."""
    if len(lines) <= limit:
        return list(lines)
    tail = limit // 2
    head = limit - tail - 1
    omitted = len(lines) - head - tail
    return [*lines[:head], f"… {omitted} lines omitted …", *lines[len(lines) - tail :]]


def upstream_issues(result: RunResult) -> list[str]:
    """Upstream issues named by log evidence on disagreeing or erroring steps (sorted, unique)."""
    issues = {
        ev.upstream_issue
        for scenario in result.scenarios
        for step in scenario.steps
        if step.verdict in (Verdict.DISAGREE, Verdict.ERROR)
        for ev in step.logs
        if ev.upstream_issue
    }
    return sorted(issues)


# ---------------------------------------------------------------------------------------------
# Artifacts left untrimmed (OpenMeter's artifact reaches past the end the engine expects).


@dataclass(frozen=True, slots=True)
class Untrimmed:
    id: str
    what: str  # "charge", "line" or "mirror line"
    expected_end: datetime
    actual_end: datetime


def backend_word(artifact: Artifact) -> str:
    return "charge" if artifact.backend is Backend.CHARGE else "line"


def untrimmed(step: StepResult) -> list[Untrimmed]:
    """Artifacts (and mirror lines) whose service period ends later than the engine expects.

    Needs both snapshots of the step; without them nothing can be said and the list is empty.
    """
    if step.expected is None or step.observed is None:
        return []
    observed = step.observed.by_id()
    out: list[Untrimmed] = []
    for uid, want in sorted(step.expected.by_id().items()):
        got = observed.get(uid)
        if got is None:
            continue
        if got.service_period.end > want.service_period.end:
            out.append(Untrimmed(uid, backend_word(want), want.service_period.end, got.service_period.end))
        if (
            want.mirror is not None
            and got.mirror is not None
            and got.mirror.service_period.end > want.mirror.service_period.end
        ):
            out.append(Untrimmed(uid, "mirror line", want.mirror.service_period.end, got.mirror.service_period.end))
    return out


def untrimmed_summary(items: list[Untrimmed]) -> str:
    """``2 charges and 2 mirror lines``."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.what] = counts.get(item.what, 0) + 1
    words = {"charge": "charges", "line": "lines", "mirror line": "mirror lines"}
    parts = [plural(counts[w], w, words[w]) for w in ("charge", "line", "mirror line") if w in counts]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def artifact_kind(step: StepResult, uid: str) -> str | None:
    """``charge`` or ``line`` for an id known to either snapshot of the step."""
    for snap in (step.expected, step.observed):
        if snap is not None:
            found = snap.by_id().get(uid)
            if found is not None:
                return backend_word(found)
    return None


def problem_steps(result_steps: Iterable[StepResult]) -> list[StepResult]:
    """The steps a reader must look at: those that disagree or errored."""
    return [s for s in result_steps if s.verdict in (Verdict.DISAGREE, Verdict.ERROR)]


# ---------------------------------------------------------------------------------------------
# The "what happened" paragraph (plain text; each renderer escapes it for its format).


def what_happened(step: StepResult, subject: str = "OpenMeter") -> str:
    """A few plain sentences: what the step did, how the state differs, what the worker logged."""
    parts: list[str] = []
    if step.summary:
        parts.append(f"Step {step.index} ({step.name}): {step.summary.rstrip('.')}.")
    different = [f for f in step.findings if f.kind is FindingKind.DIFFERENT and f.id is not None]
    missing = [f for f in step.findings if f.kind is FindingKind.MISSING]
    extra = [f for f in step.findings if f.kind is FindingKind.EXTRA]
    diffs: list[str] = []
    if different:
        artifacts = len({f.id for f in different})
        verb = "differs" if len(different) == 1 else "differ"
        diffs.append(f"{plural(len(different), 'field')} {verb} on {plural(artifacts, 'artifact')}")
    if missing:
        diffs.append(f"{plural(len(missing), 'expected artifact')} missing")
    if extra:
        diffs.append(f"{plural(len(extra), 'unexpected artifact')} present")
    if diffs:
        if step.waited_seconds:
            lead = f"After waiting {fmt_seconds(step.waited_seconds)}, {subject}'s state"
        else:
            lead = f"{subject[:1].upper()}{subject[1:]}'s state"
        parts.append(f"{lead} differs from the reference engine's prediction: {', '.join(diffs)}.")
    left = untrimmed(step)
    if left:
        verb = "ends" if len(left) == 1 else "end"
        parts.append(f"Left untrimmed: {untrimmed_summary(left)} still {verb} later than the engine expects.")
    for ev in step.logs:
        issue = f", {ev.upstream_issue}" if ev.upstream_issue else ""
        where = f" for subscription {ev.subscription_id}" if ev.subscription_id else ""
        dlq = ", then sent the message to the dead-letter queue" if went_to_dlq(ev, step.logs) else ""
        parts.append(
            f'The billing worker logged "{ev.title}" ({ev.signature}{issue}) {plural(ev.attempts, "time")}{where}{dlq}.'
        )
    if step.sync_ran is False:
        parts.append("The subscription's sync state was not updated: no sync succeeded after this step.")
    if step.observed is not None and step.observed.error:
        parts.append(f"Sync error: {step.observed.error.rstrip('.')}.")
    return " ".join(parts)
