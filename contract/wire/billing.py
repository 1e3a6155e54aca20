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
from contract.wire.shape import (
    BOOL,
    DECIMAL,
    NAME,
    PERIOD,
    REQ_PERIOD,
    REQ_STR,
    REQ_TIME,
    SETTLEMENT,
    STR,
    TIME,
    Field,
    Shape,
)

__all__ = ["CHARGE", "CHARGE_SUBSCRIPTION", "INVOICE", "INVOICE_LINE", "LINE_SUBSCRIPTION", "money"]


def money(data: Mapping[str, Any], key: str, path: str = "") -> Decimal | None:
    """A Numeric, or (HEAD, observed live) a money object ``{"amount": "30", "currency": ""}``."""
    value = data.get(key)
    if isinstance(value, Mapping):
        return r.opt_decimal(value, "amount", r.join(path, key))
    return r.opt_decimal(data, key, path)


_STAMPS = Shape.of(created_at=TIME, updated_at=TIME, deleted_at=TIME)

INVOICE_LINE = (
    Shape.of(id=REQ_STR, name=NAME, managed_by=STR, status=STR, period=REQ_PERIOD, invoice_at=TIME)
    + Shape.of(invoice_id=STR.at(v1="invoice.id"), quantity=DECIMAL, total=DECIMAL.at(v1="totals.total"))
    + _STAMPS
)

LINE_SUBSCRIPTION = Shape.of(
    subscription_id=STR.at(v1="subscription.id"),
    phase_id=STR.at(v1="phase.id"),
    item_id=STR.at(v1="item.id"),
    billing_period=PERIOD,
)

_DETAILS = "statusDetails"
INVOICE = (
    Shape.of(id=REQ_STR, status=REQ_STR, currency=REQ_STR, period=PERIOD, type=STR, number=STR)
    + Shape.of(extended_status=STR.at(v1=f"{_DETAILS}.extendedStatus"), immutable=BOOL.at(v1=f"{_DETAILS}.immutable"))
    + _STAMPS
)

CHARGE = (
    Shape.of(id=REQ_STR, type=REQ_STR, status=REQ_STR, name=NAME, unique_reference_id=STR, currency=REQ_STR)
    + Shape.of(service_period=REQ_PERIOD, full_service_period=PERIOD, billing_period=PERIOD, invoice_at=REQ_TIME)
    + Shape.of(settlement_mode=SETTLEMENT, feature_key=STR, feature_id=STR, payment_term=STR)
    + Shape.of(amount_after_proration=Field("", money), advance_after=TIME)
    + Shape.of(lifecycle_controller=STR, managed_by=STR)
    + _STAMPS
)

CHARGE_SUBSCRIPTION = Shape.of(id=REQ_STR, phase_id=STR.at(v3="phase.id"), item_id=STR.at(v3="phase.item.id"))
