"""Run an oracle case through the reference engine and compare every ``expect`` block.

Step semantics (shared/oracle/FORMAT.md):

* ``generate`` — upstream ``PhaseIterator.Generate`` for one phase, no routing or reconciling:
  the snapshot lists the generated targets (backend as a new id would be routed);
* ``sync`` — a full :meth:`~contract.model.engine.Engine.sync` ``as_of`` (charges advance at the
  same instant), with the step's config override if any;
* ``cancel`` — sets ``activeTo`` by :func:`~contract.model.targetstate.cancel_active_to`; no sync;
* ``update`` — replaces the subscription (edits, added phases, continue); no sync;
* ``invoice`` — :meth:`~contract.model.engine.Engine.invoice` for the subscription's customer.

Each step with ``expect`` is compared (:func:`contract.compare.diff`) against the engine's
snapshot, with ``kept`` decided against the snapshot before the step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from contract.compare.diff import diff
from contract.compare.findings import Finding, FindingKind
from contract.model.domain import Backend, SettlementMode, Subscription, SyncConfig
from contract.model.engine import Behaviour, Engine
from contract.model.persisted import EngineState, empty_state, line_amount
from contract.model.snapshot import Artifact, Snapshot, mark_kept
from contract.model.targetstate import (
    SubscriptionTimeline,
    TargetItem,
    TargetStateError,
    cancel_active_to,
    generate_phase,
)
from contract.oracle.case import (
    CancelStep,
    GenerateStep,
    InvoiceStep,
    OracleCase,
    Step,
    SubscriptionSpec,
    SyncStep,
    UpdateStep,
)


@dataclass(frozen=True, slots=True)
class StepOutcome:
    step: Step
    snapshot: Snapshot | None  # None for cancel/update steps
    findings: tuple[Finding, ...] = ()
    checked: bool = False  # the step had an expect block


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: OracleCase
    behaviour: Behaviour
    steps: tuple[StepOutcome, ...]
    elapsed_ms: float
    state: EngineState

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for s in self.steps for f in s.findings)

    @property
    def passed(self) -> bool:
        return not self.findings


def _generated_snapshot(targets: list[TargetItem], sub: Subscription, config: SyncConfig) -> Snapshot:
    backend = Backend.LINE
    if (
        config.credits_enabled
        and config.namespace_credits_gate
        and not (sub.settlement_mode is SettlementMode.CREDIT_THEN_INVOICE and not config.credit_then_invoice)
    ):
        backend = Backend.CHARGE
    items = tuple(
        Artifact(
            id=t.unique_id,
            backend=backend,
            service_period=t.service_period,
            invoice_at=t.invoice_at,
            billing_period=t.billing_period,
            full_service_period=t.full_service_period,
            amount=line_amount(t.price, t.price.amount),
            subscription_id=t.subscription_id,
            phase_id=t.phase_id,
            phase_key=t.phase_key,
            item_id=t.item_id,
            item_key=t.item_key,
            name=t.rate_card.name or t.item_key,
        )
        for t in targets
    )
    return Snapshot(items=tuple(sorted(items, key=lambda a: a.id)))


def run_case(case: OracleCase, behaviour: Behaviour = Behaviour.HEAD, *, until_step: int | None = None) -> CaseResult:
    """Run ``case`` (its first ``until_step`` steps when given) and compare each expectation."""
    started = time.perf_counter()
    state = empty_state()
    spec: SubscriptionSpec = case.subscription
    outcomes: list[StepOutcome] = []
    steps = case.steps if until_step is None else case.steps[:until_step]
    for step in steps:
        sub = spec.build()
        engine = Engine(case.config, behaviour)
        snapshot: Snapshot | None = None
        findings: list[Finding] = []
        if isinstance(step, CancelStep):
            try:
                spec = spec.with_active_to(cancel_active_to(sub, step.at, step.timing))
            except ValueError as err:
                findings.append(Finding(FindingKind.REFUSED, f"cancel refused: {err}", step=step.label))
        elif isinstance(step, UpdateStep):
            spec = step.subscription
        elif isinstance(step, GenerateStep):
            try:
                targets = generate_phase(SubscriptionTimeline(sub), step.phase, step.until)
                snapshot = _generated_snapshot(targets, sub, case.config)
            except TargetStateError as err:
                snapshot = Snapshot(error=str(err))
        elif isinstance(step, SyncStep):
            if step.config is not None:
                engine = Engine(step.config, behaviour)
            before = engine.snapshot(state, sub.id, customer_id=sub.customer_id)
            result = engine.sync(state, sub, step.as_of)
            state = result.state
            snapshot = mark_kept(
                before,
                engine.snapshot(
                    state, sub.id, customer_id=sub.customer_id, operations=result.operations, error=result.error
                ),
            )
        elif isinstance(step, InvoiceStep):
            before = engine.snapshot(state, sub.id, customer_id=sub.customer_id)
            inv = engine.invoice(state, sub.customer_id, step.at, step.as_of, step.progressive)
            state = inv.state
            snapshot = mark_kept(
                before, engine.snapshot(state, sub.id, customer_id=sub.customer_id, invoiced=inv.invoiced)
            )
        if step.expect is not None and snapshot is not None:
            findings.extend(diff(step.expect, snapshot, step.label))
        outcomes.append(StepOutcome(step, snapshot, tuple(findings), step.expect is not None))
    elapsed = (time.perf_counter() - started) * 1000
    return CaseResult(case, behaviour, tuple(outcomes), elapsed, state)


__all__ = ["CaseResult", "StepOutcome", "run_case"]
