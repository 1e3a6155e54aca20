"""Time expressions in scenario files: instants written relative to the run, resolved by the runner.

A scenario cannot hard-code dates (it runs against a live server whose clock it cannot move), so
every instant is one of:

* ``now`` — the runner's clock when the step runs;
* ``now`` followed by signed ISO-8601 durations, applied left to right: ``now-P1W+PT30S``;
* a named instant the runner knows (:data:`NAMED_INSTANTS`), optionally followed by signed
  durations: ``current_period_end+PT2S``;
* an RFC 3339 timestamp in UTC (``2026-01-31T00:00:00Z``), without offsets.

Offsets use the calendar arithmetic of :func:`contract.model.time.add` (months first, the day
clamped to the target month's end): ``now+P1M`` on 31 January is the last day of February.
Whitespace around ``+`` and ``-`` is allowed. Anything else is rejected with a
:class:`TimeExprError` that says what was expected.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from contract.limits import MAX_DURATION_YEARS, instant_problem
from contract.model.time import Duration, add, format_time, parse_time, require_utc

#: Instants the runner resolves from the subscription it drives.
NAMED_INSTANTS: tuple[str, ...] = ("current_period_end", "current_period_start", "subscription_start")

_EXPECTED = (
    "expected now, now followed by signed ISO-8601 durations (now-P1W+PT30S), a named instant ("
    + ", ".join(NAMED_INSTANTS)
    + ") optionally followed by durations, or an RFC 3339 UTC timestamp (2026-01-31T00:00:00Z)"
)

_BASE = re.compile(r"\s*([a-z_]+)\s*")
_OFFSET = re.compile(r"\s*([+-])\s*(P[0-9A-Z.]*)\s*")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")


class TimeExprError(ValueError):
    """A time expression that cannot be parsed; the message says what was expected."""


class TimeBase(enum.StrEnum):
    NOW = "now"
    NAMED = "named"
    ABSOLUTE = "absolute"


@dataclass(frozen=True, slots=True)
class TimeExpr:
    """A parsed time expression: a base instant plus signed offsets applied in order."""

    base: TimeBase
    name: str | None = None  # NAMED: one of NAMED_INSTANTS
    absolute: datetime | None = None  # ABSOLUTE: the UTC instant
    offsets: tuple[Duration, ...] = ()  # signed; applied left to right

    def __post_init__(self) -> None:
        if self.base is TimeBase.NAMED and self.name not in NAMED_INSTANTS:
            raise ValueError(f"unknown named instant {self.name!r}")
        if self.base is TimeBase.ABSOLUTE:
            if self.absolute is None:
                raise ValueError("an absolute time expression needs its instant")
            require_utc(self.absolute, "absolute time expression")
            if self.offsets:
                raise ValueError("an absolute time expression takes no offsets")

    @property
    def is_now(self) -> bool:
        """Exactly ``now`` (no offsets)."""
        return self.base is TimeBase.NOW and not self.offsets

    @property
    def needs(self) -> frozenset[str]:
        """The named instants :meth:`resolve` will look up."""
        return frozenset({self.name}) if self.base is TimeBase.NAMED and self.name else frozenset()

    def resolve(self, now: datetime, named: Mapping[str, datetime] | None = None) -> datetime:
        """The instant this expression denotes, given the runner's clock and named instants.

        Raises ``ValueError`` when ``now`` (or a named instant) is not timezone-aware UTC or a
        needed named instant is missing from ``named``.
        """
        require_utc(now, "now")
        if self.base is TimeBase.ABSOLUTE:
            assert self.absolute is not None
            return self.absolute
        if self.base is TimeBase.NOW:
            t = now
        else:
            assert self.name is not None
            if named is None or self.name not in named:
                known = ", ".join(sorted(named)) if named else "none"
                raise ValueError(f"time expression {self} needs the instant {self.name!r} (known: {known})")
            t = require_utc(named[self.name], self.name)
        for offset in self.offsets:
            t = add(t, offset)
        return t.astimezone(UTC)

    def __str__(self) -> str:
        if self.base is TimeBase.ABSOLUTE:
            assert self.absolute is not None
            return format_time(self.absolute)
        out = "now" if self.base is TimeBase.NOW else str(self.name)
        for offset in self.offsets:
            text = str(offset)
            out += text if text.startswith("-") else "+" + text
        return out


NOW = TimeExpr(TimeBase.NOW)


def parse_time_expr(text: str) -> TimeExpr:
    """Parse ``text`` into a :class:`TimeExpr`; raise :class:`TimeExprError` with the reason."""
    if not isinstance(text, str):
        raise TimeExprError(f"bad time expression {text!r}: {_EXPECTED}")
    s = text.strip()
    if not s:
        raise TimeExprError(f"empty time expression: {_EXPECTED}")
    if s[0].isdigit():
        return _parse_absolute(text, s)
    m = _BASE.match(s)
    if not m:
        raise TimeExprError(f"bad time expression {text!r}: {_EXPECTED}")
    word = m.group(1)
    if word == "now":
        base, name = TimeBase.NOW, None
    elif word in NAMED_INSTANTS:
        base, name = TimeBase.NAMED, word
    else:
        raise TimeExprError(f"bad time expression {text!r}: unknown instant {word!r}; {_EXPECTED}")
    offsets: list[Duration] = []
    pos = m.end()
    while pos < len(s):
        om = _OFFSET.match(s, pos)
        if not om:
            raise TimeExprError(
                f"bad time expression {text!r}: expected '+' or '-' and an ISO-8601 duration at {s[pos:]!r}"
            )
        sign, dur_text = om.groups()
        try:
            duration = Duration.parse(dur_text)
        except ValueError:
            raise TimeExprError(
                f"bad time expression {text!r}: {dur_text!r} is not an ISO-8601 duration (e.g. P1W, PT30S)"
            ) from None
        offsets.append(duration.times(-1) if sign == "-" else duration)
        pos = om.end()
    reach = sum(abs(o.approx_seconds()) for o in offsets)
    if reach > MAX_DURATION_YEARS * 365.25 * 86400:
        raise TimeExprError(
            f"bad time expression {text!r}: its offsets reach more than {MAX_DURATION_YEARS} years from {word}"
        )
    return TimeExpr(base, name=name, offsets=tuple(offsets))


def _parse_absolute(text: str, s: str) -> TimeExpr:
    if not _TIMESTAMP.fullmatch(s):
        raise TimeExprError(f"bad time expression {text!r}: {_EXPECTED}")
    if not (s.endswith("Z") or s.endswith("+00:00") or s.endswith("-00:00")):
        raise TimeExprError(f"bad time expression {text!r}: timestamps must be UTC (end in Z), got offset {s[-6:]}")
    try:
        t = parse_time(s)
    except ValueError:
        raise TimeExprError(f"bad time expression {text!r}: not a valid RFC 3339 timestamp") from None
    if (problem := instant_problem(t)) is not None:
        raise TimeExprError(f"bad time expression {text!r}: {problem}")
    return TimeExpr(TimeBase.ABSOLUTE, absolute=t)


__all__ = ["NAMED_INSTANTS", "NOW", "TimeBase", "TimeExpr", "TimeExprError", "parse_time_expr"]
