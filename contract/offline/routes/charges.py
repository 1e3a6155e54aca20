"""Route of a customer's charges (v3): list, filtered by status and sorted, one page at a time.

A read of charges is a read the billing worker counts (:meth:`~contract.offline.sync.
BillingWorker.note_read`): it may first handle the subscription events it makes due.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from contract.model.persisted import ChargeStatus
from contract.offline.billing import charge_v3
from contract.offline.paging import v3_page
from contract.offline.problems import ApiError
from contract.offline.routing import V3, Reply, Router
from contract.offline.state import OfflineState

__all__ = ["ROUTER"]

ROUTER = Router("charges")

_CHARGE_STATUSES = tuple(s.value for s in ChargeStatus)


def _statuses(params: httpx.QueryParams) -> set[str]:
    raw = params.get("filter[status][oeq]") or params.get("filter[status][eq]") or params.get("filter[status]")
    if not raw:
        return {s for s in _CHARGE_STATUSES if s != ChargeStatus.DELETED.value}
    wanted = {s.strip() for s in raw.split(",") if s.strip()}
    unknown = sorted(wanted - set(_CHARGE_STATUSES))
    if unknown:
        raise ApiError.bad_field(
            "filter[status]",
            f"unknown charge status {unknown[0]!r} (one of {', '.join(_CHARGE_STATUSES)})",
            "enum",
        )
    return wanted


@ROUTER.get(f"{V3}/customers/{{cid}}/charges")
def list_charges(s: OfflineState, request: httpx.Request, cid: str) -> Reply:
    s.store.customer(cid)
    s.worker.note_read()
    params = request.url.params
    wanted = _statuses(params)
    ledger = s.worker.ledger
    charges = [c for c in s.worker.state.customer(cid).charges.values() if c.meta_status.value in wanted]
    sort = params.get("sort")
    if sort:
        field, _, direction = sort.partition(" ")
        keys: dict[str, Callable[[Any], Any]] = {
            "service_period.from": lambda c: (c.service_period.start, c.id),
            "invoice_at": lambda c: (c.invoice_at, c.id),
            "created_at": lambda c: (ledger.stamp(c.id, s.now()).created, c.id),
            "id": lambda c: c.id,
        }
        if field not in keys or direction not in ("", "asc", "desc"):
            raise ApiError.bad_field(
                "sort",
                f"cannot sort by {sort!r} (one of {', '.join(keys)}, optionally followed by ' desc')",
                "enum",
            )
        charges.sort(key=keys[field], reverse=direction == "desc")
    rows = []
    for charge in charges:
        feature_key, feature_id = s.store.feature_of_item(charge.subscription.item_id)
        rows.append(
            charge_v3(
                charge,
                ledger.stamp(charge.id, s.now()),
                feature_key=feature_key,
                feature_id=feature_id,
                tax_code_id=s.tax_code_id,
            )
        )
    return 200, v3_page(request, rows, default_size=20)
