"""Routes of a customer's credits: grants (create, list) and the balance.

Every route answers 501 when credits are disabled (``credits.enabled: false``), as OpenMeter does.
"""

from __future__ import annotations

from decimal import Decimal

import httpx

from contract.model.time import format_time
from contract.offline.catalog import parse_grant
from contract.offline.ids import Kind
from contract.offline.paging import v3_page
from contract.offline.prices import numeric
from contract.offline.problems import ApiError, json_body
from contract.offline.routing import V3, Reply, Router
from contract.offline.state import OfflineState

__all__ = ["ROUTER"]

ROUTER = Router("credits")


def _require_credits(s: OfflineState) -> None:
    if not s.settings.config.credits_enabled:
        raise ApiError(501, "credits are not enabled on this OpenMeter (credits.enabled: false)")


@ROUTER.post(f"{V3}/customers/{{cid}}/credits/grants")
def create_grant(s: OfflineState, request: httpx.Request, cid: str) -> Reply:
    _require_credits(s)
    s.store.customer(cid)
    grant = parse_grant(json_body(request), new_id=s.ids.new(Kind.GRANT), customer_id=cid, now=s.now())
    grants = s.store.grants
    if grant.key is not None and any(g.customer_id == cid and g.key == grant.key for g in grants.values()):
        raise ApiError(409, f"credit grant with key {grant.key} already exists for customer {cid}")
    grants[grant.id] = grant
    return 201, grant.v3(s.tax_code_id)


@ROUTER.get(f"{V3}/customers/{{cid}}/credits/grants")
def list_grants(s: OfflineState, request: httpx.Request, cid: str) -> Reply:
    _require_credits(s)
    s.store.customer(cid)
    rows = [g.v3(s.tax_code_id) for g in s.store.grants.values() if g.customer_id == cid]
    return 200, v3_page(request, rows, default_size=20)


@ROUTER.get(f"{V3}/customers/{{cid}}/credits/balance")
def balance(s: OfflineState, request: httpx.Request, cid: str) -> Reply:
    """HEAD shape; nothing is booked against credits before collection, so live = settled = granted."""
    _require_credits(s)
    customer = s.store.customer(cid)
    totals: dict[str, Decimal] = {}
    if customer.currency is not None:
        totals[customer.currency] = Decimal(0)
    for grant in s.store.grants.values():
        if grant.customer_id == cid:
            totals[grant.currency] = totals.get(grant.currency, Decimal(0)) + grant.amount
    balances = [
        {"currency": cur, "live": numeric(amount), "pending": "0", "settled": numeric(amount)}
        for cur, amount in totals.items()
    ]
    return 200, {"balances": balances, "retrieved_at": format_time(s.now())}
