"""The reference sync engine: ``Engine.sync`` / ``invoice`` / ``sync_and_invoice`` / ``snapshot``.

A sync (shared/design/sync-model.md §2–§3) loads the subscription's persisted items
(:mod:`~contract.model.persisted`), builds the target state (:mod:`~contract.model.targetstate`),
repairs charge item references, plans and applies the diff (:mod:`~contract.model.reconcile`)
and writes the sync state — all in one transaction: on any error the input state is returned
unchanged with the error text, as upstream rolls back.

Behaviours (:class:`Behaviour`):

* ``head`` — OpenMeter at ``7e57a394a``: mirror lines carry no unique id and the loader skips
  charge-managed lines;
* ``issue-4412`` — the persisted-state loading of builds ``ebedbbe06`` … ``f67a8a103`` (§4):
  mirror lines carry their charge's unique id and the loader reads them as invoice lines, so
  from the second sync of a subscription whose ``credit_then_invoice`` charges have mirror lines
  the sync fails with ``duplicate unique id across persisted lines and charges: <id>`` and
  changes nothing.

The engine never reads a clock: ``as_of`` and ``now`` are arguments.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace
from datetime import datetime

from contract.model.chargestack import status_is_deterministic
from contract.model.domain import Backend, Subscription, SyncConfig
from contract.model.invoicing import (
    InvoiceResult,
    approve_invoices,
    collect_invoices,
    invoice_pending_lines,
    issue_invoices,
)
from contract.model.persisted import (
    DRAFT,
    Charge,
    ChargeStatus,
    CustomerState,
    EngineState,
    InvoiceLine,
    SyncError,
    Workspace,
    line_amount,
    load_for_subscription,
)
from contract.model.reconcile import SyncContext, apply, plan, repair_charge_items
from contract.model.snapshot import (
    Artifact,
    InvoicedLine,
    MirrorLine,
    OperationCounts,
    Snapshot,
    SyncState,
)
from contract.model.targetstate import TargetState, TargetStateError, build_target_state, has_billables
from contract.model.time import RecurrenceCache, require_utc


class Behaviour(enum.StrEnum):
    """Which OpenMeter the engine models."""

    HEAD = "head"
    ISSUE_4412 = "issue-4412"

    @classmethod
    def parse(cls, name: str) -> Behaviour:
        """``"head"`` or ``"issue-4412"`` (case and ``_``/``-`` insensitive); ValueError otherwise."""
        wanted = name.strip().lower().replace("_", "-")
        for member in cls:
            if member.value == wanted:
                return member
        valid = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown behaviour {name!r}; valid: {valid}")


@dataclass(frozen=True, slots=True)
class SyncResult:
    """The state after a sync (the input state when ``error`` is set) and what it wrote."""

    state: EngineState
    operations: OperationCounts
    error: str | None = None
    invoiced: tuple[InvoicedLine, ...] = ()  # sync_and_invoice: lines its invoicing moved

    @property
    def ok(self) -> bool:
        return self.error is None


_UNIQUE_ID = re.compile(r"^(?P<sub>.+)/(?P<phase>[^/]+)/(?P<item>[^/]+)/v\[(?P<v>\d+)\](?:/period\[(?P<k>\d+)\])?$")


def parse_unique_id(unique_id: str) -> tuple[str, str, str, int, int | None] | None:
    """``(subscription, phase key, item key, version, period index or None)`` of a unique id."""
    m = _UNIQUE_ID.match(unique_id)
    if m is None:
        return None
    k = m.group("k")
    period = int(k) if k is not None else None
    return m.group("sub"), m.group("phase"), m.group("item"), int(m.group("v")), period


class Engine:
    """The reference sync engine for one deployment config and behaviour (stateless itself)."""

    def __init__(self, config: SyncConfig | None = None, behaviour: Behaviour = Behaviour.HEAD) -> None:
        self.config = config if config is not None else SyncConfig()
        self.behaviour = behaviour
        self._recurrence = RecurrenceCache()  # per engine: results never depend on other engines' work

    def __repr__(self) -> str:
        return f"Engine(config={self.config!r}, behaviour={self.behaviour.value!r})"

    @property
    def _legacy(self) -> bool:
        return self.behaviour is Behaviour.ISSUE_4412

    # sync ------------------------------------------------------------------------------------
    def sync(
        self,
        state: EngineState,
        subscription: Subscription,
        as_of: datetime,
        *,
        now: datetime | None = None,
        deleted: bool = False,
    ) -> SyncResult:
        """Synchronize ``subscription`` ``as_of`` (event handlers: now; the cancelled event: its
        ``activeTo``). ``now`` is the wall clock charges advance at (default ``as_of``);
        ``deleted`` syncs a deleted subscription (empty target: everything is removed)."""
        require_utc(as_of, "as_of")
        now = require_utc(now, "now") if now is not None else as_of
        customer_id = subscription.customer_id
        ws = Workspace(customer_id, state.customer(customer_id), state.next_seq)
        try:
            persisted = load_for_subscription(
                state.customer(customer_id),
                subscription.id,
                charges_enabled=self.config.credits_enabled,
                include_charge_managed=self._legacy,
            )
            target = TargetState((), as_of) if deleted else build_target_state(subscription, as_of, self._recurrence)
            persisted = repair_charge_items(ws, target.items, persisted)
            ctx = SyncContext(subscription, self.config, charges_enabled=self.config.credits_enabled)
            ops = plan(target.items, persisted, ctx)
            counts = apply(ws, ops, ctx, now=now, legacy_mirror_ids=self._legacy)
        except (SyncError, TargetStateError) as err:
            return SyncResult(state, OperationCounts(), str(err))
        billables = has_billables(subscription) and not deleted
        next_sync = (target.max_generation_limit or now) if billables else None
        ws.sync_states[subscription.id] = SyncState(billables, next_sync)
        return SyncResult(state.with_customer(customer_id, ws.freeze(), ws.next_seq, now), counts)

    # invoicing -------------------------------------------------------------------------------
    def invoice(
        self,
        state: EngineState,
        customer_id: str,
        at: datetime,
        as_of: datetime | None = None,
        progressive: bool = False,
    ) -> InvoiceResult:
        """Invoice the customer's due gathering lines at ``at`` (cut-off ``as_of``, default ``at``)."""
        return invoice_pending_lines(
            state,
            customer_id,
            at,
            as_of,
            progressive,
            legacy_mirror_ids=self._legacy,
            auto_advance=self.config.auto_advance,
        )

    def collect(
        self, state: EngineState, customer_id: str, now: datetime, invoice_ids: tuple[str, ...] | None = None
    ) -> EngineState:
        """The collection period of the customer's draft invoices ends at ``now`` (charges waiting
        for collection move to ``active.realization.processing``)."""
        return collect_invoices(state, customer_id, now, invoice_ids)

    def issue(
        self, state: EngineState, customer_id: str, now: datetime, invoice_ids: tuple[str, ...] | None = None
    ) -> EngineState:
        """Issue the customer's draft invoices at ``now`` (approval): they become immutable and
        their charges move on to ``active.awaiting_payment_settlement`` (see
        :func:`~contract.model.chargestack.on_invoice_issued`)."""
        return issue_invoices(state, customer_id, now, invoice_ids)

    def approve(
        self, state: EngineState, customer_id: str, now: datetime, invoice_ids: tuple[str, ...] | None = None
    ) -> EngineState:
        """Approve the customer's draft invoices (or the given ones) at ``now`` (v1
        ``/snapshot-quantities`` where a collection is pending, then ``/approve``): each is issued
        (:meth:`issue`) and, the suite's invoicing app being the sandbox app, paid at once, so charges
        awaiting payment settlement become ``final`` (measured live on HEAD 7e57a394a, 2026-12-03)."""
        drafts = invoice_ids or tuple(
            i.id for i in state.customer(customer_id).invoices.values() if i.status == DRAFT and not i.deleted
        )
        if not drafts:
            return replace(state, now=now)
        return approve_invoices(state, customer_id, now, drafts)

    def sync_and_invoice(
        self,
        state: EngineState,
        subscription: Subscription,
        as_of: datetime,
        now: datetime,
        *,
        follow_invoice_created: bool = True,
    ) -> SyncResult:
        """What the live billing worker does for a subscription event (upstream
        ``synchronizeSubscriptionAndInvoiceCustomer``).

        1. sync ``as_of`` (the cancelled event passes ``activeTo``, other events ``now``);
        2. invoice the customer's due pending lines at ``now``, non-progressive (partial lines
           disabled) — after an immediate cancel the trimmed mirror lines move, with their line
           ids, to a new draft standard invoice and the emptied gathering invoice is deleted;
        3. when that created an invoice, the worker's invoice-created handler re-syncs the
           subscription at ``now`` and invoices again (modelled once, not repeated).

        A failing first sync returns the input state and its error; a failing follow-up sync
        keeps the invoicing and reports ``syncing subscription[<id>]: <error>``. ``operations``
        adds up both syncs. Not modelled: charge advancement outside sync patches and invoicing
        (e.g. the jobs that move charges to ``final``); collection and issuing are steps of their
        own (:meth:`collect`, :meth:`issue`); payment is not modelled.
        """
        first = self.sync(state, subscription, as_of, now=now)
        if first.error is not None:
            return first
        inv = self.invoice(first.state, subscription.customer_id, now)
        if not inv.invoice_ids or not follow_invoice_created:
            return SyncResult(inv.state, first.operations, None, inv.invoiced)
        second = self.sync(inv.state, subscription, now, now=now)
        if second.error is not None:
            return SyncResult(
                inv.state, first.operations, f"syncing subscription[{subscription.id}]: {second.error}", inv.invoiced
            )
        inv2 = self.invoice(second.state, subscription.customer_id, now)
        ops = _add(first.operations, second.operations)
        return SyncResult(inv2.state, ops, None, inv.invoiced + inv2.invoiced)

    # snapshot --------------------------------------------------------------------------------
    def snapshot(
        self,
        state: EngineState,
        subscription_id: str,
        *,
        customer_id: str | None = None,
        operations: OperationCounts | None = None,
        error: str | None = None,
        invoiced: tuple[InvoicedLine, ...] = (),
    ) -> Snapshot:
        """What sync left behind for one subscription, in the neutral comparison shape.

        ``items``: the subscription's live invoice-backed lines on its customer's gathering
        invoice (split-group remainders under the group's unique id) and its non-deleted charges
        with their gathering mirror lines; ``deleted_charges``; ``gathering_invoice_exists`` for
        the customer; the subscription's sync state. ``object_id`` is the engine's line, group
        or charge id. ``operations``/``error``/``invoiced`` (filtered to the subscription) are
        passed through from a step's result.
        """
        cust = self._customer_of(state, subscription_id, customer_id)
        items: list[Artifact] = []
        deleted: list[Artifact] = []
        gathering = {i.id for i in cust.gathering_invoices()}
        mirrors: dict[str, InvoiceLine] = {}
        for line in cust.lines.values():
            if line.deleted or line.invoice_id not in gathering:
                continue
            if line.charge_id is not None:
                mirrors[line.charge_id] = line
                continue
            if line.subscription is None or line.subscription.subscription_id != subscription_id:
                continue
            art = self._line_artifact(cust, line)
            if art is not None:
                items.append(art)
        for charge in cust.charges.values():
            if charge.subscription.subscription_id != subscription_id:
                continue
            art = _charge_artifact(charge, mirrors.get(charge.id), state.now)
            (deleted if charge.status == ChargeStatus.DELETED else items).append(art)
        items.sort(key=lambda a: (a.id, a.backend.value))
        deleted.sort(key=lambda a: (a.id, a.object_id or ""))
        return Snapshot(
            items=tuple(items),
            deleted_charges=tuple(deleted),
            invoiced=tuple(i for i in invoiced if i.subscription_id in (None, subscription_id)),
            gathering_invoice_exists=bool(gathering),
            sync_state=cust.sync_states.get(subscription_id),
            operations=operations,
            error=error,
        )

    @staticmethod
    def _customer_of(state: EngineState, subscription_id: str, customer_id: str | None) -> CustomerState:
        if customer_id is not None:
            return state.customer(customer_id)
        for cust in state.customers.values():
            if subscription_id in cust.sync_states:
                return cust
            if any(c.subscription.subscription_id == subscription_id for c in cust.charges.values()):
                return cust
            if any(
                ln.subscription is not None and ln.subscription.subscription_id == subscription_id
                for ln in cust.lines.values()
            ):
                return cust
        return CustomerState()

    @staticmethod
    def _line_artifact(cust: CustomerState, line: InvoiceLine) -> Artifact | None:
        group_period = None
        object_id = line.id
        if line.split_line_group_id is not None:
            group = cust.groups.get(line.split_line_group_id)
            if group is None or group.deleted:
                return None
            uid = group.unique_reference_id
            group_period = group.service_period
            object_id = group.id
        elif line.child_unique_reference_id is not None:
            uid = line.child_unique_reference_id
        else:
            return None
        parsed = parse_unique_id(uid)
        sub = line.subscription
        return Artifact(
            id=uid,
            backend=Backend.LINE,
            service_period=line.service_period,
            invoice_at=line.invoice_at,
            billing_period=sub.billing_period if sub else None,
            amount=line_amount(line.price, line.amount),
            group_service_period=group_period,
            subscription_id=sub.subscription_id if sub else None,
            phase_id=sub.phase_id if sub else None,
            phase_key=parsed[1] if parsed else None,
            item_id=sub.item_id if sub else None,
            item_key=parsed[2] if parsed else None,
            name=line.name,
            object_id=object_id,
        )


def _charge_artifact(charge: Charge, mirror: InvoiceLine | None, now: datetime | None) -> Artifact:
    parsed = parse_unique_id(charge.unique_reference_id)
    mirror_line = None
    if mirror is not None:
        mirror_line = MirrorLine(
            service_period=mirror.service_period,
            billing_period=mirror.subscription.billing_period if mirror.subscription else None,
            invoice_at=mirror.invoice_at,
            amount=line_amount(mirror.price, mirror.amount),
            line_id=mirror.id,
        )
    ref = charge.subscription
    return Artifact(
        id=charge.unique_reference_id,
        backend=Backend.CHARGE,
        service_period=charge.service_period,
        invoice_at=charge.invoice_at,
        billing_period=charge.billing_period,
        full_service_period=charge.full_service_period,
        amount=charge.amount,
        amount_before_proration=charge.amount_before_proration,
        status=str(charge.status),
        status_deterministic=status_is_deterministic(charge, now),
        mirror=mirror_line,
        subscription_id=ref.subscription_id,
        phase_id=ref.phase_id,
        phase_key=parsed[1] if parsed else None,
        item_id=ref.item_id,
        item_key=parsed[2] if parsed else None,
        name=charge.name,
        object_id=charge.id,
    )


def _add(a: OperationCounts, b: OperationCounts) -> OperationCounts:
    return OperationCounts(
        a.create + b.create, a.delete + b.delete, a.shrink + b.shrink, a.extend + b.extend, a.prorate + b.prorate
    )


__all__ = ["Behaviour", "Engine", "InvoiceResult", "SyncResult", "parse_unique_id"]
