"""What a run carries from step to step: the ids OpenMeter gave it, what it last read, the engine.

One :class:`RunState` lives for one scenario run. Actions (:mod:`contract.scenario.actions`) extend
it as they create things; the observer and the judge read it. What belongs to a single step (its
notes, the findings made while acting, the log text a job printed) is not kept here: it is returned
as a value by the part that found it (:class:`~contract.scenario.actions.Acted`,
:class:`~contract.scenario.observer.Observation`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from contract.client.models import SubscriptionView
from contract.model import Snapshot
from contract.scenario.mapping import ItemIndex
from contract.scenario.model import RunKeys, Scenario
from contract.scenario.timeline import EngineTimeline


@dataclass
class RunState:
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
    views: dict[str, SubscriptionView] = field(default_factory=dict)  # every subscription as last read
    not_predicted: str | None = None  # why the engine cannot model this run (invariants still judge it)
    replaced: str | None = None  # the subscription a plan change scheduled for later replaces (for restore)
    deleted: set[str] = field(default_factory=set)  # subscriptions OpenMeter deleted before they ran (restore)

    def current(self) -> str:
        """The current subscription's id (an action that needs one is only run when there is one)."""
        assert self.subscription_id is not None
        return self.subscription_id
