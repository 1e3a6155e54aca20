"""The comparator (contract.compare.diff): one finding per difference, readable values."""

from __future__ import annotations

from decimal import Decimal

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
