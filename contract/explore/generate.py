"""Hypothesis strategies that draw whole scenarios: plans, customers and lifecycles.

Every drawn value is an ordinary scenario document (the dict a scenario file holds, see
``fixtures/scenarios/FORMAT.md``), so an example that disagrees is written out as a file that
``omcontract run`` reproduces, and the loader checks every drawn document exactly as it checks a
hand-written one.

The lifecycle is drawn as a list of *intentions* (cancel, edit, ingest, ...) interpreted against
the subscription's state as it goes: an intention that does not fit the state (a ``continue``
with no cancel scheduled) is dropped. Any sub-list of a valid lifecycle is therefore valid too,
which is what lets Hypothesis shrink a failing lifecycle by deleting steps.

What is generated, by dimension (the README lists the same table):

* rate cards — usage prices (unit, graduated, volume), flat fees in advance and in arrears,
  one-time fees, unpriced items; one to three per phase; every cadence OpenMeter accepts that
  aligns with the plan's; pro-rating on and off;
* plans — one to three phases (a free trial, fixed-length phases, an open last phase);
* settlement — credit_then_invoice, credit_only or the server default, per the configuration;
* customers with and without credit grants;
* actions — subscribe (anchor now or in the past), ingest, cancel (immediate, next billing
  cycle, at the current period's end), edit (add, remove, re-price), change plan (now, next
  cycle), continue, restore (delete the scheduled successor of a plan change, keep the previous
  subscription), invoice pending lines (progressive or not), approve the draft invoices,
  renewal through a forced sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from contract.model.time import Duration, cadences_align

__all__ = ["ACTIONS", "DIMENSIONS", "Surface", "scenarios"]

#: Plan cadences drawn (a subset of what OpenMeter accepts; weekly ones allow a renewal in a run).
PLAN_CADENCES = ("P1M", "P1W", "P2W", "P3M", "P1Y")
#: Rate-card cadences considered; only those aligned with the plan's cadence are drawn.
CARD_CADENCES = ("P1W", "P2W", "P4W", "P1M", "P3M", "P6M", "P1Y")
FEATURES = ("api_calls", "tokens", "storage")

#: Dimensions of the public surface and whether ``explore`` draws them (shown in the README).
DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("usage prices: unit, graduated, volume", "generated"),
    ("usage prices: package, dynamic", "not yet"),
    ("flat fees in advance and in arrears, recurring", "generated"),
    ("one-time fees (no cadence)", "generated"),
    ("unpriced items", "generated"),
    ("several rate cards per phase; every aligned cadence P1W…P1Y", "generated"),
    ("pro-rating on and off", "generated"),
    ("several phases: free trial, fixed-length phases, open last phase", "generated"),
    ("discounts on rate cards", "not yet"),
    ("settlement credit_then_invoice, credit_only, server default", "generated"),
    ("server configurations cti, no-cti, no-credits (skipped when the server has another)", "generated"),
    ("customers with and without credit grants", "generated"),
    ("subscribe now, billing anchor in the past", "generated"),
    ("ingest usage", "generated"),
    ("cancel immediately, at the next billing cycle, at the current period's end", "generated"),
    ("edit: add, remove, re-price an item", "generated"),
    ("change plan now and at the next billing cycle", "generated"),
    ("continue after a scheduled cancel", "generated"),
    ("invoice pending lines, progressive or not", "generated"),
    ("renewal through a forced sync (needs a force-sync command)", "generated"),
    ("approve the draft invoices (collection ended first)", "generated"),
    ("delete a scheduled subscription and restore the previous one", "generated"),
)

#: The lifecycle intentions drawn. Hypothesis favours the first entries; an immediate cancel ends a
#: lifecycle, so it comes late. (Shrinking is structural, see contract.explore.shrink.)
ACTIONS = (
    "ingest",
    "change_plan_next",
    "restore",
    "cancel_next",
    "cancel_at_period_end",
    "edit_add",
    "edit_remove",
    "edit_reprice",
    "continue",
    "change_plan_now",
    "invoice",
    "approve",
    "renew",
    "cancel_now",
)


@dataclass(frozen=True, slots=True)
class Surface:
    """What the target can serve: its configuration and whether a sync can be forced."""

    config: str = "cti"  # cti | no-cti | no-credits
    can_force_sync: bool = True
    max_steps: int = 5

    @property
    def credits(self) -> bool:
        return self.config != "no-credits"

    @property
    def credit_then_invoice(self) -> bool:
        return self.config == "cti"


def _aligned(plan_cadence: str) -> list[str]:
    plan = Duration.parse(plan_cadence)
    return [c for c in CARD_CADENCES if cadences_align(plan, Duration.parse(c))]


@st.composite
def _price(draw: st.DrawFn, usage: bool) -> dict[str, Any] | None:
    if usage:
        kind = draw(st.sampled_from(["unit", "graduated", "volume", "unpriced"]))
        if kind == "unpriced":
            return None
        if kind == "unit":
            return {"type": "unit", "amount": draw(st.sampled_from(["0.10", "1", "0.015"]))}
        first = draw(st.sampled_from(["10", "100"]))
        return {
            "type": kind,
            "tiers": [
                {"up_to": first, "unit_amount": "0.10"},
                {"unit_amount": "0.05", **({"flat_amount": "2"} if draw(st.booleans()) else {})},
            ],
        }
    kind = draw(st.sampled_from(["flat", "unpriced"]))
    if kind == "unpriced":
        return None
    return {
        "type": "flat",
        "amount": draw(st.sampled_from(["5", "30", "99.99"])),
        "payment_term": draw(st.sampled_from(["in_advance", "in_arrears"])),
    }


@st.composite
def _rate_card(draw: st.DrawFn, plan_cadence: str, used: set[str]) -> dict[str, Any] | None:
    """One rate card; None when the drawn feature is already on the phase."""
    usage = draw(st.booleans())
    aligned = _aligned(plan_cadence)
    if usage:
        feature = draw(st.sampled_from(FEATURES))
        if feature in used:
            return None
        used.add(feature)
        card: dict[str, Any] = {"key": feature, "feature": feature}
        card["billing_cadence"] = draw(st.sampled_from([plan_cadence, *[c for c in aligned if c != plan_cadence]]))
        price = draw(_price(usage=True))
    else:
        key = draw(st.sampled_from(["fee", "setup_fee", "support"]))
        if key in used:
            return None
        used.add(key)
        card = {"key": key}
        one_time = draw(st.booleans())
        price = draw(_price(usage=False))
        if not one_time or price is None:
            card["billing_cadence"] = draw(st.sampled_from([plan_cadence, *[c for c in aligned if c != plan_cadence]]))
    card["price"] = price
    return card


@st.composite
def _phase_cards(draw: st.DrawFn, plan_cadence: str) -> list[dict[str, Any]]:
    used: set[str] = set()
    cards = [draw(_rate_card(plan_cadence, used)) for _ in range(draw(st.integers(1, 3)))]
    return [c for c in cards if c is not None] or [
        {
            "key": "api_calls",
            "feature": "api_calls",
            "billing_cadence": plan_cadence,
            "price": {"type": "unit", "amount": "1"},
        }
    ]


@st.composite
def _plan(draw: st.DrawFn, key: str, surface: Surface, plan_cadence: str) -> dict[str, Any]:
    phases: list[dict[str, Any]] = []
    shape = draw(st.sampled_from(["single", "trial", "fixed_then_open"]))
    if shape == "trial":
        # OpenMeter refuses to publish a plan with an empty phase (plan_phase_has_no_rate_cards, seen
        # live): a free trial carries an unpriced item
        trial_card = {"key": "trial_access", "billing_cadence": plan_cadence, "price": None}
        phases.append(
            {"key": "trial", "duration": draw(st.sampled_from(["P1M", "P1W", "P14D"])), "rate_cards": [trial_card]}
        )
    elif shape == "fixed_then_open":
        phases.append(
            {
                "key": "intro",
                "duration": draw(st.sampled_from(["P1M", "P2M"])),
                "rate_cards": draw(_phase_cards(plan_cadence)),
            }
        )
    phases.append({"key": "default", "rate_cards": draw(_phase_cards(plan_cadence))})
    plan: dict[str, Any] = {"key": key, "currency": "USD", "billing_cadence": plan_cadence, "phases": phases}
    if not draw(st.booleans()):
        plan["pro_rating"] = False
    if surface.credits:
        mode = draw(st.sampled_from(["credit_then_invoice", "default", "credit_only"]))
        if mode != "default":
            plan["settlement_mode"] = mode
    return plan


class _Life:
    """The subscription's state while intentions are interpreted (see the module docstring)."""

    def __init__(self, items: set[str], has_other_plan: bool) -> None:
        self.state = "active"  # active | scheduled (a cancel or change is pending) | ended
        self.items = set(items)
        self.renewed = False
        self.has_other_plan = has_other_plan
        self.changed = False
        self.renewable = False  # the first period ends inside the run (see scenarios())
        self.change_scheduled = False  # a plan change waits for the next cycle (restore can undo it)


def _usage_items(cards: list[dict[str, Any]]) -> set[str]:
    return {str(c["feature"]) for c in cards if c.get("feature")}


@st.composite
def scenarios(draw: st.DrawFn, surface: Surface | None = None) -> dict[str, Any]:
    """A whole scenario document (without ``id``/``title``: see :func:`contract.explore.found`)."""
    surface = surface or Surface()
    weekly = draw(st.booleans())
    plan_cadence = "P1W" if weekly else draw(st.sampled_from([c for c in PLAN_CADENCES if c != "P1W"]))
    main = draw(_plan("p", surface, plan_cadence))
    plans = [main]
    other_plan = draw(st.booleans())
    if other_plan:
        plans.append(draw(_plan("q", surface, plan_cadence)))
    subscribe: dict[str, Any] = {"plan": "p"}
    renewable = weekly and surface.can_force_sync and len(main["phases"]) == 1
    if renewable and draw(st.booleans()):
        subscribe["billing_anchor"] = "now-P1W+PT15S"  # a first period ending inside the run
    elif draw(st.booleans()):
        subscribe["billing_anchor"] = draw(st.sampled_from(["now-P3D", "now-PT1H"]))
    steps: list[dict[str, Any]] = [{"subscribe": subscribe}]
    first_cards = main["phases"][0]["rate_cards"]
    life = _Life(_usage_items(first_cards), other_plan)
    features_in_plans = {
        str(c["feature"]) for p in plans for ph in p["phases"] for c in ph["rate_cards"] if c.get("feature")
    }
    life.renewable = subscribe.get("billing_anchor") == "now-P1W+PT15S"
    for intention in draw(
        st.lists(st.sampled_from(ACTIONS), min_size=min(2, surface.max_steps), max_size=surface.max_steps)
    ):
        for step in _interpret(draw, intention, life, plan_cadence, surface):
            steps.append(step)
            for card in step.get("edit", {}).get("add", []):
                if card.get("feature"):
                    features_in_plans.add(str(card["feature"]))
        if life.state == "ended":
            break
    doc: dict[str, Any] = {}
    if surface.config != "cti":
        doc["requires"] = {"credits": surface.credits, "credit_then_invoice": surface.credit_then_invoice}
    setup: dict[str, Any] = {
        "features": [
            {"key": f, "meter": {"aggregation": "sum", "value_property": "$.value"}} for f in sorted(features_in_plans)
        ],
        "customer": {"currency": "USD"},
    }
    if surface.credits and draw(st.booleans()):
        setup["grants"] = [{"amount": draw(st.sampled_from(["10", "1000"])), "currency": "USD"}]
    setup["plans"] = plans
    if not setup["features"]:
        del setup["features"]
    doc["setup"] = setup
    doc["steps"] = steps
    return doc


def _interpret(draw: st.DrawFn, intention: str, life: _Life, cadence: str, surface: Surface) -> list[dict[str, Any]]:
    """The steps for ``intention`` in the current state (none when it does not fit)."""
    step = _step_for(draw, intention, life, cadence, surface)
    if step is None:
        return []
    if intention == "renew":
        return [step, {"resync": {}}]
    return [step]


def _step_for(draw: st.DrawFn, intention: str, life: _Life, cadence: str, surface: Surface) -> dict[str, Any] | None:
    active = life.state == "active" and not life.changed
    if intention == "ingest":
        if life.state == "ended" or not life.items:
            return None
        feature = draw(st.sampled_from(sorted(life.items)))
        return {"ingest": {"feature": feature, "values": [draw(st.sampled_from(["3", "150", "0.5"]))]}}
    if intention == "cancel_now" and active:  # a scheduled cancel cannot be cancelled again (403)
        life.state = "ended"
        return {"cancel": {"timing": "immediate"}}
    if intention in ("cancel_next", "cancel_at_period_end") and active:
        life.state = "scheduled"
        timing = "next_billing_cycle" if intention == "cancel_next" else "current_period_end"
        return {"cancel": {"timing": timing}}
    if intention == "continue" and life.state == "scheduled" and not life.changed:
        life.state = "active"
        return {"continue": {}}
    if intention == "edit_add" and active:
        free = [f for f in FEATURES if f not in life.items]
        if not free:
            return None
        feature = draw(st.sampled_from(free))
        life.items.add(feature)
        return {"edit": {"add": [_usage_card(feature, cadence, "0.02")]}}
    if intention == "edit_remove" and active and len(life.items) > 1:
        gone = draw(st.sampled_from(sorted(life.items)))
        life.items.discard(gone)
        return {"edit": {"remove": [gone]}}
    if intention == "edit_reprice" and active and life.items:
        feature = draw(st.sampled_from(sorted(life.items)))
        return {"edit": {"add": [_usage_card(feature, cadence, "0.07")]}}
    if intention in ("change_plan_now", "change_plan_next") and active and life.has_other_plan:
        life.changed = True
        life.change_scheduled = intention == "change_plan_next"
        timing = "immediate" if intention == "change_plan_now" else "next_billing_cycle"
        return {"change_plan": {"plan": "q", "timing": timing}}
    if intention == "restore" and life.change_scheduled:
        life.changed = life.change_scheduled = False
        return {"restore": {}}
    if intention == "invoice":
        progressive = draw(st.sampled_from([None, True, False]))
        return {"invoice": {} if progressive is None else {"progressive": progressive}}
    if intention == "approve":
        return {"approve": {}}
    if intention == "renew" and life.renewable and surface.can_force_sync and not life.renewed and active:
        life.renewed = True
        return {"wait": {"until": "current_period_end", "plus": "PT2S", "max": "PT1M"}}
    return None


def _usage_card(feature: str, cadence: str, amount: str) -> dict[str, Any]:
    return {"key": feature, "feature": feature, "billing_cadence": cadence, "price": {"type": "unit", "amount": amount}}
