"""Time for the reference engine: ISO-8601 durations, calendar arithmetic, periods, truncation.

Rules (shared/design/sync-model.md §0, §2.1):

* every datetime is timezone-aware UTC; a naive one is a bug and is rejected;
* ``t + d`` adds years, then months (both clamp the day to the target month's last day), then
  weeks, days, hours, minutes, seconds;
* recurrence boundaries are ``anchor + k·d`` — every component multiplied by ``k``, always from
  the anchor, never chained — so a month-end anchor returns to its day after a short month;
* a :class:`Period` is ``[start, end)``; ``start == end`` is a legal instant;
* outputs are floored to whole seconds (OpenMeter's "meter resolution").
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

ONE_SECOND = timedelta(seconds=1)
ONE_NANOSECOND_FLOOR = timedelta(microseconds=1)  # Python's resolution stands in for 1 ns


def require_utc(t: datetime, what: str = "time") -> datetime:
    """Return ``t`` if it is timezone-aware UTC; raise ``ValueError`` otherwise."""
    if t.tzinfo is UTC:
        return t
    if t.tzinfo is None or t.utcoffset() != timedelta(0):
        raise ValueError(f"{what}: {t!r} is not a timezone-aware UTC datetime")
    return t


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (``Z`` or an offset; up to microseconds) into UTC.

    Sub-microsecond digits (Go writes nanoseconds) are truncated.
    """
    s = text.strip()
    m = re.fullmatch(r"(.+?T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})", s)
    if not m:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    base, frac, zone = m.groups()
    frac = (frac or "")[:7]  # '.' plus at most 6 digits
    zone = "+00:00" if zone == "Z" else zone
    t = datetime.fromisoformat(base + frac + zone)
    return t.astimezone(UTC)


def format_time(t: datetime) -> str:
    """RFC 3339 with ``Z``; sub-second digits only when present."""
    t = require_utc(t).astimezone(UTC)
    if t.microsecond:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def floor_second(t: datetime) -> datetime:
    return t.replace(microsecond=0) if t.microsecond else t


_DURATION = re.compile(
    r"(?P<sign>[-+])?P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


@dataclass(frozen=True, slots=True)
class Duration:
    """An ISO-8601 duration with calendar components kept apart (``P1M`` is not 30 days)."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0
    microseconds: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        s = text.strip().upper()
        m = _DURATION.fullmatch(s)
        if not m or s.rstrip("T").endswith("P") or s.endswith("T"):
            raise ValueError(f"not an ISO-8601 duration: {text!r}")
        g = m.groupdict()
        sign = -1 if g["sign"] == "-" else 1
        secs = g["seconds"] or "0"
        whole, _, frac = secs.partition(".")
        micro = int((frac + "000000")[:6]) if frac else 0
        return cls(
            years=sign * int(g["years"] or 0),
            months=sign * int(g["months"] or 0),
            weeks=sign * int(g["weeks"] or 0),
            days=sign * int(g["days"] or 0),
            hours=sign * int(g["hours"] or 0),
            minutes=sign * int(g["minutes"] or 0),
            seconds=sign * int(whole),
            microseconds=sign * micro,
        )

    def components(self) -> tuple[int, int, int, int, int, int, int, int]:
        """The eight components as a tuple (a cheap, hashable cache key)."""
        return (
            self.years,
            self.months,
            self.weeks,
            self.days,
            self.hours,
            self.minutes,
            self.seconds,
            self.microseconds,
        )

    @classmethod
    def between(cls, start: datetime, end: datetime) -> Duration:
        """The exact fixed-length duration from ``start`` to ``end`` (seconds and microseconds)."""
        delta = end - start
        micros = delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
        seconds, micro = divmod(micros, 1_000_000)
        return cls(seconds=seconds, microseconds=micro)

    def times(self, k: int) -> Duration:
        return Duration(
            self.years * k,
            self.months * k,
            self.weeks * k,
            self.days * k,
            self.hours * k,
            self.minutes * k,
            self.seconds * k,
            self.microseconds * k,
        )

    @property
    def is_zero(self) -> bool:
        return not any(
            (self.years, self.months, self.weeks, self.days, self.hours, self.minutes, self.seconds, self.microseconds)
        )

    def approx_seconds(self) -> float:
        """A rough length (months as 30.44 days), only for ordering and estimates."""
        return (
            self.years * 365.25 * 86400
            + self.months * 30.436875 * 86400
            + self.weeks * 7 * 86400
            + self.days * 86400
            + self.hours * 3600
            + self.minutes * 60
            + self.seconds
            + self.microseconds / 1e6
        )

    def __str__(self) -> str:
        parts = [(self.years, "Y"), (self.months, "M"), (self.weeks, "W"), (self.days, "D")]
        tparts = [(self.hours, "H"), (self.minutes, "M")]
        neg = any(v < 0 for v, _ in [*parts, *tparts, (self.seconds, ""), (self.microseconds, "")])
        out = "-P" if neg else "P"
        out += "".join(f"{abs(v)}{u}" for v, u in parts if v)
        secs = abs(self.seconds) + abs(self.microseconds) / 1e6
        t = "".join(f"{abs(v)}{u}" for v, u in tparts if v)
        if secs:
            t += (f"{secs:.6f}".rstrip("0").rstrip(".")) + "S"
        if t:
            out += "T" + t
        return out if out not in ("P", "-P") else "PT0S"


def _micros(d: Duration, days_in_month: int, hours_in_day: int) -> int:
    """``d`` in microseconds for one assumed month length and day length (DST days are 23 or 25 h)."""
    days = (d.years * 12 + d.months) * days_in_month + d.weeks * 7 + d.days
    return (((days * hours_in_day + d.hours) * 60 + d.minutes) * 60 + d.seconds) * 1_000_000 + d.microseconds


def _divides(larger: Duration, smaller: Duration) -> bool:
    """``smaller`` fits a whole number of times into ``larger`` whatever the month and day length."""
    for days_in_month in (28, 29, 30, 31):
        for hours_in_day in (23, 24, 25):
            big = _micros(larger, days_in_month, hours_in_day)
            small = _micros(smaller, days_in_month, hours_in_day)
            if big <= 0 or small <= 0 or big % small:
                return False
    return True


#: The billing cadences OpenMeter accepts for a plan (upstream productcatalog validation).
PLAN_CADENCES: tuple[str, ...] = ("P1W", "P2W", "P4W", "P1M", "P3M", "P6M", "P12M", "P1Y")


def cadences_align(plan: Duration, rate_card: Duration) -> bool:
    """OpenMeter's alignment rule: a rate card's cadence equals, divides or is a multiple of its plan's,
    whatever the length of the months and days involved (``P1D`` divides ``P1M``; ``P1W`` and ``P1M``
    are unaligned)."""
    return _divides(plan, rate_card) or _divides(rate_card, plan)


def _add_months(t: datetime, months: int) -> datetime:
    if not months:
        return t
    total = t.year * 12 + (t.month - 1) + months
    year, month0 = divmod(total, 12)
    month = month0 + 1
    day = min(t.day, calendar.monthrange(year, month)[1])
    return t.replace(year=year, month=month, day=day)


def add(t: datetime, d: Duration, k: int = 1) -> datetime:
    """``t + k·d``: years and months first (clamping the day), then the fixed-length parts."""
    dk = d.times(k) if k != 1 else d
    t = _add_months(t, dk.years * 12 + dk.months)
    return t + timedelta(
        weeks=dk.weeks,
        days=dk.days,
        hours=dk.hours,
        minutes=dk.minutes,
        seconds=dk.seconds,
        microseconds=dk.microseconds,
    )


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """``[start, end)``; ``start == end`` is an instant; ``end < start`` is empty."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is not UTC or self.end.tzinfo is not UTC:
            require_utc(self.start, "period start")
            require_utc(self.end, "period end")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def is_empty(self) -> bool:
        return self.end <= self.start

    def contains(self, t: datetime) -> bool:
        return self.start <= t < self.end

    def floor(self) -> Period:
        if not self.start.microsecond and not self.end.microsecond:
            return self
        return Period(floor_second(self.start), floor_second(self.end))

    def __str__(self) -> str:
        return f"[{format_time(self.start)}, {format_time(self.end)})"


def recurrence_period(anchor: datetime, d: Duration, t: datetime) -> Period:
    """The period ``[anchor + k·d, anchor + (k+1)·d)`` that contains ``t`` (k may be negative)."""
    k = recurrence_index(anchor, d, t)
    return Period(add(anchor, d, k), add(anchor, d, k + 1))


_DurationKey = tuple[int, int, int, int, int, int, int, int]


class RecurrenceCache:
    """Memoised :func:`recurrence_period`, owned by one engine (or one timeline), never process-wide.

    The engine asks for the same periods over and over while it walks period after period: a
    period's end is remembered as the next period's start with its index ``k``, so the walk costs
    one ``add`` per period. An :class:`~contract.model.engine.Engine` keeps one across its syncs
    and a bare :class:`~contract.model.targetstate.SubscriptionTimeline` makes its own, so what a
    computation returns depends only on the calls made on that engine, never on what else ran in
    the process (test order). Durations are given as :meth:`Duration.components` (tuples hash fast).
    """

    __slots__ = ("_boundaries", "_periods")
    MAX_ENTRIES = 1 << 16

    def __init__(self) -> None:
        self._boundaries: dict[tuple[datetime, _DurationKey, datetime], int] = {}
        self._periods: dict[tuple[datetime, _DurationKey, datetime], Period] = {}

    def period(self, anchor: datetime, key: _DurationKey, t: datetime) -> Period:
        cache_key = (anchor, key, t)
        cached = self._periods.get(cache_key)
        if cached is not None:
            return cached
        d = Duration(*key)
        k = self._boundaries.get(cache_key)
        if k is None:
            k = recurrence_index(anchor, d, t)
            start = add(anchor, d, k)
        else:
            start = t
        end = add(anchor, d, k + 1)
        if len(self._periods) >= self.MAX_ENTRIES:
            self._periods.clear()
            self._boundaries.clear()
        self._boundaries[(anchor, key, start)] = k
        self._boundaries[(anchor, key, end)] = k + 1
        period = self._periods[cache_key] = Period(start, end)
        return period


def recurrence_index(anchor: datetime, d: Duration, t: datetime) -> int:
    """The ``k`` with ``anchor + k·d <= t < anchor + (k+1)·d`` (negative before the anchor)."""
    step = d.approx_seconds()
    if step <= 0:
        raise ValueError(f"recurrence needs a positive duration, got {d}")
    k = int((t - anchor).total_seconds() // step)
    # The estimate can be off by one or two near month ends: walk to the exact k.
    while add(anchor, d, k) > t:
        k -= 1
    while add(anchor, d, k + 1) <= t:
        k += 1
    return k


def widen_to_second(t: datetime) -> datetime:
    """``floor_second(t) + 1s - 1ns`` at Python's resolution: the whole last second counts.

    Upstream ``PhaseIterator.Generate`` widens its end this way; with microsecond inputs
    ``x <= widen_to_second(t)`` is the same as ``floor_second(x) <= floor_second(t)``.
    """
    return floor_second(t) + ONE_SECOND - ONE_NANOSECOND_FLOOR
