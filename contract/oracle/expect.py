"""Parse an oracle ``expect:`` block into a :class:`~contract.compare.expectation.Expectation`.

The format is shared/oracle/FORMAT.md (including its extensions). :func:`parse_expect` reads a
:class:`~contract.yamlread.located.Located` tree (exact lines); :func:`expectation_from_data` reads
already-loaded plain data (errors name the block's line). The scenario format reuses the block:
its loader parses it with :func:`parse_expect` at load (:mod:`contract.scenario.expect_reader`).
"""

from __future__ import annotations

from typing import Any

from contract.compare.expectation import (
    Expectation,
    ExpectedInvoiced,
    ExpectedItem,
    ExpectedMirror,
    ExpectedSyncState,
    Partial,
)
from contract.model.domain import Backend
from contract.yamlread import Located, from_data

EXPECT_KEYS = (
    "items",
    "partial",
    "absent",
    "deleted_charges",
    "no_gathering_invoice",
    "sync_state",
    "invoiced",
    "operations",
    "error",
)
ITEM_KEYS = (
    "id",
    "backend",
    "service_period",
    "full_service_period",
    "billing_period",
    "invoice_at",
    "amount",
    "amount_before_proration",
    "mirror",
    "status",
    "kept",
    "group_service_period",
)
MIRROR_KEYS = ("service_period", "billing_period", "invoice_at", "amount")
INVOICED_KEYS = ("id", "service_period", "invoice_at", "amount")
OPERATION_KEYS = ("create", "delete", "shrink", "extend", "prorate")


def _backend(node: Located) -> Backend:
    text = node.text()
    try:
        return Backend(text)
    except ValueError:
        raise node.error(f"unknown backend {text!r} (line or charge)") from None


def _mirror(node: Located) -> ExpectedMirror:
    if isinstance(node.value, bool):
        return ExpectedMirror(present=node.value)
    fields = node.mapping(MIRROR_KEYS)
    return ExpectedMirror(
        present=True,
        service_period=fields["service_period"].period() if "service_period" in fields else None,
        billing_period=fields["billing_period"].period() if "billing_period" in fields else None,
        invoice_at=fields["invoice_at"].time() if "invoice_at" in fields else None,
        amount=fields["amount"].decimal() if "amount" in fields else None,
    )


def parse_item(node: Located) -> ExpectedItem:
    """One expected artifact (a mapping with ``id``; a bare string is just the id)."""
    if isinstance(node.value, str):
        return ExpectedItem(id=node.text(), line=node.line)
    f = node.mapping(ITEM_KEYS, required=("id",))
    status = f["status"].text() if "status" in f else None
    return ExpectedItem(
        id=f["id"].text(),
        backend=_backend(f["backend"]) if "backend" in f else None,
        service_period=f["service_period"].period() if "service_period" in f else None,
        full_service_period=f["full_service_period"].period() if "full_service_period" in f else None,
        billing_period=f["billing_period"].period() if "billing_period" in f else None,
        invoice_at=f["invoice_at"].time() if "invoice_at" in f else None,
        amount=f["amount"].decimal() if "amount" in f else None,
        amount_before_proration=f["amount_before_proration"].decimal() if "amount_before_proration" in f else None,
        status=status,
        mirror=_mirror(f["mirror"]) if "mirror" in f else None,
        kept=f["kept"].boolean() if "kept" in f else None,
        group_service_period=f["group_service_period"].period() if "group_service_period" in f else None,
        line=node.line,
    )


def _items(node: Located) -> tuple[ExpectedItem, ...]:
    if node.is_null:
        return ()
    items = tuple(parse_item(n) for n in node.seq())
    seen: set[str] = set()
    for n, item in zip(node.seq(), items, strict=True):
        if item.id in seen:
            raise n.error(f"id {item.id!r} is listed twice")
        seen.add(item.id)
    return items


def _partial(node: Located) -> Partial:
    if isinstance(node.value, bool):
        return Partial.ALL if node.value else Partial.NONE
    if node.value == "lines":
        return Partial.LINES
    raise node.error('expected true, false or "lines"')


def _sync_state(node: Located) -> ExpectedSyncState:
    f = node.mapping(("has_billables", "next_sync_after"))
    check = "next_sync_after" in f
    return ExpectedSyncState(
        has_billables=f["has_billables"].boolean() if "has_billables" in f else None,
        next_sync_after=None if not check or f["next_sync_after"].is_null else f["next_sync_after"].time(),
        check_next_sync_after=check,
    )


def _invoiced(node: Located) -> tuple[ExpectedInvoiced, ...]:
    if node.is_null:
        return ()
    out = []
    for n in node.seq():
        f = n.mapping(INVOICED_KEYS, required=("id",))
        out.append(
            ExpectedInvoiced(
                id=f["id"].text(),
                service_period=f["service_period"].period() if "service_period" in f else None,
                invoice_at=f["invoice_at"].time() if "invoice_at" in f else None,
                amount=f["amount"].decimal() if "amount" in f else None,
            )
        )
    return tuple(out)


def _operations(node: Located) -> dict[str, int]:
    f = node.mapping(OPERATION_KEYS)
    out: dict[str, int] = {}
    for key, value in f.items():
        count = value.integer()
        if count < 0:
            raise value.error("must not be negative")
        out[key] = count
    return out


def parse_expect(node: Located) -> Expectation:
    """The :class:`Expectation` an ``expect:`` block describes."""
    f = node.mapping(EXPECT_KEYS)
    absent: tuple[str, ...] = ()
    if "absent" in f and not f["absent"].is_null:
        absent = tuple(n.text() for n in f["absent"].seq())
    error: str | None = None
    if "error" in f and not f["error"].is_null:
        error = f["error"].text()
    return Expectation(
        items=_items(f["items"]) if "items" in f else (),
        partial=_partial(f["partial"]) if "partial" in f else Partial.NONE,
        absent=absent,
        deleted_charges=_items(f["deleted_charges"]) if "deleted_charges" in f else (),
        no_gathering_invoice=f["no_gathering_invoice"].boolean() if "no_gathering_invoice" in f else None,
        sync_state=_sync_state(f["sync_state"]) if "sync_state" in f else None,
        invoiced=_invoiced(f["invoiced"]) if "invoiced" in f else None,
        operations=_operations(f["operations"]) if "operations" in f else None,
        error=error,
    )


def expectation_from_data(data: Any, *, file: str, line: int, field: str = "expect") -> Expectation:
    """Parse a plain-data ``expect`` block (from ``yaml.safe_load``); errors name ``file:line``."""
    return parse_expect(from_data(data, file=file, line=line, path=field))


__all__ = ["EXPECT_KEYS", "ITEM_KEYS", "expectation_from_data", "parse_expect", "parse_item"]
