"""What a runner is given: the client, a clock, evidence sources, and how long to wait.

:class:`Environment` is the seam between the runner and where OpenMeter is (live, the offline fake,
or a replay — see :mod:`contract.scenario.targets`): everything that touches the outside world is
passed in here, so the runner itself reads no clock, no file and no environment variable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from contract.client import OpenMeterClient
from contract.clock import Clock
from contract.compare import DEFAULT_LIVE_FIELDS
from contract.model import Behaviour
from contract.scenario.result import LogEvidence, Target
from contract.worklog.records import LogRecord

#: What a live run compares: the defaults, charge statuses included (where the engine calls them
#: deterministic). Measured live on HEAD 7e57a394a (2026-12-03): an in-advance flat fee invoiced
#: alone is issued and paid at once by the default profile, its charge ``final`` within the step;
#: the engine models that (``SyncConfig.auto_advance``).
LIVE_FIELDS: tuple[str, ...] = DEFAULT_LIVE_FIELDS


Mark = TypeVar("Mark")


class LogReader(Protocol[Mark]):
    """A worker log read step by step: ``mark`` says how far it has been read, ``read_from`` gives the
    records written since (a live :class:`~contract.worklog.source.LogSource`, the offline fake's, or
    a recording's). The mark is the reader's own opaque value."""

    def mark(self) -> Mark: ...

    def read_from(self, mark: Mark, since: datetime | None = None) -> Sequence[LogRecord]: ...


class SyncState(Protocol):
    """A row of ``subscription_billing_sync_states`` as far as the runner reads it."""

    @property
    def synced_at(self) -> datetime | None: ...


class SyncStateLookup(Protocol):
    def get(self, subscription_id: str) -> SyncState | None: ...


#: Worker-log records and the run's subscriptions -> the evidence of known failure signatures.
ScanLogs = Callable[[Sequence[LogRecord], Sequence[str]], list[LogEvidence]]


ForceSync = Callable[[str], "ForceSyncOutcome | None"]


@dataclass(frozen=True, slots=True)
class ForceSyncOutcome:
    ok: bool
    detail: str = ""
    output: str = ""  # what the sync job printed (its log lines are scanned for failure signatures)


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """Bounded polling: first interval, growth, cap, per-step deadline and quiet snapshots."""

    deadline_s: float = 30.0
    first_interval_s: float = 0.25
    growth: float = 1.5
    max_interval_s: float = 2.0
    quiet_snapshots: int = 2
    usage_deadline_s: float = 30.0

    def intervals(self) -> Iterator[float]:
        interval = self.first_interval_s
        while True:
            yield interval
            interval = min(interval * self.growth, self.max_interval_s)


@dataclass
class Environment:
    client: OpenMeterClient
    clock: Clock
    target: Target
    logs: LogReader[Any] | None = None
    sync_states: SyncStateLookup | None = None
    force_sync: ForceSync | None = None
    behaviour: Behaviour = Behaviour.HEAD
    poll: PollPolicy = field(default_factory=PollPolicy)
    progress: Callable[[str], None] | None = None
    scan_logs: ScanLogs | None = None
    #: OpenMeter's configuration when known (booted stack / offline fake): credits, credit_then_invoice
    server_config: dict[str, bool] | None = None
    #: responses that do not match OpenMeter's OpenAPI documents (the client's validator): "note"
    #: shows them beside the verdict, "strict" makes them findings
    schema_findings: str = "note"

    def say(self, text: str) -> None:
        """Tell the progress display what the runner is doing (when there is one)."""
        if self.progress is not None:
            self.progress(text)


class StopScenario(Exception):
    """A step made the rest of the scenario meaningless (unexpected refusal, OpenMeter gone)."""
