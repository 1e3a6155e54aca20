"""The offline OpenMeter's billing worker: subscription events, eventual consistency, syncs.

Every subscription mutation :meth:`~BillingWorker.publish`\\ es an event; the worker handles it
with ``Engine.sync_and_invoice`` (``as_of`` = ``activeTo`` for a cancel, the clock's now
otherwise; ``now`` = the clock's now). Events are handled late on purpose — after an event is
published, ``sync_after_reads`` reads of charges or invoices (:meth:`~BillingWorker.note_read`)
still show the state before it; the next read handles it first. :meth:`~BillingWorker.flush`
(invoicing) and :meth:`~BillingWorker.force_sync` (the jobs CLI) handle every pending event first.

A failing sync changes nothing and logs the retries and the DLQ line
(:mod:`contract.offline.worker`). The worker owns the engine's persisted state (charges,
invoices, lines), the :class:`~contract.offline.billing.Ledger` stamping them, the worker log and
the sync-state rows (``synced_at``: the last successful sync).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contract.clock import Clock
from contract.model.domain import SyncConfig
from contract.model.engine import Engine
from contract.model.persisted import EngineState, empty_state
from contract.model.time import format_time
from contract.offline import subscriptions as subs
from contract.offline.billing import Ledger
from contract.offline.ids import IdFactory, Kind
from contract.offline.settings import Settings
from contract.offline.store import Store
from contract.offline.subscriptions import SubscriptionSpec
from contract.offline.worker import EventType, SubscriptionEvent, WorkerLog

__all__ = ["BillingWorker", "OfflineSyncState"]

_FORCE_SYNC_LOOKBACK = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class OfflineSyncState:
    """A row of the fake's ``subscription_billing_sync_states`` (``synced_at``: last successful sync)."""

    subscription_id: str
    synced_at: datetime | None
    next_sync_after: datetime | None
    has_billables: bool


class BillingWorker:
    """The fake billing worker over ``store``; see the module docstring."""

    def __init__(self, store: Store, settings: Settings, *, clock: Clock, ids: IdFactory) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.ids = ids
        self.state: EngineState = empty_state()
        self.ledger = Ledger()
        self.log = WorkerLog(f"offline-{settings.behaviour.value}")
        self.queue: list[SubscriptionEvent] = []
        self._reads = 0
        self._synced_at: dict[str, datetime] = {}

    def config_for(self, customer_id: str) -> SyncConfig:
        """The sync configuration of the customer's billing profile."""
        return self.store.effective_profile(customer_id).sync_config(self.settings.config)

    # ------------------------------------------------------------ events

    def publish(self, kind: EventType, sub: SubscriptionSpec) -> None:
        now = self.clock.now()
        data = {
            "subscription": {
                "namespace": "default",
                "id": sub.id,
                "customerId": sub.customer_id,
                "activeFrom": format_time(sub.active_from),
                "activeTo": format_time(sub.active_to) if sub.active_to else None,
                "billingAnchor": format_time(sub.billing_anchor),
                "billing_cadence": str(sub.billing_cadence),
                "currency": sub.currency,
                "name": sub.name,
                "settlement_mode": sub.settlement_mode.value,
            },
            "customer": {"namespace": "default", "id": sub.customer_id},
        }
        self.queue.append(
            SubscriptionEvent(self.ids.new(Kind.MESSAGE), kind, sub.id, sub.customer_id, now, self._reads, data)
        )

    def note_read(self) -> None:
        """A read of charges or invoices: handle the events it makes due (see the module docstring)."""
        self._reads += 1
        while self.queue and self._reads - self.queue[0].reads_at > self.settings.sync_after_reads:
            self._handle(self.queue.pop(0))

    def flush(self) -> None:
        while self.queue:
            self._handle(self.queue.pop(0))

    def _handle(self, event: SubscriptionEvent) -> None:
        sub = self.store.subscriptions.get(event.subscription_id)
        if sub is None:
            return
        now = self.clock.now()
        as_of = now
        if event.type is EventType.CANCELLED and sub.active_to is not None:
            as_of = sub.active_to
        trace = self.ids.trace_id()
        error = self._sync(sub, as_of=as_of, now=now)
        if error is not None:
            self.log.failed(event, error, now, trace)
        else:
            self.log.synced(event, now, trace, as_of=format_time(as_of))

    # ------------------------------------------------------------ syncing

    def force_sync(self, customer_id: str) -> bool:
        """Handle pending events, then sync every subscription of the customer (started, not ended
        more than a day ago) at now, without invoicing; False when the customer is unknown or a
        sync failed (logged as ``failed to reconcile subscription``)."""
        if customer_id not in self.store.customers:
            return False
        self.flush()
        ok = True
        for sub in [s for s in self.store.subscriptions.values() if s.customer_id == customer_id]:
            now = self.clock.now()
            if now < sub.active_from or (sub.active_to is not None and sub.active_to < now - _FORCE_SYNC_LOOKBACK):
                continue
            error = self._sync(sub, as_of=now, now=now, invoice=False)
            if error is not None:
                ok = False
                self.log.reconcile_failed(sub.id, error, now)
        return ok

    def _sync(self, sub: SubscriptionSpec, *, as_of: datetime, now: datetime, invoice: bool = True) -> str | None:
        """One sync (the worker: then invoice what is due, as ``sync_and_invoice``); the error or None.

        A failing sync leaves the state as it was. When only the worker's follow-up sync fails
        (after invoicing), the first sync and the invoicing are kept, as upstream commits them in
        their own transactions; ``synced_at`` then records the first sync.
        """
        engine = Engine(self.config_for(sub.customer_id), self.settings.behaviour)
        target = subs.engine_subscription(sub)
        before = self.state
        if invoice:
            result = engine.sync_and_invoice(before, target, as_of, now)
        else:
            result = engine.sync(before, target, as_of, now=now)
        self.commit(result.state, now)
        if result.error is None or result.state is not before:
            self._synced_at[sub.id] = now
        return result.error

    def commit(self, state: EngineState, now: datetime) -> None:
        """Make ``state`` current: stamp what is new and log every invoice that left gathering."""
        before = {i for c in self.state.customers.values() for i in c.invoices}
        self.state = state
        self.ledger.observe(state, now, self.store.customer_key)
        for cust in state.customers.values():
            for invoice in cust.invoices.values():
                if invoice.id not in before and not invoice.is_gathering:
                    self.log.invoice_advanced(invoice.id, now)

    def sync_state(self, subscription_id: str) -> OfflineSyncState | None:
        sub = self.store.subscriptions.get(subscription_id)
        if sub is None:
            return None
        state = self.state.sync_state(sub.customer_id, subscription_id)
        if state is None:
            return None
        return OfflineSyncState(
            subscription_id, self._synced_at.get(subscription_id), state.next_sync_after, state.has_billables
        )
