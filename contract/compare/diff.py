"""The comparator: an :class:`~contract.compare.expectation.Expectation` against a
:class:`~contract.model.snapshot.Snapshot` -> :class:`~contract.compare.findings.Finding` s.

One finding per difference, in a stable order: the error first, then missing, different and
extra artifacts by id, then deleted charges, absent ids, the gathering invoice, the sync state,
invoiced lines and operations. Expected and actual values are readable strings (RFC 3339 times,
``[from, to)`` periods, normalised decimals).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from contract.compare.expectation import (
    Expectation,
    ExpectedInvoiced,
    ExpectedItem,
    ExpectedMirror,
    Partial,
    status_class,
)
from contract.compare.findings import Finding, FindingKind
from contract.model.domain import Backend
from contract.model.money import format_money
from contract.model.snapshot import Artifact, InvoicedLine, Snapshot
from contract.model.time import Period, format_time


def show(value: object) -> str:
    """A value as the comparator prints it."""
    if value is None:
        return "none"
    if isinstance(value, Period):
        return f"[{format_time(value.start)}, {format_time(value.end)})"
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Decimal):
        return format_money(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Backend):
        return value.value
    return str(value)


def _field(
    findings: list[Finding],
    step: str | None,
    uid: str | None,
    name: str,
    expected: object,
    actual: object,
    *,
    equal: bool | None = None,
) -> None:
    same = (expected == actual) if equal is None else equal
    if not same:
        findings.append(
            Finding(
                FindingKind.DIFFERENT,
                f"{name} differs",
                step=step,
                id=uid,
                field=name,
                expected=show(expected),
                actual=show(actual),
            )
        )


def _compare_mirror(findings: list[Finding], step: str | None, uid: str, exp: ExpectedMirror, actual: Artifact) -> None:
    mirror = actual.mirror
    if not exp.present:
        if mirror is not None:
            findings.append(
                Finding(
                    FindingKind.DIFFERENT,
                    "charge has a mirror line, expected none",
                    step=step,
                    id=uid,
                    field="mirror",
                    expected="none",
                    actual=f"line {show(mirror.service_period)}",
                )
            )
        return
    if mirror is None:
        findings.append(
            Finding(
                FindingKind.DIFFERENT,
                "charge has no mirror line on the gathering invoice",
                step=step,
                id=uid,
                field="mirror",
                expected="a mirror line",
                actual="none",
            )
        )
        return
    if exp.service_period is not None:
        _field(findings, step, uid, "mirror.service_period", exp.service_period, mirror.service_period)
    if exp.billing_period is not None:
        _field(findings, step, uid, "mirror.billing_period", exp.billing_period, mirror.billing_period)
    if exp.invoice_at is not None:
        _field(findings, step, uid, "mirror.invoice_at", exp.invoice_at, mirror.invoice_at)
    if exp.amount is not None:
        _field(
            findings,
            step,
            uid,
            "mirror.amount",
            exp.amount,
            mirror.amount,
            equal=mirror.amount is not None and exp.amount == mirror.amount,
        )


def compare_item(exp: ExpectedItem, actual: Artifact, step: str | None) -> list[Finding]:
    """Findings for the fields ``exp`` sets that ``actual`` does not match."""
    out: list[Finding] = []
    uid = exp.id
    if exp.backend is not None:
        _field(out, step, uid, "backend", exp.backend, actual.backend)
    for name in (
        "service_period",
        "full_service_period",
        "billing_period",
        "invoice_at",
        "group_service_period",
        "phase_id",
        "item_id",
        "name",
    ):
        want = getattr(exp, name)
        if want is not None:
            _field(out, step, uid, name, want, getattr(actual, name))
    for name in ("amount", "amount_before_proration"):
        want = getattr(exp, name)
        if want is not None:
            got = getattr(actual, name)
            _field(out, step, uid, name, want, got, equal=got is not None and want == got)
    if exp.status is not None:
        _field(out, step, uid, "status", exp.status, actual.status)
    if exp.status_class is not None:
        _field(out, step, uid, "status_class", exp.status_class, status_class(actual.status))
    if exp.mirror is not None:
        if actual.backend is not Backend.CHARGE:
            out.append(
                Finding(
                    FindingKind.DIFFERENT,
                    "only charges have mirror lines",
                    step=step,
                    id=uid,
                    field="mirror",
                    expected="a charge",
                    actual=show(actual.backend),
                )
            )
        else:
            _compare_mirror(out, step, uid, exp.mirror, actual)
    if exp.kept is not None:
        if actual.kept is None:
            out.append(
                Finding(
                    FindingKind.DIFFERENT,
                    "cannot tell whether the artifact was kept in place",
                    step=step,
                    id=uid,
                    field="kept",
                    expected=show(exp.kept),
                    actual="unknown",
                )
            )
        else:
            _field(out, step, uid, "kept", exp.kept, actual.kept)
    return out


def _group(items: Iterable[Artifact]) -> dict[str, list[Artifact]]:
    out: dict[str, list[Artifact]] = {}
    for item in items:
        out.setdefault(item.id, []).append(item)
    return out


def _describe(a: Artifact) -> str:
    text = f"{a.backend.value} {show(a.service_period)} invoice_at {show(a.invoice_at)}"
    if a.status:
        text += f" status {a.status}"
    return text


def _error_findings(expected: Expectation, actual: Snapshot, step: str | None) -> list[Finding]:
    if expected.error is None:
        if actual.error is not None:
            return [
                Finding(
                    FindingKind.ERROR, "sync failed", step=step, field="error", expected="no error", actual=actual.error
                )
            ]
        return []
    if actual.error is None:
        return [
            Finding(
                FindingKind.ERROR,
                "expected the sync to fail",
                step=step,
                field="error",
                expected=expected.error,
                actual="no error",
            )
        ]
    if expected.error not in actual.error:
        return [
            Finding(
                FindingKind.ERROR,
                "sync failed with another error",
                step=step,
                field="error",
                expected=expected.error,
                actual=actual.error,
            )
        ]
    return []


def _items_findings(expected: Expectation, actual: Snapshot, step: str | None) -> list[Finding]:
    out: list[Finding] = []
    by_id = _group(actual.items)
    expected_ids = {e.id for e in expected.items}
    for exp in sorted(expected.items, key=lambda e: e.id):
        found = by_id.get(exp.id)
        if not found:
            out.append(
                Finding(
                    FindingKind.MISSING,
                    "expected artifact not found",
                    step=step,
                    id=exp.id,
                    expected=_describe_expected(exp),
                    actual="none",
                )
            )
            continue
        if len(found) > 1:
            out.append(
                Finding(
                    FindingKind.DIFFERENT,
                    f"unique id held by {len(found)} artifacts",
                    step=step,
                    id=exp.id,
                    field="id",
                    expected="one artifact",
                    actual="; ".join(_describe(a) for a in found),
                )
            )
            continue
        out.extend(compare_item(exp, found[0], step))
    if expected.partial is Partial.ALL:
        return out
    for uid in sorted(set(by_id) - expected_ids):
        for art in by_id[uid]:
            if expected.partial is Partial.LINES and art.backend is Backend.LINE:
                continue
            out.append(
                Finding(
                    FindingKind.EXTRA, "unexpected artifact", step=step, id=uid, expected="none", actual=_describe(art)
                )
            )
    return out


def _describe_expected(exp: ExpectedItem) -> str:
    parts = []
    if exp.backend is not None:
        parts.append(exp.backend.value)
    if exp.service_period is not None:
        parts.append(show(exp.service_period))
    if exp.invoice_at is not None:
        parts.append(f"invoice_at {show(exp.invoice_at)}")
    return " ".join(parts) or "an artifact"


def _deleted_findings(expected: Expectation, actual: Snapshot, step: str | None) -> list[Finding]:
    out: list[Finding] = []
    by_id = _group(actual.deleted_charges)
    for exp in expected.deleted_charges:
        found = by_id.get(exp.id)
        if not found:
            live = [a for a in actual.items if a.id == exp.id]
            out.append(
                Finding(
                    FindingKind.MISSING,
                    "expected a charge in status deleted",
                    step=step,
                    id=exp.id,
                    field="status",
                    expected="deleted",
                    actual=_describe(live[0]) if live else "none",
                )
            )
            continue
        candidates = [compare_item(exp, a, step) for a in found]
        best = min(candidates, key=len)
        out.extend(best)
    return out


def _absent_findings(expected: Expectation, actual: Snapshot, step: str | None) -> list[Finding]:
    out: list[Finding] = []
    every = list(actual.items) + list(actual.deleted_charges)
    for uid in expected.absent:
        for art in every:
            if art.id == uid:
                out.append(
                    Finding(
                        FindingKind.EXTRA,
                        "id must be absent (no line, no charge in any status)",
                        step=step,
                        id=uid,
                        expected="absent",
                        actual=_describe(art),
                    )
                )
    return out


def _invoiced_findings(
    expected: tuple[ExpectedInvoiced, ...], actual: tuple[InvoicedLine, ...], step: str | None
) -> list[Finding]:
    out: list[Finding] = []
    remaining = list(actual)
    for exp in expected:
        match = [a for a in remaining if a.id == exp.id]
        if not match:
            out.append(
                Finding(
                    FindingKind.MISSING,
                    "expected an invoiced line",
                    step=step,
                    id=exp.id,
                    field="invoiced",
                    expected=show(exp.service_period),
                    actual="none",
                )
            )
            continue

        def score(a: InvoicedLine, e: ExpectedInvoiced = exp) -> int:
            return sum(
                1
                for want, got in (
                    (e.service_period, a.service_period),
                    (e.invoice_at, a.invoice_at),
                    (e.amount, a.amount),
                )
                if want is not None and want != got
            )

        best = min(match, key=score)
        remaining.remove(best)
        if exp.service_period is not None:
            _field(out, step, exp.id, "invoiced.service_period", exp.service_period, best.service_period)
        if exp.invoice_at is not None:
            _field(out, step, exp.id, "invoiced.invoice_at", exp.invoice_at, best.invoice_at)
        if exp.amount is not None:
            _field(
                out,
                step,
                exp.id,
                "invoiced.amount",
                exp.amount,
                best.amount,
                equal=best.amount is not None and exp.amount == best.amount,
            )
    for extra in remaining:
        out.append(
            Finding(
                FindingKind.EXTRA,
                "unexpected invoiced line",
                step=step,
                id=extra.id,
                field="invoiced",
                expected="none",
                actual=show(extra.service_period),
            )
        )
    return out


def diff(expected: Expectation, actual: Snapshot, step: str | None = None) -> list[Finding]:
    """Every way ``actual`` differs from ``expected`` (empty: they agree)."""
    out = _error_findings(expected, actual, step)
    out.extend(_items_findings(expected, actual, step))
    out.extend(_deleted_findings(expected, actual, step))
    out.extend(_absent_findings(expected, actual, step))
    if expected.no_gathering_invoice is True and actual.gathering_invoice_exists:
        out.append(
            Finding(
                FindingKind.EXTRA,
                "the customer has a gathering invoice",
                step=step,
                field="gathering_invoice",
                expected="none",
                actual="exists",
            )
        )
    if expected.no_gathering_invoice is False and not actual.gathering_invoice_exists:
        out.append(
            Finding(
                FindingKind.MISSING,
                "the customer has no gathering invoice",
                step=step,
                field="gathering_invoice",
                expected="exists",
                actual="none",
            )
        )
    if expected.sync_state is not None:
        st = actual.sync_state
        want = expected.sync_state
        if want.has_billables is not None:
            _field(
                out,
                step,
                None,
                "sync_state.has_billables",
                want.has_billables,
                st.has_billables if st is not None else None,
            )
        if want.check_next_sync_after:
            _field(
                out,
                step,
                None,
                "sync_state.next_sync_after",
                want.next_sync_after,
                st.next_sync_after if st is not None else None,
            )
    if expected.invoiced is not None:
        out.extend(_invoiced_findings(expected.invoiced, actual.invoiced, step))
    if expected.operations is not None:
        ops = actual.operations
        for name, value in expected.operations.items():
            got = getattr(ops, name) if ops is not None else None
            _field(out, step, None, f"operations.{name}", value, got)
    return out


__all__ = ["compare_item", "diff", "show"]
