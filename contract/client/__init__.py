"""contract.client: the typed OpenMeter HTTP client, its models, errors, recording and validation.

Typical use::

    from contract.client import OpenMeterClient, Recorder, ApiKey

    with OpenMeterClient("http://127.0.0.1:38888", api_key=ApiKey.from_env(),
                         recorder=Recorder("out/run.jsonl")) as om:
        with om.step("subscribe"):
            sub = om.create_subscription(customer.id, plan_id=plan.id)
        view = om.get_subscription(sub.id)          # µs-precise, what the engine is fed
        charges = om.list_charges(customer.id)      # v3, all pages, deleted included
        invoices = om.list_invoices(customer.id)    # v1, lines expanded, ids un-swapped

Every failure is an :class:`OpenMeterError`: :class:`OpenMeterUnreachable` (also a
``NoOpenMeterError``, exit code 3), :class:`OpenMeterProblem` (HTTP error, ``.codes``),
:class:`OpenMeterResponseError` (a body the client cannot read).
"""

from contract.client.client import CHARGE_STATUSES_ALL, Capabilities, OpenMeterClient, Reply
from contract.client.errors import (
    OpenMeterError,
    OpenMeterProblem,
    OpenMeterResponseError,
    OpenMeterUnreachable,
    Problem,
    ValidationIssue,
    parse_problem,
)
from contract.client.inputs import (
    AddItem,
    EditOp,
    Event,
    PhaseInput,
    PlanInput,
    PriceInput,
    RateCardInput,
    RemoveItem,
    TierInput,
    Timing,
    add_item,
    remove_item,
)
from contract.client.masking import API_KEY_ENV, ApiKey, mask_secrets
from contract.client.models import (
    BillingProfile,
    ChangeResult,
    Charge,
    ChargeSubscriptionRef,
    CreditBalance,
    CreditBalances,
    CreditGrant,
    Customer,
    Feature,
    Invoice,
    InvoiceLine,
    ItemTimeline,
    LineSubscriptionRef,
    Meter,
    Plan,
    PlanPhase,
    PlanRateCard,
    PriceTierView,
    PriceView,
    RateCardView,
    ServerVersion,
    SubscriptionItemView,
    SubscriptionPhaseView,
    SubscriptionSummary,
    SubscriptionView,
)
from contract.client.recording import Recorder
from contract.client.validation import ResponseValidator

__all__ = [
    "API_KEY_ENV",
    "CHARGE_STATUSES_ALL",
    "AddItem",
    "ApiKey",
    "BillingProfile",
    "Capabilities",
    "ChangeResult",
    "Charge",
    "ChargeSubscriptionRef",
    "CreditBalance",
    "CreditBalances",
    "CreditGrant",
    "Customer",
    "EditOp",
    "Event",
    "Feature",
    "Invoice",
    "InvoiceLine",
    "ItemTimeline",
    "LineSubscriptionRef",
    "Meter",
    "OpenMeterClient",
    "OpenMeterError",
    "OpenMeterProblem",
    "OpenMeterResponseError",
    "OpenMeterUnreachable",
    "PhaseInput",
    "Plan",
    "PlanInput",
    "PlanPhase",
    "PlanRateCard",
    "PriceInput",
    "PriceTierView",
    "PriceView",
    "Problem",
    "RateCardInput",
    "RateCardView",
    "Recorder",
    "RemoveItem",
    "Reply",
    "ResponseValidator",
    "ServerVersion",
    "SubscriptionItemView",
    "SubscriptionPhaseView",
    "SubscriptionSummary",
    "SubscriptionView",
    "TierInput",
    "Timing",
    "ValidationIssue",
    "add_item",
    "mask_secrets",
    "parse_problem",
    "remove_item",
]
