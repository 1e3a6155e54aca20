"""Shared fixtures for runner, replay and mapping tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
RECORDED = SHARED / "openmeter" / "recorded"
SCENARIOS = REPO / "fixtures" / "scenarios"


@pytest.fixture(scope="session")
def recorded() -> Path:
    if not RECORDED.is_dir():
        pytest.skip(f"the recordings of OpenMeter runs are not here ({RECORDED}): shared/ is absent")
    return RECORDED
