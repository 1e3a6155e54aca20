"""Routes of invoices (v1): list, get, invoice a customer's pending lines now, end a draft's
collection wait (``snapshot-quantities``) and approve it.

Listing and getting are reads the billing worker counts (:meth:`~contract.offline.sync.
BillingWorker.note_read`); invoicing first handles every pending subscription event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from contract.model.engine import Engine
from contract.model.persisted import DRAFT
from contract.offline.billing import invoice_v1
from contract.offline.catalog import invoice_workflow_v1
from contract.offline.paging import bool_param, v1_paging
from contract.offline.problems import ApiError, Fields, Issue, json_body
from contract.offline.routing import V1, Reply, Router
from contract.offline.state import OfflineState

__all__ = ["ROUTER"]

ROUTER = Router("invoices")


def _render(
    s: OfflineState, invoice_id: str, customer_id: str, *, with_lines: bool, include_deleted_lines: bool = False
) -> dict[str, Any]:
    cust = s.worker.state.customer(customer_id)
    return invoice_v1(
        cust.invoices[invoice_id],
        cust,
        s.store.customers.get(customer_id),
        s.worker.ledger,
        s.now(),
        with_lines=with_lines,
        include_deleted_lines=include_deleted_lines,
        feature_of=s.store.feature_of_item,
        usage=s.usage,
        tax_code_id=s.tax_code_id,
        workflow=invoice_workflow_v1(s.store.effective_profile(customer_id), s.started_at),
    )


def _engine(s: OfflineState, customer_id: str) -> Engine:
    return Engine(s.worker.config_for(customer_id), s.settings.behaviour)


@ROUTER.get(f"{V1}/billing/invoices")
def list_invoices(s: OfflineState, request: httpx.Request) -> Reply:
    s.worker.note_read()
    params = request.url.params
    customers = set(params.get_list("customers"))
    statuses = set(params.get_list("statuses"))
    with_lines = "lines" in params.get_list("expand")
    include_deleted = bool_param(params.get("includeDeleted"), "includeDeleted")
    found: list[tuple[datetime, str, str]] = []
    for customer_id, cust in s.worker.state.customers.items():
        if customers and customer_id not in customers:
            continue
        for invoice in cust.invoices.values():
            if invoice.deleted and not include_deleted:
                continue
            if statuses and invoice.status not in statuses:
                continue
            found.append((s.worker.ledger.stamp(invoice.id, s.now()).created, invoice.id, customer_id))
    found.sort()
    page, size = v1_paging(params.get("page"), params.get("pageSize"))
    chosen = found[(page - 1) * size : page * size]
    items = [_render(s, iid, cid, with_lines=with_lines) for _, iid, cid in chosen]
    return 200, {"items": items, "page": page, "pageSize": size, "totalCount": len(found)}


@ROUTER.get(f"{V1}/billing/invoices/{{iid}}")
def get_invoice(s: OfflineState, request: httpx.Request, iid: str) -> Reply:
    s.worker.note_read()
    params = request.url.params
    for customer_id, cust in s.worker.state.customers.items():
        if iid in cust.invoices:
            return 200, _render(
                s,
                iid,
                customer_id,
                with_lines="lines" in params.get_list("expand"),
                include_deleted_lines=bool_param(params.get("includeDeletedLines"), "includeDeletedLines"),
            )
    raise ApiError.not_found("invoice", iid)


@ROUTER.post(f"{V1}/billing/invoices/invoice")
def invoice_pending(s: OfflineState, request: httpx.Request) -> Reply:
    f = Fields(json_body(request), allowed=("customerId", "asOf", "filters", "progressiveBillingOverride"))
    customer = s.store.customer(f.req_str("customerId"))
    if f.has("filters"):
        raise ApiError(400, "filters are not supported by the offline OpenMeter: invoice all due lines")
    s.worker.flush()
    now = s.now()
    as_of = f.opt_time("asOf") or now
    override = f.opt_bool("progressiveBillingOverride")
    engine = _engine(s, customer.id)
    progressive = override if override is not None else engine.config.progressive_billing
    result = engine.invoice(s.worker.state, customer.id, now, as_of, progressive)
    if not result.invoice_ids:
        message = "the new invoice would have no lines"
        raise ApiError(400, message, issues=(Issue("invoice_create_no_lines", message),))
    s.worker.commit(result.state, now)
    return 201, [_render(s, iid, customer.id, with_lines=True) for iid in result.invoice_ids]


def _draft_of(s: OfflineState, iid: str) -> str:
    """The customer of draft invoice ``iid`` (404 when unknown, 400 when not a draft)."""
    for customer_id, cust in s.worker.state.customers.items():
        invoice = cust.invoices.get(iid)
        if invoice is not None and not invoice.deleted:
            if invoice.status != DRAFT:
                raise ApiError(400, f"invoice {iid} is {invoice.status}, not a draft: invoice cannot advance")
            return customer_id
    raise ApiError.not_found("invoice", iid)


@ROUTER.post(f"{V1}/billing/invoices/{{iid}}/snapshot-quantities")
def snapshot_quantities(s: OfflineState, request: httpx.Request, iid: str) -> Reply:
    """End the draft's collection wait now: its charges move on to processing."""
    s.worker.flush()
    customer_id, now = _draft_of(s, iid), s.now()
    s.worker.commit(_engine(s, customer_id).collect(s.worker.state, customer_id, now, (iid,)), now)
    return 200, _render(s, iid, customer_id, with_lines=True)


@ROUTER.post(f"{V1}/billing/invoices/{{iid}}/approve")
def approve(s: OfflineState, request: httpx.Request, iid: str) -> Reply:
    """Approve the draft: issued, and paid at once (the sandbox app)."""
    s.worker.flush()
    customer_id, now = _draft_of(s, iid), s.now()
    s.worker.commit(_engine(s, customer_id).approve(s.worker.state, customer_id, now, (iid,)), now)
    return 200, _render(s, iid, customer_id, with_lines=True)
