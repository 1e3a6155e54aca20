"""Re-export of :mod:`contract.findings` (the vocabulary lives below every room so that the client
and the stack can report findings without importing the comparator)."""

from contract.findings import Finding, FindingKind

__all__ = ["Finding", "FindingKind"]
