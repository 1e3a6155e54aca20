"""Failing syncs in the worker log, known or not, quoted in the worker's own words.

The signature catalogue (:mod:`contract.stack.signatures`) names failures someone has seen
before. A regression nobody has seen yet writes an error text no signature matches; this module
finds those too: every record that carries an error text (``error.message``) and is a failed
delivery attempt, a dead-lettered message, or an ERROR-level line, attributed to a subscription,
grouped by its error text with ids, times and numbers normalised. Each group says how often it
happened, the first and last text verbatim, whether the message went to the DLQ, and which known
signatures (if any) its text matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from contract.stack.signatures import Signature, default_catalogue, subscription_of
from contract.worklog.records import LogRecord

__all__ = ["FailureGroup", "failing_syncs", "normalise"]

_ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
_RUN_KEY = re.compile(r"\b([a-z][a-z0-9_]*?)_\d{13}_[0-9a-f]{8}\b")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
_SPACE = re.compile(r"\s+")
_FAILURE_LEVELS = frozenset({"ERROR", "PANIC", "FATAL"})
#: Longest error text kept verbatim (longer ones are cut with an ellipsis).
MAX_TEXT = 2000


def normalise(text: str, limit: int = 160) -> str:
    """``text`` with times, ids, run keys and numbers replaced, so repeats of one error group."""
    out = _TIME.sub("<time>", text[: limit * 8])
    out = _ULID.sub("<id>", out)
    out = _UUID.sub("<id>", out)
    out = _RUN_KEY.sub(r"\1_<run>", out)
    out = _NUMBER.sub("<n>", out)
    out = _SPACE.sub(" ", out).strip()
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """Failed attempts of one subscription's messages with one (normalised) error text."""

    subscription_id: str
    key: str  # the normalised error text
    first_text: str
    last_text: str
    count: int
    first_ts: datetime | None
    last_ts: datetime | None
    dead_lettered: bool
    known: tuple[str, ...]  # ids of catalogue signatures whose pattern matches the error text
    transient_only: bool  # every known signature it matches is transient (a race a retry absorbs)
    lines: tuple[str, ...]


def _is_failure(record: LogRecord, attempt_or_terminal: Sequence[Signature]) -> tuple[bool, bool]:
    """(is a failed attempt / error line, is the DLQ line)."""
    terminal = any(s.terminal and s.search(record) is not None for s in attempt_or_terminal)
    if record.error_message is None:
        return False, terminal
    if record.level in _FAILURE_LEVELS:
        return True, terminal
    return any(s.search(record) is not None for s in attempt_or_terminal), terminal


def failing_syncs(
    records: Iterable[LogRecord],
    subscription_ids: Iterable[str] | None,
    catalogue: Sequence[Signature] | None = None,
) -> list[FailureGroup]:
    """Every failing attempt in ``records`` (for ``subscription_ids``; None: any subscription),
    grouped by subscription and error text."""
    sigs = tuple(catalogue if catalogue is not None else default_catalogue())
    flow = [s for s in sigs if s.attempt or s.terminal]
    wanted = set(subscription_ids) if subscription_ids is not None else None
    groups: dict[tuple[str, str], list[LogRecord]] = {}
    dlq: dict[str, list[LogRecord]] = {}
    for record in records:
        failure, terminal = _is_failure(record, flow)
        if not failure and not terminal:
            continue
        subscription = subscription_of(record, sigs)
        if subscription is None or (wanted is not None and subscription not in wanted):
            continue
        if terminal:
            dlq.setdefault(subscription, []).append(record)
        elif failure and record.error_message:
            groups.setdefault((subscription, normalise(record.error_message)), []).append(record)
    # which group a DLQ line ends: the one with its error text, else the subscription's last failure
    dead: set[tuple[str, str]] = set()
    for subscription, lines in dlq.items():
        mine = [k for k in groups if k[0] == subscription]
        for line in lines:
            same = (subscription, normalise(line.error_message or ""))
            if same in groups:
                dead.add(same)
            elif mine:
                dead.add(mine[-1])
    by_id = {s.id: s for s in sigs}
    out: list[FailureGroup] = []
    for (subscription, key), recs in groups.items():
        text = recs[0].error_message or ""
        known = tuple(s.id for s in sigs if not (s.attempt or s.terminal) and s.pattern.search(text))
        stamps = [r.ts for r in recs if r.ts is not None]
        # one attempt may write several lines (the handler's and the retry middleware's)
        per_signature = [sum(1 for r in recs if s.search(r) is not None) for s in flow if s.attempt]
        attempts = max([n for n in per_signature if n], default=len(recs))
        out.append(
            FailureGroup(
                subscription_id=subscription,
                key=key,
                first_text=_cut(text),
                last_text=_cut(recs[-1].error_message or ""),
                count=attempts,
                first_ts=min(stamps) if stamps else None,
                last_ts=max(stamps) if stamps else None,
                dead_lettered=(subscription, key) in dead,
                known=known,
                transient_only=bool(known) and all(by_id[k].severity == "transient" for k in known),
                lines=tuple(r.raw for r in recs[-5:]),
            )
        )
    out.sort(key=lambda g: (g.first_ts is None, g.first_ts or datetime.min, g.key))
    return out
