"""What a runner is given: the client, a clock, evidence sources, and how long to wait.

:class:`Environment` is the seam between the runner and where OpenMeter is (live, the offline fake,
or a replay — see :mod:`contract.scenario.targets`): everything that touches the outside world is
passed in here, so the runner itself reads no clock, no file and no environment variable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from contract.client import OpenMeterClient
from contract.clock import Clock
from contract.compare import DEFAULT_LIVE_FIELDS
from contract.model import Behaviour
from contract.scenario.result import LogEvidence, Target

#: What a live run compares: the defaults, charge statuses included (where the engine calls them
#: deterministic). Measured live on HEAD 7e57a394a (2026-12-03): an in-advance flat fee invoiced
#: alone is issued and paid at once by the default profile, its charge ``final`` within the step;
#: the engine models that (``SyncConfig.auto_advance``).
LIVE_FIELDS: tuple[str, ...] = DEFAULT_LIVE_FIELDS


class LogReader(Protocol):
    def mark(self) -> Any: ...

    def read_from(self, mark: Any, since: datetime | None = None) -> list[Any]: ...


class SyncStateLookup(Protocol):
    def get(self, subscription_id: str) -> Any: ...


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
    logs: LogReader | None = None
    sync_states: SyncStateLookup | None = None
    force_sync: ForceSync | None = None
    behaviour: Behaviour = Behaviour.HEAD
    poll: PollPolicy = field(default_factory=PollPolicy)
    progress: Callable[[str], None] | None = None
    scan_logs: Callable[[list[Any], Sequence[str]], list[LogEvidence]] | None = None
    #: OpenMeter's configuration when known (booted stack / offline fake): credits, credit_then_invoice
    server_config: dict[str, bool] | None = None
    #: responses that do not match OpenMeter's OpenAPI documents (the client's validator): "note"
    #: shows them beside the verdict, "strict" makes them findings
    schema_findings: str = "note"


class StopScenario(Exception):
    """A step made the rest of the scenario meaningless (unexpected refusal, OpenMeter gone)."""
