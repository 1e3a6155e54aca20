"""The offline OpenMeter's resources other than subscriptions: meters, features, customers, billing
profiles, credit grants, plans and usage events — each a frozen value, parsed strictly from the
request body it is created with, and rendered the way the live server answers (shared/openmeter/
recorded/head-4412.jsonl; public-api.md §2, §7).

One module per family: :mod:`.usage` (meters, features, usage events and their aggregation),
:mod:`.customers` (customers, billing profiles, credit grants), :mod:`.plans` (plans in v1 and v3,
through the shapes in :mod:`contract.wire.catalog`).
"""

from contract.offline.catalog.customers import (
    Customer,
    Grant,
    Profile,
    default_profile,
    invoice_workflow_v1,
    parse_customer,
    parse_grant,
    parse_profile,
)
from contract.offline.catalog.plans import (
    PLAN_CADENCES,
    Plan,
    PlanPhase,
    PlanRateCard,
    parse_plan_v1,
    parse_plan_v3,
    parse_rate_card_v1,
    validate_plan,
)
from contract.offline.catalog.usage import (
    AGGREGATIONS,
    Feature,
    Meter,
    UsageEvent,
    aggregate,
    parse_event,
    parse_feature,
    parse_meter,
)

__all__ = [
    "AGGREGATIONS",
    "PLAN_CADENCES",
    "Customer",
    "Feature",
    "Grant",
    "Meter",
    "Plan",
    "PlanPhase",
    "PlanRateCard",
    "Profile",
    "UsageEvent",
    "aggregate",
    "default_profile",
    "invoice_workflow_v1",
    "parse_customer",
    "parse_event",
    "parse_feature",
    "parse_grant",
    "parse_meter",
    "parse_plan_v1",
    "parse_plan_v3",
    "parse_profile",
    "parse_rate_card_v1",
    "validate_plan",
]
