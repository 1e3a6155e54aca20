"""Expectations from engine predictions (contract.compare.expectation)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contract.compare.diff import diff
from contract.compare.expectation import (
    DEFAULT_LIVE_FIELDS,
    SNAPSHOT_FIELDS,
    Expectation,
    ExpectedItem,
    Partial,
    status_class,
)
from contract.model.domain import Backend
from contract.model.snapshot import Artifact, MirrorLine, OperationCounts, Snapshot, SyncState
from contract.model.time import Period, parse_time

JAN = Period(parse_time("2024-01-01T00:00:00Z"), parse_time("2024-02-01T00:00:00Z"))
FEB1 = parse_time("2024-02-01T00:00:00Z")


def snapshot() -> Snapshot:
    charge = Artifact(
        "S/p/a/v[0]/period[0]",
        Backend.CHARGE,
        JAN,
        FEB1,
        billing_period=JAN,
        status="active",
        amount=Decimal("1"),
        mirror=MirrorLine(JAN, JAN, FEB1, Decimal("1")),
        item_id="item-1",
    )
    line = Artifact("S/p/l/v[0]/period[0]", Backend.LINE, JAN, FEB1, amount=Decimal("5"))
    gone = Artifact("S/p/a/v[0]/period[1]", Backend.CHARGE, JAN, FEB1, status="deleted")
    return Snapshot(
        items=(charge, line),
        deleted_charges=(gone,),
        gathering_invoice_exists=True,
        sync_state=SyncState(True, FEB1),
        operations=OperationCounts(create=2),
    )


def test_a_snapshot_satisfies_its_own_expectation() -> None:
    snap = snapshot()
    exp = Expectation.from_snapshot(snap, SNAPSHOT_FIELDS, sync_state=True, operations=True, invoiced=True)
    assert diff(exp, snap) == []


def test_only_the_chosen_fields_are_compared() -> None:
    exp = Expectation.from_snapshot(snapshot(), ("service-period", "status_class"))
    item = exp.items[0]
    assert item.service_period == JAN and item.status_class == "active"
    assert item.invoice_at is None and item.amount is None and item.mirror is None and item.status is None
    assert exp.items[1].status_class is None  # lines have no status
    assert exp.no_gathering_invoice is False and exp.partial is Partial.NONE
    assert [d.id for d in exp.deleted_charges] == ["S/p/a/v[0]/period[1]"]


def test_prediction_against_a_differing_observation() -> None:
    predicted = snapshot()
    exp = Expectation.from_snapshot(predicted, DEFAULT_LIVE_FIELDS)
    observed = Snapshot(items=(predicted.items[0],), gathering_invoice_exists=True)
    found = {(f.kind.value, f.id) for f in diff(exp, observed)}
    assert found == {("missing", "S/p/l/v[0]/period[0]"), ("missing", "S/p/a/v[0]/period[1]")}


def test_unknown_fields_are_rejected_with_the_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown snapshot field"):
        Expectation.from_snapshot(snapshot(), ("colour",))


def test_status_class_is_the_meta_status() -> None:
    assert status_class("active.realization.waiting_for_collection") == "active"
    assert status_class("created") == "created" and status_class(None) is None


def test_a_prediction_expects_what_it_saw_absent_too() -> None:
    predicted = snapshot()
    no_mirror = Artifact("S/p/a/v[0]/period[0]", Backend.CHARGE, JAN, FEB1, status="active.realization.processing")
    exp = Expectation.from_snapshot(Snapshot(items=(no_mirror,), gathering_invoice_exists=False), ("mirror", "status"))
    [item] = exp.items
    assert item.status == "active.realization.processing"
    assert item.mirror is not None and not item.mirror.present  # "no mirror line" is a prediction too
    assert exp.no_gathering_invoice is True
    found = {(f.id, f.field) for f in diff(exp, Snapshot(items=(predicted.items[0],), gathering_invoice_exists=True))}
    assert found == {
        ("S/p/a/v[0]/period[0]", "status"),
        ("S/p/a/v[0]/period[0]", "mirror"),
        (None, "gathering_invoice"),
    }


def test_a_meta_status_is_expected_only_where_the_prediction_is_deterministic() -> None:
    settled = Artifact("S/p/a/v[0]/period[0]", Backend.CHARGE, JAN, FEB1, status="created", status_deterministic=True)
    pending = Artifact("S/p/a/v[0]/period[1]", Backend.CHARGE, JAN, FEB1, status="created", status_deterministic=False)
    realizing = Artifact(
        "S/p/a/v[0]/period[2]",
        Backend.CHARGE,
        JAN,
        FEB1,
        status="active.realization.waiting_for_collection",
        status_deterministic=True,
    )
    exp = Expectation.from_snapshot(Snapshot(items=(settled, pending, realizing)), ("status_class",))
    assert [i.status_class for i in exp.items] == ["created", None, "active"]
    observed = Snapshot(
        items=(
            Artifact(settled.id, Backend.CHARGE, JAN, FEB1, status="active"),
            Artifact(pending.id, Backend.CHARGE, JAN, FEB1, status="active"),  # the advancer ran: fine
            Artifact(realizing.id, Backend.CHARGE, JAN, FEB1, status="active"),  # the API shows meta only
        )
    )
    assert [(f.id, f.field, f.expected, f.actual) for f in diff(exp, observed)] == [
        (settled.id, "status_class", "created", "active")
    ]
    # the exact (detailed) status is still expected when asked for
    exact = Expectation.from_snapshot(Snapshot(items=(pending,)), ("status",))
    assert exact.items[0].status == "created"


def _named(prefix: str) -> Expectation:
    return Expectation(
        items=(ExpectedItem(id=f"{prefix}a", amount=Decimal("2.26"), line=3),),
        partial=Partial.ALL,
        absent=(f"{prefix}b",),
        deleted_charges=(ExpectedItem(id=f"{prefix}c", backend=Backend.CHARGE),),
        no_gathering_invoice=True,
        error="boom",
    )


def test_with_ids_renames_the_listed_absent_and_deleted_ids_and_keeps_the_rest() -> None:
    logical = _named("")
    assert logical.with_ids(lambda i: f"real-{i}") == _named("real-")
    assert logical == _named("")
