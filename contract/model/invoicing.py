"""Invoicing a customer's pending gathering lines (upstream ``InvoicePendingLines``).

shared/oracle/FORMAT.md (``invoice`` steps) and upstream's billable-period rules
(``openmeter/billing/service/gatheringinvoicependinglines.go``, ``billing/rating``):

* flat-price lines (invoice-backed or mirror) are due when ``floor(invoiceAt) <= floor(asOf)``
  and go whole;
* usage lines without progressive billing are due when ``floor(asOf) >= floor(SP.to)`` and
  ``floor(invoiceAt) <= floor(asOf)``;
* volume-tiered usage lines are never billed progressively (upstream's non-progressive pricer);
* with progressive billing any other usage line is due once ``floor(asOf) > floor(SP.from)``; when
  ``asOf`` falls inside its service period it is split there: ``[from, asOf)`` is invoiced with
  ``invoiceAt = asOf``; the rest stays on the gathering invoice — invoice-backed lines as the
  gathering child of a split-line group owning the unique id, mirror lines as the charge's new
  mirror (the charge keeps its period; a realization run covers the invoiced part);
* due lines move, with their line ids, to one new draft standard invoice per currency; a
  gathering invoice left without lines is deleted. Charges whose lines were invoiced get a
  realization run and move to ``active.realization.waiting_for_collection``
  (:func:`~contract.model.chargestack.on_invoice_created`);
* :func:`collect_invoices` and :func:`issue_invoices` complete the collection of draft invoices
  and issue them (immutable from then on), moving their charges on;
* a new invoice with no line that depends on a metered quantity (only flat prices) has nothing to
  collect: its collection completes when it is created (upstream ``StandardInvoiceCollectionAt``
  leaves ``collectionAt`` unset, so it defaults to the creation time). Under an auto-advancing
  profile (``SyncConfig.auto_advance``: OpenMeter's default profile, ``autoAdvance`` with draft
  period ``P0D`` and the sandbox app) it is then issued and paid at once, and its charges end
  ``final`` within the same worker call (measured live on HEAD 7e57a394a, 2026-12-03).

Not modelled: collection alignment other than ``subscription``, max lines per invoice, meter
aggregations that forbid progressive billing (every usage meter counts as increase-only).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from contract.model import chargestack
from contract.model.persisted import (
    DRAFT,
    EngineState,
    Invoice,
    InvoiceLine,
    LineEngine,
    RealizationRun,
    SplitLineGroup,
    Workspace,
    line_amount,
)
from contract.model.snapshot import InvoicedLine
from contract.model.time import Period, floor_second, require_utc

ISSUED = "issued"
PAID = "paid"


@dataclass(frozen=True, slots=True)
class InvoiceResult:
    state: EngineState
    invoiced: tuple[InvoicedLine, ...] = ()
    invoice_ids: tuple[str, ...] = ()  # the standard invoices created


def billable_period(line: InvoiceLine, as_of: datetime, progressive: bool) -> Period | None:
    """The part of ``line`` that is due ``as_of`` (None: nothing is due)."""
    as_of_s = floor_second(as_of)
    sp = line.service_period.floor()
    if line.price.is_flat:
        if floor_second(line.invoice_at) > as_of_s:
            return None
        return line.service_period
    if progressive and line.price.bills_progressively:
        if not as_of_s > sp.start:
            return None
        return Period(sp.start, min(sp.end, as_of_s))
    if as_of_s < sp.end:
        return None
    if floor_second(line.invoice_at) > as_of_s:
        return None
    return sp


def _unique_id_of(ws: Workspace, line: InvoiceLine) -> str:
    if line.charge_id is not None:
        return ws.charges[line.charge_id].unique_reference_id
    if line.split_line_group_id is not None:
        return ws.groups[line.split_line_group_id].unique_reference_id
    return line.child_unique_reference_id or line.id


def _split_invoice_line(ws: Workspace, line: InvoiceLine, split_at: datetime) -> InvoiceLine:
    """Split an invoice-backed line at ``split_at``; returns the pre-split part (keeps the id)."""
    group_id = line.split_line_group_id
    if group_id is None:
        group = SplitLineGroup(
            id=ws.new_id(),
            unique_reference_id=line.child_unique_reference_id or line.id,
            currency=line.currency,
            service_period=line.service_period,
            price=line.price,
            subscription=line.subscription,
        )
        ws.put_group(group)
        group_id = group.id
    post = replace(
        line,
        id=ws.new_id(),
        service_period=Period(split_at, line.service_period.end),
        child_unique_reference_id=None,
        split_line_group_id=group_id,
        revision=0,
    )
    ws.put_line(post)
    return replace(
        line,
        service_period=Period(line.service_period.start, split_at),
        invoice_at=split_at,
        child_unique_reference_id=None,
        split_line_group_id=group_id,
    )


def invoice_pending_lines(
    state: EngineState,
    customer_id: str,
    at: datetime,
    as_of: datetime | None = None,
    progressive: bool = False,
    *,
    legacy_mirror_ids: bool = False,
    auto_advance: bool = False,
) -> InvoiceResult:
    """Move the customer's due gathering lines to new standard invoices (see module doc)."""
    require_utc(at, "invoice time")
    cutoff = require_utc(as_of, "invoice as_of") if as_of is not None else at
    ws = Workspace(customer_id, state.customer(customer_id), state.next_seq)
    invoiced: list[InvoicedLine] = []
    created: list[str] = []
    for gathering in [i for i in ws.invoices.values() if i.is_gathering and not i.deleted]:
        due: list[tuple[InvoiceLine, Period]] = []
        pending = (ln for ln in ws.lines.values() if ln.invoice_id == gathering.id and not ln.deleted)
        for line in sorted(pending, key=lambda ln: (ln.service_period.start, ln.id)):
            period = billable_period(line, cutoff, progressive)
            if period is not None:
                due.append((line, period))
        if not due:
            continue
        standard = Invoice(ws.new_id(), customer_id, gathering.currency, DRAFT)
        ws.invoices[standard.id] = standard
        created.append(standard.id)
        for line, period in due:
            uid = _unique_id_of(ws, line)
            split = period.end < line.service_period.floor().end
            if line.charge_id is None:
                moved = _split_invoice_line(ws, line, period.end) if split else line
                moved = ws.put_line(replace(moved, invoice_id=standard.id))
            else:
                charge = ws.charges[line.charge_id]
                moved = line
                if split:
                    moved = replace(
                        line, service_period=Period(line.service_period.start, period.end), invoice_at=period.end
                    )
                if legacy_mirror_ids and split:
                    moved = replace(moved, child_unique_reference_id=None)
                moved = ws.put_line(replace(moved, invoice_id=standard.id))
                run = RealizationRun(moved.service_period, moved.id)
                charge = chargestack.on_invoice_created(replace(charge, runs=(*charge.runs, run)), at)
                charge = ws.put_charge(charge)
                chargestack.refresh_mirror(ws, charge, legacy_unique_id=legacy_mirror_ids)
            invoiced.append(
                InvoicedLine(
                    id=uid,
                    service_period=moved.service_period,
                    invoice_at=moved.invoice_at,
                    amount=line_amount(moved.price, moved.amount),
                    subscription_id=moved.subscription.subscription_id if moved.subscription else None,
                    line_id=moved.id,
                )
            )
    ws.drop_empty_gathering_invoices()
    if not created:
        return InvoiceResult(state)
    new_state = state.with_customer(customer_id, ws.freeze(), ws.next_seq, at)
    nothing_to_collect = tuple(
        i for i in created if all(ln.is_flat for ln in ws.lines.values() if ln.invoice_id == i and not ln.deleted)
    )
    if nothing_to_collect and auto_advance:
        new_state = approve_invoices(new_state, customer_id, at, nothing_to_collect)
    elif nothing_to_collect:
        new_state = collect_invoices(new_state, customer_id, at, nothing_to_collect)
    return InvoiceResult(new_state, tuple(invoiced), tuple(created))


def _charges_on(ws: Workspace, invoice_id: str) -> list[tuple[str, RealizationRun]]:
    """(charge id, run) for every realization run whose line is on the invoice."""
    out = []
    for charge in ws.charges.values():
        for run in charge.runs:
            if run.line_id is not None and ws.lines[run.line_id].invoice_id == invoice_id:
                out.append((charge.id, run))
    return out


def _drafts(ws: Workspace, invoice_ids: tuple[str, ...] | None) -> list[Invoice]:
    return [
        i
        for i in ws.invoices.values()
        if i.status == DRAFT and not i.deleted and (invoice_ids is None or i.id in invoice_ids)
    ]


def collect_invoices(
    state: EngineState, customer_id: str, now: datetime, invoice_ids: tuple[str, ...] | None = None
) -> EngineState:
    """The collection period of the customer's draft invoices (or the given ones) ends at ``now``
    (upstream ``OnCollectionCompleted``; live: the invoice's ``snapshot-quantities`` action or the
    ``billing collect`` job): their charges move from waiting for collection to processing."""
    require_utc(now, "collection time")
    ws = Workspace(customer_id, state.customer(customer_id), state.next_seq)
    for invoice in _drafts(ws, invoice_ids):
        for charge_id, _run in _charges_on(ws, invoice.id):
            ws.put_charge(chargestack.on_collection_completed(ws.charges[charge_id]))
    return state.with_customer(customer_id, ws.freeze(), ws.next_seq, now)


def issue_invoices(
    state: EngineState, customer_id: str, now: datetime, invoice_ids: tuple[str, ...] | None = None
) -> EngineState:
    """Issue the customer's draft invoices (or the given ones) at ``now`` (approval or auto-advance;
    upstream ``OnInvoiceIssued``): collection completes first if it had not, the invoice becomes
    immutable (``issued``) and its charges move on (:func:`~contract.model.chargestack.on_invoice_issued`)."""
    state = collect_invoices(state, customer_id, now, invoice_ids)
    ws = Workspace(customer_id, state.customer(customer_id), state.next_seq)
    for invoice in _drafts(ws, invoice_ids):
        ws.invoices[invoice.id] = replace(invoice, status=ISSUED, immutable=True)
        for charge_id, run in _charges_on(ws, invoice.id):
            ws.put_charge(chargestack.on_invoice_issued(ws.charges[charge_id], run.service_period.end))
    return state.with_customer(customer_id, ws.freeze(), ws.next_seq, now)


def settle_invoices(state: EngineState, customer_id: str, now: datetime, invoice_ids: tuple[str, ...]) -> EngineState:
    """The payment of the given issued invoices settled at ``now`` (the sandbox app marks an issued
    invoice paid at once): the invoice is ``paid`` and its charges become ``final``
    (:func:`~contract.model.chargestack.on_payment_settled`)."""
    require_utc(now, "settlement time")
    ws = Workspace(customer_id, state.customer(customer_id), state.next_seq)
    for invoice_id in invoice_ids:
        invoice = ws.invoices[invoice_id]
        if invoice.status != ISSUED:
            continue
        ws.invoices[invoice_id] = replace(invoice, status=PAID)
        for charge_id, _run in _charges_on(ws, invoice_id):
            ws.put_charge(chargestack.on_payment_settled(ws.charges[charge_id]))
    return state.with_customer(customer_id, ws.freeze(), ws.next_seq, now)


def approve_invoices(state: EngineState, customer_id: str, now: datetime, invoice_ids: tuple[str, ...]) -> EngineState:
    """Approve the given drafts at ``now``: issued (:func:`issue_invoices`, collection first) and, the
    suite's invoicing app being the sandbox app, paid at once (:func:`settle_invoices`)."""
    return settle_invoices(issue_invoices(state, customer_id, now, invoice_ids), customer_id, now, invoice_ids)


__all__ = [
    "ISSUED",
    "PAID",
    "InvoiceResult",
    "LineEngine",
    "approve_invoices",
    "billable_period",
    "collect_invoices",
    "invoice_pending_lines",
    "issue_invoices",
    "settle_invoices",
]
