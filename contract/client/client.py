"""``OpenMeterClient``: the typed, synchronous httpx client for OpenMeter's v1 and v3 APIs.

The client absorbs every v1/v3 and build difference the suite meets, so callers never see them:
camelCase vs snake_case, two pagination styles (walked to the end, bounded), 204 vs 202 on
ingest, the swapped subscription/item ids of v1 invoice lines, gathering invoices (v1 only),
charges (v3 only), and the #4412-window build's missing v3 ``settlement_mode`` (it falls back to
v1, remembers the capability, and says which path it took).

Calls have timeouts, each one deadline for the whole exchange (a server that drips its answer
byte by byte is cut off like one that says nothing). Only GETs are retried (small bounded
backoff), plus any request whose connection failed before it was sent; a POST/PATCH/PUT the
server may have seen is never repeated, and nothing is repeated after a server used up the
whole deadline. Every exchange can be recorded (:class:`~contract.client.recording.Recorder`) and
validated against the OpenAPI documents (:class:`~contract.client.validation.ResponseValidator`);
each call's schema findings are on its :class:`~contract.client.core.Reply`, and
:meth:`~contract.client.core.ClientCore.collect_findings` gathers those of a block of calls.
Retries, recording, listeners and validation are httpx transports
(:mod:`contract.client.transports`). The API key is sent as a bearer token when set and masked
everywhere.

The calls live in three rooms: :mod:`~contract.client.core` (configuration, ``request``,
pagination), :mod:`~contract.client.subscriptions` (plans, subscriptions),
:mod:`~contract.client.billing` (credits, usage, invoices, charges); this module adds the server,
meters, features, customers and billing profiles.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from contract.client.billing import CHARGE_STATUSES_ALL, BillingCalls
from contract.client.core import PROBE_TIMEOUT_S, V3, Capabilities, Reply
from contract.client.errors import OpenMeterError, OpenMeterProblem, OpenMeterResponseError
from contract.client.models import BillingProfile, Customer, Feature, Meter, ServerVersion
from contract.client.subscriptions import SubscriptionCalls
from contract.model.time import format_time, require_utc
from contract.wire import read as p


class OpenMeterClient(SubscriptionCalls, BillingCalls):
    """Typed OpenMeter client. Use as a context manager, or call :meth:`close`."""

    # -- server ------------------------------------------------------------------------------

    def version(self) -> ServerVersion:
        """``GET /version`` (a build from source says ``"unknown"``)."""
        body = self._get("/version")
        return self._parsed("version", "GET", "/version", lambda: ServerVersion.from_api(body))

    def openapi_document(self, api: Literal["v1", "v3"]) -> dict[str, Any] | None:
        """The OpenAPI document the server serves (v1 ``/api/swagger.json``, v3 ``/api/v3/openapi.json``).

        None when the server does not serve it (404). The body is not recorded (it is ~1 MB).
        """
        path = "/api/swagger.json" if api == "v1" else "/api/v3/openapi.json"
        try:
            reply = self.request(
                "GET", path, record_response=False, validate=False, timeout=min(self.timeout, PROBE_TIMEOUT_S)
            )
        except OpenMeterProblem as err:
            if err.status in (404, 405):
                return None
            raise
        return reply.body if isinstance(reply.body, dict) else None

    # -- meters and features -------------------------------------------------------------------

    def create_meter(
        self, key: str, name: str, event_type: str, aggregation: str = "sum", value_property: str | None = "$.value"
    ) -> Meter:
        """v3 ``POST /meters``; ``value_property`` is omitted for ``count``."""
        body: dict[str, Any] = {"key": key, "name": name, "aggregation": aggregation.lower(), "event_type": event_type}
        if value_property is not None and aggregation.lower() != "count":
            body["value_property"] = value_property
        return self._post_parsed("meter", f"{V3}/meters", Meter.from_v3, body)

    def query_meter(
        self, meter_id: str, *, from_time: datetime | None = None, to_time: datetime | None = None
    ) -> Decimal | None:
        """v3 ``POST /meters/{id}/query``: the total over all rows; None when there is no row yet."""
        body: dict[str, Any] = {}
        if from_time is not None:
            body["from"] = format_time(require_utc(from_time, "from_time"))
        if to_time is not None:
            body["to"] = format_time(require_utc(to_time, "to_time"))
        path = f"{V3}/meters/{meter_id}/query"
        reply = self._post(path, body)

        def total() -> Decimal | None:
            rows = p.items(p.obj(reply), "data")
            if not rows:
                return None
            return sum(
                (
                    p.to_decimal(p.obj(r, f"data[{i}]").get("value", "0"), f"data[{i}].value")
                    for i, r in enumerate(rows)
                ),
                Decimal(0),
            )

        return self._parsed("meter query", "POST", path, total)

    def create_feature(self, key: str, name: str, meter_id: str) -> Feature:
        path = f"{V3}/features"
        reply = self._post(path, {"key": key, "name": name, "meter": {"id": meter_id}})
        return self._parsed("feature", "POST", path, lambda: Feature.from_v3(reply))

    # -- customers and billing profiles --------------------------------------------------------

    def create_customer(
        self, key: str, name: str, currency: str | None = None, subject_keys: Sequence[str] = ()
    ) -> Customer:
        body: dict[str, Any] = {"key": key, "name": name}
        if currency is not None:
            body["currency"] = currency
        if subject_keys:
            body["usage_attribution"] = {"subject_keys": list(subject_keys)}
        return self._post_parsed("customer", f"{V3}/customers", Customer.from_v3, body)

    def list_profiles(self) -> list[BillingProfile]:
        path = f"{V3}/profiles"
        rows = self._v3_pages(path, [])
        return [self._parsed("profile", "GET", path, functools.partial(BillingProfile.from_v3, r)) for r in rows]

    def default_profile(self) -> BillingProfile:
        """The profile marked ``default`` (the API server provisions ``openmeter-sandbox``)."""
        for profile in self.list_profiles():
            if profile.is_default:
                return profile
        raise OpenMeterResponseError(
            f"GET {V3}/profiles: no billing profile is marked default", method="GET", path=f"{V3}/profiles"
        )

    def create_profile_from_default(
        self,
        name: str,
        *,
        progressive_billing: bool | None = None,
        auto_advance: bool | None = None,
        end_proration: str | None = None,
    ) -> BillingProfile:
        """Clone the default profile (apps, supplier without its id, workflow) with edits; not default."""
        base = self.default_profile()
        raw = dict(base.raw or {})
        supplier = dict(raw.get("supplier") or {})
        supplier.pop("id", None)
        workflow = json.loads(json.dumps(raw.get("workflow") or {}))
        invoicing = workflow.setdefault("invoicing", {})
        if progressive_billing is not None:
            invoicing["progressive_billing"] = progressive_billing
        if auto_advance is not None:
            invoicing["auto_advance"] = auto_advance
        if end_proration is not None:
            invoicing["subscription_end_proration_mode"] = end_proration
        apps: dict[str, Any] = {}
        for role, ref in (raw.get("apps") or {}).items():
            apps[role] = {"id": ref["id"]} if isinstance(ref, Mapping) and "id" in ref else ref
        body = {"name": name, "supplier": supplier, "workflow": workflow, "apps": apps, "default": False}
        return self._post_parsed("profile", f"{V3}/profiles", BillingProfile.from_v3, body)

    def set_customer_profile(self, customer_id: str, profile_id: str) -> None:
        """Pin the customer to a billing profile (v3 ``PUT /customers/{id}/billing``)."""
        self.request("PUT", f"{V3}/customers/{customer_id}/billing", json_body={"billing_profile": {"id": profile_id}})


__all__ = ["CHARGE_STATUSES_ALL", "Capabilities", "OpenMeterClient", "OpenMeterError", "Reply"]
