"""The typed scenario: setup (features, customer, grants, plans) and an ordered list of steps.

A scenario file (``fixtures/scenarios/*.yaml``, format in ``fixtures/scenarios/FORMAT.md``) is
parsed by :mod:`contract.scenario.loader` into a :class:`Scenario`. Everything here is immutable
and already validated, a step's ``expect`` block included (a typed
:class:`~contract.compare.expectation.Expectation`); the runner only has to execute it.

Keys in a scenario are *logical* (``api_calls``); :meth:`Scenario.keys_for_run` gives one run's
real keys (:class:`~contract.scenario.runkeys.RunKeys`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import ClassVar

from contract.compare.expectation import Expectation as Expected
from contract.model.domain import (
    EndProrationMode,
    PaymentTerm,
    Price,
    PriceType,
    RateCard,
    SettlementMode,
    SyncConfig,
    Tier,
)
from contract.model.time import Duration
from contract.scenario.runkeys import (
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    MAX_LOGICAL_KEY_LENGTH,
    MAX_RUN_ID_LENGTH,
    SUBSCRIPTION_PLACEHOLDER,
    RunKeys,
    check_real_key,
    new_run_id,
)
from contract.scenario.timeexpr import NOW, TimeExpr

# --------------------------------------------------------------------------- setup


class Aggregation(enum.StrEnum):
    """Meter aggregation (v3 spelling, lowercase)."""

    SUM = "sum"
    COUNT = "count"
    UNIQUE_COUNT = "unique_count"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    LATEST = "latest"


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """The per-run meter behind a feature; its key and event type are made unique per run."""

    aggregation: Aggregation
    value_property: str | None = None  # JSONPath into the event data; None only for count


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    key: str  # logical
    name: str
    meter: MeterSpec


@dataclass(frozen=True, slots=True)
class CustomerSpec:
    """The run's customer; its key and usage-attribution subject are made unique per run."""

    currency: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class GrantSpec:
    """A v3 customer credit grant (``funding_method: none``)."""

    amount: Decimal
    currency: str
    name: str | None = None
    priority: int | None = None


class PriceKind(enum.StrEnum):
    """Price types as written in scenarios (OpenMeter v3 names)."""

    FLAT = "flat"
    UNIT = "unit"
    GRADUATED = "graduated"
    VOLUME = "volume"

    @property
    def is_usage(self) -> bool:
        return self is not PriceKind.FLAT


@dataclass(frozen=True, slots=True)
class TierSpec:
    up_to: Decimal | None = None  # None on the last tier only
    unit_amount: Decimal | None = None
    flat_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceSpec:
    """A rate-card price. ``amount``: flat or unit amount; tiered kinds carry ``tiers``."""

    kind: PriceKind
    amount: Decimal | None = None
    payment_term: PaymentTerm = PaymentTerm.IN_ARREARS  # flat: default in_advance (set by loader)
    tiers: tuple[TierSpec, ...] = ()

    def to_domain(self) -> Price:
        """The reference engine's :class:`~contract.model.domain.Price`."""
        if self.kind is PriceKind.FLAT:
            return Price(PriceType.FLAT, amount=self.amount or Decimal(0), payment_term=self.payment_term)
        if self.kind is PriceKind.UNIT:
            return Price(PriceType.UNIT, amount=self.amount or Decimal(0))
        tiers = tuple(Tier(t.up_to, t.flat_amount, t.unit_amount) for t in self.tiers)
        return Price(PriceType.TIERED, mode=self.kind.value, tiers=tiers)


@dataclass(frozen=True, slots=True)
class RateCardSpec:
    """A rate card. ``key`` is logical; feature-backed rate cards have ``key == feature``."""

    key: str
    name: str
    feature: str | None = None  # logical feature key
    billing_cadence: Duration | None = None  # None: one-time (flat prices only)
    price: PriceSpec | None = None  # None: unpriced, never billable

    def to_domain(self, keys: RunKeys | None = None) -> RateCard:
        """The engine's :class:`~contract.model.domain.RateCard` (feature key made real by ``keys``)."""
        feature = self.feature
        if feature is not None and keys is not None:
            feature = keys.features[feature]
        return RateCard(
            name=self.name,
            feature_key=feature,
            price=self.price.to_domain() if self.price is not None else None,
            billing_cadence=self.billing_cadence,
        )


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    key: str
    name: str
    duration: Duration | None  # None: open-ended (last phase only)
    rate_cards: tuple[RateCardSpec, ...] = ()

    def rate_card(self, key: str) -> RateCardSpec | None:
        return next((rc for rc in self.rate_cards if rc.key == key), None)


@dataclass(frozen=True, slots=True)
class PlanSpec:
    key: str  # logical
    name: str
    currency: str
    billing_cadence: Duration
    phases: tuple[PhaseSpec, ...]
    pro_rating: bool = True
    settlement_mode: SettlementMode | None = None  # None: not sent; OpenMeter's default applies

    @property
    def effective_settlement_mode(self) -> SettlementMode:
        """What subscriptions of this plan get when nothing overrides it (OpenMeter default: CTI)."""
        return self.settlement_mode or SettlementMode.CREDIT_THEN_INVOICE

    def phase(self, key: str) -> PhaseSpec | None:
        return next((p for p in self.phases if p.key == key), None)


@dataclass(frozen=True, slots=True)
class Setup:
    features: tuple[FeatureSpec, ...]
    customer: CustomerSpec
    plans: tuple[PlanSpec, ...]
    grants: tuple[GrantSpec, ...] = ()

    def feature(self, key: str) -> FeatureSpec:
        for f in self.features:
            if f.key == key:
                return f
        raise KeyError(key)

    def plan(self, key: str) -> PlanSpec:
        for p in self.plans:
            if p.key == key:
                return p
        raise KeyError(key)


@dataclass(frozen=True, slots=True)
class Requires:
    """OpenMeter configuration the scenario needs (``credits.enabled``, ``enableCreditThenInvoice``)."""

    credits: bool = True
    credit_then_invoice: bool = True


@dataclass(frozen=True, slots=True)
class Profile:
    """Billing-profile overrides; ``None`` keeps the server's default profile value."""

    progressive_billing: bool | None = None
    end_proration: EndProrationMode | None = None

    @property
    def is_default(self) -> bool:
        return self.progressive_billing is None and self.end_proration is None


#: OpenMeter's auto-provisioned default profile (public-api.md §2.3).
DEFAULT_PROGRESSIVE_BILLING = True
DEFAULT_END_PRORATION = EndProrationMode.BILL_ACTUAL_PERIOD


# --------------------------------------------------------------------------- steps


ZERO_DURATION = Duration()
#: How long a ``wait`` may take when it does not say (its ``max``).
DEFAULT_WAIT_MAX = Duration(minutes=3)


class TimingKind(enum.StrEnum):
    IMMEDIATE = "immediate"
    NEXT_BILLING_CYCLE = "next_billing_cycle"
    AT = "at"  # an explicit instant (a time expression)


@dataclass(frozen=True, slots=True)
class Timing:
    """Cancel / edit / change timing: ``immediate``, ``next_billing_cycle`` or an instant."""

    kind: TimingKind
    at: TimeExpr | None = None

    def __post_init__(self) -> None:
        if (self.kind is TimingKind.AT) != (self.at is not None):
            raise ValueError("timing 'at' needs an instant, and only it")

    def __str__(self) -> str:
        return str(self.at) if self.at is not None else self.kind.value


IMMEDIATE = Timing(TimingKind.IMMEDIATE)
NEXT_BILLING_CYCLE = Timing(TimingKind.NEXT_BILLING_CYCLE)


#: Top-level keys an ``expect`` block may have (oracle shape plus ``refused``).
EXPECT_KEYS: tuple[str, ...] = (
    "items",
    "deleted_charges",
    "absent",
    "no_gathering_invoice",
    "partial",
    "refused",
)


@dataclass(frozen=True, slots=True)
class Expectation:
    """A step's oracle-style ``expect`` block, parsed at load into the comparator's expectation.

    Ids are written like the oracle's: ``S/<phase>/<item>/v[n]/period[k]`` with ``S`` standing for
    the subscription and ``<item>`` a logical key; :meth:`for_run` maps them to a run's real ids
    (see :meth:`RunKeys.real_unique_id`). ``file``/``line``/``field`` locate the block.
    """

    expected: Expected
    file: str
    line: int
    field: str

    def for_run(self, rename: Callable[[str], str]) -> Expected:
        """The expectation with every unique id passed through ``rename`` (logical -> real)."""
        return self.expected.with_ids(rename)


@dataclass(frozen=True, slots=True)
class Refusal:
    """The step's request must be refused with this HTTP status (and problem code, if given)."""

    status: int
    code: str | None = None  # a validationErrors[].code, or None: no code asserted


@dataclass(frozen=True, slots=True, kw_only=True)
class StepBase:
    """Fields every step has. ``index`` is the 0-based position, ``line`` its line in the file."""

    kind: ClassVar[str] = ""
    index: int
    line: int
    name: str | None = None
    expect: Expectation | None = None
    refused: Refusal | None = None

    @property
    def label(self) -> str:
        return self.name or f"steps[{self.index}].{self.kind}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribeStep(StepBase):
    """Create the subscription from ``plan`` for the setup's customer."""

    kind: ClassVar[str] = "subscribe"
    plan: str  # logical plan key
    billing_anchor: TimeExpr | None = None  # None: OpenMeter's default (creation time)
    timing: TimeExpr = NOW  # start; anything but ``now`` needs v1
    settlement_mode: SettlementMode | None = None  # None: the plan's


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestStep(StepBase):
    """Send one usage event per value for ``feature``'s meter, stamped ``at``."""

    kind: ClassVar[str] = "ingest"
    feature: str  # logical feature key
    values: tuple[Decimal, ...]
    at: TimeExpr = NOW

    @property
    def events(self) -> int:
        return len(self.values)


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelStep(StepBase):
    kind: ClassVar[str] = "cancel"
    timing: Timing = IMMEDIATE


@dataclass(frozen=True, slots=True, kw_only=True)
class EditStep(StepBase):
    """v1 PATCH customizations: ``add_item`` per added rate card, ``remove_item`` per removed key."""

    kind: ClassVar[str] = "edit"
    add: tuple[RateCardSpec, ...] = ()
    remove: tuple[str, ...] = ()  # logical item keys
    phase: str | None = None  # None: the subscription's current phase
    timing: Timing = IMMEDIATE  # immediate or next_billing_cycle only


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangePlanStep(StepBase):
    kind: ClassVar[str] = "change_plan"
    plan: str  # logical plan key
    timing: Timing = IMMEDIATE
    settlement_mode: SettlementMode | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContinueStep(StepBase):
    """Undo a scheduled cancel (``unschedule-cancelation``)."""

    kind: ClassVar[str] = "continue"


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreStep(StepBase):
    """Restore the subscription a plan change replaces (v1 ``restore``): OpenMeter deletes the
    scheduled successor and the previous subscription goes on (its end is removed)."""

    kind: ClassVar[str] = "restore"


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceStep(StepBase):
    """Invoice the customer's pending lines now (v1 ``POST /billing/invoices/invoice``)."""

    kind: ClassVar[str] = "invoice"
    as_of: TimeExpr | None = None
    progressive: bool | None = None  # progressiveBillingOverride; None: the profile's


@dataclass(frozen=True, slots=True, kw_only=True)
class ApproveStep(StepBase):
    """Approve the customer's draft invoices now (v1 ``/snapshot-quantities`` first where their
    collection is pending, then ``/approve``): issued, and paid at once by the sandbox app."""

    kind: ClassVar[str] = "approve"


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitStep(StepBase):
    """Wait until ``until + plus`` on the runner's clock; give up (fail) beyond ``max`` from now."""

    kind: ClassVar[str] = "wait"
    until: TimeExpr
    plus: Duration = ZERO_DURATION
    max: Duration = DEFAULT_WAIT_MAX


@dataclass(frozen=True, slots=True, kw_only=True)
class ResyncStep(StepBase):
    """Force a subscription sync (jobs ``billing subscriptionsync``; ``force``: ``--f``)."""

    kind: ClassVar[str] = "resync"
    force: bool = False


Step = (
    SubscribeStep
    | IngestStep
    | CancelStep
    | EditStep
    | ChangePlanStep
    | ContinueStep
    | RestoreStep
    | InvoiceStep
    | ApproveStep
    | WaitStep
    | ResyncStep
)

STEP_TYPES: tuple[type[StepBase], ...] = (
    SubscribeStep,
    IngestStep,
    CancelStep,
    EditStep,
    ChangePlanStep,
    ContinueStep,
    RestoreStep,
    InvoiceStep,
    ApproveStep,
    WaitStep,
    ResyncStep,
)
STEP_KINDS: tuple[str, ...] = tuple(t.kind for t in STEP_TYPES)


# --------------------------------------------------------------------------- scenario


@dataclass(frozen=True, slots=True)
class Scenario:
    id: str
    title: str
    provenance: str
    description: str
    setup: Setup
    steps: tuple[Step, ...]
    source: str  # the file it was loaded from
    requires: Requires = Requires()
    profile: Profile = Profile()
    technique: str | None = None
    known_issues: tuple[str, ...] = ()

    def sync_config(self) -> SyncConfig:
        """Deployment flags and effective billing-profile settings for the reference engine."""
        progressive = self.profile.progressive_billing
        return SyncConfig(
            credits_enabled=self.requires.credits,
            credit_then_invoice=self.requires.credit_then_invoice,
            end_proration=self.profile.end_proration or DEFAULT_END_PRORATION,
            progressive_billing=DEFAULT_PROGRESSIVE_BILLING if progressive is None else progressive,
            auto_advance=True,  # profiles the suite uses are derived from the default profile
        )

    def keys_for_run(self, run_id: str) -> RunKeys:
        """Real, OpenMeter-valid keys for this run (``<logical>_<run id>``); see :class:`RunKeys`.

        ``run_id`` must match :data:`KEY_PATTERN` and be at most :data:`MAX_RUN_ID_LENGTH`
        characters (``new_run_id()`` gives one); otherwise ``ValueError``.
        """
        if len(run_id) > MAX_RUN_ID_LENGTH or not KEY_PATTERN.match(run_id):
            raise ValueError(
                f"run id {run_id!r} must match {KEY_PATTERN.pattern} and have at most {MAX_RUN_ID_LENGTH} characters"
            )
        features = {f.key: check_real_key(f"{f.key}_{run_id}") for f in self.setup.features}
        plans = {p.key: check_real_key(f"{p.key}_{run_id}") for p in self.setup.plans}
        items: dict[str, str] = {}
        for rc in self._all_rate_cards():
            items[rc.key] = features[rc.feature] if rc.feature is not None else rc.key
        return RunKeys(
            run_id=run_id,
            features=MappingProxyType(features),
            plans=MappingProxyType(plans),
            item_keys=MappingProxyType(items),
            meters=MappingProxyType({f.key: check_real_key(f"m_{f.key}_{run_id}") for f in self.setup.features}),
            event_types=MappingProxyType({f.key: f"ev_{f.key}_{run_id}" for f in self.setup.features}),
            customer=check_real_key(f"cust_{run_id}"),
            subject=check_real_key(f"subj_{run_id}"),
        )

    def _all_rate_cards(self) -> Iterator[RateCardSpec]:
        for plan in self.setup.plans:
            for phase in plan.phases:
                yield from phase.rate_cards
        for step in self.steps:
            if isinstance(step, EditStep):
                yield from step.add


__all__ = [
    "DEFAULT_END_PRORATION",
    "DEFAULT_PROGRESSIVE_BILLING",
    "DEFAULT_WAIT_MAX",
    "EXPECT_KEYS",
    "IMMEDIATE",
    "KEY_PATTERN",
    "MAX_KEY_LENGTH",
    "MAX_LOGICAL_KEY_LENGTH",
    "MAX_RUN_ID_LENGTH",
    "NEXT_BILLING_CYCLE",
    "STEP_KINDS",
    "STEP_TYPES",
    "SUBSCRIPTION_PLACEHOLDER",
    "ZERO_DURATION",
    "Aggregation",
    "ApproveStep",
    "CancelStep",
    "ChangePlanStep",
    "ContinueStep",
    "CustomerSpec",
    "EditStep",
    "Expectation",
    "FeatureSpec",
    "GrantSpec",
    "IngestStep",
    "InvoiceStep",
    "MeterSpec",
    "PhaseSpec",
    "PlanSpec",
    "PriceKind",
    "PriceSpec",
    "Profile",
    "RateCardSpec",
    "Refusal",
    "Requires",
    "RestoreStep",
    "ResyncStep",
    "RunKeys",
    "Scenario",
    "Setup",
    "Step",
    "StepBase",
    "SubscribeStep",
    "TierSpec",
    "Timing",
    "TimingKind",
    "WaitStep",
    "new_run_id",
]
