"""``OfflineOpenMeter``: OpenMeter's public HTTP API served over the reference engine.

Routes are data: one :class:`~contract.offline.routing.Router` per resource
(:mod:`contract.offline.routes`), composed into one as respx composes routes, served over one
shared :class:`~contract.offline.state.OfflineState`; a client reaches them through
:attr:`OfflineOpenMeter.transport`::

    fake = OfflineOpenMeter(Behaviour.HEAD, clock=VirtualClock(start))
    client = OpenMeterClient(fake.base_url, transport=fake.transport)

State lives in memory: the resources (meters, features, customers, profiles, grants, plans,
subscriptions, usage events: :mod:`contract.offline.store`) and the engine's persisted state
(charges, invoices, lines), owned by the fake's billing worker (:mod:`contract.offline.sync`).
Every subscription mutation publishes an event; the worker handles it with
``Engine.sync_and_invoice`` (``as_of`` = ``activeTo`` for a cancel, the clock's now otherwise;
``now`` = the clock's now):

* eventual consistency — after an event is published, ``sync_after_reads`` reads of charges or
  invoices (v3 charges, v1 invoice list or invoice) still show the state before it; the next read
  handles it first. :meth:`OfflineOpenMeter.force_sync` and invoicing handle pending events first;
* a failing sync changes nothing and logs the retries and the DLQ line (:mod:`contract.offline.
  worker`) — what a #4412-window build did after an immediate cancel.

Time: every request takes ``latency`` of (virtual) time — ``clock.sleep`` — so a subscribe and the
worker's sync are not at the very same instant (a sync exactly at ``activeFrom`` is on a period
boundary, where nothing in arrears is due yet); ingested events become visible to meter queries
and rating ``ingest_delay`` after they were received (the sink worker's commit wait).

This is not evidence about OpenMeter: it is the engine behind OpenMeter's API shapes, for testing
the suite (client, runner, reports) end to end without a server.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from contract.clock import Clock
from contract.model.domain import SyncConfig
from contract.model.engine import Behaviour
from contract.model.persisted import EngineState
from contract.offline.routes import OPENMETER
from contract.offline.routing import Router, serve
from contract.offline.settings import DEFAULT_INGEST_DELAY, DEFAULT_LATENCY, Settings
from contract.offline.state import OfflineState
from contract.offline.sync import OfflineSyncState
from contract.worklog.source import LogSource

__all__ = [
    "BASE_URL",
    "DEFAULT_INGEST_DELAY",
    "DEFAULT_LATENCY",
    "OfflineOpenMeter",
    "OfflineSyncState",
    "SyncStates",
]

BASE_URL = "http://offline.openmeter.invalid"


class SyncStates:
    """``get(subscription_id)`` like the live sync-state reader (the runner's ``sync_states``)."""

    def __init__(self, fake: OfflineOpenMeter) -> None:
        self._fake = fake

    def get(self, subscription_id: str) -> OfflineSyncState | None:
        return self._fake.sync_state(subscription_id)


class OfflineOpenMeter:
    """The offline OpenMeter; see the module docstring.

    ``v3_plan_settlement_mode``: accept ``settlement_mode`` on v3 plan create (default). HEAD's v3
    schema has it read-only and answers 400, which makes the client fall back to v1 — pass False
    to get that behaviour. :attr:`settings` holds every argument but the clock; :attr:`shared` is
    the state the routers share (:class:`~contract.offline.state.OfflineState`).
    """

    def __init__(
        self,
        behaviour: Behaviour = Behaviour.HEAD,
        *,
        config: SyncConfig | None = None,
        clock: Clock,
        sync_after_reads: int = 1,
        v3_plan_settlement_mode: bool = True,
        latency: timedelta = DEFAULT_LATENCY,
        ingest_delay: timedelta = DEFAULT_INGEST_DELAY,
    ) -> None:
        self.settings = Settings(
            behaviour,
            config if config is not None else SyncConfig(),
            sync_after_reads,
            v3_plan_settlement_mode,
            latency,
            ingest_delay,
        )
        self.behaviour = behaviour
        self.config = self.settings.config
        self.clock = clock
        self.base_url = BASE_URL
        self.shared = OfflineState.start(self.settings, clock)
        self.router: Router = OPENMETER
        self.logs: LogSource = self.shared.worker.log.source
        self.sync_states = SyncStates(self)
        self.last_sync_output = ""  # the log lines the last force_sync wrote
        self.transport: httpx.MockTransport = serve(self.router, self.shared, clock=clock, latency=latency).transport

    def __repr__(self) -> str:
        return f"OfflineOpenMeter(behaviour={self.behaviour.value!r}, base_url={self.base_url!r})"

    # ---------------------------------------------------------------- public helpers

    @property
    def state(self) -> EngineState:
        """The engine's persisted state (charges, invoices, lines) as the worker last committed it."""
        return self.shared.worker.state

    @property
    def server_config(self) -> dict[str, bool]:
        """What a runner's ``Environment.server_config`` needs: credits and credit_then_invoice."""
        return {
            "credits": self.config.credits_enabled,
            "credit_then_invoice": self.config.credit_then_invoice,
        }

    @property
    def log_lines(self) -> tuple[str, ...]:
        """The fake billing worker's log lines so far (JSON)."""
        return self.shared.worker.log.lines

    @property
    def pending_events(self) -> int:
        """Subscription events published but not handled yet."""
        return len(self.shared.worker.queue)

    def force_sync(self, customer_id: str) -> bool:
        """``openmeter-jobs billing subscriptionsync all --c <customer>``: handle pending events, then
        sync every subscription of the customer (started, not ended more than a day ago) at now —
        sync only, no invoicing (public-api.md §2.15: the ended period's charge stays ``created``).

        False when the customer is unknown or a sync failed (logged as ``failed to reconcile
        subscription``). :attr:`last_sync_output` holds the log lines this call wrote.
        """
        log = self.shared.worker.log
        mark = len(log.lines)
        try:
            return self.shared.worker.force_sync(customer_id)
        finally:
            self.last_sync_output = "".join(line + "\n" for line in log.lines[mark:])

    def sync_state(self, subscription_id: str) -> OfflineSyncState | None:
        return self.shared.worker.sync_state(subscription_id)
