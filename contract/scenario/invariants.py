"""Rules every subscription sync must keep, checked on every step whatever the engine predicts.

The engine says what *should* exist; these say what must *never* be, so they still judge a step
the engine cannot model ("not predicted") and they name a broken rule directly instead of as a
field-by-field difference:

* ``unique-ids`` — a unique reference id names at most one live charge and one live line;
* ``non-negative-amount`` — no live artifact, mirror line or invoiced line has a negative amount;
* ``artifact-after-active-to`` — once a subscription has an end (``activeTo``), no live charge or
  gathering line of it serves time after that end; a subscription that never ran (deleted before
  its start, as a restore deletes a scheduled successor) keeps no live artifact at all, not even
  an instant one (a one-time fee due at its start);
* ``sync-succeeded`` — after a step that changes a subscription, the sync-state table shows a
  successful sync (only where the table is readable).

A worker failure (handler error, DLQ) is the log evidence's own finding (``log``), not repeated here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from contract.findings import Finding, FindingKind
from contract.model import Snapshot, format_time

__all__ = ["CHANGE_STEPS", "check"]

#: Step kinds that change a subscription and so must be followed by a successful sync.
CHANGE_STEPS = frozenset({"subscribe", "cancel", "edit", "change_plan", "continue"})


def _duplicates(snapshot: Snapshot, step: str) -> list[Finding]:
    counts = Counter((a.id, a.backend.value) for a in snapshot.items)
    return [
        Finding(
            FindingKind.INVARIANT,
            f"{n} live {backend}s share one unique reference id",
            step=step,
            id=uid,
            field="unique-ids",
        )
        for (uid, backend), n in sorted(counts.items())
        if n > 1
    ]


def _negative(snapshot: Snapshot, step: str) -> list[Finding]:
    out = []
    amounts = [(a.id, "amount", a.amount) for a in snapshot.items]
    amounts += [(a.id, "mirror amount", a.mirror.amount) for a in snapshot.items if a.mirror is not None]
    amounts += [(ln.id, "invoiced amount", ln.amount) for ln in snapshot.invoiced]
    for uid, what, amount in amounts:
        if amount is not None and amount < 0:
            out.append(
                Finding(
                    FindingKind.INVARIANT,
                    f"{what} {amount} is negative",
                    step=step,
                    id=uid,
                    field="non-negative-amount",
                    actual=str(amount),
                )
            )
    return out


def _after_end(snapshot: Snapshot, active_to: datetime, step: str) -> list[Finding]:
    out = []
    for a in snapshot.items:
        periods = [("service period", a.service_period)]
        if a.mirror is not None:
            periods.append(("mirror line", a.mirror.service_period))
        for what, period in periods:
            if period.end > active_to:
                out.append(
                    Finding(
                        FindingKind.INVARIANT,
                        f"{a.backend.value} {what} {period} runs past the subscription's end {format_time(active_to)}",
                        step=step,
                        id=a.id,
                        field="artifact-after-active-to",
                        expected=f"ends by {format_time(active_to)}",
                        actual=str(period),
                    )
                )
    return out


def _of_deleted(snapshot: Snapshot, step: str) -> list[Finding]:
    return [
        Finding(
            FindingKind.INVARIANT,
            f"{a.backend.value} {a.service_period} is still live, but its subscription was deleted before it ran",
            step=step,
            id=a.id,
            field="artifact-after-active-to",
            expected="deleted",
            actual=str(a.service_period),
        )
        for a in snapshot.items
    ]


def check(
    step_label: str,
    step_kind: str,
    observed: Mapping[str, Snapshot],
    active_to: Mapping[str, datetime | None],
    sync_ran: bool | None,
    never_ran: frozenset[str] = frozenset(),
) -> list[Finding]:
    """The invariant findings of one step (see the module docstring); ``never_ran`` names the
    subscriptions deleted before they started."""
    findings: list[Finding] = []
    for sid, snapshot in observed.items():
        findings += _duplicates(snapshot, step_label)
        findings += _negative(snapshot, step_label)
        end = active_to.get(sid)
        if sid in never_ran:
            findings += _of_deleted(snapshot, step_label)
        elif end is not None:
            findings += _after_end(snapshot, end, step_label)
    if sync_ran is False and step_kind in CHANGE_STEPS:
        findings.append(
            Finding(
                FindingKind.INVARIANT,
                "the sync-state table shows no successful sync since the step",
                step=step_label,
                field="sync-succeeded",
            )
        )
    return findings
