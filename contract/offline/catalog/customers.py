"""Customers, billing profiles and credit grants of the offline OpenMeter: each a frozen value,
parsed strictly from the request body it is created with and rendered the way the live server
answers (shared/openmeter/recorded/head-4412.jsonl; public-api.md §2, §7).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from contract.model.domain import EndProrationMode, SyncConfig
from contract.offline.catalog.common import EMPTY, RESOURCE_FIELDS, currency_code, plain, resource, timestamp
from contract.offline.prices import numeric
from contract.offline.problems import ApiError, Fields
from contract.wire.shape import camel_keys

__all__ = [
    "Customer",
    "Grant",
    "Profile",
    "default_profile",
    "invoice_workflow_v1",
    "parse_customer",
    "parse_grant",
    "parse_profile",
]

_MAX_EXTERNAL_KEY = 256


# ------------------------------------------------------------------------------ customers, profiles


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    key: str
    name: str
    currency: str | None
    subject_keys: tuple[str, ...]
    created_at: datetime
    profile_id: str | None = None  # a pinned billing profile; None: the default profile

    def usage_subjects(self) -> frozenset[str]:
        """Event subjects attributed to this customer: its key and its subject keys."""
        return frozenset((self.key, *self.subject_keys))

    def v3(self) -> dict[str, Any]:
        body = resource("v3", id=self.id, key=self.key, name=self.name, created_at=self.created_at)
        body["usage_attribution"] = {"subject_keys": list(self.subject_keys)}
        if self.currency is not None:
            body["currency"] = self.currency
        return body

    def v1_ref(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "usageAttribution": {"subjectKeys": list(self.subject_keys)},
        }


def parse_customer(body: Any, *, new_id: str, now: datetime) -> Customer:
    allowed = (*RESOURCE_FIELDS, "key", "usage_attribution", "primary_email", "currency", "billing_address")
    f = Fields(body, allowed=allowed)
    key = f.req_str("key")
    if not key.strip() or len(key) > _MAX_EXTERNAL_KEY:
        raise ApiError.bad_field(f.at("key"), f"must be 1 to {_MAX_EXTERNAL_KEY} characters", "maxLength")
    attribution = f.opt_obj("usage_attribution", allowed=("subject_keys",))
    subjects: list[str] = []
    if attribution is not None:
        for i, raw in enumerate(attribution.items("subject_keys")):
            if not isinstance(raw, str) or not raw:
                raise ApiError.bad_field(
                    f"{attribution.at('subject_keys')}[{i}]", "expected a non-empty string", "type"
                )
            subjects.append(raw)
    return Customer(new_id, key, f.req_str("name"), currency_code(f, "currency"), tuple(subjects), now)


@dataclass(frozen=True, slots=True)
class Profile:
    """A billing profile; ``workflow``/``supplier``/``apps`` are kept as the v3 JSON objects."""

    id: str
    name: str
    default: bool
    supplier: Mapping[str, Any] = field(hash=False)
    workflow: Mapping[str, Any] = field(hash=False)
    apps: Mapping[str, Any] = field(hash=False)
    created_at: datetime

    def invoicing(self) -> Mapping[str, Any]:
        value = self.workflow.get("invoicing")
        return value if isinstance(value, Mapping) else EMPTY

    def sync_config(self, base: SyncConfig) -> SyncConfig:
        """``base`` with this profile's progressive billing and subscription-end proration."""
        invoicing = self.invoicing()
        progressive = invoicing.get("progressive_billing")
        mode = invoicing.get("subscription_end_proration_mode")
        end = base.end_proration
        if isinstance(mode, str):
            try:
                end = EndProrationMode(mode)
            except ValueError:
                end = base.end_proration
        return SyncConfig(
            credits_enabled=base.credits_enabled,
            credit_then_invoice=base.credit_then_invoice,
            namespace_credits_gate=base.namespace_credits_gate,
            end_proration=end,
            progressive_billing=progressive if isinstance(progressive, bool) else base.progressive_billing,
            auto_advance=base.auto_advance,
        )

    def v3(self) -> dict[str, Any]:
        body = resource("v3", id=self.id, name=self.name, created_at=self.created_at)
        body.update(apps=dict(self.apps), default=self.default, supplier=dict(self.supplier))
        body["workflow"] = plain(self.workflow)
        return body


_SANDBOX_LISTING = {
    "capabilities": [
        {
            "description": "Process payments",
            "key": "sandbox_collect_payment",
            "name": "Payment",
            "type": "collectPayments",
        },
        {
            "description": "Calculate tax for a payment",
            "key": "sandbox_calculate_tax",
            "name": "Calculate Tax",
            "type": "calculateTax",
        },
        {
            "description": "Invoice a customer",
            "key": "sandbox_invoice_customer",
            "name": "Invoice Customer",
            "type": "invoiceCustomers",
        },
    ],
    "description": "Sandbox can be used to test OpenMeter without external connections.",
    "installMethods": ["no_credentials_required"],
    "name": "Sandbox",
    "type": "sandbox",
}


def invoice_workflow_v1(profile: Profile, app_created_at: datetime) -> dict[str, Any]:
    """The ``workflow`` snapshot a v1 invoice carries: the profile's apps (the sandbox app) and settings."""
    apps: dict[str, Any] = {}
    for role, ref in profile.apps.items():
        app_id = ref.get("id") if isinstance(ref, Mapping) else None
        apps[role] = {
            "createdAt": timestamp(app_created_at),
            "id": app_id,
            "listing": plain(_SANDBOX_LISTING),
            "name": "Sandbox",
            "status": "ready",
            "type": "sandbox",
            "updatedAt": timestamp(app_created_at),
        }
    settings = camel_keys(profile.workflow)
    invoicing = settings.setdefault("invoicing", {})
    if isinstance(invoicing, dict):
        invoicing.setdefault("dueAfter", "P30D")
    return {"apps": apps, "sourceBillingProfileId": profile.id, "workflow": settings}


def default_profile(config: SyncConfig, *, profile_id: str, app_id: str, supplier_id: str, now: datetime) -> Profile:
    """The auto-provisioned ``openmeter-sandbox`` profile; its invoicing settings are ``config``'s."""
    workflow = {
        "collection": {"alignment": {"type": "subscription"}, "interval": "PT1H"},
        "invoicing": {
            "auto_advance": True,
            "draft_period": "P0D",
            "progressive_billing": config.progressive_billing,
            "subscription_end_proration_mode": config.end_proration.value,
        },
        "payment": {"collection_method": "charge_automatically"},
        "tax": {"enabled": True, "enforced": False},
    }
    app = {"id": app_id}
    return Profile(
        profile_id,
        "openmeter-sandbox",
        True,
        {"id": supplier_id, "name": "OpenMeter", "addresses": [{"country": "US"}]},
        workflow,
        {"tax": app, "invoicing": app, "payment": app},
        now,
    )


_PROGRESSIVE_MODES = tuple(m.value for m in EndProrationMode)


def parse_profile(body: Any, *, new_id: str, now: datetime, known_apps: Sequence[str]) -> Profile:
    f = Fields(body, allowed=(*RESOURCE_FIELDS, "supplier", "workflow", "apps", "default"))
    name = f.req_str("name")
    default = f.opt_bool("default")
    if default is None:
        raise ApiError.bad_field(f.at("default"), "required", "required")
    supplier = f.obj("supplier", allowed=("id", "key", "name", "tax_id", "addresses"))
    if supplier.has("id"):
        raise ApiError.bad_field(supplier.at("id"), "read-only property", "readOnly")
    workflow = f.obj("workflow", allowed=("collection", "invoicing", "payment", "tax"))
    invoicing = workflow.opt_obj(
        "invoicing",
        allowed=(
            "auto_advance",
            "draft_period",
            "progressive_billing",
            "subscription_end_proration_mode",
            "due_after",
        ),
    )
    if invoicing is not None:
        invoicing.opt_bool("progressive_billing")
        invoicing.opt_bool("auto_advance")
        mode = invoicing.opt_str("subscription_end_proration_mode")
        if mode is not None and mode not in _PROGRESSIVE_MODES:
            raise ApiError.bad_field(
                invoicing.at("subscription_end_proration_mode"),
                f"must be one of {', '.join(_PROGRESSIVE_MODES)}",
                "enum",
            )
    apps = f.obj("apps", allowed=("tax", "invoicing", "payment"))
    refs: dict[str, Any] = {}
    for role in ("tax", "invoicing", "payment"):
        app_id = apps.obj(role, allowed=("id",)).req_str("id")
        if app_id not in known_apps:
            raise ApiError.bad_field(apps.at(role), f"app {app_id} not found", "format")
        refs[role] = {"id": app_id}
    return Profile(new_id, name, default, plain(supplier.data), plain(workflow.data), refs, now)


# ------------------------------------------------------------------------------ credit grants


@dataclass(frozen=True, slots=True)
class Grant:
    id: str
    customer_id: str
    name: str
    funding_method: str
    currency: str
    amount: Decimal
    priority: int
    key: str | None
    created_at: datetime

    def v3(self, tax_code_id: str) -> dict[str, Any]:
        body = resource("v3", id=self.id, name=self.name, created_at=self.created_at)
        body.update(amount=numeric(self.amount), currency=self.currency, funding_method=self.funding_method)
        body.update(priority=self.priority, status="active", tax_config={"tax_code": {"id": tax_code_id}})
        return body


def parse_grant(body: Any, *, new_id: str, customer_id: str, now: datetime) -> Grant:
    f = Fields(
        body,
        allowed=(
            *RESOURCE_FIELDS,
            "funding_method",
            "currency",
            "amount",
            "purchase",
            "tax_config",
            "filters",
            "priority",
            "effective_at",
            "expires_after",
            "key",
        ),
    )
    method = f.req_str("funding_method")
    if method not in ("none", "invoice", "external"):
        raise ApiError.bad_field(f.at("funding_method"), "must be one of none, invoice, external", "enum")
    amount = f.numeric("amount")
    if amount <= 0:
        raise ApiError.bad_field(f.at("amount"), "must be greater than 0", "minimum")
    currency = currency_code(f, "currency", required=True)
    assert currency is not None
    f.opt_time("effective_at")
    f.opt_duration("expires_after")
    priority = f.opt_int("priority")
    return Grant(
        new_id,
        customer_id,
        f.req_str("name"),
        method,
        currency,
        amount,
        10 if priority is None else priority,
        f.opt_str("key"),
        now,
    )
