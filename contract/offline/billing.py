"""What the offline OpenMeter shows of the engine's persisted state: v3 charges and v1 invoices.

The reference engine keeps no timestamps and no invoice numbers; :class:`Ledger` watches every new
engine state and records, per object id, when it appeared, last changed and was deleted (from the
virtual clock), and numbers invoices per customer (``GATHER-…``, ``DRAFT-…``).

Shapes follow the live HEAD server (shared/openmeter/recorded/head-4412.jsonl):

* charges (v3): ``lifecycle_controller: system``, ``customer``, ``feature_id``/``feature_key``,
  ``tax_config``, ``labels``, ``totals.booked`` (usage), ``amount_after_proration``/``payment_term``/
  ``proration_configuration`` (flat fee), ``advance_after`` once ``active`` (``invoice_at`` + 1 h 1 min,
  as observed), ``deleted_at`` when deleted;
* invoices (v1): a gathering invoice has ``type: "standard"``, ``status: "gathering"``, zero totals
  and a ``GATHER-`` number; a standard draft is ``draft.waiting_for_collection``; lines carry the
  **v1 id swap** — the subscription id under ``subscription.item.id`` and the item id under
  ``subscription.subscription.id`` (upstream ``mapSubscriptionReferencesToAPI``).

Standard-invoice usage lines are rated from the ingested usage (unit, graduated and volume prices,
rounded to the currency); gathering lines show quantity 0 and zero totals.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from contract.model.domain import Price, PriceType
from contract.model.money import round_money
from contract.model.persisted import (
    Charge,
    ChargeStatus,
    ChargeType,
    CustomerState,
    EngineState,
    Invoice,
    InvoiceLine,
    line_amount,
)
from contract.model.time import Period, format_time
from contract.offline.catalog import Customer
from contract.offline.prices import numeric, price_v1, price_v3

__all__ = ["COLLECTION_DELAY", "Ledger", "Stamp", "charge_v3", "invoice_v1", "rate"]

#: ``collectionAt``/``advance_after`` after the last ``invoiceAt`` (observed live: one hour and one minute).
COLLECTION_DELAY = timedelta(hours=1, minutes=1)
_DUE_AFTER = timedelta(days=30)
_SUPPLIER = {"addresses": [{"country": "US"}], "name": "OpenMeter"}

FeatureOf = Callable[[str], tuple[str | None, str | None]]  # item id -> (feature key, feature id)
UsageOf = Callable[[str | None, str, Period], Decimal]  # feature key, customer id, period -> quantity


@dataclass(slots=True)
class Stamp:
    created: datetime
    updated: datetime
    deleted: datetime | None = None


def _is_deleted(obj: Invoice | InvoiceLine | Charge) -> bool:
    if isinstance(obj, Charge):
        return obj.status == ChargeStatus.DELETED
    return obj.deleted


class Ledger:
    """Timestamps and invoice numbers for the engine's objects (see the module docstring)."""

    def __init__(self) -> None:
        self._stamps: dict[str, Stamp] = {}
        self._seen: dict[str, object] = {}
        self._numbers: dict[str, str] = {}
        self._counters: dict[tuple[str, str], int] = {}

    def observe(self, state: EngineState, now: datetime, customer_keys: Callable[[str], str]) -> None:
        """Record what changed in ``state`` since the last call, at ``now``."""
        for customer_id, cust in state.customers.items():
            objects: Iterable[Invoice | InvoiceLine | Charge] = (
                *cust.invoices.values(),
                *cust.lines.values(),
                *cust.charges.values(),
            )
            for obj in objects:
                stamp = self._stamps.get(obj.id)
                deleted = _is_deleted(obj)
                if stamp is None:
                    self._stamps[obj.id] = Stamp(now, now, now if deleted else None)
                elif self._seen.get(obj.id) != obj:
                    stamp.updated = now
                    if deleted and stamp.deleted is None:
                        stamp.deleted = now
                    if not deleted:
                        stamp.deleted = None
                self._seen[obj.id] = obj
                if isinstance(obj, Invoice) and obj.id not in self._numbers:
                    self._numbers[obj.id] = self._number(obj, customer_keys(customer_id))

    def _number(self, invoice: Invoice, customer_key: str) -> str:
        prefix = re.sub(r"[^A-Z0-9]", "", customer_key.upper())[:4] or "CUST"
        kind = "GATHER" if invoice.is_gathering else "DRAFT"
        count = self._counters.get((invoice.customer_id, kind), 0) + 1
        self._counters[(invoice.customer_id, kind)] = count
        if invoice.is_gathering:
            return f"GATHER-{prefix}-{invoice.currency}-{count}"
        return f"DRAFT-{prefix}-{count}"

    def stamp(self, object_id: str, fallback: datetime) -> Stamp:
        return self._stamps.get(object_id) or Stamp(fallback, fallback)

    def number(self, invoice_id: str) -> str:
        return self._numbers.get(invoice_id, invoice_id)


def _t(value: datetime) -> str:
    return format_time(value)


def _period(period: Period) -> dict[str, str]:
    return {"from": _t(period.start), "to": _t(period.end)}


# ------------------------------------------------------------------------------ rating


def rate(price: Price, quantity: Decimal, currency: str) -> Decimal:
    """What a usage quantity costs at ``price`` (flat: its amount), rounded to the currency."""
    if price.is_flat:
        return round_money(price.amount, currency)
    if price.type is PriceType.UNIT:
        return round_money(quantity * price.amount, currency)
    if price.type is PriceType.TIERED and price.tiers:
        total = Decimal(0)
        if price.mode == "volume":
            tier = next((t for t in price.tiers if t.up_to is None or quantity <= t.up_to), price.tiers[-1])
            total = quantity * (tier.unit_amount or 0) + (tier.flat_amount or 0)
        else:  # graduated: each tier prices the units inside it; its flat price once it is reached
            lower = Decimal(0)
            for tier in price.tiers:
                if lower > 0 and quantity <= lower:
                    break
                top = quantity if tier.up_to is None else min(quantity, tier.up_to)
                in_tier = max(Decimal(0), top - lower)
                total += in_tier * (tier.unit_amount or 0)
                if in_tier > 0 or lower == 0:
                    total += tier.flat_amount or 0
                if tier.up_to is None:
                    break
                lower = tier.up_to
        return round_money(total, currency)
    return Decimal(0)


# ------------------------------------------------------------------------------ charges (v3)


def _zero_totals_v3() -> dict[str, str]:
    return {
        "amount": "0",
        "charges_total": "0",
        "credits_total": "0",
        "discounts_total": "0",
        "taxes_exclusive_total": "0",
        "taxes_inclusive_total": "0",
        "taxes_total": "0",
        "total": "0",
    }


def charge_v3(
    charge: Charge, stamp: Stamp, *, feature_key: str | None, feature_id: str | None, tax_code_id: str
) -> dict[str, Any]:
    """One charge as ``GET /api/v3/openmeter/customers/{id}/charges`` shows it (HEAD)."""
    body: dict[str, Any] = {}
    if charge.meta_status is ChargeStatus.ACTIVE:
        body["advance_after"] = _t(charge.invoice_at + COLLECTION_DELAY)
    if charge.type is ChargeType.FLAT_FEE:
        after = charge.amount_after_proration
        body["amount_after_proration"] = numeric(after if after is not None else Decimal(0))
    body.update(
        {
            "billing_period": _period(charge.billing_period),
            "created_at": _t(stamp.created),
            "currency": charge.currency,
            "customer": {"id": charge.customer_id},
        }
    )
    if stamp.deleted is not None and charge.status == ChargeStatus.DELETED:
        body["deleted_at"] = _t(stamp.deleted)
    if feature_id is not None:
        body["feature_id"] = feature_id
    if feature_key is not None:
        body["feature_key"] = feature_key
    body.update(
        {
            "full_service_period": _period(charge.full_service_period),
            "id": charge.id,
            "invoice_at": _t(charge.invoice_at),
            "labels": {},
            "lifecycle_controller": "system",
            "name": charge.name,
        }
    )
    if charge.type is ChargeType.FLAT_FEE:
        body["payment_term"] = charge.payment_term.value
    body["price"] = price_v3(charge.price)
    if charge.type is ChargeType.FLAT_FEE:
        body["proration_configuration"] = {"mode": "prorate_prices" if charge.pro_rating else "no_prorate"}
    ref = charge.subscription
    body.update(
        {
            "service_period": _period(charge.service_period),
            "settlement_mode": charge.settlement_mode.value,
            "status": charge.meta_status.value,  # the v3 API shows the meta status only
            "subscription": {
                "id": ref.subscription_id,
                "phase": {"id": ref.phase_id, "item": {"id": ref.item_id}},
            },
            "tax_config": {"tax_code": {"id": tax_code_id}, "tax_code_id": tax_code_id},
        }
    )
    if charge.type is ChargeType.USAGE_BASED:
        body["totals"] = {"booked": _zero_totals_v3()}
    body.update(
        {
            "type": charge.type.value,
            "unique_reference_id": charge.unique_reference_id,
            "updated_at": _t(stamp.updated),
        }
    )
    return body


# ------------------------------------------------------------------------------ invoices (v1)


def _totals_v1(total: Decimal) -> dict[str, str]:
    amount = numeric(total)
    return {
        "amount": amount,
        "chargesTotal": "0",
        "creditsTotal": "0",
        "discountsTotal": "0",
        "taxesExclusiveTotal": "0",
        "taxesInclusiveTotal": "0",
        "taxesTotal": "0",
        "total": amount,
    }


@dataclass(frozen=True, slots=True)
class _Rated:
    quantity: Decimal
    total: Decimal


def _rated(line: InvoiceLine, invoice: Invoice, customer_id: str, feature_key: str | None, usage: UsageOf) -> _Rated:
    if invoice.is_gathering:
        return _Rated(Decimal(1) if line.price.is_flat else Decimal(0), Decimal(0))
    if line.price.is_flat:
        amount = line_amount(line.price, line.amount) or Decimal(0)
        return _Rated(Decimal(1), round_money(amount, line.currency))
    quantity = usage(feature_key, customer_id, line.service_period)
    return _Rated(quantity, rate(line.price, quantity, line.currency))


def _line_v1(
    line: InvoiceLine,
    invoice: Invoice,
    ledger: Ledger,
    now: datetime,
    *,
    customer_id: str,
    feature_of: FeatureOf,
    usage: UsageOf,
    tax_code_id: str,
) -> tuple[dict[str, Any], Decimal]:
    stamp = ledger.stamp(line.id, now)
    ref = line.subscription
    feature_key = feature_of(ref.item_id)[0] if ref is not None else None
    rated = _rated(line, invoice, customer_id, feature_key, usage)
    flat = line.price.is_flat
    amount = line_amount(line.price, line.amount)
    shown_price = (
        price_v1(Price(PriceType.FLAT, amount or Decimal(0), line.price.payment_term)) if flat else price_v1(line.price)
    )
    tax = {"taxCodeId": tax_code_id}
    body: dict[str, Any] = {"children": [], "createdAt": _t(stamp.created), "currency": line.currency}
    if line.deleted and stamp.deleted is not None:
        body["deletedAt"] = _t(stamp.deleted)
    if feature_key is not None:
        body["featureKey"] = feature_key
    body.update(
        {
            "id": line.id,
            "invoice": {"id": line.invoice_id},
            "invoiceAt": _t(line.invoice_at),
            "managedBy": line.managed_by,
            "name": line.name,
            "period": _period(line.service_period),
        }
    )
    if flat:
        body["paymentTerm"] = line.price.payment_term.value
        body["perUnitAmount"] = numeric(amount or Decimal(0))
    rate_card: dict[str, Any] = {}
    if feature_key is not None:
        rate_card["featureKey"] = feature_key
    rate_card.update({"price": shown_price, "taxConfig": tax})
    body.update({"price": shown_price, "quantity": numeric(rated.quantity), "rateCard": rate_card, "status": "valid"})
    if ref is not None:
        sub: dict[str, Any] = {}
        if ref.billing_period is not None:
            sub["billingPeriod"] = _period(ref.billing_period)
        # upstream's v1 mapping writes these two ids the wrong way round
        sub.update(
            {
                "item": {"id": ref.subscription_id},
                "phase": {"id": ref.phase_id},
                "subscription": {"id": ref.item_id},
            }
        )
        body["subscription"] = sub
    body.update(
        {
            "taxConfig": tax,
            "totals": _totals_v1(rated.total),
            "type": "flat_fee" if flat else "usage_based",
            "updatedAt": _t(stamp.updated),
        }
    )
    return body, rated.total


def invoice_v1(
    invoice: Invoice,
    cust: CustomerState,
    customer: Customer | None,
    ledger: Ledger,
    now: datetime,
    *,
    with_lines: bool,
    include_deleted_lines: bool,
    feature_of: FeatureOf,
    usage: UsageOf,
    tax_code_id: str,
    workflow: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One invoice as ``GET /api/v1/billing/invoices`` shows it (lines when ``with_lines``;
    ``workflow``: the v1 invoice workflow snapshot of the customer's billing profile)."""
    stamp = ledger.stamp(invoice.id, now)
    all_lines = sorted(
        (ln for ln in cust.lines.values() if ln.invoice_id == invoice.id),
        key=lambda ln: (ln.service_period.start, ln.id),
    )
    live = [ln for ln in all_lines if not ln.deleted]
    shown = all_lines if include_deleted_lines else live
    rendered: list[dict[str, Any]] = []
    total = Decimal(0)
    for line in shown:
        body, line_total = _line_v1(
            line,
            invoice,
            ledger,
            now,
            customer_id=invoice.customer_id,
            feature_of=feature_of,
            usage=usage,
            tax_code_id=tax_code_id,
        )
        rendered.append(body)
        if not line.deleted:
            total += line_total
    basis = live or all_lines
    out: dict[str, Any] = {}
    if basis:
        last_invoice_at = max(ln.invoice_at for ln in basis)
        out["collectionAt"] = _t(last_invoice_at + COLLECTION_DELAY)
    out.update({"createdAt": _t(stamp.created), "currency": invoice.currency})
    if customer is not None:
        out["customer"] = customer.v1_ref()
    if invoice.deleted and stamp.deleted is not None:
        out["deletedAt"] = _t(stamp.deleted)
    if not invoice.is_gathering and basis:
        due_base = max(ln.invoice_at for ln in basis) + COLLECTION_DELAY
        out["draftUntil"] = _t(due_base)
        out["dueAt"] = _t(due_base + _DUE_AFTER)
    out["id"] = invoice.id
    if with_lines:
        out["lines"] = rendered
    out["number"] = ledger.number(invoice.id)
    if basis:
        out["period"] = _period(
            Period(min(ln.service_period.start for ln in basis), max(ln.service_period.end for ln in basis))
        )
    if invoice.is_gathering:
        details: dict[str, Any] = {
            "availableActions": {"invoice": {}},
            "extendedStatus": "gathering",
            "failed": False,
            "immutable": False,
        }
    else:
        details = {
            "availableActions": {
                "delete": {"resultingState": "deleted"},
                "snapshotQuantities": {"resultingState": "draft.waiting_auto_approval"},
            },
            "extendedStatus": f"{invoice.status}.waiting_for_collection"
            if invoice.status == "draft"
            else invoice.status,
            "failed": False,
            "immutable": invoice.immutable,
        }
    if invoice.is_gathering and not invoice.deleted:
        out["quantitySnapshotedAt"] = _t(now)
    out.update(
        {
            "status": invoice.status,
            "statusDetails": details,
            "supplier": dict(_SUPPLIER),
            "totals": _totals_v1(Decimal(0) if invoice.is_gathering else total),
            "type": "standard",
            "updatedAt": _t(stamp.updated),
        }
    )
    if workflow is not None:
        out["workflow"] = dict(workflow)
    return out
