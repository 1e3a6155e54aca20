"""Reconciliation: diff the target state against the persisted state and apply (upstream ``reconciler``).

shared/design/sync-model.md §1.5 (routing), §3.2 (pre-diff repair), §3.3 (diff and operations):

* every target id is routed once: a persisted artifact keeps its backend (never migrates); a new
  one goes to the invoice backend without a charges stack, or for ``credit_then_invoice`` with
  ``enableCreditThenInvoice`` off, and to a flat-fee or usage-based charge otherwise;
* non-billable targets are out of scope for both backends; on the invoice backend a target whose
  line would be "none" (zero flat amount) is out of scope too, so an existing line is retired;
* ``deleted = persisted − in scope``; each in-scope id is created, or compared on the persisted
  item's backend: invoice-backed flat lines *prorate* when their amount or period changes, all
  else compares ``SP.to`` only (*shrink* / *extend*); charges never prorate;
* operations keep objects in place (same line, group and charge ids) wherever upstream does.

:func:`plan` is pure; :func:`apply` writes the planned operations into a
:class:`~contract.model.persisted.Workspace` in upstream's order (invoice patches, charge
patches, charge creations) and returns the :class:`~contract.model.snapshot.OperationCounts`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from contract.model import chargestack
from contract.model.domain import Backend, SettlementMode, Subscription, SyncConfig
from contract.model.persisted import (
    InvoiceLine,
    LineEngine,
    PersistedItem,
    SubscriptionRef,
    SyncError,
    Workspace,
)
from contract.model.snapshot import OperationCounts
from contract.model.targetstate import TargetItem, expected_line_amount
from contract.model.time import Period


class OpKind(enum.StrEnum):
    CREATE = "create"
    DELETE = "delete"
    SHRINK = "shrink"
    EXTEND = "extend"
    PRORATE = "prorate"


@dataclass(frozen=True, slots=True)
class Operation:
    """One planned operation on one unique id (at most one per id)."""

    kind: OpKind
    unique_id: str
    backend: Backend
    target: TargetItem | None = None
    existing: PersistedItem | None = None
    amount: Decimal | None = None  # invoice backend: the expected line's per-unit amount


@dataclass(frozen=True, slots=True)
class SyncContext:
    """What routing and the line builder need besides the target and persisted items."""

    subscription: Subscription
    config: SyncConfig
    charges_enabled: bool  # a charges stack exists (credits.enabled)

    @property
    def credits_enabled(self) -> bool:
        return self.charges_enabled and self.config.namespace_credits_gate


def default_backend(target: TargetItem, ctx: SyncContext) -> Backend:
    """§1.5 rules 2–4 for an id with no persisted artifact."""
    if not ctx.credits_enabled:
        return Backend.LINE
    cti = ctx.subscription.settlement_mode is SettlementMode.CREDIT_THEN_INVOICE
    if cti and not ctx.config.credit_then_invoice:
        return Backend.LINE
    return Backend.CHARGE


def route(target: TargetItem, persisted: dict[str, PersistedItem], ctx: SyncContext) -> Backend:
    existing = persisted.get(target.unique_id)
    if existing is not None:
        return existing.backend
    return default_backend(target, ctx)


def in_scope(
    targets: tuple[TargetItem, ...], persisted: dict[str, PersistedItem], ctx: SyncContext
) -> dict[str, tuple[TargetItem, Backend, Decimal | None]]:
    """Targets that take part in the diff, with their backend and (invoice backend) line amount."""
    out: dict[str, tuple[TargetItem, Backend, Decimal | None]] = {}
    sub = ctx.subscription
    backend_default: Backend | None = None
    for target in targets:
        if not target.is_billable:
            continue
        existing = persisted.get(target.unique_id)
        if existing is not None:
            backend = existing.backend
        else:
            if backend_default is None:
                backend_default = default_backend(target, ctx)
            backend = backend_default
        amount: Decimal | None = None
        if backend is Backend.LINE:
            amount = expected_line_amount(target, sub, ctx.config.end_proration)
            if target.price.is_flat and amount is None:
                continue
        if target.unique_id in out:
            raise SyncError("duplicate unique ids in the upcoming lines")
        out[target.unique_id] = (target, backend, amount)
    return out


def _skip_line_patch(line: InvoiceLine) -> bool:
    return line.sync_ignore or line.managed_by != "subscription"


def _plan_existing(target: TargetItem, amount: Decimal | None, existing: PersistedItem) -> Operation | None:
    uid = target.unique_id
    tsp = target.service_period
    esp = existing.service_period
    if existing.charge is not None:
        if tsp.end < esp.end:
            return Operation(OpKind.SHRINK, uid, Backend.CHARGE, target, existing)
        if tsp.end > esp.end:
            return Operation(OpKind.EXTEND, uid, Backend.CHARGE, target, existing)
        return None
    if target.price.is_flat:
        if existing.group is not None:
            raise SyncError("flat fee lines cannot be reconciled against a split line hierarchy")
        line = existing.line
        assert line is not None
        if line.is_flat:
            if line.amount != amount or line.service_period != tsp:
                if _skip_line_patch(line):
                    return None
                return Operation(OpKind.PRORATE, uid, Backend.LINE, target, existing, amount)
            return None
    if existing.group is not None:
        if any(child.sync_ignore for child in existing.children):
            return None
        if tsp.end < esp.end:
            return Operation(OpKind.SHRINK, uid, Backend.LINE, target, existing, amount)
        if tsp.end > esp.end:
            return Operation(OpKind.EXTEND, uid, Backend.LINE, target, existing, amount)
        return None
    line = existing.line
    assert line is not None
    if tsp.end == esp.end:
        return None
    if _skip_line_patch(line):
        return None
    if line.is_flat:
        raise SyncError(f"usage based patch cannot be applied to flat fee line[{line.id}]")
    kind = OpKind.SHRINK if tsp.end < esp.end else OpKind.EXTEND
    return Operation(kind, uid, Backend.LINE, target, existing, amount)


def _plan_delete(uid: str, existing: PersistedItem) -> Operation | None:
    if existing.line is not None:
        if existing.line.sync_ignore or existing.line.deleted:
            return None
    elif existing.group is not None and any(child.sync_ignore for child in existing.children):
        return None
    return Operation(OpKind.DELETE, uid, existing.backend, None, existing)


def plan(targets: tuple[TargetItem, ...], persisted: dict[str, PersistedItem], ctx: SyncContext) -> list[Operation]:
    """The operations that turn ``persisted`` into ``targets`` (§3.3), in a stable order."""
    if ctx.subscription.settlement_mode is SettlementMode.CREDIT_ONLY and not ctx.charges_enabled:
        raise SyncError("credit only settlement mode is not supported without charges service enabled")
    scope = in_scope(targets, persisted, ctx)
    ops: list[Operation] = []
    for uid in sorted(set(persisted) - set(scope)):
        op = _plan_delete(uid, persisted[uid])
        if op is not None:
            ops.append(op)
    for uid in sorted(scope):
        target, backend, amount = scope[uid]
        existing = persisted.get(uid)
        if existing is None:
            ops.append(Operation(OpKind.CREATE, uid, backend, target, None, amount))
            continue
        op = _plan_existing(target, amount, existing)
        if op is not None:
            ops.append(op)
    return ops


def repair_charge_items(
    ws: Workspace, targets: tuple[TargetItem, ...], persisted: dict[str, PersistedItem]
) -> dict[str, PersistedItem]:
    """§3.2: a persisted charge whose billable target has another item id follows the new id."""
    charged = {uid: item for uid, item in persisted.items() if item.charge is not None}
    if not charged:
        return persisted
    out = dict(persisted)
    for target in targets:
        item = charged.get(target.unique_id)
        if item is None or item.charge is None or not target.is_billable:
            continue
        uid = target.unique_id
        ref = item.charge.subscription
        if ref.subscription_id != target.subscription_id or ref.phase_id != target.phase_id:
            raise SyncError(
                f"charge[{item.charge.id}] subscription reference mismatch: expected "
                f"subscription[{target.subscription_id}]/phase[{target.phase_id}], got "
                f"subscription[{ref.subscription_id}]/phase[{ref.phase_id}]"
            )
        if ref.item_id == target.item_id:
            continue
        charge = chargestack.repoint_item(ws, item.charge, target.item_id)
        out[uid] = replace(item, charge=charge)
    return out


# --------------------------------------------------------------------------------------------
# Applying


def _new_line(ws: Workspace, target: TargetItem, amount: Decimal | None, ctx: SyncContext) -> InvoiceLine:
    sub = ctx.subscription
    invoice = ws.gathering_invoice(sub.currency, create=True)
    assert invoice is not None
    price = target.price
    return InvoiceLine(
        id=ws.new_id(),
        invoice_id=invoice.id,
        currency=sub.currency,
        name=target.rate_card.name or target.item_key,
        engine=LineEngine.INVOICE,
        service_period=target.service_period,
        invoice_at=target.invoice_at,
        price=price,
        amount=amount if price.is_flat else None,
        subscription=SubscriptionRef(sub.id, target.phase_id, target.item_id, target.billing_period),
        child_unique_reference_id=target.unique_id,
    )


def _live_line(ws: Workspace, item: PersistedItem) -> InvoiceLine:
    assert item.line is not None
    return ws.lines[item.line.id]


def _apply_line_op(ws: Workspace, op: Operation, ctx: SyncContext) -> bool:
    """Apply one invoice-backend operation; False when it turned out to write nothing."""
    if op.kind is OpKind.CREATE:
        assert op.target is not None
        ws.put_line(_new_line(ws, op.target, op.amount, ctx))
        return True
    existing = op.existing
    assert existing is not None
    if existing.group is not None:
        return _apply_group_op(ws, op, existing)
    line = _live_line(ws, existing)
    if op.kind is OpKind.DELETE:
        if not ws.is_mutable(line.invoice_id):
            return True  # immutable invoice: upstream records a validation issue instead
        ws.delete_line(line.id)
        return True
    target = op.target
    assert target is not None
    if not ws.is_mutable(line.invoice_id):
        return True
    on_gathering = ws.is_gathering(line.invoice_id)
    updated = replace(line, service_period=target.service_period, deleted=False)
    if on_gathering:
        updated = replace(updated, invoice_at=target.invoice_at)
    if op.kind is OpKind.PRORATE:
        new_amount = op.amount if op.amount is not None else line.price.amount
        updated = replace(updated, amount=op.amount, price=replace(line.price, amount=new_amount))
        ws.put_line(updated)
        return True
    if updated.service_period.floor().is_empty:
        ws.delete_line(line.id)
        return True
    ws.put_line(updated)
    return True


def _apply_group_op(ws: Workspace, op: Operation, existing: PersistedItem) -> bool:
    group = existing.group
    assert group is not None
    group = ws.groups[group.id]
    children = [ws.lines[c.id] for c in existing.children]
    if op.kind is OpKind.DELETE:
        ws.put_group(replace(group, deleted=True))
        for child in children:
            if not child.deleted and ws.is_mutable(child.invoice_id):
                ws.delete_line(child.id)
        return True
    target = op.target
    assert target is not None
    new_end = target.service_period.end
    if op.kind is OpKind.SHRINK:
        for child in children:
            csp = child.service_period.floor()
            if csp.end < new_end:
                continue
            if not ws.is_mutable(child.invoice_id):
                continue
            if csp.start > new_end:
                ws.delete_line(child.id)
                continue
            if csp.end != new_end:
                updated = replace(child, service_period=Period(child.service_period.start, new_end))
                if ws.is_gathering(child.invoice_id):
                    updated = replace(updated, invoice_at=target.invoice_at)
                if updated.managed_by == "subscription":
                    updated = replace(updated, deleted=False)
                if updated.service_period.floor().is_empty:
                    ws.delete_line(child.id)
                    continue
                ws.put_line(updated)
    elif children:
        last = max(children, key=lambda c: c.service_period.end)
        if ws.is_mutable(last.invoice_id):
            updated = replace(last, service_period=Period(last.service_period.start, new_end))
            if last.managed_by == "subscription":
                updated = replace(updated, deleted=False)
            if ws.is_gathering(last.invoice_id):
                updated = replace(updated, invoice_at=target.invoice_at)
            ws.put_line(updated)
    ws.put_group(replace(group, service_period=Period(group.service_period.start, new_end)))
    return True


def _apply_charge_op(ws: Workspace, op: Operation, ctx: SyncContext, now: datetime, legacy: bool) -> None:
    existing = op.existing
    assert existing is not None and existing.charge is not None
    charge = ws.charges[existing.charge.id]
    if op.kind is OpKind.DELETE:
        chargestack.delete_charge(ws, charge)
        return
    assert op.target is not None
    chargestack.change_period(ws, charge, op.target, now=now, legacy_unique_id=legacy)


def apply(
    ws: Workspace, ops: list[Operation], ctx: SyncContext, *, now: datetime, legacy_mirror_ids: bool
) -> OperationCounts:
    """Write ``ops`` into ``ws``: invoice patches, then charge patches, then charge creations."""
    counts = {kind: 0 for kind in OpKind}
    if any(op.backend is Backend.CHARGE for op in ops) and not ctx.charges_enabled:
        raise SyncError("charges service is required when there are charge patches")
    for op in ops:
        if op.backend is Backend.LINE and _apply_line_op(ws, op, ctx):
            counts[op.kind] += 1
    for op in ops:
        if op.backend is Backend.CHARGE and op.kind is not OpKind.CREATE:
            _apply_charge_op(ws, op, ctx, now, legacy_mirror_ids)
            counts[op.kind] += 1
    sub = ctx.subscription
    for op in ops:
        if op.backend is Backend.CHARGE and op.kind is OpKind.CREATE:
            assert op.target is not None
            chargestack.create_charge(
                ws,
                op.target,
                customer_id=sub.customer_id,
                currency=sub.currency,
                settlement_mode=sub.settlement_mode,
                pro_rating=sub.pro_rating,
                legacy_unique_id=legacy_mirror_ids,
            )
            counts[op.kind] += 1
    ws.drop_empty_gathering_invoices()
    return OperationCounts(
        create=counts[OpKind.CREATE],
        delete=counts[OpKind.DELETE],
        shrink=counts[OpKind.SHRINK],
        extend=counts[OpKind.EXTEND],
        prorate=counts[OpKind.PRORATE],
    )


__all__ = [
    "OpKind",
    "Operation",
    "SyncContext",
    "apply",
    "default_backend",
    "in_scope",
    "plan",
    "repair_charge_items",
    "route",
]
