"""What every router of the offline OpenMeter receives: one :class:`OfflineState`.

It gathers the shared parts — the :class:`~contract.offline.settings.Settings` the fake was made with, the clock, the id
factory, the :class:`~contract.offline.store.Store` of resources and the
:class:`~contract.offline.sync.BillingWorker` — and what OpenMeter provisions at start (the
sandbox app, a tax code and the default billing profile). Its few methods are the time-dependent
questions several routers ask: now, which usage events the sink has flushed, a customer's usage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from contract.clock import Clock
from contract.model.time import Period
from contract.offline.catalog import UsageEvent, aggregate, default_profile
from contract.offline.ids import IdFactory, Kind
from contract.offline.settings import Settings
from contract.offline.store import Store
from contract.offline.sync import BillingWorker

__all__ = ["OfflineState"]


@dataclass(frozen=True, slots=True)
class OfflineState:
    """The shared state of one offline OpenMeter; build it with :meth:`start`."""

    settings: Settings
    clock: Clock
    ids: IdFactory
    store: Store
    worker: BillingWorker
    started_at: datetime  # when the sandbox app and the default profile were provisioned
    app_id: str
    tax_code_id: str

    @classmethod
    def start(cls, settings: Settings, clock: Clock) -> OfflineState:
        """A fresh OpenMeter: the sandbox app, a tax code and the default billing profile."""
        ids = IdFactory()
        store = Store()
        now = clock.now()
        app_id = ids.new(Kind.APP)
        tax_code_id = ids.new(Kind.TAX_CODE)
        default = default_profile(
            settings.config,
            profile_id=ids.new(Kind.PROFILE),
            app_id=app_id,
            supplier_id=ids.new(Kind.PROFILE),
            now=now,
        )
        store.profiles[default.id] = default
        worker = BillingWorker(store, settings, clock=clock, ids=ids)
        return cls(settings, clock, ids, store, worker, now, app_id, tax_code_id)

    def now(self) -> datetime:
        return self.clock.now()

    def visible_events(self) -> list[UsageEvent]:
        """Events the sink has flushed by now (``ingest_delay`` after they were received)."""
        cutoff = self.now() - self.settings.ingest_delay
        return [event for received, event in self.store.events if received <= cutoff]

    def usage(self, feature_key: str | None, customer_id: str, period: Period) -> Decimal:
        """The customer's metered usage of the feature in ``period`` (0 without a metered feature)."""
        if feature_key is None:
            return Decimal(0)
        info = self.store.feature_info(feature_key)
        customer = self.store.customers.get(customer_id)
        if info is None or info[1] is None or customer is None:
            return Decimal(0)
        found = aggregate(info[1], self.visible_events(), subjects=customer.usage_subjects(), period=period)
        return found[0] if found is not None else Decimal(0)
