"""The action table: what each kind of scenario step does to OpenMeter, one small function per kind.

:data:`ACTIONS` maps a step type (:data:`contract.scenario.model.STEP_TYPES`) to an
:class:`Action`; :func:`act` looks the step up and performs it. Adding a step kind is adding one
function and one entry. An action performs the step through the client, re-reads the subscription
as OpenMeter stored it and feeds the engine's timeline (``as_of`` = the sync's as-of time), and
returns what it did as an :class:`Acted` value: its one-line summary, whether a sync must be awaited,
and anything it found along the way (a failed forced sync's finding and printed log text).

The helpers every action shares (naming instants, reading the subscription, feeding the engine,
waiting for usage) live on :class:`Actor`, which holds the :class:`Environment`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from contract.client import OpenMeterClient, OpenMeterProblem
from contract.client.inputs import Event, Timing, add_item, remove_item
from contract.client.models import SubscriptionView
from contract.compare import Finding, FindingKind
from contract.model import format_time
from contract.model.targetstate import SubscriptionTimeline, TargetStateError
from contract.model.time import add, floor_second
from contract.scenario.environment import Environment, StopScenario
from contract.scenario.mapping import MappingError, to_engine_subscription
from contract.scenario.model import (
    ApproveStep,
    CancelStep,
    ChangePlanStep,
    ContinueStep,
    EditStep,
    IngestStep,
    InvoiceStep,
    RestoreStep,
    ResyncStep,
    Step,
    StepBase,
    SubscribeStep,
    TimingKind,
    WaitStep,
)
from contract.scenario.model import Timing as ScenarioTiming
from contract.scenario.prepare import rate_card_input
from contract.scenario.runstate import RunState
from contract.scenario.timeexpr import TimeExpr
from contract.scenario.timeline import EngineCall


@dataclass(frozen=True, slots=True)
class Acted:
    """What performing one step produced."""

    summary: str  # one line for the report
    awaits_sync: bool  # whether OpenMeter must now sync (and the step be judged after polling)
    findings: tuple[Finding, ...] = ()  # found while acting (e.g. a forced sync that failed)
    log_text: str = ""  # log output the step produced outside the worker log (a jobs command)


class Actor:
    """The environment and the helpers the actions share."""

    def __init__(self, env: Environment) -> None:
        self.env = env

    @property
    def client(self) -> OpenMeterClient:
        return self.env.client

    # ---------------------------------------------------------------- time
    def named_instants(self, run: RunState) -> dict[str, datetime]:
        named: dict[str, datetime] = {}
        view = run.view
        if view is not None:
            named["subscription_start"] = view.active_from
            period = view.current_aligned_billing_period
            if period is None:
                try:
                    timeline = SubscriptionTimeline(to_engine_subscription(view))
                    period = timeline.billing_period_at(self.env.clock.now())
                except (MappingError, ValueError, TargetStateError):  # the step then names the instant it misses
                    period = None
            if period is not None:
                named["current_period_start"] = period.start
                named["current_period_end"] = period.end
        return named

    def resolve(self, run: RunState, expr: TimeExpr) -> datetime:
        return expr.resolve(self.env.clock.now(), self.named_instants(run))

    def timing(self, run: RunState, timing: ScenarioTiming) -> Timing:
        if timing.kind is TimingKind.IMMEDIATE:
            return "immediate"
        if timing.kind is TimingKind.NEXT_BILLING_CYCLE:
            return "next_billing_cycle"
        assert timing.at is not None
        return self.resolve(run, timing.at)

    def leave_start_second(self, run: RunState) -> None:
        """Wait (under a second, bounded) until the clock has left the subscription's first second.

        An immediate change inside the second the subscription started floors its periods to an
        instant (sync-model §2.5, §6), which OpenMeter's charge patches refuse. Scenarios are about
        ordinary lifecycles, so the runner never ends or edits a subscription in that second."""
        if run.view is None:
            return
        clear = floor_second(run.view.active_from) + timedelta(seconds=1, milliseconds=50)
        wait = (clear - self.env.clock.now()).total_seconds()
        if 0 < wait <= 1.1:
            self.env.clock.sleep(wait)

    # ---------------------------------------------------------------- the subscription and the engine
    def read_view(self, run: RunState) -> SubscriptionView:
        view = self.client.get_subscription(run.current())
        run.view = view
        run.views[view.id] = view
        run.index.learn(view)
        return view

    def engine_sync(self, run: RunState, view: SubscriptionView, as_of: datetime, kind: str = "sync") -> None:
        if run.not_predicted is not None:
            return
        try:
            sub = to_engine_subscription(view, run.scenario.setup.customer.currency)
        except MappingError as err:
            # OpenMeter is still judged by the invariants (contract.scenario.invariants)
            run.not_predicted = f"the engine cannot model this subscription: {err}"
            return
        run.timeline.apply(EngineCall(kind, sub, run.customer_id, as_of, self.env.clock.now()))

    def synced(self, run: RunState, as_of: datetime | None = None) -> SubscriptionView:
        """Re-read the current subscription and feed it to the engine as of ``as_of`` (default: now)."""
        view = self.read_view(run)
        self.engine_sync(run, view, as_of=as_of or self.env.clock.now())
        return view

    def await_usage(self, run: RunState, feature: str) -> str | None:
        """Poll the feature's meter until it shows what this run ingested (bounded).

        Returns None when visible, else why not (usage visibility is context, not the contract)."""
        meter_id = run.features[feature][1]
        deadline = self.env.clock.monotonic() + self.env.poll.usage_deadline_s
        intervals = self.env.poll.intervals()
        want = run.ingested[feature]
        while True:
            try:
                value = self.client.query_meter(meter_id)
            except OpenMeterProblem as err:
                return f"meter query failed: {err}"
            if value is not None and value >= want:
                return None
            if self.env.clock.monotonic() >= deadline:
                return f"meter shows {value} of {want} after {self.env.poll.usage_deadline_s:.0f}s"
            self.env.clock.sleep(next(intervals))


# -------------------------------------------------------------------- one function per step kind


def subscribe(actor: Actor, run: RunState, step: SubscribeStep) -> Acted:
    anchor = actor.resolve(run, step.billing_anchor) if step.billing_anchor is not None else None
    timing: Timing | None = None if step.timing.is_now else actor.resolve(run, step.timing)
    plan_spec = run.scenario.setup.plan(step.plan)
    mode = step.settlement_mode or plan_spec.settlement_mode
    created = actor.client.create_subscription(
        run.customer_id,
        plan_id=run.plans[step.plan],
        settlement_mode=mode,
        billing_anchor=anchor,
        timing=timing,
    )
    run.subscription_id = created.id
    run.subscriptions.append(created.id)
    view = actor.synced(run)
    return Acted(f"subscribed {created.id} from {format_time(view.active_from)}", True)


def ingest(actor: Actor, run: RunState, step: IngestStep) -> Acted:
    at = actor.resolve(run, step.at)
    fid = run.scenario.setup.feature(step.feature).key
    events = []
    for value in step.values:
        run.event_seq += 1
        events.append(
            Event(
                id=f"evt_{run.keys.run_id}_{run.event_seq:04d}",
                type=run.keys.event_types[fid],
                subject=run.keys.subject,
                time=at,
                data={"value": str(value)},
            )
        )
    actor.client.ingest(events, batch=False)
    total = sum(step.values, Decimal(0))
    run.ingested[fid] = run.ingested.get(fid, Decimal(0)) + total
    problem = actor.await_usage(run, fid)
    note = f" ({problem})" if problem else ""
    return Acted(f"ingested {len(events)} event(s), total {total}{note}", False)


def cancel(actor: Actor, run: RunState, step: CancelStep) -> Acted:
    actor.leave_start_second(run)
    timing = actor.timing(run, step.timing)
    actor.client.cancel_subscription(run.current(), timing)
    view = actor.read_view(run)
    actor.engine_sync(run, view, as_of=view.active_to or actor.env.clock.now())
    active_to = format_time(view.active_to) if view.active_to else "-"
    return Acted(f"cancel {step.timing} -> activeTo {active_to}", True)


def edit(actor: Actor, run: RunState, step: EditStep) -> Acted:
    actor.leave_start_second(run)
    view = run.view or actor.read_view(run)
    phase = step.phase or current_phase_key(view)
    ops: list[Any] = [add_item(phase, rate_card_input(run, rc)) for rc in step.add]
    ops += [remove_item(phase, run.keys.item_key(k)) for k in step.remove]
    actor.client.edit_subscription(run.current(), ops, actor.timing(run, step.timing))
    actor.synced(run)
    return Acted(f"edit phase {phase}: +{len(step.add)} -{len(step.remove)} item(s)", True)


def change_plan(actor: Actor, run: RunState, step: ChangePlanStep) -> Acted:
    actor.leave_start_second(run)
    sid = run.current()
    timing = actor.timing(run, step.timing)
    changed = actor.client.change_subscription(sid, run.customer_id, run.plans[step.plan], timing)
    old_view = actor.read_view(run)
    old_as_of = old_view.active_to or actor.env.clock.now()
    actor.engine_sync(run, old_view, as_of=old_as_of)
    run.replaced = sid if step.timing.kind is not TimingKind.IMMEDIATE else None
    run.subscription_id = changed.next.id
    run.subscriptions.append(changed.next.id)
    actor.synced(run)
    return Acted(f"changed plan: {sid} ends {format_time(old_as_of)}, {changed.next.id} starts", True)


def restore(actor: Actor, run: RunState, step: RestoreStep) -> Acted:
    if run.replaced is None:
        raise StopScenario(f"step {step.index} (restore) needs a plan change scheduled for later")
    previous, successor = run.replaced, run.current()
    actor.client.restore_subscription(previous)
    # OpenMeter deletes the scheduled successor: a deleted subscription's target is empty
    # (sync-model §3.2), so everything sync made for it must go
    gone = run.views[successor]
    run.views[successor] = replace(gone, active_to=gone.active_from)
    run.deleted.add(successor)
    actor.engine_sync(run, run.views[successor], as_of=actor.env.clock.now())
    run.subscription_id, run.replaced = previous, None
    actor.synced(run)
    return Acted(f"restored {previous}; its scheduled successor {successor} deleted", True)


def continue_(actor: Actor, run: RunState, step: ContinueStep) -> Acted:
    actor.client.continue_subscription(run.current())
    actor.synced(run)
    return Acted("continued (cancel unscheduled)", True)


def invoice(actor: Actor, run: RunState, step: InvoiceStep) -> Acted:
    clock = actor.env.clock
    # The cut is sent explicitly (asOf): OpenMeter's own "now" could fall in another second than
    # the engine's and move a progressive cut by one (seen live).
    cutoff = actor.resolve(run, step.as_of) if step.as_of is not None else clock.now()
    # no override is sent: OpenMeter applies the billing profile's progressive-billing setting
    progressive = run.timeline.config.progressive_billing if step.progressive is None else step.progressive
    invoices = actor.client.invoice_pending_lines(run.customer_id, as_of=cutoff, progressive=step.progressive)
    run.timeline.apply(EngineCall("invoice", None, run.customer_id, cutoff, clock.now(), progressive))
    return Acted(f"invoiced pending lines: {len(invoices)} invoice(s)", True)


def approve(actor: Actor, run: RunState, step: ApproveStep) -> Acted:
    c, clock = actor.client, actor.env.clock
    drafts = [i for i in c.list_invoices(run.customer_id, statuses=["draft"]) if i.status == "draft"]
    for draft in drafts:
        if (draft.extended_status or "").endswith("waiting_for_collection"):
            c.invoice_action(draft.id, "snapshot-quantities")  # approval waits for the collection
        c.invoice_action(draft.id, "approve")
    now = clock.now()
    run.timeline.apply(EngineCall("approve", None, run.customer_id, now, now))
    return Acted(f"approved {len(drafts)} draft invoice(s)", True)


def wait(actor: Actor, run: RunState, step: WaitStep) -> Acted:
    clock = actor.env.clock
    target = add(actor.resolve(run, step.until), step.plus)
    seconds = (target - clock.now()).total_seconds()
    limit = add(clock.now(), step.max) - clock.now()
    if seconds > limit.total_seconds():
        raise StopScenario(
            f"step {step.index}: waiting until {format_time(target)} would take "
            f"{seconds:.0f}s, more than max {step.max}"
        )
    actor.env.say(f"{run.scenario.id}: waiting {max(seconds, 0):.1f}s until {format_time(target)}")
    clock.sleep(max(seconds, 0.0))
    return Acted(f"waited until {format_time(target)}", False)


def resync(actor: Actor, run: RunState, step: ResyncStep) -> Acted:
    if actor.env.force_sync is None:
        raise StopScenario(
            "this OpenMeter offers no way to force a subscription sync: give --force-sync-command "
            "(attach mode) or boot the stack with omcontract"
        )
    outcome = actor.env.force_sync(run.customer_id)
    if outcome is None:
        raise StopScenario("forcing a subscription sync is not available on this OpenMeter")
    if actor.client.recorder is not None:  # a replay gives the same outcome back
        actor.client.recorder.note("force_sync", ok=outcome.ok, detail=outcome.detail, output=outcome.output)
    view = actor.read_view(run)
    # the jobs command only syncs; it does not invoice what became due
    actor.engine_sync(run, view, as_of=actor.env.clock.now(), kind="sync_only")
    if not outcome.ok:
        failed = Finding(FindingKind.ERROR, f"the forced sync failed: {outcome.detail}", step=step.label)
        return Acted("forced a subscription sync: it FAILED", True, findings=(failed,), log_text=outcome.output)
    return Acted("forced a subscription sync", True)


# -------------------------------------------------------------------- the table


@dataclass(frozen=True, slots=True)
class Action:
    """How to perform one step kind; ``needs_subscription``: only after a ``subscribe``."""

    perform: Callable[[Actor, RunState, Any], Acted]
    needs_subscription: bool = True


ACTIONS: Mapping[type[StepBase], Action] = MappingProxyType(
    {
        SubscribeStep: Action(subscribe, needs_subscription=False),
        IngestStep: Action(ingest),
        CancelStep: Action(cancel),
        EditStep: Action(edit),
        ChangePlanStep: Action(change_plan),
        RestoreStep: Action(restore),
        ContinueStep: Action(continue_),
        InvoiceStep: Action(invoice),
        ApproveStep: Action(approve),
        WaitStep: Action(wait),
        ResyncStep: Action(resync),
    }
)


def act(actor: Actor, run: RunState, step: Step, actions: Mapping[type[StepBase], Action] = ACTIONS) -> Acted:
    """Perform ``step`` with the action its type maps to."""
    action = actions.get(type(step))
    needs_subscription = action.needs_subscription if action is not None else True
    if needs_subscription and run.subscription_id is None:
        raise StopScenario(f"step {step.index} ({step.kind}) needs a subscription: subscribe first")
    if action is None:
        raise StopScenario(f"step kind {step.kind} is not supported by this runner")
    return action.perform(actor, run, step)


def current_phase_key(view: SubscriptionView) -> str:
    current = view.phases[0].key
    for ph in view.phases:
        if ph.active_to is None or ph.active_to > ph.active_from:
            current = ph.key
            break
    return current
