"""The charge stack: what happens to charges and their mirror lines when sync patches them.

Sync only writes charge *intents* (create, delete, shrink, extend — shared/design/sync-model.md
§3.3); the charge stack re-derives the rest (§1.7):

* a ``credit_then_invoice`` charge has one mirror ("projection") line on the customer's
  gathering invoice, looked up by charge id: flat fee — the charge's service period at the
  amount after proration, none when that amount is zero; usage based — from the end of the
  latest invoiced run (or the service period start) to the service period end, floored, none
  when empty; ``credit_only`` charges never touch invoicing;
* after a patch the charge advances at ``now`` (:func:`advance`, upstream's state machines in
  ``openmeter/billing/charges/{flatfee,usagebased}``): ``created`` usage charges become
  ``active`` once ``now >= SP.from``; ``created`` flat fees become ``active`` (non-zero amount)
  or ``final`` (zero) once ``now >= invoiceAt``; ``active`` zero-amount flat fees become
  ``final``. Creation alone does not advance a charge;
* invoice events move ``credit_then_invoice`` charges through upstream's detailed statuses
  (``status`` holds the detailed one; :attr:`Charge.meta_status` is what the API shows):
  invoice created -> ``active.realization.waiting_for_collection``; collection completed ->
  ``active.realization.processing``; invoice issued -> ``active.awaiting_payment_settlement``
  (or back to ``active`` after a partial usage run);
* delete: status ``deleted``, mirror line removed, run lines on mutable invoices removed.

* payment settled (the sandbox app marks an issued invoice paid at once) ->
  ``final`` (:func:`on_payment_settled`).

Not modelled: zero-fiat-overage runs (credits covering a run without issuing), credit allocation,
API overrides.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from contract.model.domain import PaymentTerm, Price, PriceType, SettlementMode
from contract.model.persisted import (
    Charge,
    ChargeStatus,
    ChargeType,
    InvoiceLine,
    LineEngine,
    Realization,
    RealizationRun,
    SubscriptionRef,
    SyncError,
    Workspace,
)
from contract.model.targetstate import TargetItem
from contract.model.time import Period, floor_second


def new_charge(
    ws: Workspace,
    target: TargetItem,
    *,
    customer_id: str,
    currency: str,
    settlement_mode: SettlementMode,
    pro_rating: bool,
) -> Charge:
    """The charge intent sync creates for ``target`` (§1.7), status ``created``."""
    price = target.price
    return Charge(
        id=ws.new_id(),
        type=ChargeType.FLAT_FEE if price.is_flat else ChargeType.USAGE_BASED,
        unique_reference_id=target.unique_id,
        customer_id=customer_id,
        currency=currency,
        subscription=SubscriptionRef(target.subscription_id, target.phase_id, target.item_id),
        name=target.rate_card.name or target.item_key,
        price=price,
        service_period=target.service_period,
        full_service_period=target.full_service_period,
        billing_period=target.billing_period,
        invoice_at=target.invoice_at,
        settlement_mode=settlement_mode,
        status=ChargeStatus.CREATED,
        pro_rating=pro_rating,
    )


def desired_mirror(charge: Charge) -> tuple[Period, Price] | None:
    """The service period and price the charge's gathering mirror line should have (None: no mirror)."""
    if charge.is_deleted or charge.settlement_mode is not SettlementMode.CREDIT_THEN_INVOICE:
        return None
    if charge.type is ChargeType.FLAT_FEE:
        if charge.runs:
            return None
        amount = charge.amount_after_proration
        if amount is None or amount == 0:
            return None
        return charge.service_period, Price(PriceType.FLAT, amount, charge.payment_term)
    start = charge.service_period.start
    for run in charge.runs:
        if run.service_period.end > start:
            start = run.service_period.end
    period = Period(floor_second(start), floor_second(charge.service_period.end))
    if period.is_empty:
        return None
    return period, charge.price


def desired_mirror_period(charge: Charge) -> Period | None:
    """The service period the charge's gathering mirror line should have; None: no mirror."""
    wanted = desired_mirror(charge)
    return wanted[0] if wanted is not None else None


def mirror_price(charge: Charge) -> Price:
    if charge.type is ChargeType.FLAT_FEE:
        amount = charge.amount_after_proration
        assert amount is not None
        return Price(PriceType.FLAT, amount, charge.payment_term)
    return charge.price


def refresh_mirror(ws: Workspace, charge: Charge, *, legacy_unique_id: bool, new: bool = False) -> None:
    """Create, update in place (same line id) or remove the charge's gathering mirror line.

    ``legacy_unique_id``: the #4412-window builders copied the charge's unique id into the
    line's ``child_unique_reference_id``; at HEAD a mirror line has none. ``new``: the charge was
    just created (it has no mirror yet).
    """
    wanted = desired_mirror(charge)
    existing = None if new else ws.mirror_line(charge.id)
    if wanted is None:
        if existing is not None:
            ws.delete_line(existing.id)
        return
    period, price = wanted
    ref = charge.subscription
    sub = SubscriptionRef(ref.subscription_id, ref.phase_id, ref.item_id, charge.billing_period)
    if existing is None:
        invoice = ws.gathering_invoice(charge.currency, create=True)
        assert invoice is not None
        ws.put_line(
            InvoiceLine(
                id=ws.new_id(),
                invoice_id=invoice.id,
                currency=charge.currency,
                name=charge.name,
                engine=charge.backend_type,
                service_period=period,
                invoice_at=charge.invoice_at,
                price=price,
                amount=price.amount if price.is_flat else None,
                subscription=sub,
                child_unique_reference_id=charge.unique_reference_id if legacy_unique_id else None,
                charge_id=charge.id,
                managed_by=charge.managed_by,
            )
        )
        return
    ws.put_line(
        replace(
            existing,
            name=charge.name,
            service_period=period,
            invoice_at=charge.invoice_at,
            price=price,
            amount=price.amount if price.is_flat else None,
            subscription=sub,
        )
    )


def booked_at(charge: Charge) -> datetime:
    """When a flat fee is booked against credits (upstream ``flatfee.UsageBookedAt``): the service
    period's start when paid in advance, its end when paid in arrears."""
    if charge.price.payment_term is PaymentTerm.IN_ARREARS:
        return charge.service_period.end
    return charge.service_period.start


def advance(charge: Charge, now: datetime) -> Charge:
    """Upstream's ``AdvanceUntilStable`` (``TriggerNext`` while permitted) at wall-clock ``now``.

    ``created`` usage charges become ``active`` once ``now >= SP.from``; ``created`` flat fees
    become ``active`` (non-zero amount) or ``final`` (zero) once ``now >= invoiceAt``; ``active``
    zero-amount flat fees become ``final``. Realization statuses wait for invoice events.
    ``credit_only`` flat fees (upstream ``CreditsOnlyStateMachine``) are booked against credits
    instead: ``created`` -> ``active`` once ``now >= invoiceAt``, then ``final`` once ``now`` reaches
    the booking time (:func:`booked_at`), whatever the amount.
    """
    status = charge.status
    if charge.type is ChargeType.USAGE_BASED:
        if status == ChargeStatus.CREATED and now >= charge.service_period.start:
            status = ChargeStatus.ACTIVE
    elif charge.settlement_mode is SettlementMode.CREDIT_ONLY:
        if status == ChargeStatus.CREATED and now >= charge.invoice_at:
            status = ChargeStatus.ACTIVE
        if status == ChargeStatus.ACTIVE and now >= booked_at(charge):
            status = ChargeStatus.FINAL
    else:
        amount = charge.amount_after_proration
        zero = amount is None or amount == 0
        if status == ChargeStatus.CREATED and now >= charge.invoice_at:
            status = ChargeStatus.FINAL if zero else ChargeStatus.ACTIVE
        elif status == ChargeStatus.ACTIVE and zero:
            status = ChargeStatus.FINAL
    return charge if status == charge.status else replace(charge, status=status)


def on_invoice_created(charge: Charge, now: datetime) -> Charge:
    """A standard invoice took one of the charge's lines (upstream ``OnStandardInvoiceCreated``).

    The charge first advances at ``now``; an ``active`` charge then takes ``invoice_created`` to
    ``active.realization.started`` and at once ``next`` to ``...waiting_for_collection``, where it
    stays until the invoice's collection completes. A charge already realizing keeps its status.
    """
    charge = advance(charge, now)
    if charge.status == ChargeStatus.ACTIVE:
        return replace(charge, status=Realization.WAITING_FOR_COLLECTION)
    return charge


def on_collection_completed(charge: Charge) -> Charge:
    """The invoice's collection period ended (``collection_completed``): waiting -> processing.

    Not modelled: a run whose fiat overage is zero (credits cover it) moving on to ``final``.
    """
    if charge.status == Realization.WAITING_FOR_COLLECTION:
        return replace(charge, status=Realization.PROCESSING)
    return charge


def on_invoice_issued(charge: Charge, run_end: datetime) -> Charge:
    """The invoice was issued (``invoice_issued``): processing -> issuing -> completed, then
    ``active.awaiting_payment_settlement`` for a flat fee or a usage run reaching the service
    period's end, back to ``active`` for an earlier (progressive) usage run. Payment settlement
    (-> ``final``) is not modelled."""
    if charge.status != Realization.PROCESSING:
        return charge
    if charge.type is ChargeType.USAGE_BASED and run_end < charge.service_period.end:
        return replace(charge, status=ChargeStatus.ACTIVE)
    return replace(charge, status=Realization.AWAITING_PAYMENT_SETTLEMENT)


def on_payment_settled(charge: Charge) -> Charge:
    """The issued invoice's payment settled (upstream ``AreAllPaymentsSettled``):
    ``active.awaiting_payment_settlement`` -> ``final``."""
    if charge.status == Realization.AWAITING_PAYMENT_SETTLEMENT:
        return replace(charge, status=ChargeStatus.FINAL)
    return charge


#: How far ahead of a step a pending advancement must lie for its status to count as settled: the
#: time a live run takes to observe the step (its polling deadline) with room to spare.
STATUS_MARGIN = timedelta(minutes=10)


def status_is_deterministic(charge: Charge, now: datetime | None) -> bool:
    """Whether OpenMeter must show the charge's meta status as predicted, whatever its schedulers did.

    * ``deleted`` and ``final``: only a later sync changes them;
    * ``active`` (with every ``active.realization.*``): leaving it needs a zero-fiat collection or a
      settled payment, both at least a collection interval (default ``PT1H``) after invoicing —
      except a ``credit_only`` flat fee, which the advancer books to ``final`` at :func:`booked_at`
      (deterministic only while that lies more than :data:`STATUS_MARGIN` ahead);
    * ``created``: only while the charge's advancement guard (flat fee: invoiceAt; usage: the
      service period start) lies more than :data:`STATUS_MARGIN` after ``now``; once it has passed,
      the charge advancer (``billing advance-charges``, a cron) may or may not have run.
    """
    credit_only_fee = charge.type is ChargeType.FLAT_FEE and charge.settlement_mode is SettlementMode.CREDIT_ONLY
    if charge.meta_status is ChargeStatus.ACTIVE and credit_only_fee:
        guard = booked_at(charge)
    elif charge.meta_status is not ChargeStatus.CREATED:
        return True
    else:
        guard = charge.invoice_at if charge.type is ChargeType.FLAT_FEE else charge.service_period.start
    return now is not None and guard > now + STATUS_MARGIN


def change_period(
    ws: Workspace, charge: Charge, target: TargetItem, *, now: datetime, legacy_unique_id: bool
) -> Charge:
    """A shrink or extend patch: ``{SP.to, FSP.to, BP.to, invoiceAt}`` from the target (§3.3).

    The charge keeps its id and its period starts; runs starting at or after the new end are
    dropped with their lines on mutable invoices, a run spanning it is trimmed. A patch upstream's
    charge validation rejects (``PatchShrink``/``PatchExtend.ValidateWith``) fails the whole sync
    with :class:`SyncError` — e.g. shrinking a charge to an end at or before its start, which
    happens when a cancel lands in the first second of a pre-generated period.
    """
    new_end = target.service_period.end
    _validate_period_patch(charge, target)
    runs: list[RealizationRun] = []
    for run in charge.runs:
        if run.service_period.start >= new_end:
            if run.line_id is not None and ws.is_mutable(ws.lines[run.line_id].invoice_id):
                ws.delete_line(run.line_id)
            continue
        if run.service_period.end > new_end:
            run = replace(run, service_period=Period(run.service_period.start, new_end))
        runs.append(run)
    patched = replace(
        charge,
        service_period=Period(charge.service_period.start, new_end),
        full_service_period=Period(charge.full_service_period.start, target.full_service_period.end),
        billing_period=Period(charge.billing_period.start, target.billing_period.end),
        invoice_at=target.invoice_at,
        runs=tuple(runs),
    )
    patched = ws.put_charge(advance(patched, now))
    _refresh_run_lines(ws, patched)
    refresh_mirror(ws, patched, legacy_unique_id=legacy_unique_id)
    return patched


def _validate_period_patch(charge: Charge, target: TargetItem) -> None:
    errors: list[str] = []
    new_sp = target.service_period.end
    new_fsp = target.full_service_period.end
    new_bp = target.billing_period.end
    if new_sp < charge.service_period.end:
        if not new_sp > charge.service_period.start:
            errors.append("new service period to must be greater than existing service period from")
        if not new_fsp > charge.full_service_period.start:
            errors.append("new full service period to must be greater than existing full service period from")
        if not new_bp > charge.billing_period.start:
            errors.append("new billing period to must be greater than existing billing period from")
    else:
        if new_fsp < charge.full_service_period.start:
            errors.append(
                "new full service period to must be greater than or equal to existing full service period from"
            )
        if new_bp < charge.billing_period.start:
            errors.append("new billing period to must be greater than or equal to existing billing period from")
    if errors:
        raise SyncError(f"updating charges: charge[{charge.id}]: " + "; ".join(errors))


def _refresh_run_lines(ws: Workspace, charge: Charge) -> None:
    """Keep invoiced run lines on mutable invoices in line with the patched charge."""
    for run in charge.runs:
        if run.line_id is None or not ws.is_mutable(ws.lines[run.line_id].invoice_id):
            continue
        line = ws.lines[run.line_id]
        if line.deleted:
            continue
        if charge.type is ChargeType.FLAT_FEE:
            price = mirror_price(charge) if charge.amount_after_proration else line.price
            ws.put_line(replace(line, service_period=charge.service_period, price=price, amount=price.amount))
        elif line.service_period != run.service_period:
            ws.put_line(replace(line, service_period=run.service_period))


def delete_charge(ws: Workspace, charge: Charge) -> Charge:
    """The delete patch (system source, refund-as-credits): status ``deleted``, lines removed."""
    for run in charge.runs:
        if run.line_id is not None and ws.is_mutable(ws.lines[run.line_id].invoice_id):
            ws.delete_line(run.line_id)
    deleted = ws.put_charge(replace(charge, status=ChargeStatus.DELETED))
    mirror = ws.mirror_line(charge.id)
    if mirror is not None:
        ws.delete_line(mirror.id)
    return deleted


def create_charge(
    ws: Workspace,
    target: TargetItem,
    *,
    customer_id: str,
    currency: str,
    settlement_mode: SettlementMode,
    pro_rating: bool,
    legacy_unique_id: bool,
) -> Charge:
    charge = ws.put_charge(
        new_charge(
            ws,
            target,
            customer_id=customer_id,
            currency=currency,
            settlement_mode=settlement_mode,
            pro_rating=pro_rating,
        )
    )
    refresh_mirror(ws, charge, legacy_unique_id=legacy_unique_id, new=True)
    return charge


def repoint_item(ws: Workspace, charge: Charge, item_id: str) -> Charge:
    """Pre-diff repair (§3.2): edits can recreate item rows; the charge follows the new item id."""
    updated = ws.put_charge(replace(charge, subscription=replace(charge.subscription, item_id=item_id)))
    for line in list(ws.lines.values()):
        if (
            line.charge_id == charge.id
            and not line.deleted
            and line.subscription is not None
            and line.subscription.item_id != item_id
        ):
            ws.put_line(replace(line, subscription=replace(line.subscription, item_id=item_id)))
    return updated


def engine_for(charge: Charge) -> LineEngine:
    return charge.backend_type


__all__ = [
    "STATUS_MARGIN",
    "advance",
    "booked_at",
    "change_period",
    "create_charge",
    "delete_charge",
    "desired_mirror",
    "desired_mirror_period",
    "engine_for",
    "mirror_price",
    "new_charge",
    "on_collection_completed",
    "on_invoice_created",
    "on_invoice_issued",
    "on_payment_settled",
    "refresh_mirror",
    "repoint_item",
    "status_is_deterministic",
]
