"""The runner: drive a scenario through OpenMeter's API and judge every step against the engine.

For each step the runner

1. performs the action through :class:`~contract.client.OpenMeterClient` (a refusal is compared
   with the step's ``expect.refused``, an unexpected one ends the scenario);
2. re-reads the subscription *as OpenMeter stored it* and asks the reference engine what sync must
   leave behind (``as_of`` = the sync's as-of time: ``activeTo`` for a cancel, the observed clock
   otherwise), carrying the engine's own state from step to step;
3. polls charges (v3) and invoices (v1) with backoff until they match the prediction and two
   consecutive snapshots agree, or the deadline passes — stopping early when the worker log shows
   a conclusive failure (the DLQ line) for the subscription;
4. compares (:func:`contract.compare.diff`), attaches worker-log evidence, tells "sync never
   happened" from "sync happened wrongly", and, on a disagreement, asks the engine's other
   behaviours (e.g. ``issue-4412``) whether they predict exactly what was observed.

The clock, the log source, the sync-state reader and the forced sync are passed in
(:class:`Environment`), so the same runner serves a live OpenMeter, the offline fake and a replay.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from contract.client import OpenMeterClient, OpenMeterError, OpenMeterProblem, OpenMeterUnreachable
from contract.client.inputs import (
    Event,
    PhaseInput,
    PlanInput,
    PriceInput,
    RateCardInput,
    TierInput,
    Timing,
    add_item,
    remove_item,
)
from contract.client.models import SubscriptionView
from contract.compare import Expectation, Finding, FindingKind, Partial, diff
from contract.model import (
    Behaviour,
    Snapshot,
    format_time,
    mark_kept,
)
from contract.model.domain import PaymentTerm
from contract.model.targetstate import SubscriptionTimeline, TargetStateError
from contract.model.time import add, floor_second
from contract.scenario import invariants
from contract.scenario.environment import (
    LIVE_FIELDS,
    Environment,
    ForceSync,
    ForceSyncOutcome,
    LogReader,
    PollPolicy,
    StopScenario,
    SyncStateLookup,
)
from contract.scenario.mapping import ItemIndex, MappingError, observe, to_engine_subscription
from contract.scenario.model import (
    CancelStep,
    ChangePlanStep,
    ContinueStep,
    EditStep,
    IngestStep,
    InvoiceStep,
    PlanSpec,
    RateCardSpec,
    RestoreStep,
    ResyncStep,
    RunKeys,
    Scenario,
    Step,
    SubscribeStep,
    TimingKind,
    WaitStep,
    new_run_id,
)
from contract.scenario.model import Expectation as ScenarioExpectation
from contract.scenario.model import Timing as ScenarioTiming
from contract.scenario.result import Exchange, LogEvidence, ScenarioResult, StepResult, Verdict
from contract.scenario.timeexpr import TimeExpr
from contract.scenario.timeline import EngineCall, EngineTimeline
from contract.worklog.records import parse_text

__all__ = [
    "LIVE_FIELDS",
    "EngineCall",
    "EngineTimeline",
    "Environment",
    "ForceSync",
    "ForceSyncOutcome",
    "LogReader",
    "PollPolicy",
    "Runner",
    "StopScenario",
    "SyncStateLookup",
]

# ------------------------------------------------------------------------------ the runner

#: A failure seen on this many delivery attempts, for this long into the step, is taken as
#: deterministic and polling stops waiting. The worker's quick retries reach the DLQ within seconds
#: (then polling stops at the DLQ line, with the whole evidence); a slower retry policy is cut here
#: instead of at the step's deadline.
REPEATED_FAILURE_ATTEMPTS = 3
REPEATED_FAILURE_AFTER_S = 8.0


@dataclass
class _Run:
    scenario: Scenario
    keys: RunKeys
    timeline: EngineTimeline
    index: ItemIndex = field(default_factory=ItemIndex)
    customer_id: str = ""
    features: dict[str, tuple[str, str]] = field(default_factory=dict)  # logical -> (feature id, meter id)
    plans: dict[str, str] = field(default_factory=dict)  # logical -> plan id
    subscription_id: str | None = None  # the current subscription
    subscriptions: list[str] = field(default_factory=list)  # every subscription of the run
    view: SubscriptionView | None = None
    last_observed: dict[str, Snapshot] = field(default_factory=dict)
    event_seq: int = 0
    ingested: dict[str, Decimal] = field(default_factory=dict)
    step_findings: list[Finding] = field(default_factory=list)  # found while acting (e.g. a failed job)
    step_log_text: str = ""  # log output the step produced outside the worker log (a jobs command)
    step_notes: list[str] = field(default_factory=list)  # observations that do not change the verdict
    views: dict[str, SubscriptionView] = field(default_factory=dict)  # every subscription as last read
    not_predicted: str | None = None  # why the engine cannot model this run (invariants still judge it)
    replaced: str | None = None  # the subscription a plan change scheduled for later replaces (for restore)


class Runner:
    def __init__(self, env: Environment) -> None:
        self.env = env

    # -------------------------------------------------------------- helpers
    def _say(self, text: str) -> None:
        if self.env.progress is not None:
            self.env.progress(text)

    @property
    def client(self) -> OpenMeterClient:
        return self.env.client

    def run(self, scenario: Scenario, *, run_id: str | None = None) -> ScenarioResult:
        started = self.env.clock.monotonic()
        skip = self._skip_reason(scenario)
        if skip is not None:
            return ScenarioResult(
                scenario.id,
                scenario.title,
                Verdict.SKIPPED,
                reason=skip,
                provenance=scenario.provenance,
                known_issues=scenario.known_issues,
                source_path=scenario.source,
            )
        keys = scenario.keys_for_run(run_id or new_run_id())
        run = _Run(scenario, keys, EngineTimeline(scenario.sync_config(), self.env.behaviour))
        if self.client.recorder is not None:
            self.client.recorder.note(
                "start", scenario=scenario.id, run_id=keys.run_id, target=self.env.target.kind.value
            )
        steps: list[StepResult] = []
        verdict, reason = self._setup_or_fail(run, steps)
        if verdict is Verdict.AGREE:
            for step in scenario.steps:
                self._say(f"{scenario.id}: step {step.index + 1}/{len(scenario.steps)} {step.label}")
                result, stop = self._step_or_stop(run, step)
                if result is not None:
                    steps.append(result)
                    if result.verdict is not Verdict.AGREE:
                        verdict = result.verdict if verdict is not Verdict.ERROR else verdict
                if stop is not None:
                    reason = stop
                    if result is None:
                        verdict = Verdict.ERROR
                    break
        return ScenarioResult(
            scenario_id=scenario.id,
            title=scenario.title,
            verdict=verdict,
            steps=tuple(steps),
            provenance=scenario.provenance,
            known_issues=scenario.known_issues,
            reason=reason,
            duration_seconds=round(self.env.clock.monotonic() - started, 3),
            run_id=keys.run_id,
            customer_id=run.customer_id or None,
            subscription_ids=tuple(run.subscriptions),
            source_path=scenario.source,
        )

    def _setup_or_fail(self, run: _Run, steps: list[StepResult]) -> tuple[Verdict, str | None]:
        try:
            self._setup(run)
        except OpenMeterUnreachable as err:
            return Verdict.ERROR, str(err)
        except OpenMeterError as err:
            # Setup only prepares the scenario (meters, features, customer, plans): OpenMeter refusing
            # or failing it says nothing about sync, so it is not a disagreement, but a run that could
            # not be made (exit 3, OpenMeter failing).
            return Verdict.ERROR, f"setup failed: {err}"
        return Verdict.AGREE, None

    def _step_or_stop(self, run: _Run, step: Step) -> tuple[StepResult | None, str | None]:
        """Run one step; the second value says why the scenario cannot go on (None: it can)."""
        try:
            result = self._run_step(run, step)
        except _StopWith as stop:
            return stop.result, stop.result.summary
        except OpenMeterUnreachable as err:
            return StepResult(step.index, step.label, f"OpenMeter unreachable: {err}", Verdict.ERROR), str(err)
        except OpenMeterError as err:  # an answer the client cannot read: a contract finding
            finding = Finding(FindingKind.SCHEMA, str(err), step=step.label)
            return StepResult(
                step.index, step.label, f"unexpected answer: {err}", Verdict.DISAGREE, findings=(finding,)
            ), str(err)
        except StopScenario as err:
            return None, str(err)
        if result.verdict is Verdict.ERROR:
            return result, result.summary
        return result, None

    def _skip_reason(self, scenario: Scenario) -> str | None:
        if self.env.force_sync is None and any(isinstance(s, ResyncStep) for s in scenario.steps):
            # a capability this target lacks, like a configuration it does not have: skip, say why
            return (
                "needs a way to force a subscription sync (a resync step): give --force-sync-command "
                "(attach mode) or let omcontract boot the stack"
            )
        known = self.env.server_config
        if known is None:
            return None
        need = {
            "credits": scenario.requires.credits,
            "credit_then_invoice": scenario.requires.credit_then_invoice,
        }
        for name, wanted in need.items():
            have = known.get(name)
            if have is not None and have != wanted:
                return (
                    f"needs OpenMeter with {name} {'on' if wanted else 'off'}; "
                    f"this one has it {'on' if have else 'off'}"
                )
        return None

    @contextlib.contextmanager
    def _step_exchanges(self) -> Iterator[list[Exchange]]:
        """Collect the HTTP exchanges made inside the block (for curl reproductions)."""
        collected: list[Exchange] = []

        def listener(method: str, url: str, body: Any, status: int | None) -> None:
            collected.append(Exchange(method, url, body, status))

        self.client.add_exchange_listener(listener)
        try:
            yield collected
        finally:
            self.client.remove_exchange_listener(listener)

    # -------------------------------------------------------------- setup
    def _setup(self, run: _Run) -> None:
        sc, keys, c = run.scenario, run.keys, self.client
        self._say(f"{sc.id}: set-up (run {keys.run_id})")
        with c.step("setup"):
            for f in sc.setup.features:
                meter = c.create_meter(
                    keys.meters[f.key],
                    f"meter {f.key}",
                    keys.event_types[f.key],
                    aggregation=f.meter.aggregation.value,
                    value_property=f.meter.value_property or "$.value",
                )
                feature = c.create_feature(keys.features[f.key], f.name, meter.id)
                run.features[f.key] = (feature.id, meter.id)
            cust = sc.setup.customer
            customer = c.create_customer(
                keys.customer, cust.name or f"omcontract {keys.run_id}", cust.currency, [keys.subject]
            )
            run.customer_id = customer.id
            if not sc.profile.is_default:
                profile = c.create_profile_from_default(
                    f"omcontract {keys.run_id}",
                    progressive_billing=sc.profile.progressive_billing,
                    end_proration=sc.profile.end_proration.value if sc.profile.end_proration else None,
                )
                c.set_customer_profile(customer.id, profile.id)
            for g in sc.setup.grants:
                c.create_credit_grant(customer.id, g.amount, g.currency, g.name or f"grant {keys.run_id}")
            for plan in sc.setup.plans:
                created = c.create_plan(self._plan_input(run, plan))
                c.publish_plan(created.id)
                run.plans[plan.key] = created.id

    def _rate_card_input(self, run: _Run, rc: RateCardSpec) -> RateCardInput:
        price: PriceInput | None = None
        term = PaymentTerm.IN_ARREARS
        if rc.price is not None:
            kind = rc.price.kind.value
            if kind == "flat":
                price = PriceInput.flat(rc.price.amount or Decimal(0))
                term = rc.price.payment_term
            elif kind == "unit":
                price = PriceInput.unit(rc.price.amount or Decimal(0))
            else:
                tiers = tuple(
                    TierInput.of(up_to=t.up_to, unit=t.unit_amount, flat=t.flat_amount) for t in rc.price.tiers
                )
                price = PriceInput.graduated(*tiers) if kind == "graduated" else PriceInput.volume(*tiers)
        feature_id = run.features[rc.feature][0] if rc.feature else None
        return RateCardInput(
            key=run.keys.item_key(rc.key),
            name=rc.name,
            price=price,
            feature_id=feature_id,
            feature_key=run.keys.features[rc.feature] if rc.feature else None,
            billing_cadence=str(rc.billing_cadence) if rc.billing_cadence is not None else None,
            payment_term=term,
        )

    def _plan_input(self, run: _Run, plan: PlanSpec) -> PlanInput:
        phases = tuple(
            PhaseInput(
                key=ph.key,
                name=ph.name,
                rate_cards=tuple(self._rate_card_input(run, rc) for rc in ph.rate_cards),
                duration=str(ph.duration) if ph.duration is not None else None,
            )
            for ph in plan.phases
        )
        return PlanInput(
            key=run.keys.plans[plan.key],
            name=plan.name,
            currency=plan.currency,
            phases=phases,
            billing_cadence=str(plan.billing_cadence),
            pro_rating=plan.pro_rating,
            settlement_mode=plan.settlement_mode,
        )

    # -------------------------------------------------------------- time
    def _named_instants(self, run: _Run) -> dict[str, datetime]:
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

    def _resolve(self, run: _Run, expr: TimeExpr) -> datetime:
        return expr.resolve(self.env.clock.now(), self._named_instants(run))

    def _timing(self, run: _Run, timing: ScenarioTiming) -> Timing:
        if timing.kind is TimingKind.IMMEDIATE:
            return "immediate"
        if timing.kind is TimingKind.NEXT_BILLING_CYCLE:
            return "next_billing_cycle"
        assert timing.at is not None
        return self._resolve(run, timing.at)

    # -------------------------------------------------------------- a step
    def _run_step(self, run: _Run, step: Step) -> StepResult:
        log_mark = self._log_mark()
        try:
            return self._run_marked_step(run, step, log_mark)
        finally:
            self._record_worker_log(run, step, log_mark)

    def _record_worker_log(self, run: _Run, step: Step, log_mark: Any) -> None:
        """Recordings carry the step's worker-log lines about the run's subscriptions (one note per
        step, even when empty), so a replay shows the same log evidence."""
        recorder = self.client.recorder
        if recorder is None:
            return
        from contract.stack.signatures import subscription_of

        mine = set(run.subscriptions)
        lines = [r.raw for r in self._log_records(log_mark) if subscription_of(r) in mine]
        recorder.note(f"{step.index}:{step.kind}", worker_log=lines, logs_available=self.env.logs is not None)

    def _run_marked_step(self, run: _Run, step: Step, log_mark: Any) -> StepResult:
        run.step_findings, run.step_log_text, run.step_notes = [], "", []
        t0 = self.env.clock.monotonic()
        synced_before = self._synced_at(run)
        before = {sid: snap for sid, snap in run.last_observed.items()}
        with (
            self._step_exchanges() as exchanges,
            self.client.step(f"{step.index}:{step.kind}"),
            self.client.collect_findings() as schema_found,
        ):
            try:
                summary, expect_sync = self._act(run, step)
            except OpenMeterProblem as err:
                return self._refusal_result(run, step, err, list(exchanges))
            except OpenMeterUnreachable as err:
                return StepResult(
                    step.index,
                    step.label,
                    f"OpenMeter unreachable: {err}",
                    Verdict.ERROR,
                    exchanges=tuple(exchanges),
                )
            if step.refused is not None:
                finding = Finding(
                    FindingKind.REFUSED,
                    f"OpenMeter accepted the step; expected a refusal with status "
                    f"{step.refused.status}" + (f" ({step.refused.code})" if step.refused.code else ""),
                    step=step.label,
                    expected=str(step.refused.status),
                    actual="accepted",
                )
                return StepResult(
                    step.index,
                    step.label,
                    summary,
                    Verdict.DISAGREE,
                    findings=(finding,),
                    exchanges=tuple(exchanges),
                )
            if not expect_sync or run.subscription_id is None:
                self._refresh_observed(run)
                return StepResult(
                    step.index,
                    step.label,
                    summary,
                    Verdict.AGREE,
                    exchanges=tuple(exchanges),
                    waited_seconds=round(self.env.clock.monotonic() - t0, 3),
                )
            findings, expected, observed, quiet = self._await_sync(run, step, before, log_mark)
        logs = self._log_evidence(run, log_mark)
        if run.step_log_text and self.env.scan_logs is not None:
            logs += self.env.scan_logs(parse_text(run.step_log_text, source="sync job"), run.subscriptions)
        synced_after = self._synced_at(run)
        sync_ran = None
        if synced_after is not None or synced_before is not None:
            sync_ran = synced_after is not None and synced_after != synced_before
        findings = [*run.step_findings, *findings]
        for schema in schema_found:
            if self.env.schema_findings == "strict":
                findings.append(schema)
            else:
                run.step_notes.append(f"response does not match the OpenAPI document: {schema.one_line()}")
        for ev in logs:
            if ev.conclusive:
                findings.append(_log_finding(ev, step.label))
        active_to = {sid: view.active_to for sid, view in run.views.items()}
        findings += invariants.check(step.label, step.kind, observed, active_to, sync_ran)
        if run.not_predicted is not None:
            run.step_notes.append(f"not predicted: {run.not_predicted}; judged by the invariants only")
        explanation = None
        if findings:
            explanation = self._explain(run, observed, findings, quiet, sync_ran, logs)
        verdict = Verdict.DISAGREE if findings else Verdict.AGREE
        return StepResult(
            index=step.index,
            name=step.label,
            summary=summary,
            verdict=verdict,
            findings=tuple(findings),
            expected=expected.get(run.subscription_id or "") if expected else None,
            observed=observed.get(run.subscription_id or "") if observed else None,
            logs=tuple(logs),
            exchanges=tuple(exchanges),
            waited_seconds=round(self.env.clock.monotonic() - t0, 3),
            sync_ran=sync_ran,
            explanation=explanation,
            notes=tuple(dict.fromkeys(run.step_notes)),
        )

    def _refusal_result(self, run: _Run, step: Step, err: OpenMeterProblem, exchanges: list[Exchange]) -> StepResult:
        expected = step.refused
        if expected is not None:
            problems = []
            if err.status != expected.status:
                problems.append(
                    Finding(
                        FindingKind.REFUSED,
                        "refused with another status",
                        step=step.label,
                        field="status",
                        expected=str(expected.status),
                        actual=str(err.status),
                    )
                )
            if expected.code is not None and expected.code not in err.codes:
                problems.append(
                    Finding(
                        FindingKind.REFUSED,
                        "refused with other problem codes",
                        step=step.label,
                        field="code",
                        expected=expected.code,
                        actual=", ".join(err.codes) or "none",
                    )
                )
            verdict = Verdict.DISAGREE if problems else Verdict.AGREE
            return StepResult(
                step.index,
                step.label,
                f"{step.kind} refused as expected: {err.status}" if not problems else f"{step.kind} refused: {err}",
                verdict,
                findings=tuple(problems),
                exchanges=tuple(exchanges),
            )
        finding = Finding(
            FindingKind.REFUSED, f"OpenMeter refused the step: {err}", step=step.label, actual=str(err.status)
        )
        result = StepResult(
            step.index,
            step.label,
            f"{step.kind} refused: {err}",
            Verdict.DISAGREE,
            findings=(finding,),
            exchanges=tuple(exchanges),
        )
        # The rest of the scenario depends on this step.
        raise _StopWith(result)

    # -------------------------------------------------------------- actions
    def _act(self, run: _Run, step: Step) -> tuple[str, bool]:
        """Perform ``step``; return its one-line summary and whether a sync must be awaited."""
        c, clock = self.client, self.env.clock
        if isinstance(step, SubscribeStep):
            anchor = self._resolve(run, step.billing_anchor) if step.billing_anchor is not None else None
            timing: Timing | None = None if step.timing.is_now else self._resolve(run, step.timing)
            plan_spec = run.scenario.setup.plan(step.plan)
            mode = step.settlement_mode or plan_spec.settlement_mode
            created = c.create_subscription(
                run.customer_id,
                plan_id=run.plans[step.plan],
                settlement_mode=mode,
                billing_anchor=anchor,
                timing=timing,
            )
            run.subscription_id = created.id
            run.subscriptions.append(created.id)
            view = self._read_view(run)
            self._engine_sync(run, view, as_of=clock.now())
            return f"subscribed {created.id} from {format_time(view.active_from)}", True
        sid = self._require_subscription(run, step)
        if isinstance(step, IngestStep):
            at = self._resolve(run, step.at)
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
            c.ingest(events, batch=False)
            run.ingested[fid] = run.ingested.get(fid, Decimal(0)) + sum(step.values, Decimal(0))
            problem = self._await_usage(run, fid)
            note = f" ({problem})" if problem else ""
            return f"ingested {len(events)} event(s), total {sum(step.values, Decimal(0))}{note}", False
        if isinstance(step, CancelStep):
            self._leave_start_second(run)
            timing = self._timing(run, step.timing)
            c.cancel_subscription(sid, timing)
            view = self._read_view(run)
            as_of = view.active_to or clock.now()
            self._engine_sync(run, view, as_of=as_of)
            return (
                f"cancel {step.timing} -> activeTo {format_time(view.active_to) if view.active_to else '-'}",
                True,
            )
        if isinstance(step, EditStep):
            self._leave_start_second(run)
            view = run.view or self._read_view(run)
            phase = step.phase or self._current_phase_key(view)
            ops: list[Any] = [add_item(phase, self._rate_card_input(run, rc)) for rc in step.add]
            ops += [remove_item(phase, run.keys.item_key(k)) for k in step.remove]
            c.edit_subscription(sid, ops, self._timing(run, step.timing))
            view = self._read_view(run)
            self._engine_sync(run, view, as_of=clock.now())
            return f"edit phase {phase}: +{len(step.add)} -{len(step.remove)} item(s)", True
        if isinstance(step, ChangePlanStep):
            self._leave_start_second(run)
            changed = c.change_subscription(sid, run.customer_id, run.plans[step.plan], self._timing(run, step.timing))
            old_view = self._read_view(run)
            old_as_of = old_view.active_to or clock.now()
            self._engine_sync(run, old_view, as_of=old_as_of)
            run.replaced = sid if step.timing.kind is not TimingKind.IMMEDIATE else None
            run.subscription_id = changed.next.id
            run.subscriptions.append(changed.next.id)
            view = self._read_view(run)
            self._engine_sync(run, view, as_of=clock.now())
            return f"changed plan: {sid} ends {format_time(old_as_of)}, {changed.next.id} starts", True
        if isinstance(step, RestoreStep):
            if run.replaced is None:
                raise StopScenario(f"step {step.index} (restore) needs a plan change scheduled for later")
            previous, successor = run.replaced, sid
            c.restore_subscription(previous)
            # OpenMeter deletes the scheduled successor: a deleted subscription's target is empty
            # (sync-model §3.2), so everything sync made for it must go
            gone = run.views[successor]
            run.views[successor] = replace(gone, active_to=gone.active_from)
            self._engine_sync(run, run.views[successor], as_of=clock.now())
            run.subscription_id, run.replaced = previous, None
            view = self._read_view(run)
            self._engine_sync(run, view, as_of=clock.now())
            return f"restored {previous}; its scheduled successor {successor} deleted", True
        if isinstance(step, ContinueStep):
            c.continue_subscription(sid)
            view = self._read_view(run)
            self._engine_sync(run, view, as_of=clock.now())
            return "continued (cancel unscheduled)", True
        if isinstance(step, InvoiceStep):
            # The cut is sent explicitly (asOf): OpenMeter's own "now" could fall in another second than
            # the engine's and move a progressive cut by one (seen live).
            cutoff = self._resolve(run, step.as_of) if step.as_of is not None else clock.now()
            # no override is sent: OpenMeter applies the billing profile's progressive-billing setting
            progressive = run.timeline.config.progressive_billing if step.progressive is None else step.progressive
            invoices = c.invoice_pending_lines(run.customer_id, as_of=cutoff, progressive=step.progressive)
            now = clock.now()
            run.timeline.apply(EngineCall("invoice", None, run.customer_id, cutoff, now, progressive))
            return f"invoiced pending lines: {len(invoices)} invoice(s)", True
        if isinstance(step, WaitStep):
            target = add(self._resolve(run, step.until), step.plus)
            wait = (target - clock.now()).total_seconds()
            limit = add(clock.now(), step.max) - clock.now()
            if wait > limit.total_seconds():
                raise StopScenario(
                    f"step {step.index}: waiting until {format_time(target)} would take "
                    f"{wait:.0f}s, more than max {step.max}"
                )
            self._say(f"{run.scenario.id}: waiting {max(wait, 0):.1f}s until {format_time(target)}")
            clock.sleep(max(wait, 0.0))
            return f"waited until {format_time(target)}", False
        if isinstance(step, ResyncStep):
            if self.env.force_sync is None:
                raise StopScenario(
                    "this OpenMeter offers no way to force a subscription sync: give --force-sync-command "
                    "(attach mode) or boot the stack with omcontract"
                )
            outcome = self.env.force_sync(run.customer_id)
            if outcome is None:
                raise StopScenario("forcing a subscription sync is not available on this OpenMeter")
            view = self._read_view(run)
            # the jobs command only syncs; it does not invoice what became due
            self._engine_sync(run, view, as_of=clock.now(), kind="sync_only")
            if not outcome.ok:
                run.step_findings.append(
                    Finding(FindingKind.ERROR, f"the forced sync failed: {outcome.detail}", step=step.label)
                )
                run.step_log_text += outcome.output
                return "forced a subscription sync: it FAILED", True
            return "forced a subscription sync", True
        raise StopScenario(f"step kind {step.kind} is not supported by this runner")

    def _leave_start_second(self, run: _Run) -> None:
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

    def _require_subscription(self, run: _Run, step: Step) -> str:
        if run.subscription_id is None:
            raise StopScenario(f"step {step.index} ({step.kind}) needs a subscription: subscribe first")
        return run.subscription_id

    @staticmethod
    def _current_phase_key(view: SubscriptionView) -> str:
        current = view.phases[0].key
        for ph in view.phases:
            if ph.active_to is None or ph.active_to > ph.active_from:
                current = ph.key
                break
        return current

    def _read_view(self, run: _Run) -> SubscriptionView:
        assert run.subscription_id is not None
        view = self.client.get_subscription(run.subscription_id)
        run.view = view
        run.views[view.id] = view
        run.index.learn(view)
        return view

    def _engine_sync(self, run: _Run, view: SubscriptionView, as_of: datetime, kind: str = "sync") -> None:
        if run.not_predicted is not None:
            return
        try:
            sub = to_engine_subscription(view, run.scenario.setup.customer.currency)
        except MappingError as err:
            # OpenMeter is still judged by the invariants (contract.scenario.invariants)
            run.not_predicted = f"the engine cannot model this subscription: {err}"
            return
        run.timeline.apply(EngineCall(kind, sub, run.customer_id, as_of, self.env.clock.now()))

    def _await_usage(self, run: _Run, feature: str) -> str | None:
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

    # -------------------------------------------------------------- observing and judging
    def _observe(self, run: _Run, predicted: dict[str, Snapshot]) -> dict[str, Snapshot]:
        charges = self._charges(run)
        invoices = self.client.list_invoices(run.customer_id)
        return {sid: observe(sid, charges, invoices, run.index, predicted.get(sid)) for sid in run.subscriptions}

    def _charges(self, run: _Run) -> list[Any]:
        """The customer's charges; none where OpenMeter runs without a charges stack.

        With ``credits.enabled: false`` the v3 charges endpoint answers 501 Not Implemented
        (observed live): there are no charges to read, which is what the engine predicts."""
        if self.env.server_config is not None and self.env.server_config.get("credits") is False:
            return []
        try:
            return list(self.client.list_charges(run.customer_id))
        except OpenMeterProblem as err:
            if err.status == 501:
                return []
            raise

    def _refresh_observed(self, run: _Run) -> None:
        if run.subscriptions:
            predicted = self._predicted(run)
            run.last_observed = self._observe(run, predicted)

    def _predicted(self, run: _Run) -> dict[str, Snapshot]:
        return {sid: run.timeline.snapshot(sid, run.customer_id) for sid in run.subscriptions}

    def _expectations(self, run: _Run, step: Step, predicted: dict[str, Snapshot]) -> dict[str, Expectation]:
        out: dict[str, Expectation] = {}
        if run.not_predicted is None:
            out = {sid: Expectation.from_snapshot(snap, LIVE_FIELDS) for sid, snap in predicted.items()}
        if step.expect is not None and run.subscription_id is not None:
            out[run.subscription_id + "#pinned"] = self._pinned(run, step.expect)
        return out

    def _pinned(self, run: _Run, expect: ScenarioExpectation) -> Expectation:
        assert run.subscription_id is not None
        sid = run.subscription_id
        return expect.for_run(lambda logical: run.keys.real_unique_id(logical, sid))

    def _judge(
        self,
        run: _Run,
        step: Step,
        expectations: dict[str, Expectation],
        observed: dict[str, Snapshot],
        before: dict[str, Snapshot],
    ) -> list[Finding]:
        findings: list[Finding] = []
        for key, expectation in expectations.items():
            sid = key.removesuffix("#pinned")
            snap = observed.get(sid)
            if snap is None:
                continue
            if sid in before:
                snap = mark_kept(before[sid], snap)
            if key.endswith("#pinned") and expectation.partial is Partial.NONE:
                # a written expectation pins only what it lists; the engine prediction covers the rest
                expectation = replace(expectation, partial=Partial.ALL)
            findings.extend(diff(expectation, snap, step.label))
        return _dedupe(findings)

    def _await_sync(
        self, run: _Run, step: Step, before: dict[str, Snapshot], log_mark: Any
    ) -> tuple[list[Finding], dict[str, Snapshot], dict[str, Snapshot], bool]:
        predicted = self._predicted(run)
        expectations = self._expectations(run, step, predicted)
        clock, poll = self.env.clock, self.env.poll
        deadline = clock.monotonic() + poll.deadline_s
        intervals = poll.intervals()
        previous: dict[str, Snapshot] | None = None
        quiet = 0
        observed: dict[str, Snapshot] = {}
        findings: list[Finding] = []
        polls = 0
        max_polls = int(poll.deadline_s / poll.first_interval_s) + 10  # a bound even if a clock stalls
        while True:
            polls += 1
            if polls > max_polls:
                raise StopScenario(f"polling after {step.label} did not reach its deadline in {max_polls} reads")
            try:
                observed = self._observe(run, predicted)
            except OpenMeterProblem as err:
                # A server error on a read while OpenMeter is mid-change: note it and keep polling;
                # if it lasts until the deadline it is the step's answer (raised to the caller).
                if (err.status or 0) < 500 or clock.monotonic() >= deadline:
                    raise
                run.step_notes.append(f"{err} — answered during the sync; a later read was tried")
                clock.sleep(min(next(intervals), max(deadline - clock.monotonic(), 0.0)))
                continue
            findings = self._judge(run, step, expectations, observed, before)
            quiet = quiet + 1 if previous is not None and _same(previous, observed) else 1
            previous = observed
            if not findings and quiet >= poll.quiet_snapshots:
                break
            if clock.monotonic() >= deadline:
                break
            waited = clock.monotonic() - (deadline - poll.deadline_s)
            if findings and quiet >= poll.quiet_snapshots and self._sync_failed(run, log_mark, waited):
                break  # the worker already failed this sync: waiting longer changes nothing
            remaining = deadline - clock.monotonic()
            self._say(
                f"{run.scenario.id}: waiting for sync after {step.label} "
                f"({len(findings)} difference(s), {remaining:.0f}s left)"
            )
            clock.sleep(min(next(intervals), max(remaining, 0.0)))
        run.last_observed = observed
        if findings and self._nothing_changed(before, observed, expectations, step):
            waited = clock.monotonic() - (deadline - poll.deadline_s)
            findings.insert(
                0,
                Finding(
                    FindingKind.NOT_SYNCED,
                    f"OpenMeter changed nothing in the {waited:.1f}s after the step: "
                    "the sync did not run or failed (see the worker log)",
                    step=step.label,
                ),
            )
        return findings, predicted, observed, quiet >= poll.quiet_snapshots

    @staticmethod
    def _nothing_changed(
        before: dict[str, Snapshot],
        observed: dict[str, Snapshot],
        expectations: dict[str, Expectation],
        step: Step,
    ) -> bool:
        """True when OpenMeter still shows the pre-step state although the prediction differs from it.

        A subscription the step created had nothing before it (an empty snapshot)."""
        was = {sid: before.get(sid, Snapshot()) for sid in observed}
        if any(was[sid] != observed[sid] for sid in observed):
            return False
        return any(diff(expectations[sid], was[sid], step.label) for sid in was if sid in expectations)

    # -------------------------------------------------------------- evidence
    def _log_mark(self) -> Any:
        if self.env.logs is None:
            return None
        try:
            return self.env.logs.mark()
        except Exception:
            return None

    def _log_records(self, log_mark: Any) -> list[Any]:
        if self.env.logs is None or log_mark is None:
            return []
        try:
            return list(self.env.logs.read_from(log_mark))
        except Exception:
            return []

    def _log_evidence(self, run: _Run, log_mark: Any) -> list[LogEvidence]:
        if self.env.scan_logs is None:
            return []
        return self.env.scan_logs(self._log_records(log_mark), run.subscriptions)

    def _sync_failed(self, run: _Run, log_mark: Any, waited_s: float) -> bool:
        """True once the worker log shows this run's sync failing: the DLQ line, or a failure (known
        conclusive or unknown) repeated over attempts — retries of a deterministic error change nothing."""
        for ev in self._log_evidence(run, log_mark):
            if ev.subscription_id not in (None, *run.subscriptions):
                continue
            repeated = ev.conclusive and ev.attempts >= REPEATED_FAILURE_ATTEMPTS
            if ev.terminal or (repeated and waited_s >= REPEATED_FAILURE_AFTER_S):
                return True
        return False

    def _synced_at(self, run: _Run) -> datetime | None:
        if self.env.sync_states is None or run.subscription_id is None:
            return None
        try:
            row = self.env.sync_states.get(run.subscription_id)
        except Exception:
            return None
        return getattr(row, "synced_at", None) if row is not None else None

    def _behaviour_explanation(self, behaviour: Behaviour, errors: Sequence[str], logs: Sequence[LogEvidence]) -> str:
        """Name a historical behaviour as the explanation only when the log shows its signature."""
        err = f" (its sync fails: {errors[-1]})" if errors else ""
        signature = BEHAVIOUR_SIGNATURES.get(behaviour)
        if signature is None or any(ev.signature == signature for ev in logs):
            return f"the engine's {behaviour.value} behaviour predicts exactly what was observed{err}"
        if self.env.logs is None:
            return (
                f"the state is consistent with the engine's {behaviour.value} behaviour{err}, but there is no "
                f"worker log to confirm it: the evidence (signature {signature}) is missing"
            )
        return (
            f"the state is consistent with the engine's {behaviour.value} behaviour{err}, but the worker log "
            f"does not show its signature ({signature}): another cause is likely"
        )

    def _explain(
        self,
        run: _Run,
        observed: dict[str, Snapshot],
        findings: list[Finding],
        quiet: bool,
        sync_ran: bool | None,
        logs: Sequence[LogEvidence] = (),
    ) -> str | None:
        parts: list[str] = []
        if run.not_predicted is not None:
            return "; ".join([run.not_predicted, *([] if quiet else ["OpenMeter's state was still changing"])])
        engine_disagrees = any(
            diff(
                Expectation.from_snapshot(run.timeline.snapshot(sid, run.customer_id), LIVE_FIELDS),
                snap,
            )
            for sid, snap in observed.items()
        )
        for behaviour in Behaviour:
            if behaviour is self.env.behaviour or not engine_disagrees:
                continue
            other = run.timeline.replay_as(behaviour)
            ok = all(
                not diff(Expectation.from_snapshot(other.snapshot(sid, run.customer_id), LIVE_FIELDS), snap)
                for sid, snap in observed.items()
            )
            if ok:
                parts.append(self._behaviour_explanation(behaviour, other.errors, logs))
        if sync_ran is False:
            parts.append("the sync-state table shows no successful sync since the step")
        if not quiet:
            parts.append("OpenMeter's state was still changing at the deadline")
        return "; ".join(parts) or None


#: The worker-log signature each historical behaviour of the engine leaves (its fingerprint).
BEHAVIOUR_SIGNATURES: dict[Behaviour, str] = {Behaviour.ISSUE_4412: "duplicate-unique-id"}


def _log_finding(ev: LogEvidence, step: str) -> Finding:
    """The finding of one piece of conclusive log evidence, quoting the worker's error text."""
    if ev.signature == "unknown-failure":
        text = (ev.error_first or "").replace("\n", " ")
        dlq = ", DLQ" if ev.dead_lettered else ""
        return Finding(
            FindingKind.LOG,
            f"sync failed, no known signature: {text!r}, {ev.attempts} attempt(s){dlq}",
            step=step,
            id=ev.subscription_id,
        )
    return Finding(
        FindingKind.LOG,
        f"{ev.title}" + (f" ({ev.upstream_issue})" if ev.upstream_issue else "") + f", {ev.attempts} attempt(s)",
        step=step,
        id=ev.unique_id or ev.subscription_id,
    )


class _StopWith(StopScenario):
    def __init__(self, result: StepResult) -> None:
        super().__init__(result.summary)
        self.result = result


def _same(a: dict[str, Snapshot], b: dict[str, Snapshot]) -> bool:
    return a.keys() == b.keys() and all(a[k] == b[k] for k in a)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for f in findings:
        key = (f.kind, f.id, f.field, f.expected, f.actual)
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out
