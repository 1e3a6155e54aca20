"""The comparator (contract.compare.diff): one finding per difference, readable values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contract.compare.diff import diff, show
from contract.compare.expectation import (
    Expectation,
    ExpectedInvoiced,
    ExpectedItem,
    ExpectedMirror,
    ExpectedSyncState,
    Partial,
)
from contract.compare.findings import FindingKind
from contract.model.domain import Backend
from contract.model.snapshot import Artifact, InvoicedLine, MirrorLine, OperationCounts, Snapshot, SyncState
from contract.model.time import Period, parse_time

JAN = Period(parse_time("2024-01-01T00:00:00Z"), parse_time("2024-02-01T00:00:00Z"))
FEB1 = parse_time("2024-02-01T00:00:00Z")


def charge(uid: str = "S/p/a/v[0]/period[0]", **kw: object) -> Artifact:
    base = {
        "backend": Backend.CHARGE,
        "service_period": JAN,
        "invoice_at": FEB1,
        "status": "created",
        "amount": Decimal("5"),
        "mirror": MirrorLine(JAN, JAN, FEB1, Decimal("5"), "M1"),
        "object_id": "C1",
    }
    base.update(kw)
    return Artifact(uid, **base)  # type: ignore[arg-type]


def line(uid: str = "S/p/l/v[0]/period[0]") -> Artifact:
    return Artifact(uid, Backend.LINE, JAN, FEB1, amount=Decimal("5"), object_id="L1")


def kinds(findings: list) -> list[tuple[str, str | None, str | None]]:  # type: ignore[type-arg]
    return [(f.kind.value, f.id, f.field) for f in findings]


def test_agreement_gives_no_findings() -> None:
    exp = Expectation(
        items=(
            ExpectedItem(
                "S/p/a/v[0]/period[0]",
                backend=Backend.CHARGE,
                service_period=JAN,
                amount=Decimal("5.00"),
                mirror=ExpectedMirror(amount=Decimal(5)),
            ),
        )
    )
    assert diff(exp, Snapshot(items=(charge(),)), "step 1") == []


def test_field_differences_show_expected_and_actual_readably() -> None:
    exp = Expectation(
        items=(ExpectedItem("S/p/a/v[0]/period[0]", invoice_at=parse_time("2024-01-15T00:00:00Z"), status="active"),)
    )
    [inv, status] = diff(exp, Snapshot(items=(charge(),)), "step 2 (sync)")
    assert (inv.kind, inv.field, inv.expected, inv.actual) == (
        FindingKind.DIFFERENT,
        "invoice_at",
        "2024-01-15T00:00:00Z",
        "2024-02-01T00:00:00Z",
    )
    assert inv.step == "step 2 (sync)" and inv.id == "S/p/a/v[0]/period[0]"
    assert (status.expected, status.actual) == ("active", "created")


def test_missing_and_extra_depend_on_partial() -> None:
    snap = Snapshot(items=(charge("c1"), charge("c2"), line("l1")))
    exp_items = (ExpectedItem("c1"), ExpectedItem("c3"))
    assert kinds(diff(Expectation(items=exp_items), snap)) == [
        ("missing", "c3", None),
        ("extra", "c2", None),
        ("extra", "l1", None),
    ]
    assert kinds(diff(Expectation(items=exp_items, partial=Partial.LINES), snap)) == [
        ("missing", "c3", None),
        ("extra", "c2", None),
    ]
    assert kinds(diff(Expectation(items=exp_items, partial=Partial.ALL), snap)) == [("missing", "c3", None)]


def test_mirror_expectations() -> None:
    snap = Snapshot(items=(charge("c1"), charge("c2", mirror=None)))
    exp = Expectation(
        items=(
            ExpectedItem("c1", mirror=ExpectedMirror(present=False)),
            ExpectedItem("c2", mirror=ExpectedMirror(invoice_at=FEB1)),
        )
    )
    findings = diff(exp, snap)
    assert kinds(findings) == [("different", "c1", "mirror"), ("different", "c2", "mirror")]
    assert findings[1].actual == "none"


def test_errors_are_reported_first() -> None:
    snap = Snapshot(items=(), error="duplicate unique id across persisted lines and charges: x")
    [err] = diff(Expectation(), snap)
    assert err.kind is FindingKind.ERROR and err.expected == "no error" and err.actual == snap.error
    assert diff(Expectation(error="duplicate unique id"), snap) == []
    [missing] = diff(Expectation(error="boom"), Snapshot())
    assert (missing.expected, missing.actual) == ("boom", "no error")


def test_deleted_absent_gathering_sync_state_invoiced_operations() -> None:
    snap = Snapshot(
        items=(charge("live"),),
        deleted_charges=(charge("gone", status="deleted", mirror=None),),
        invoiced=(InvoicedLine("live", JAN, FEB1),),
        gathering_invoice_exists=True,
        sync_state=SyncState(True, FEB1),
        operations=OperationCounts(create=1),
    )
    exp = Expectation(
        items=(ExpectedItem("live"),),
        deleted_charges=(ExpectedItem("gone", mirror=ExpectedMirror(present=False)), ExpectedItem("live")),
        absent=("gone",),
        no_gathering_invoice=True,
        sync_state=ExpectedSyncState(has_billables=True, next_sync_after=None, check_next_sync_after=True),
        invoiced=(ExpectedInvoiced("other"),),
        operations={"create": 0, "delete": 0},
    )
    assert kinds(diff(exp, snap)) == [
        ("missing", "live", "status"),
        ("extra", "gone", None),
        ("extra", None, "gathering_invoice"),
        ("different", None, "sync_state.next_sync_after"),
        ("missing", "other", "invoiced"),
        ("extra", "live", "invoiced"),
        ("different", None, "operations.create"),
    ]


def test_kept_needs_a_marked_snapshot() -> None:
    exp = Expectation(items=(ExpectedItem("c1", kept=True),))
    [unknown] = diff(exp, Snapshot(items=(charge("c1"),)))
    assert unknown.actual == "unknown"
    [moved] = diff(exp, Snapshot(items=(charge("c1", kept=False),)))
    assert (moved.expected, moved.actual) == ("true", "false")
    assert diff(exp, Snapshot(items=(charge("c1", kept=True),))) == []


def test_an_id_held_twice_is_reported() -> None:
    snap = Snapshot(items=(charge("x"), line("x")))
    [dup] = diff(Expectation(items=(ExpectedItem("x"),)), snap)
    assert dup.field == "id" and "2 artifacts" in dup.message


def test_show_formats_values() -> None:
    assert show(JAN) == "[2024-01-01T00:00:00Z, 2024-02-01T00:00:00Z)"
    assert show(Decimal("2.260")) == "2.26"
    assert show(None) == "none" and show(True) == "true" and show(Backend.LINE) == "line"


# every rule of the comparator can fail: one difference each, and its agreeing twin ----------------

FEB = Period(FEB1, parse_time("2024-03-01T00:00:00Z"))
MID = parse_time("2024-01-15T00:00:00Z")
UID = "S/p/a/v[0]/period[0]"

# (name, expectation, snapshot that differs in exactly one respect, the finding, a snapshot that agrees)
ONE_DIFFERENCE: list[tuple[str, Expectation, Snapshot, tuple[str, str | None, str | None], Snapshot]] = [
    (
        "amount-none",
        Expectation(items=(ExpectedItem(UID, amount=Decimal(5)),)),
        Snapshot(items=(charge(amount=None),)),
        ("different", UID, "amount"),
        Snapshot(items=(charge(),)),
    ),
    (
        "amount-before-proration-none",
        Expectation(items=(ExpectedItem(UID, amount_before_proration=Decimal(5)),)),
        Snapshot(items=(charge(),)),
        ("different", UID, "amount_before_proration"),
        Snapshot(items=(charge(amount_before_proration=Decimal("5.00")),)),
    ),
    (
        "full-service-period",
        Expectation(items=(ExpectedItem(UID, full_service_period=JAN),)),
        Snapshot(items=(charge(full_service_period=FEB),)),
        ("different", UID, "full_service_period"),
        Snapshot(items=(charge(full_service_period=JAN),)),
    ),
    (
        "backend",
        Expectation(items=(ExpectedItem(UID, backend=Backend.LINE),)),
        Snapshot(items=(charge(),)),
        ("different", UID, "backend"),
        Snapshot(items=(line(UID),)),
    ),
    (
        "status",
        Expectation(items=(ExpectedItem(UID, status="active.realization.waiting_for_collection"),)),
        Snapshot(items=(charge(status="active"),)),
        ("different", UID, "status"),
        Snapshot(items=(charge(status="active.realization.waiting_for_collection"),)),
    ),
    (
        "status-class",
        Expectation(items=(ExpectedItem(UID, status_class="active"),)),
        Snapshot(items=(charge(status="final"),)),
        ("different", UID, "status_class"),
        Snapshot(items=(charge(status="active.realization.processing"),)),
    ),
    (
        "mirror-amount-none",
        Expectation(items=(ExpectedItem(UID, mirror=ExpectedMirror(amount=Decimal(5))),)),
        Snapshot(items=(charge(mirror=MirrorLine(JAN, JAN, FEB1, None)),)),
        ("different", UID, "mirror.amount"),
        Snapshot(items=(charge(),)),
    ),
    (
        "mirror-invoice-at",
        Expectation(items=(ExpectedItem(UID, mirror=ExpectedMirror(invoice_at=MID)),)),
        Snapshot(items=(charge(),)),
        ("different", UID, "mirror.invoice_at"),
        Snapshot(items=(charge(mirror=MirrorLine(JAN, JAN, MID)),)),
    ),
    (
        "mirror-billing-period",
        Expectation(items=(ExpectedItem(UID, mirror=ExpectedMirror(billing_period=FEB)),)),
        Snapshot(items=(charge(),)),
        ("different", UID, "mirror.billing_period"),
        Snapshot(items=(charge(mirror=MirrorLine(JAN, FEB, FEB1)),)),
    ),
    (
        "mirror-unexpected",
        Expectation(items=(ExpectedItem(UID, mirror=ExpectedMirror(present=False)),)),
        Snapshot(items=(charge(),)),
        ("different", UID, "mirror"),
        Snapshot(items=(charge(mirror=None),)),
    ),
    (
        "extra-charge-under-partial-lines",
        Expectation(items=(), partial=Partial.LINES),
        Snapshot(items=(charge(),)),
        ("extra", UID, None),
        Snapshot(items=(line(),)),
    ),
    (
        "another-error-text",
        Expectation(error="duplicate unique id"),
        Snapshot(error="charges service is required"),
        ("error", None, "error"),
        Snapshot(error="x: duplicate unique id across persisted lines and charges: y"),
    ),
    (
        "unexpected-error",
        Expectation(),
        Snapshot(error="boom"),
        ("error", None, "error"),
        Snapshot(),
    ),
    (
        "missing-gathering-invoice",
        Expectation(no_gathering_invoice=False),
        Snapshot(gathering_invoice_exists=False),
        ("missing", None, "gathering_invoice"),
        Snapshot(gathering_invoice_exists=True),
    ),
    (
        "unexpected-gathering-invoice",
        Expectation(no_gathering_invoice=True),
        Snapshot(gathering_invoice_exists=True),
        ("extra", None, "gathering_invoice"),
        Snapshot(gathering_invoice_exists=False),
    ),
    (
        "operations-missing",
        Expectation(operations={"create": 1}),
        Snapshot(operations=None),
        ("different", None, "operations.create"),
        Snapshot(operations=OperationCounts(create=1)),
    ),
    (
        "has-billables",
        Expectation(sync_state=ExpectedSyncState(has_billables=True)),
        Snapshot(sync_state=SyncState(False, None)),
        ("different", None, "sync_state.has_billables"),
        Snapshot(sync_state=SyncState(True, FEB1)),
    ),
    (
        "next-sync-after",
        Expectation(sync_state=ExpectedSyncState(next_sync_after=FEB1, check_next_sync_after=True)),
        Snapshot(sync_state=SyncState(True, MID)),
        ("different", None, "sync_state.next_sync_after"),
        Snapshot(sync_state=SyncState(True, FEB1)),
    ),
    (
        "absent-but-deleted",
        Expectation(absent=(UID,)),
        Snapshot(deleted_charges=(charge(status="deleted"),)),
        ("extra", UID, None),
        Snapshot(),
    ),
    (
        "invoiced-amount-none",
        Expectation(invoiced=(ExpectedInvoiced(UID, amount=Decimal(5)),)),
        Snapshot(invoiced=(InvoicedLine(UID, JAN, FEB1, None),)),
        ("different", UID, "invoiced.amount"),
        Snapshot(invoiced=(InvoicedLine(UID, JAN, FEB1, Decimal(5)),)),
    ),
    (
        "invoiced-extra",
        Expectation(invoiced=()),
        Snapshot(invoiced=(InvoicedLine(UID, JAN, FEB1),)),
        ("extra", UID, "invoiced"),
        Snapshot(),
    ),
    (
        # two lines of one unique id were invoiced (a progressive split): both must be expected
        "invoiced-one-line-for-two-expectations",
        Expectation(invoiced=(ExpectedInvoiced(UID, service_period=JAN), ExpectedInvoiced(UID, service_period=JAN))),
        Snapshot(invoiced=(InvoicedLine(UID, JAN, FEB1),)),
        ("missing", UID, "invoiced"),
        Snapshot(invoiced=(InvoicedLine(UID, JAN, FEB1), InvoicedLine(UID, JAN, FEB1))),
    ),
]


def _case_ids() -> list[str]:
    return [case[0] for case in ONE_DIFFERENCE]


@pytest.mark.parametrize(("name", "exp", "differs", "finding", "agrees"), ONE_DIFFERENCE, ids=_case_ids())
def test_each_rule_reports_its_one_difference_and_accepts_agreement(
    name: str,
    exp: Expectation,
    differs: Snapshot,
    finding: tuple[str, str | None, str | None],
    agrees: Snapshot,
) -> None:
    assert kinds(diff(exp, differs)) == [finding], name
    assert diff(exp, agrees) == [], name


def test_a_deleted_charge_is_compared_with_its_best_matching_candidate() -> None:
    # deleted, recreated and deleted again: two deleted charges hold one unique id
    first = charge(status="deleted", service_period=JAN, invoice_at=FEB1, object_id="C1")
    second = charge(status="deleted", service_period=FEB, invoice_at=MID, object_id="C2")
    exp = Expectation(deleted_charges=(ExpectedItem(UID, service_period=FEB, invoice_at=MID),))
    assert diff(exp, Snapshot(deleted_charges=(first, second))) == []
    assert diff(exp, Snapshot(deleted_charges=(second, first))) == []
    [only] = diff(
        Expectation(deleted_charges=(ExpectedItem(UID, service_period=FEB, invoice_at=FEB1),)),
        Snapshot(deleted_charges=(first, second)),
    )
    assert only.field in ("service_period", "invoice_at")


def test_an_invoiced_line_is_matched_with_the_best_candidate_of_its_id() -> None:
    early = InvoicedLine(UID, Period(JAN.start, MID), MID)
    late = InvoicedLine(UID, Period(MID, FEB1), FEB1)
    exp = Expectation(invoiced=(ExpectedInvoiced(UID, service_period=Period(MID, FEB1), invoice_at=FEB1),))
    assert kinds(diff(exp, Snapshot(invoiced=(early, late)))) == [("extra", UID, "invoiced")]
    [extra] = diff(exp, Snapshot(invoiced=(early, late)))
    assert extra.actual == show(early.service_period)
