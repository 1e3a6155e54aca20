"""How one offline OpenMeter behaves: the engine behaviour and sync configuration, the worker's
read lag, the v3 plan flag, a request's (virtual) duration and the sink's ingestion delay."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from contract.model.domain import SyncConfig
from contract.model.engine import Behaviour

__all__ = ["DEFAULT_INGEST_DELAY", "DEFAULT_LATENCY", "Settings"]

#: How much (virtual) time one request takes; a fake whose clock never moves between a subscribe
#: and the worker would sync exactly at ``activeFrom``, where nothing in arrears is due yet.
DEFAULT_LATENCY = timedelta(milliseconds=5)
#: How long ingested events take to become visible to meter queries and rating (the sink worker's
#: ``maxCommitWait`` in upstream's e2e config).
DEFAULT_INGEST_DELAY = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Settings:
    """See :class:`~contract.offline.server.OfflineOpenMeter` for what each setting does."""

    behaviour: Behaviour = Behaviour.HEAD
    config: SyncConfig = field(default_factory=SyncConfig)
    sync_after_reads: int = 1
    v3_plan_settlement_mode: bool = True
    latency: timedelta = DEFAULT_LATENCY
    ingest_delay: timedelta = DEFAULT_INGEST_DELAY

    def __post_init__(self) -> None:
        if self.sync_after_reads < 0:
            raise ValueError(f"sync_after_reads must be 0 or more, got {self.sync_after_reads}")
        if self.latency < timedelta(0):
            raise ValueError(f"latency must not be negative, got {self.latency}")
        if self.ingest_delay < timedelta(0):
            raise ValueError(f"ingest_delay must not be negative, got {self.ingest_delay}")
