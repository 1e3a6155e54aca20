"""A scenario's ``steps``, read in order into typed steps, following the subscription's life.

Each step is a mapping with one action (:data:`~contract.scenario.model.STEP_KINDS`), an optional
``name`` and an optional ``expect`` (:mod:`contract.scenario.expect_reader`). The reader keeps what
it knows of the subscription (:class:`_Life`: none, active, canceled, inactive; the plan; items
added by edits; a replaced subscription) so that a step OpenMeter would refuse is named at load
(``continue`` without a scheduled cancel, an edit of an ended subscription, ...), unless the step
expects that refusal; a refused step changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml

from contract.model.domain import SettlementMode
from contract.model.time import Duration
from contract.scenario import model as sm
from contract.scenario.expect_reader import read_expect
from contract.scenario.node import ScenarioNode
from contract.scenario.setup_reader import rate_card
from contract.scenario.timeexpr import NOW, TimeBase, TimeExpr, TimeExprError, parse_time_expr
from contract.yamlread import missing_ref, optional, optional_text, unknown

_Fields = dict[str, ScenarioNode]  # a step body's fields by key
_Common = dict[str, Any]  # the fields every step has (index, line, name, expect, refused)

#: The longest a ``wait`` step may be allowed to wait (its ``max``).
MAX_WAIT = Duration(minutes=30)
MAX_EVENTS_PER_STEP = 1000

_STEP_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "subscribe": (("plan", "billing_anchor", "timing", "settlement_mode"), ("plan",)),
    "ingest": (("feature", "events", "value", "values", "at"), ("feature",)),
    "cancel": (("timing",), ()),
    "edit": (("add", "remove", "phase", "timing"), ()),
    "change_plan": (("plan", "timing", "settlement_mode"), ("plan",)),
    "continue": ((), ()),
    "restore": ((), ()),
    "invoice": (("as_of", "progressive"), ()),
    "approve": ((), ()),
    "wait": (("until", "plus", "max"), ("until",)),
    "resync": (("force",), ()),
}
_UNREFUSABLE = {"wait": "a wait makes no request", "resync": "a resync runs the jobs command, not a request"}


@dataclass(slots=True)
class _Life:
    """What the loader knows of the subscription at a step (for reference and state checks)."""

    state: str = "none"  # none | active | canceled (end scheduled) | inactive (ended)
    plan: sm.PlanSpec | None = None
    added: dict[str, sm.RateCardSpec] = field(default_factory=dict)  # item key -> rate card added by edits
    replaced: _Life | None = None  # a plan change scheduled for later: the subscription it replaces

    def describe(self) -> str:
        return {
            "none": "there is no subscription yet",
            "active": "the subscription is active and not canceled",
            "canceled": "the subscription's cancel is scheduled",
            "inactive": "the subscription has ended",
        }[self.state]


def _timing(n: ScenarioNode | None, allow_at: bool = True) -> sm.Timing:
    if n is None:
        return sm.IMMEDIATE
    value = n.scalar(("str", "timestamp"), "immediate, next_billing_cycle or a time expression")
    if value in (sm.TimingKind.IMMEDIATE.value, sm.TimingKind.NEXT_BILLING_CYCLE.value):
        return sm.Timing(sm.TimingKind(value))
    if not allow_at:
        raise n.error(
            f"bad timing {value!r}: edits take immediate or next_billing_cycle "
            "(OpenMeter rejects custom instants for edits)"
        )
    try:
        return sm.Timing(sm.TimingKind.AT, parse_time_expr(value))
    except TimeExprError as err:
        raise n.error(
            f"bad timing {value!r}: expected immediate, next_billing_cycle or a time expression; {err}"
        ) from None


def _settlement(m: dict[str, ScenarioNode]) -> SettlementMode | None:
    node = optional(m, "settlement_mode")
    if node is None:
        return None
    return SettlementMode(node.choice([s.value for s in SettlementMode], "settlement mode"))


class StepReader:
    """Reads steps in order, following the subscription's life to check each step makes sense."""

    def __init__(self, setup: sm.Setup) -> None:
        self.setup = setup
        self.features = {f.key: f for f in setup.features}
        self.plans = {p.key: p for p in setup.plans}
        self.life = _Life()

    def plan_ref(self, n: ScenarioNode) -> sm.PlanSpec:
        key = n.key()
        if key not in self.plans:
            raise n.error(missing_ref("plan", key, self.plans))
        return self.plans[key]

    def step(self, index: int, n: ScenarioNode) -> sm.Step:
        if not isinstance(n.node, yaml.MappingNode):
            raise n.error(f"a step is a mapping with one action ({', '.join(sm.STEP_KINDS)}), got {n.kind_name()}")
        names = n.key_names()
        actions = [k for k in names if k in sm.STEP_KINDS]
        extra = [k for k in names if k not in sm.STEP_KINDS and k not in ("name", "expect")]
        if len(actions) > 1:
            raise n.error(f"a step has exactly one action, found {len(actions)}: {', '.join(actions)}")
        if not actions:
            if extra:
                key_n = next(k for k, _ in n.pairs() if k.node.value == extra[0])
                raise key_n.error(unknown("step", extra[0], sm.STEP_KINDS), n.sub(extra[0]))
            raise n.error(f"a step needs an action (valid steps: {', '.join(sm.STEP_KINDS)})")
        kind = actions[0]
        m = n.mapping((kind, "name", "expect"), what="step key")
        name = optional_text(m, "name")
        expect, refused = read_expect(m["expect"]) if optional(m, "expect") is not None else (None, None)
        action = m[kind]
        if refused is not None and kind in _UNREFUSABLE:
            raise m["expect"].error(f"{_UNREFUSABLE[kind]} and cannot be refused")
        allowed, required = _STEP_KEYS[kind]
        body = action.mapping(allowed, required, what=f"{kind} field")
        common: dict[str, Any] = {
            "index": index,
            "line": action.line,
            "name": name,
            "expect": expect,
            "refused": refused,
        }
        handler: Callable[[ScenarioNode, _Fields, _Common, bool], sm.Step]
        handler = getattr(self, "_" + kind)
        return handler(action, body, common, refused is not None)

    # -- state helpers

    def _need_subscription(self, n: ScenarioNode, kind: str) -> None:
        if self.life.state == "none":
            raise n.error(f"{kind} needs a subscription: add a subscribe step before it")

    def _check_instants(self, node: ScenarioNode, expr: TimeExpr | None) -> None:
        if expr is None or expr.base is not TimeBase.NAMED:
            return
        if self.life.state == "none":
            raise node.error(f"{expr.name} needs a subscription: add a subscribe step before it")
        if expr.name in ("current_period_end", "current_period_start") and self.life.state == "inactive":
            raise node.error(f"{expr.name} exists only while the subscription runs, and it has ended")

    def _timed(self, m: dict[str, ScenarioNode], key: str) -> TimeExpr | None:
        node = optional(m, key)
        if node is None:
            return None
        expr = node.time()
        self._check_instants(node, expr)
        return expr

    # -- one method per step kind

    def _subscribe(
        self, n: ScenarioNode, m: dict[str, ScenarioNode], common: dict[str, Any], refused: bool
    ) -> sm.SubscribeStep:
        plan = self.plan_ref(m["plan"])
        if self.life.state in ("active", "canceled") and not refused:
            raise n.error(
                "the customer already has a subscription and OpenMeter allows one at a time (a "
                "second create is refused with 409): cancel it first, or expect: "
                "{refused: {status: 409}}"
            )
        anchor = self._timed(m, "billing_anchor")
        timing = self._timed(m, "timing") or NOW
        step = sm.SubscribeStep(
            plan=plan.key, billing_anchor=anchor, timing=timing, settlement_mode=_settlement(m), **common
        )
        if not refused:
            self.life = _Life(state="active", plan=plan)
        return step

    def _ingest(self, n: ScenarioNode, m: _Fields, common: _Common, refused: bool) -> sm.IngestStep:
        feature = m["feature"].key()
        if feature not in self.features:
            raise m["feature"].error(missing_ref("feature", feature, self.features))
        values_node = optional(m, "values")
        if values_node is not None:
            for other in ("events", "value"):
                if other in m:
                    raise m[other].error(f"give either values or {other}, not both")
            items = values_node.seq()
            if not items:
                raise values_node.error("values needs at least one value")
            values = tuple(v.decimal() for v in items)
        else:
            events_node = optional(m, "events")
            events = events_node.integer() if events_node is not None else 1
            if events_node is not None and not 1 <= events <= MAX_EVENTS_PER_STEP:
                raise events_node.error(f"events must be between 1 and {MAX_EVENTS_PER_STEP}, got {events}")
            value_node = optional(m, "value")
            value = value_node.decimal() if value_node is not None else Decimal(1)
            values = (value,) * events
        if len(values) > MAX_EVENTS_PER_STEP:
            raise n.error(f"at most {MAX_EVENTS_PER_STEP} events per step, got {len(values)}")
        return sm.IngestStep(feature=feature, values=values, at=self._timed(m, "at") or NOW, **common)

    def _cancel(self, n: ScenarioNode, m: _Fields, common: _Common, refused: bool) -> sm.CancelStep:
        self._need_subscription(n, "cancel")
        timing = _timing(optional(m, "timing"))
        if timing.at is not None:
            self._check_instants(m["timing"], timing.at)
        if self.life.state != "active" and not refused:
            raise n.error(
                f"OpenMeter cancels only active subscriptions (403 otherwise), and "
                f"{self.life.describe()}; to test the refusal, "
                "expect: {refused: {status: 403}}"
            )
        step = sm.CancelStep(timing=timing, **common)
        if not refused:
            ended = timing.kind is sm.TimingKind.IMMEDIATE or (timing.at is not None and _not_after_now(timing.at))
            self.life.state = "inactive" if ended else "canceled"
        return step

    def _edit(self, n: ScenarioNode, m: _Fields, common: _Common, refused: bool) -> sm.EditStep:
        self._need_subscription(n, "edit")
        plan = self.life.plan
        assert plan is not None
        if self.life.state != "active" and not refused:
            raise n.error(
                f"OpenMeter edits only active subscriptions, and {self.life.describe()}; "
                "to test the refusal, expect: {refused: {status: 403}}"
            )
        phase_node = optional(m, "phase")
        phase = None
        if phase_node is not None:
            phase = phase_node.key()
            if plan.phase(phase) is None:
                raise phase_node.error(missing_ref(f"phase of plan {plan.key!r}:", phase, [p.key for p in plan.phases]))
        add_node = optional(m, "add")
        remove_node = optional(m, "remove")
        adds = tuple(
            rate_card(item, self.features, plan.billing_cadence, str(plan.billing_cadence))
            for item in (add_node.seq() if add_node is not None else [])
        )
        existing = self._items(plan, phase)
        removes: list[str] = []
        for item in remove_node.seq() if remove_node is not None else []:
            key = item.key()
            if key not in existing:
                raise item.error(missing_ref("item to remove", key, existing))
            removes.append(key)
        if not adds and not removes:
            raise n.error("an edit needs add or remove (at least one rate card)")
        timing = _timing(optional(m, "timing"), allow_at=False)
        step = sm.EditStep(add=adds, remove=tuple(removes), phase=phase, timing=timing, **common)
        if not refused:
            for rc in adds:
                self.life.added[rc.key] = rc
        return step

    def _items(self, plan: sm.PlanSpec, phase: str | None) -> list[str]:
        keys: list[str] = []
        for p in plan.phases:
            if phase is None or p.key == phase:
                keys.extend(rc.key for rc in p.rate_cards if rc.key not in keys)
        keys.extend(k for k in self.life.added if k not in keys)
        return keys

    def _change_plan(
        self, n: ScenarioNode, m: dict[str, ScenarioNode], common: dict[str, Any], refused: bool
    ) -> sm.ChangePlanStep:
        self._need_subscription(n, "change_plan")
        plan = self.plan_ref(m["plan"])
        if self.life.state == "inactive" and not refused:
            raise n.error("change_plan needs a running subscription, and the subscription has ended")
        timing = _timing(optional(m, "timing"))
        if timing.at is not None:
            self._check_instants(m["timing"], timing.at)
        step = sm.ChangePlanStep(plan=plan.key, timing=timing, settlement_mode=_settlement(m), **common)
        if not refused:
            later = timing.kind is not sm.TimingKind.IMMEDIATE
            self.life = _Life(state="active", plan=plan, replaced=self.life if later else None)
        return step

    def _restore(
        self, n: ScenarioNode, m: dict[str, ScenarioNode], common: dict[str, Any], refused: bool
    ) -> sm.RestoreStep:
        self._need_subscription(n, "restore")
        if self.life.replaced is None and not refused:
            raise n.error(
                "restore needs a plan change scheduled for later (change_plan with timing "
                f"next_billing_cycle first): it deletes that successor; here {self.life.describe()}"
            )
        if not refused and self.life.replaced is not None:
            self.life = self.life.replaced
            self.life.state = "active"
        return sm.RestoreStep(**common)

    def _continue(
        self, n: ScenarioNode, m: dict[str, ScenarioNode], common: dict[str, Any], refused: bool
    ) -> sm.ContinueStep:
        self._need_subscription(n, "continue")
        if self.life.state != "canceled" and not refused:
            raise n.error(
                f"continue needs a cancel scheduled for later (cancel with timing "
                f"next_billing_cycle first), but {self.life.describe()}; OpenMeter refuses "
                "continue then (403) - to test that, expect: {refused: {status: 403}}"
            )
        if not refused:
            self.life.state = "active"
        return sm.ContinueStep(**common)

    def _invoice(
        self, n: ScenarioNode, m: dict[str, ScenarioNode], common: dict[str, Any], refused: bool
    ) -> sm.InvoiceStep:
        progressive = optional(m, "progressive")
        return sm.InvoiceStep(
            as_of=self._timed(m, "as_of"),
            progressive=progressive.boolean() if progressive is not None else None,
            **common,
        )

    def _wait(self, n: ScenarioNode, m: _Fields, common: _Common, refused: bool) -> sm.WaitStep:
        until = self._timed(m, "until")
        assert until is not None
        plus = m["plus"].duration(positive=False) if optional(m, "plus") is not None else Duration()
        limit = m["max"].duration() if optional(m, "max") is not None else sm.DEFAULT_WAIT_MAX
        if limit.approx_seconds() > MAX_WAIT.approx_seconds():
            raise m["max"].error(f"a wait may last at most {MAX_WAIT}, got {m['max'].node.value}")
        ahead = sum(o.approx_seconds() for o in until.offsets) + plus.approx_seconds()
        if until.base is TimeBase.NOW and ahead > limit.approx_seconds():
            raise m["until"].error(
                f"this wait would last longer than its max {limit}: raise max (at most {MAX_WAIT}) or wait less"
            )
        if until.name == "current_period_end" and self.life.state == "canceled":
            self.life.state = "inactive"  # a scheduled cancel takes effect at the period end
        return sm.WaitStep(until=until, plus=plus, max=limit, **common)

    def _approve(
        self, n: ScenarioNode, m: dict[str, ScenarioNode], common: dict[str, Any], refused: bool
    ) -> sm.ApproveStep:
        return sm.ApproveStep(**common)

    def _resync(self, n: ScenarioNode, m: _Fields, common: _Common, refused: bool) -> sm.ResyncStep:
        self._need_subscription(n, "resync")
        force = optional(m, "force")
        return sm.ResyncStep(force=force.boolean() if force is not None else False, **common)


def _not_after_now(expr: TimeExpr) -> bool:
    """``now`` or ``now`` minus something: the cancel ends the subscription at once."""
    return expr.base is TimeBase.NOW and sum(o.approx_seconds() for o in expr.offsets) <= 0


__all__ = ["MAX_EVENTS_PER_STEP", "MAX_WAIT", "StepReader"]
