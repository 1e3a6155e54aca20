"""Clocks: the real one for live runs, a virtual one for offline runs and replays (a leaf module).

The runner never calls ``datetime.now`` or ``time.sleep`` itself; it asks its :class:`Clock`.
A live run waits for real; an offline run or a replay advances a virtual clock instead, so
waiting for a billing-period boundary costs nothing.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a monotonic scale, for deadlines."""
        ...

    def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """A clock that moves only when told to: by :meth:`sleep`, :meth:`advance` or :meth:`set`."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def sleep(self, seconds: float) -> None:
        """Advance by ``seconds``, at least one microsecond when asked for any time at all (so a
        loop that sleeps until a deadline always reaches it)."""
        if seconds > 0:
            self.advance(timedelta(microseconds=max(1, math.ceil(seconds * 1_000_000))))

    def advance(self, delta: timedelta) -> None:
        self._now += delta
        self._mono += delta.total_seconds()

    def set(self, t: datetime) -> None:
        """Move to ``t`` if it is later than now (a clock never runs backwards)."""
        t = t.astimezone(UTC)
        if t > self._now:
            self.advance(t - self._now)
