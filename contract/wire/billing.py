"""Billing's shapes: v1 invoices and their lines, v3 charges (HEAD and the #4412-window build).

v1 invoice lines carry the subscription id and the item id swapped (upstream
``mapSubscriptionReferencesToAPI``); ``LINE_SUBSCRIPTION`` names them as written, the reader
decides whether to swap them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from contract.wire import read as r
from contract.wire.shape import Field, Shape

__all__ = ["CHARGE", "CHARGE_SUBSCRIPTION", "INVOICE", "INVOICE_LINE", "LINE_SUBSCRIPTION", "money"]


def money(data: Mapping[str, Any], key: str, path: str = "") -> Decimal | None:
    """A Numeric, or (HEAD, observed live) a money object ``{"amount": "30", "currency": ""}``."""
    value = data.get(key)
    if isinstance(value, Mapping):
        return r.opt_decimal(value, "amount", r.join(path, key))
    return r.opt_decimal(data, key, path)


_STAMPS = (Field("created_at", r.opt_time), Field("updated_at", r.opt_time), Field("deleted_at", r.opt_time))

INVOICE_LINE = Shape(
    (
        Field("id", r.req_str),
        Field("name", default=""),
        Field("managed_by"),
        Field("status"),
        Field("period", r.req_period),
        Field("invoice_at", r.opt_time),
        Field("invoice_id", v1="invoice.id"),
        Field("quantity", r.opt_decimal),
        Field("total", r.opt_decimal, v1="totals.total"),
        *_STAMPS,
    )
)

LINE_SUBSCRIPTION = Shape(
    (
        Field("subscription_id", v1="subscription.id"),
        Field("phase_id", v1="phase.id"),
        Field("item_id", v1="item.id"),
        Field("billing_period", r.opt_period),
    )
)

INVOICE = Shape(
    (
        Field("id", r.req_str),
        Field("status", r.req_str),
        Field("extended_status", v1="statusDetails.extendedStatus"),
        Field("immutable", r.opt_bool, v1="statusDetails.immutable"),
        Field("currency", r.req_str),
        Field("period", r.opt_period),
        Field("type"),
        Field("number"),
        *_STAMPS,
    )
)

CHARGE = Shape(
    (
        Field("id", r.req_str),
        Field("type", r.req_str),
        Field("status", r.req_str),
        Field("name", default=""),
        Field("unique_reference_id"),
        Field("service_period", r.req_period),
        Field("full_service_period", r.opt_period),
        Field("billing_period", r.opt_period),
        Field("invoice_at", r.req_time),
        Field("settlement_mode", r.opt_settlement),
        Field("currency", r.req_str),
        Field("feature_key"),
        Field("feature_id"),
        Field("amount_after_proration", money),
        Field("payment_term"),
        Field("lifecycle_controller"),
        Field("managed_by"),
        Field("advance_after", r.opt_time),
        *_STAMPS,
    )
)

CHARGE_SUBSCRIPTION = Shape(
    (Field("id", r.req_str), Field("phase_id", v3="phase.id"), Field("item_id", v3="phase.item.id"))
)
