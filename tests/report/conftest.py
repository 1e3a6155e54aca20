"""Fixtures of the report tests: snapshot comparison and a recording, colourless console.

Snapshots live in ``tests/report/snapshots/``. A difference fails the test and prints a unified
diff; ``UPDATE_SNAPSHOTS=1 python -m pytest tests/report`` rewrites the differing ones and still
fails those tests (review the diff, then run again without it).
"""

from __future__ import annotations

import difflib
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

SNAPSHOTS = Path(__file__).parent / "snapshots"

SnapshotCheck = Callable[[str, str], None]


def _check_snapshot(name: str, actual: str, folder: Path | None = None) -> None:
    folder = folder if folder is not None else SNAPSHOTS
    path = folder / name
    expected = path.read_text(encoding="utf-8") if path.exists() else None
    if expected == actual:
        return
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        # write, then still fail: a run that rewrote a snapshot proves nothing about it
        folder.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        pytest.fail(f"snapshots/{name} rewritten: review the diff, run again without UPDATE_SNAPSHOTS", pytrace=False)
    if expected is None:
        pytest.fail(f"snapshot {name} does not exist; create it with UPDATE_SNAPSHOTS=1", pytrace=False)
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"snapshots/{name}",
            tofile="rendered now",
        )
    )
    pytest.fail(f"output differs from snapshots/{name} (UPDATE_SNAPSHOTS=1 rewrites it):\n{diff}", pytrace=False)


@pytest.fixture
def snapshot() -> SnapshotCheck:
    return _check_snapshot


@pytest.fixture
def console() -> Console:
    """What the task prescribes for tests: recording, 120 columns, not a terminal (no colour)."""
    return Console(record=True, width=120, force_terminal=False, file=io.StringIO())
