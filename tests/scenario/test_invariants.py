"""The invariants every sync keeps, whatever the engine predicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from contract.model import Snapshot
from contract.model.domain import Backend
from contract.model.snapshot import Artifact, MirrorLine
from contract.model.time import Period
from contract.scenario.invariants import check

T0 = datetime(2026, 12, 1, tzinfo=UTC)
MONTH = Period(T0, T0 + timedelta(days=31))


def _charge(uid: str, period: Period = MONTH, amount: str = "1", mirror: bool = True) -> Artifact:
    m = MirrorLine(period, period, period.end, Decimal(amount)) if mirror else None
    return Artifact(uid, Backend.CHARGE, period, period.end, amount=Decimal(amount), mirror=m)


def _fields(findings: list) -> list[str | None]:  # type: ignore[type-arg]
    return sorted(f.field for f in findings)


def test_a_clean_snapshot_breaks_nothing() -> None:
    snap = Snapshot(items=(_charge("S/a/v[0]/period[0]"),))
    assert check("cancel", "cancel", {"S": snap}, {"S": MONTH.end}, True) == []


def test_artifacts_past_the_end_are_named() -> None:
    snap = Snapshot(items=(_charge("S/a/v[0]/period[0]"),))
    found = check("cancel", "cancel", {"S": snap}, {"S": T0 + timedelta(days=3)}, None)
    assert _fields(found) == ["artifact-after-active-to", "artifact-after-active-to"]  # charge and mirror line


def test_a_subscription_deleted_before_it_ran_keeps_no_artifact_not_even_an_instant_one() -> None:
    """A restore deletes the scheduled successor: its one-time fee due at its start (an instant
    period, which ends exactly at the successor's activeTo = activeFrom) must go too."""
    instant = Period(MONTH.end, MONTH.end)
    snap = Snapshot(items=(_charge("N/default/setup_fee/v[0]", instant, mirror=False),))
    assert check("restore", "restore", {"N": snap}, {"N": MONTH.end}, None) == []  # ends by its end
    [found] = check("restore", "restore", {"N": snap}, {"N": MONTH.end}, None, frozenset({"N"}))
    assert (found.field, found.id, found.expected) == (
        "artifact-after-active-to",
        "N/default/setup_fee/v[0]",
        "deleted",
    )
    assert check("restore", "restore", {"N": Snapshot()}, {"N": MONTH.end}, None, frozenset({"N"})) == []


def test_duplicate_ids_and_negative_amounts() -> None:
    snap = Snapshot(items=(_charge("S/a/v[0]/period[0]"), _charge("S/a/v[0]/period[0]", amount="-2", mirror=False)))
    assert _fields(check("edit", "edit", {"S": snap}, {}, None)) == ["non-negative-amount", "unique-ids"]


def test_no_successful_sync_after_a_change() -> None:
    assert _fields(check("cancel", "cancel", {}, {}, False)) == ["sync-succeeded"]
    assert check("ingest", "ingest", {}, {}, False) == []  # usage alone need not sync
    assert check("cancel", "cancel", {}, {}, None) == []  # no sync-state table: nothing said
