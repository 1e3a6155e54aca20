"""The comparison vocabulary: what sync left behind for one subscription, in one neutral shape.

The reference engine, the oracle expectations and the observed OpenMeter state (read back over
HTTP) are all turned into a :class:`Snapshot`, so one comparator serves ``model check`` (oracle
vs engine) and ``run`` (engine vs OpenMeter).

Vocabulary (OpenMeter's): an :class:`Artifact` is either an invoice-backed gathering line
(``backend=line``) or a charge (``backend=charge``); a charge under ``credit_then_invoice`` has a
:class:`MirrorLine` on the gathering invoice. ``id`` is the unique reference id
``{subscription}/{phase}/{item}/v[{n}]/period[{k}]`` (one-time: without ``/period[k]``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from contract.model.domain import Backend
from contract.model.time import Period


@dataclass(frozen=True, slots=True)
class MirrorLine:
    """A charge's projection line on the gathering invoice (looked up by charge, never by id)."""

    service_period: Period
    billing_period: Period | None
    invoice_at: datetime
    amount: Decimal | None = None
    line_id: str | None = None  # OpenMeter's line id when observed


@dataclass(frozen=True, slots=True)
class Artifact:
    id: str
    backend: Backend
    service_period: Period
    invoice_at: datetime
    billing_period: Period | None = None
    full_service_period: Period | None = None
    amount: Decimal | None = None  # flat: after proration; usage: the unit amount
    amount_before_proration: Decimal | None = None
    status: str | None = None  # charges: upstream's detailed status (created, active.realization.x, ...)
    status_deterministic: bool | None = None  # charges: OpenMeter must show this meta status now
    mirror: MirrorLine | None = None  # charges under credit_then_invoice
    group_service_period: Period | None = None  # lines: remainder of a split-line group
    subscription_id: str | None = None
    phase_id: str | None = None
    phase_key: str | None = None
    item_id: str | None = None
    item_key: str | None = None
    name: str | None = None
    object_id: str | None = None  # OpenMeter's line or charge id (the engine's own ids on the model side)
    kept: bool | None = None  # set by comparing with the snapshot before a step (see mark_kept)


@dataclass(frozen=True, slots=True)
class InvoicedLine:
    """A line an ``invoice`` step moved to a standard invoice (``id``: its artifact's unique id)."""

    id: str
    service_period: Period
    invoice_at: datetime
    amount: Decimal | None = None
    subscription_id: str | None = None
    line_id: str | None = None  # the standard-invoice line's object id


@dataclass(frozen=True, slots=True)
class SyncState:
    has_billables: bool
    next_sync_after: datetime | None


@dataclass(frozen=True, slots=True)
class OperationCounts:
    create: int = 0
    delete: int = 0
    shrink: int = 0
    extend: int = 0
    prorate: int = 0

    @property
    def total(self) -> int:
        return self.create + self.delete + self.shrink + self.extend + self.prorate


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything sync left behind for one subscription after a step."""

    items: tuple[Artifact, ...] = ()  # live gathering lines and non-deleted charges
    deleted_charges: tuple[Artifact, ...] = ()
    invoiced: tuple[InvoicedLine, ...] = ()  # lines moved to standard invoices by the step
    gathering_invoice_exists: bool = False
    sync_state: SyncState | None = None
    operations: OperationCounts | None = None
    error: str | None = None  # the sync error, if the step's sync failed

    def by_id(self) -> dict[str, Artifact]:
        return {a.id: a for a in self.items}


def mark_kept(before: Snapshot, after: Snapshot) -> Snapshot:
    """``after`` with every item's ``kept`` set: True when an artifact with the same unique id,
    backend and object id existed in ``before`` (updated in place), False otherwise.

    Items without an object id are left unmarked (``kept=None``).
    """
    previous = {(a.id, a.backend): a.object_id for a in before.items}
    marked = []
    for item in after.items:
        if item.object_id is None:
            marked.append(item)
            continue
        was = previous.get((item.id, item.backend))
        marked.append(replace(item, kept=was is not None and was == item.object_id))
    return replace(after, items=tuple(marked))
