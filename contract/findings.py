"""Findings: the one vocabulary for every difference the suite reports (a leaf module: imports nothing of the project).

The comparator (engine vs oracle case, engine vs OpenMeter), the response validator and the
worker-log scanner all produce :class:`Finding` s; reports only render them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FindingKind(enum.StrEnum):
    MISSING = "missing"  # expected artifact not there
    EXTRA = "extra"  # artifact there that should not be
    DIFFERENT = "different"  # same id, a field differs
    ERROR = "error"  # sync error expected but absent, or present but not expected
    NOT_SYNCED = "not_synced"  # nothing changed before the deadline: sync never (successfully) ran
    LOG = "log"  # a known failure signature in the worker log
    SCHEMA = "schema"  # a response that does not match OpenMeter's OpenAPI document
    REFUSED = "refused"  # OpenMeter answered a step with an unexpected status / problem
    INVARIANT = "invariant"  # a rule every sync keeps, whatever the engine predicts (scenario.invariants)


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    message: str
    step: str | None = None
    id: str | None = None  # unique reference id (or another object id) the finding is about
    field: str | None = None
    expected: str | None = None
    actual: str | None = None

    def one_line(self) -> str:
        where = " ".join(p for p in (self.step and f"[{self.step}]", self.id, self.field) if p)
        detail = ""
        if self.expected is not None or self.actual is not None:
            detail = f": expected {self.expected} got {self.actual}"
        return f"{self.kind.value} {where}{detail} — {self.message}".strip()
