"""Helpers for the client tests: recorded OpenMeter exchanges, paths, respx responses.

The recordings live in ``<repo root>/../shared/openmeter/recorded`` (present in CI); tests that
need them skip with a reason when that folder is absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
RECORDED = SHARED / "openmeter" / "recorded"
SPEC_V1 = SHARED / "openmeter" / "openapi.v1.yaml"
SPEC_V3 = SHARED / "openmeter" / "openapi.v3.yaml"
BASE = "http://openmeter.test"
SECRET = "om-test-SECRET-1234"

Recording = list[dict[str, Any]]


def require_shared(path: Path) -> Path:
    """``path`` under the shared folder beside the repository: CI always has it, so there a missing
    file fails; elsewhere the test skips with the reason (shown by ``-ra``)."""
    if not path.exists():
        message = f"{path} is absent: the shared folder beside the repository (present in CI) is missing"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def load_recording(name: str) -> Recording:
    """The ``kind: http`` lines of ``shared/openmeter/recorded/<name>.jsonl``."""
    path = require_shared(RECORDED / f"{name}.jsonl")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [line for line in lines if line.get("kind") == "http"]


def recorded(recording: Recording, step: str) -> dict[str, Any]:
    """The first exchange of ``step``."""
    for line in recording:
        if line["step"] == step:
            return line
    raise KeyError(step)


def path_of(line: dict[str, Any]) -> str:
    return httpx.URL(line["url"]).path


def respond_like(line: dict[str, Any]) -> httpx.Response:
    """The recorded answer as an httpx response (problem+json for errors)."""
    status = line["status"]
    body = line["response_body"]
    if status == 204 or body == "":
        return httpx.Response(status)
    ctype = "application/problem+json" if status >= 400 else "application/json"
    return httpx.Response(status, json=body, headers={"Content-Type": ctype})
