"""contract.model: the pure reference sync engine (no I/O, no clock, no yaml).

Public API (re-exported here):

* inputs — :class:`Subscription`, :class:`Phase`, :class:`ItemVersion`, :class:`RateCard`,
  :class:`Price`, :class:`SyncConfig`, ... (:mod:`contract.model.domain`), time helpers
  (:mod:`contract.model.time`);
* the engine — :class:`Engine` (``sync``, ``invoice``, ``sync_and_invoice``, ``snapshot``),
  :class:`Behaviour`, :class:`SyncResult`, :class:`InvoiceResult`, :class:`EngineState`,
  :func:`empty_state`, :func:`cancel_active_to`;
* target state — :func:`build_target_state`, :func:`generate_phase`, :class:`TargetItem`;
* the comparison shape — :class:`Snapshot`, :class:`Artifact`, :class:`MirrorLine`, ...
"""

from contract.model.domain import (
    Backend,
    EndProrationMode,
    ItemVersion,
    PaymentTerm,
    Phase,
    Price,
    PriceType,
    RateCard,
    SettlementMode,
    Subscription,
    SyncConfig,
    Tier,
)
from contract.model.engine import Behaviour, Engine, SyncResult, parse_unique_id
from contract.model.invoicing import InvoiceResult
from contract.model.money import round_money
from contract.model.persisted import (
    DUPLICATE_ACROSS,
    Charge,
    ChargeStatus,
    ChargeType,
    CustomerState,
    EngineState,
    Invoice,
    InvoiceLine,
    LineEngine,
    Realization,
    RealizationRun,
    SplitLineGroup,
    SubscriptionRef,
    empty_state,
    meta_status,
)
from contract.model.snapshot import (
    Artifact,
    InvoicedLine,
    MirrorLine,
    OperationCounts,
    Snapshot,
    SyncState,
    mark_kept,
)
from contract.model.targetstate import (
    CANCEL_MISALIGNED,
    SubscriptionTimeline,
    TargetItem,
    TargetState,
    build_target_state,
    cancel_active_to,
    generate_phase,
)
from contract.model.time import Duration, Period, format_time, parse_time

__all__ = [
    "CANCEL_MISALIGNED",
    "DUPLICATE_ACROSS",
    "Artifact",
    "Backend",
    "Behaviour",
    "Charge",
    "ChargeStatus",
    "ChargeType",
    "CustomerState",
    "Duration",
    "EndProrationMode",
    "Engine",
    "EngineState",
    "Invoice",
    "InvoiceLine",
    "InvoiceResult",
    "InvoicedLine",
    "ItemVersion",
    "LineEngine",
    "MirrorLine",
    "OperationCounts",
    "PaymentTerm",
    "Period",
    "Phase",
    "Price",
    "PriceType",
    "RateCard",
    "Realization",
    "RealizationRun",
    "SettlementMode",
    "Snapshot",
    "SplitLineGroup",
    "Subscription",
    "SubscriptionRef",
    "SubscriptionTimeline",
    "SyncConfig",
    "SyncResult",
    "SyncState",
    "TargetItem",
    "TargetState",
    "Tier",
    "build_target_state",
    "cancel_active_to",
    "empty_state",
    "format_time",
    "generate_phase",
    "mark_kept",
    "meta_status",
    "parse_time",
    "parse_unique_id",
    "round_money",
]
