"""Expectations: what must exist after a step, on the fields given and nothing else.

An :class:`Expectation` is the comparator's expected side. It comes from an oracle case's
``expect`` block (:mod:`contract.oracle`) or from an engine prediction
(:meth:`Expectation.from_snapshot`, used by the scenario runner against a live OpenMeter).

Semantics (shared/oracle/FORMAT.md): ``items`` is the complete set of live artifacts unless
``partial`` says otherwise (:class:`Partial`); each :class:`ExpectedItem` compares only the fields
that are set (``None`` = not compared); ``absent`` ids must not exist in any status;
``deleted_charges`` must be in status deleted (not a completeness claim); ``invoiced`` is the
complete set of lines the step moved to standard invoices; ``operations`` compares the counters
given; ``error`` is a substring of the expected sync error, and no error may occur without one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from contract.model.domain import Backend
from contract.model.snapshot import Artifact, InvoicedLine, MirrorLine, Snapshot
from contract.model.time import Period


class Partial(enum.StrEnum):
    """How complete ``items`` is: ``none`` complete, ``all`` only listed ids, ``lines`` charges complete."""

    NONE = "none"
    ALL = "all"
    LINES = "lines"


@dataclass(frozen=True, slots=True)
class ExpectedMirror:
    """``mirror: false`` is ``ExpectedMirror(present=False)``; a mapping compares the fields given."""

    present: bool = True
    service_period: Period | None = None
    billing_period: Period | None = None
    invoice_at: datetime | None = None
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ExpectedItem:
    """One expected artifact by unique id; every field left ``None`` is not compared."""

    id: str
    backend: Backend | None = None
    service_period: Period | None = None
    full_service_period: Period | None = None
    billing_period: Period | None = None
    invoice_at: datetime | None = None
    amount: Decimal | None = None
    amount_before_proration: Decimal | None = None
    status: str | None = None
    status_class: str | None = None  # the status up to its first dot ("active.realization.x": "active")
    mirror: ExpectedMirror | None = None
    kept: bool | None = None
    group_service_period: Period | None = None
    phase_id: str | None = None
    item_id: str | None = None
    name: str | None = None
    line: int | None = None  # where the expectation was written (oracle files)


@dataclass(frozen=True, slots=True)
class ExpectedInvoiced:
    id: str
    service_period: Period | None = None
    invoice_at: datetime | None = None
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ExpectedSyncState:
    """``next_sync_after`` is compared only when ``check_next_sync_after`` (None: no next sync)."""

    has_billables: bool | None = None
    next_sync_after: datetime | None = None
    check_next_sync_after: bool = False


#: Field names :meth:`Expectation.from_snapshot` understands ("ids" are always compared).
SNAPSHOT_FIELDS: tuple[str, ...] = (
    "backend",
    "service_period",
    "full_service_period",
    "billing_period",
    "invoice_at",
    "amount",
    "amount_before_proration",
    "status",
    "status_class",
    "mirror",
    "mirror.service_period",
    "mirror.billing_period",
    "mirror.invoice_at",
    "mirror.amount",
    "group_service_period",
    "phase_id",
    "item_id",
    "name",
)

#: A sensible default for comparing an engine prediction with OpenMeter.
DEFAULT_LIVE_FIELDS: tuple[str, ...] = (
    "backend",
    "service_period",
    "billing_period",
    "invoice_at",
    "status_class",
    "mirror",
    "mirror.service_period",
    "mirror.invoice_at",
)


def status_class(status: str | None) -> str | None:
    return status.split(".", 1)[0] if status is not None else None


@dataclass(frozen=True, slots=True)
class Expectation:
    items: tuple[ExpectedItem, ...] = ()
    partial: Partial = Partial.NONE
    absent: tuple[str, ...] = ()
    deleted_charges: tuple[ExpectedItem, ...] = ()
    no_gathering_invoice: bool | None = None  # True: none may exist; False: one must exist
    sync_state: ExpectedSyncState | None = None
    invoiced: tuple[ExpectedInvoiced, ...] | None = None
    operations: Mapping[str, int] | None = field(default=None, hash=False)  # counter name -> value
    error: str | None = None  # substring of the expected sync error; None: no error may occur

    def with_ids(self, rename: Callable[[str], str]) -> Expectation:
        """This expectation with every unique id it names (``items``, ``deleted_charges``,
        ``absent``) passed through ``rename``; a scenario maps its logical ids to a run's real ones."""
        return replace(
            self,
            items=tuple(replace(i, id=rename(i.id)) for i in self.items),
            absent=tuple(rename(i) for i in self.absent),
            deleted_charges=tuple(replace(i, id=rename(i.id)) for i in self.deleted_charges),
        )

    @classmethod
    def from_snapshot(
        cls,
        snapshot: Snapshot,
        fields: Iterable[str] = DEFAULT_LIVE_FIELDS,
        *,
        partial: Partial = Partial.NONE,
        deleted: bool = True,
        gathering: bool = True,
        sync_state: bool = False,
        operations: bool = False,
        invoiced: bool = False,
    ) -> Expectation:
        """An expectation that ``snapshot`` (typically the engine's prediction) satisfies itself,
        comparing only ``fields`` (names from :data:`SNAPSHOT_FIELDS`; ``-`` may stand for ``_``).

        ``status_class`` (the meta status, what the v3 API shows) is expected only for charges whose
        predicted status is not marked non-deterministic (``Artifact.status_deterministic``: a
        ``created`` charge the server's charge advancer may already have moved on); ``status``
        (the detailed one) is always expected when chosen.

        ``deleted``: also expect the deleted charges (same fields); ``gathering``: expect the
        gathering invoice to exist or not as in the snapshot; ``sync_state``/``operations``/
        ``invoiced``: compare those too. The snapshot's error becomes the expected error.
        """
        chosen = {f.replace("-", "_") for f in fields}
        unknown = sorted(chosen - set(SNAPSHOT_FIELDS))
        if unknown:
            raise ValueError(f"unknown snapshot field(s) {', '.join(unknown)}; valid: {', '.join(SNAPSHOT_FIELDS)}")
        state = snapshot.sync_state
        return cls(
            items=tuple(_expected_from_artifact(a, chosen) for a in snapshot.items),
            partial=partial,
            deleted_charges=tuple(_expected_from_artifact(a, chosen) for a in snapshot.deleted_charges)
            if deleted
            else (),
            no_gathering_invoice=(not snapshot.gathering_invoice_exists) if gathering else None,
            sync_state=ExpectedSyncState(state.has_billables, state.next_sync_after, True)
            if sync_state and state is not None
            else None,
            invoiced=tuple(_expected_invoiced(i) for i in snapshot.invoiced) if invoiced else None,
            operations=_counts(snapshot) if operations and snapshot.operations is not None else None,
            error=snapshot.error,
        )


def _counts(snapshot: Snapshot) -> dict[str, int]:
    ops = snapshot.operations
    assert ops is not None
    return {
        "create": ops.create,
        "delete": ops.delete,
        "shrink": ops.shrink,
        "extend": ops.extend,
        "prorate": ops.prorate,
    }


def _expected_invoiced(line: InvoicedLine) -> ExpectedInvoiced:
    return ExpectedInvoiced(line.id, line.service_period, line.invoice_at, line.amount)


def _expected_mirror(mirror: MirrorLine | None, chosen: set[str]) -> ExpectedMirror | None:
    if "mirror" not in chosen and not any(f.startswith("mirror.") for f in chosen):
        return None
    if mirror is None:
        return ExpectedMirror(present=False)
    return ExpectedMirror(
        present=True,
        service_period=mirror.service_period if "mirror.service_period" in chosen else None,
        billing_period=mirror.billing_period if "mirror.billing_period" in chosen else None,
        invoice_at=mirror.invoice_at if "mirror.invoice_at" in chosen else None,
        amount=mirror.amount if "mirror.amount" in chosen else None,
    )


def _expected_from_artifact(a: Artifact, chosen: set[str]) -> ExpectedItem:
    is_line = a.backend is Backend.LINE
    return ExpectedItem(
        id=a.id,
        backend=a.backend if "backend" in chosen else None,
        service_period=a.service_period if "service_period" in chosen else None,
        full_service_period=a.full_service_period if "full_service_period" in chosen else None,
        billing_period=a.billing_period if "billing_period" in chosen else None,
        invoice_at=a.invoice_at if "invoice_at" in chosen else None,
        amount=a.amount if "amount" in chosen else None,
        amount_before_proration=a.amount_before_proration if "amount_before_proration" in chosen else None,
        status=a.status if "status" in chosen and not is_line else None,
        status_class=status_class(a.status)
        if "status_class" in chosen and not is_line and a.status_deterministic is not False
        else None,
        mirror=_expected_mirror(a.mirror, chosen) if not is_line else None,
        group_service_period=a.group_service_period if "group_service_period" in chosen else None,
        phase_id=a.phase_id if "phase_id" in chosen else None,
        item_id=a.item_id if "item_id" in chosen else None,
        name=a.name if "name" in chosen else None,
    )


__all__ = [
    "DEFAULT_LIVE_FIELDS",
    "SNAPSHOT_FIELDS",
    "Expectation",
    "ExpectedInvoiced",
    "ExpectedItem",
    "ExpectedMirror",
    "ExpectedSyncState",
    "Partial",
    "status_class",
]
