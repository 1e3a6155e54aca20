"""One explored example: a drawn scenario document, written as a scenario file, run and classified.

A drawn document becomes an ordinary scenario file (``id`` equal to the file stem, as the loader
requires), is loaded by the same loader as hand-written scenarios and run by the same runner, so
whatever ``explore`` finds, ``omcontract run FILE`` reproduces.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contract.errors import InputError
from contract.explore.classify import FailureClass, classify
from contract.scenario.loader import load_scenario
from contract.scenario.model import Scenario
from contract.scenario.result import ScenarioResult, Verdict

__all__ = ["Outcome", "canonical", "document", "load_document", "write_document"]


def canonical(body: dict[str, Any]) -> str:
    """A stable text for a drawn body: equal bodies, equal texts (the campaign's cache key)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def document(
    body: dict[str, Any], *, scenario_id: str, title: str, provenance: str, description: str
) -> dict[str, Any]:
    """The full scenario document for a drawn ``body`` (setup, steps, requires)."""
    return {"id": scenario_id, "title": title, "provenance": provenance, "description": description, **body}


def write_document(path: Path, doc: dict[str, Any]) -> Path:
    """Write ``doc`` as YAML (block style, keys in the document's order)."""
    path.write_text(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=100), encoding="utf-8")
    return path


def load_document(doc: dict[str, Any], folder: Path | None = None) -> Scenario:
    """Load ``doc`` through the scenario loader (via a file, so errors carry lines)."""
    with tempfile.TemporaryDirectory(prefix="omexplore-", dir=folder) as tmp:
        path = write_document(Path(tmp) / f"{doc['id']}.yaml", doc)
        return load_scenario(path)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What running one drawn document gave: the result and its failure class (None: it agreed)."""

    body: dict[str, Any]
    result: ScenarioResult | None
    failure: FailureClass | None
    error: str | None = None  # the document was refused by the loader (a generator bug)

    @property
    def failed(self) -> bool:
        return self.failure is not None

    @property
    def skipped(self) -> bool:
        return self.result is not None and self.result.verdict is Verdict.SKIPPED


def run_body(body: dict[str, Any], run: Callable[[Scenario], ScenarioResult]) -> Outcome:
    """Load ``body`` as a scenario and run it with ``run``; classify the result."""
    doc = document(
        body,
        scenario_id="explored",
        title="explored lifecycle",
        provenance="omcontract explore",
        description="drawn by omcontract explore",
    )
    try:
        scenario = load_document(doc)
    except InputError as err:
        return Outcome(body, None, None, error=str(err))
    try:
        result = run(scenario)
    except Exception as err:  # a bug of this suite, not of OpenMeter: reported as its own class
        reason = f"internal error in omcontract ({type(err).__name__}: {err}); please report it"
        result = ScenarioResult(scenario.id, scenario.title, Verdict.ERROR, reason=reason, source_path=scenario.source)
    return Outcome(body, result, classify(result))
