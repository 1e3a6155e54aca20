"""Routes of customers: create, get, and the customer's billing profile (get and put)."""

from __future__ import annotations

from dataclasses import replace

import httpx

from contract.offline.catalog import parse_customer
from contract.offline.ids import Kind
from contract.offline.problems import ApiError, Fields, json_body
from contract.offline.routing import V3, Reply, Router
from contract.offline.state import OfflineState

__all__ = ["ROUTER"]

ROUTER = Router("customers")


@ROUTER.post(f"{V3}/customers")
def create_customer(s: OfflineState, request: httpx.Request) -> Reply:
    customer = parse_customer(json_body(request), new_id=s.ids.new(Kind.CUSTOMER), now=s.now())
    for other in s.store.customers.values():
        if other.key == customer.key:
            raise ApiError(409, f"customer with key {customer.key} already exists")
        taken = set(other.subject_keys) & set(customer.subject_keys)
        if taken:
            raise ApiError(409, f"subject key {sorted(taken)[0]} is already used by customer {other.id}")
    s.store.customers[customer.id] = customer
    return 201, customer.v3()


@ROUTER.get(f"{V3}/customers/{{cid}}")
def get_customer(s: OfflineState, request: httpx.Request, cid: str) -> Reply:
    return 200, s.store.customer(cid).v3()


@ROUTER.get(f"{V3}/customers/{{cid}}/billing")
def get_customer_billing(s: OfflineState, request: httpx.Request, cid: str) -> Reply:
    customer = s.store.customer(cid)
    profile_id = customer.profile_id or s.store.default_profile().id
    return 200, {"billing_profile": {"id": profile_id}, "app_data": {}}


@ROUTER.put(f"{V3}/customers/{{cid}}/billing")
def put_customer_billing(s: OfflineState, request: httpx.Request, cid: str) -> Reply:
    customer = s.store.customer(cid)
    f = Fields(json_body(request), allowed=("billing_profile", "app_data"))
    ref = f.opt_obj("billing_profile", allowed=("id",))
    profile_id = ref.req_str("id") if ref is not None else None
    if profile_id is not None and profile_id not in s.store.profiles:
        raise ApiError.bad_field("billing_profile.id", f"billing profile {profile_id} not found")
    s.store.customers[cid] = replace(customer, profile_id=profile_id)
    return 200, {"billing_profile": {"id": profile_id or s.store.default_profile().id}, "app_data": {}}
