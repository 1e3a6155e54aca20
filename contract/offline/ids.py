"""Deterministic, ULID-like ids for the offline OpenMeter.

Every id is 26 upper-case Crockford base-32 characters, like OpenMeter's ULIDs, so the suite's
parsers (and the worker-log signatures, which look for ``[0-9A-HJKMNP-TV-Z]{26}``) accept them:
``01`` + one letter naming the kind of object + a 23-digit counter shared by all kinds. They never
collide with the reference engine's own ids (``01`` + 24 digits: no letter), and the same calls in
the same order give the same ids, which keeps snapshot tests stable.
"""

from __future__ import annotations

import enum

__all__ = ["IdFactory", "Kind"]


class Kind(enum.StrEnum):
    """One Crockford letter per kind of object (I, L, O and U are not Crockford characters)."""

    APP = "A"
    PROFILE = "B"
    CUSTOMER = "C"
    FEATURE = "E"
    GRANT = "G"
    PHASE = "H"
    ITEM = "J"
    MESSAGE = "K"
    METER = "M"
    PLAN = "P"
    REQUEST = "R"
    SUBSCRIPTION = "S"
    TAX_CODE = "X"


class IdFactory:
    """Hands out ids in order: ``01`` + kind letter + a 23-digit sequence number."""

    def __init__(self, start: int = 1) -> None:
        if start < 0:
            raise ValueError(f"id sequence must start at 0 or more, got {start}")
        self._next = start

    def new(self, kind: Kind) -> str:
        seq = self._next
        self._next += 1
        return f"01{kind.value}{seq:023d}"

    def trace_id(self) -> str:
        """A 32-hex-digit trace id (for log lines), also from the counter."""
        seq = self._next
        self._next += 1
        return f"{seq:032x}"
