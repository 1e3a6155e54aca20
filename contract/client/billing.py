"""Credits, usage, invoices and charges: what a subscription produces, read back for judging.

Invoices are read through v1 (the only API with gathering invoices; the subscription and item
ids of its lines are swapped back), charges through v3; every list is walked to its last page.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from contract.client.core import V3, ClientCore, Reply
from contract.client.errors import OpenMeterProblem, OpenMeterResponseError
from contract.client.inputs import Amount, Event
from contract.client.models import Charge, CreditBalances, CreditGrant, Invoice
from contract.model.time import format_time, require_utc
from contract.wire import read as p

CHARGE_STATUSES_ALL = ("created", "active", "final", "deleted")


def _is_no_lines(err: OpenMeterProblem) -> bool:
    return (
        "invoice_create_no_lines" in err.codes
        or err.problem.mentions("invoice_create_no_lines")
        or (err.problem.mentions("would have no lines"))
    )


class BillingCalls(ClientCore):
    """Credit grants and balances, event ingestion, invoices and charges."""

    # -- credits -------------------------------------------------------------------------------

    def create_credit_grant(
        self, customer_id: str, amount: Amount, currency: str, name: str, funding_method: str = "none"
    ) -> CreditGrant:
        body = {
            "name": name,
            "funding_method": funding_method,
            "currency": currency,
            "amount": p.format_numeric(amount),
        }
        return self._post_parsed(
            "credit grant", f"{V3}/customers/{customer_id}/credits/grants", CreditGrant.from_v3, body
        )

    def credit_balance(self, customer_id: str) -> CreditBalances:
        """Balances per currency: HEAD ``{live, settled, pending}``, #4412 window ``{available, pending}``."""
        return self._get_parsed(
            "credit balance", f"{V3}/customers/{customer_id}/credits/balance", CreditBalances.from_v3
        )

    # -- usage ---------------------------------------------------------------------------------

    def ingest(self, events: Sequence[Event], *, batch: bool = True) -> int:
        """v1 ``POST /api/v1/events`` (204; 202 from newer routes is accepted too).

        ``batch``: one ``application/cloudevents-batch+json`` request; otherwise one
        ``application/cloudevents+json`` request per event. Returns the number of events sent.
        """
        if not events:
            return 0
        path = "/api/v1/events"
        if batch:
            self._expect_accepted(
                self.request(
                    "POST",
                    path,
                    json_body=[e.cloudevent() for e in events],
                    content_type="application/cloudevents-batch+json",
                ),
                path,
            )
        else:
            for event in events:
                self._expect_accepted(
                    self.request(
                        "POST", path, json_body=event.cloudevent(), content_type="application/cloudevents+json"
                    ),
                    path,
                )
        return len(events)

    @staticmethod
    def _expect_accepted(reply: Reply, path: str) -> None:
        if reply.status not in (200, 202, 204):
            raise OpenMeterResponseError(
                f"POST {path}: expected 204 or 202, got {reply.status}", method="POST", path=path, status=reply.status
            )

    # -- invoices ------------------------------------------------------------------------------

    def list_invoices(
        self, customer_id: str, include_deleted: bool = False, statuses: Sequence[str] | None = None
    ) -> list[Invoice]:
        """Every invoice of the customer, lines expanded (v1; the only API with gathering invoices)."""
        path = "/api/v1/billing/invoices"
        params: list[tuple[str, str | int]] = [("customers", customer_id), ("expand", "lines")]
        for status in statuses or ():
            params.append(("statuses", status))
        if include_deleted:
            params.append(("includeDeleted", "true"))
        rows = self._v1_pages(path, params)
        swap = self.swap_v1_line_ids
        return [
            self._parsed(
                "invoice", "GET", path, functools.partial(Invoice.from_v1, r, f"items[{i}]", swap_subscription_ids=swap)
            )
            for i, r in enumerate(rows)
        ]

    def get_invoice(self, invoice_id: str, *, include_deleted_lines: bool = False) -> Invoice:
        path = f"/api/v1/billing/invoices/{invoice_id}"
        params: list[tuple[str, str | int]] = [("expand", "lines")]
        if include_deleted_lines:
            params.append(("includeDeletedLines", "true"))
        body = self._get(path, params)
        swap = self.swap_v1_line_ids
        return self._parsed("invoice", "GET", path, lambda: Invoice.from_v1(body, swap_subscription_ids=swap))

    def invoice_action(self, invoice_id: str, action: Literal["snapshot-quantities", "approve"]) -> Invoice:
        """v1 ``POST /billing/invoices/{id}/{action}``: end the collection wait now
        (``snapshot-quantities``) or approve the draft (``approve``); the invoice as it is after."""
        path = f"/api/v1/billing/invoices/{invoice_id}/{action}"
        body = self._post(path)
        swap = self.swap_v1_line_ids
        return self._parsed("invoice", "POST", path, lambda: Invoice.from_v1(body, swap_subscription_ids=swap))

    def gathering_invoice(self, customer_id: str, currency: str) -> Invoice | None:
        """The customer's live gathering invoice in ``currency`` (None when there is none)."""
        for invoice in self.list_invoices(customer_id, statuses=["gathering"]):
            if invoice.is_gathering and invoice.currency == currency and not invoice.is_deleted:
                return invoice
        return None

    def invoice_pending_lines(
        self, customer_id: str, as_of: datetime | None = None, *, progressive: bool | None = None
    ) -> list[Invoice]:
        """v1 ``POST /billing/invoices/invoice``; nothing due (``invoice_create_no_lines``) is ``[]``.

        ``progressive`` sends ``progressiveBillingOverride`` (None: the billing profile decides)."""
        body: dict[str, Any] = {"customerId": customer_id}
        if as_of is not None:
            body["asOf"] = format_time(require_utc(as_of, "as_of"))
        if progressive is not None:
            body["progressiveBillingOverride"] = progressive
        path = "/api/v1/billing/invoices/invoice"
        try:
            reply = self._post(path, body)
        except OpenMeterProblem as err:
            if err.status == 400 and _is_no_lines(err):
                return []
            raise
        swap = self.swap_v1_line_ids
        return self._parsed(
            "invoice list",
            "POST",
            path,
            lambda: [
                Invoice.from_v1(r, f"[{i}]", swap_subscription_ids=swap)
                for i, r in enumerate(reply if isinstance(reply, list) else p.items(p.obj(reply), "items"))
            ],
        )

    # -- charges -------------------------------------------------------------------------------

    def list_charges(self, customer_id: str, include_deleted: bool = True) -> list[Charge]:
        """Every charge of the customer (v3; all pages, ordered by service period start)."""
        path = f"{V3}/customers/{customer_id}/charges"
        params: list[tuple[str, str | int]] = []
        if include_deleted:
            params.append(("filter[status][oeq]", ",".join(CHARGE_STATUSES_ALL)))
        params.append(("sort", "service_period.from"))
        rows = self._v3_pages(path, params)
        return [
            self._parsed("charge", "GET", path, functools.partial(Charge.from_v3, r, f"data[{i}]"))
            for i, r in enumerate(rows)
        ]


__all__ = ["CHARGE_STATUSES_ALL", "BillingCalls"]
