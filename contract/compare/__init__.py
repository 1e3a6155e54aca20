"""contract.compare: expected vs observed -> :class:`Finding` s.

The same comparator serves ``omcontract model check`` (expected: an oracle case; observed: the
engine) and scenario runs (expected: the engine's prediction, :meth:`Expectation.from_snapshot`;
observed: OpenMeter).
"""

from contract.compare.diff import compare_item, diff, show
from contract.compare.expectation import (
    DEFAULT_LIVE_FIELDS,
    SNAPSHOT_FIELDS,
    Expectation,
    ExpectedInvoiced,
    ExpectedItem,
    ExpectedMirror,
    ExpectedSyncState,
    Partial,
    status_class,
)
from contract.compare.findings import Finding, FindingKind

__all__ = [
    "DEFAULT_LIVE_FIELDS",
    "SNAPSHOT_FIELDS",
    "Expectation",
    "ExpectedInvoiced",
    "ExpectedItem",
    "ExpectedMirror",
    "ExpectedSyncState",
    "Finding",
    "FindingKind",
    "Partial",
    "compare_item",
    "diff",
    "show",
    "status_class",
]
