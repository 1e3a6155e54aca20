"""The engine's side of a run: every engine call in order, replayable under another behaviour.

The runner asks the reference engine what sync must leave behind after each step; the calls are
kept so that, when OpenMeter disagrees, the same run can be predicted again with a historical
behaviour (``issue-4412``) to say whether that behaviour explains what was observed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from contract.model import Behaviour, Engine, EngineState, Snapshot, Subscription, SyncConfig, empty_state


@dataclass(frozen=True, slots=True)
class EngineCall:
    """One engine operation of a run, replayable under another behaviour."""

    kind: str  # "sync" (sync, then invoice what is due, as the worker does) | "sync_only" | "invoice" | "approve"
    subscription: Subscription | None
    customer_id: str
    as_of: datetime
    now: datetime
    progressive: bool = False


@dataclass
class EngineTimeline:
    config: SyncConfig
    behaviour: Behaviour
    calls: list[EngineCall] = field(default_factory=list)
    state: EngineState = field(default_factory=empty_state)
    errors: list[str] = field(default_factory=list)

    def apply(self, call: EngineCall) -> str | None:
        self.calls.append(call)
        error = _apply(Engine(self.config, self.behaviour), self.state, call)
        self.state, err = error
        if err:
            self.errors.append(err)
        return err

    def snapshot(self, subscription_id: str, customer_id: str) -> Snapshot:
        return Engine(self.config, self.behaviour).snapshot(self.state, subscription_id, customer_id=customer_id)

    def replay_as(self, behaviour: Behaviour) -> EngineTimeline:
        other = EngineTimeline(self.config, behaviour)
        for call in self.calls:
            other.apply(call)
        return other


def _apply(engine: Engine, state: EngineState, call: EngineCall) -> tuple[EngineState, str | None]:
    if call.kind == "invoice":
        inv = engine.invoice(state, call.customer_id, call.now, call.as_of, call.progressive)
        return inv.state, None
    if call.kind == "approve":
        return engine.approve(state, call.customer_id, call.now), None
    assert call.subscription is not None
    if call.kind == "sync_only":
        res = engine.sync(state, call.subscription, call.as_of, now=call.now)
    else:
        res = engine.sync_and_invoice(state, call.subscription, call.as_of, call.now)
    return res.state, res.error
