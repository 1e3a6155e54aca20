"""Shared paths for tests/worklog: the worker-log fixtures live beside the stack tests that read them too."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "stack" / "data"
