"""The comparison shape (contract.model.snapshot)."""

from __future__ import annotations

from contract.model.domain import Backend
from contract.model.snapshot import Artifact, OperationCounts, Snapshot, mark_kept
from contract.model.time import Period

from .builders import t

SP = Period(t("2024-01-01"), t("2024-02-01"))


def art(uid: str, object_id: str | None, backend: Backend = Backend.CHARGE) -> Artifact:
    return Artifact(uid, backend, SP, t("2024-02-01"), object_id=object_id)


def test_mark_kept_compares_object_ids_by_unique_id_and_backend() -> None:
    before = Snapshot(items=(art("a", "1"), art("b", "2"), art("c", "3", Backend.LINE)))
    after = Snapshot(items=(art("a", "1"), art("b", "9"), art("c", "3"), art("d", "4"), art("e", None)))
    marked = {a.id: a.kept for a in mark_kept(before, after).items}
    assert marked == {"a": True, "b": False, "c": False, "d": False, "e": None}


def test_operation_total_and_by_id() -> None:
    assert OperationCounts(create=2, delete=1, prorate=3).total == 6
    snap = Snapshot(items=(art("a", "1"),))
    assert snap.by_id()["a"].object_id == "1"
