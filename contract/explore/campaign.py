"""A campaign: Hypothesis draws scenarios, each runs against one OpenMeter, failures are shrunk.

Each worker (``jobs`` of them, threads sharing one OpenMeter, each example with its own keys and
customer) runs one Hypothesis search that only draws. Every drawn scenario is run and judged
exactly as ``omcontract run`` judges it. The first failure of a class nobody has found yet is
shrunk at once by :mod:`contract.explore.shrink` (every candidate is another run, bounded by
``shrink_runs`` and the budget); failures of classes already found, or listed as known, are
counted and not shrunk again. Results are cached by document, so a body drawn twice costs one run.

The campaign stops at ``examples`` drawn-and-run examples (shrink runs not counted) or when the
``budget`` (seconds) is spent, whichever comes first; an interrupted campaign keeps what it found.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

from contract.explore.example import Outcome, canonical, run_body
from contract.explore.generate import Surface, scenarios
from contract.explore.shrink import shrink
from contract.scenario.model import Scenario
from contract.scenario.result import ScenarioResult

__all__ = ["Campaign", "CampaignOptions", "CampaignResult", "CampaignStatus", "Found", "RunScenario"]

#: Runs one loaded scenario and returns its result (one per worker: it owns a client).
RunScenario = Callable[[Scenario], ScenarioResult]


@dataclass(frozen=True, slots=True)
class CampaignOptions:
    examples: int = 100
    budget_s: float | None = None
    seed: int = 0
    jobs: int = 1
    shrink_runs: int = 40  # live runs a class's shrinking may spend
    surface: Surface = field(default_factory=Surface)
    known: frozenset[str] = frozenset()  # class keys already recorded (counted, not shrunk, not "found")


@dataclass
class Found:
    """One failure class: the smallest failing scenario body found for it so far."""

    key: str
    body: dict[str, Any]
    result: ScenarioResult
    known_issue: str | None
    examples: int = 1  # failing examples of this class
    shrink_runs: int = 0
    shrunk: bool = False

    @property
    def steps(self) -> int:
        return len(self.body.get("steps", ()))


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    """What the progress line shows."""

    examples: int
    target: int
    failing: int
    classes: int
    shrinking: int
    elapsed_s: float
    budget_s: float | None

    @property
    def per_minute(self) -> float:
        return 60.0 * self.examples / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def line(self) -> str:
        budget = ""
        if self.budget_s is not None:
            budget = f", budget {max(self.budget_s - self.elapsed_s, 0):.0f}s left"
        shrinking = f", shrinking {self.shrinking}" if self.shrinking else ""
        return (
            f"explore: {self.examples}/{self.target} examples, {self.failing} failing, "
            f"{self.classes} class(es){shrinking}{budget}, {self.per_minute:.1f}/min"
        )


@dataclass
class CampaignResult:
    examples: int
    failing: int
    skipped: int
    shrink_runs: int
    seconds: float
    found: list[Found]
    generator_errors: list[str]
    stopped_by: str  # examples | budget | interrupted
    known: dict[str, int] = field(default_factory=dict)  # known class -> failing examples

    @property
    def per_minute(self) -> float:
        return 60.0 * self.examples / self.seconds if self.seconds > 0 else 0.0


class _Stop(Exception):
    """The campaign is done (examples, budget, interrupt): ends a worker's search."""


class Campaign:
    def __init__(
        self,
        options: CampaignOptions,
        runner_for_worker: Callable[[int], RunScenario],
        *,
        progress: Callable[[CampaignStatus], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self._runner_for_worker = runner_for_worker
        self._progress = progress
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cache: dict[str, Outcome] = {}
        self._found: dict[str, Found] = {}
        self._examples = 0
        self._failing = 0
        self._skipped = 0
        self._shrink_runs = 0
        self._shrinking = 0
        self._errors: list[str] = []
        self._known: dict[str, int] = {}
        self._started = 0.0
        self._interrupted = False
        self._failure: BaseException | None = None

    # ------------------------------------------------------------------ state
    def _elapsed(self) -> float:
        return self._monotonic() - self._started

    def _out_of_budget(self) -> bool:
        return self.options.budget_s is not None and self._elapsed() >= self.options.budget_s

    def _done(self) -> bool:
        return self._interrupted or self._examples >= self.options.examples or self._out_of_budget()

    def status(self) -> CampaignStatus:
        with self._lock:
            return CampaignStatus(
                self._examples,
                self.options.examples,
                self._failing,
                len(self._found),
                self._shrinking,
                self._elapsed(),
                self.options.budget_s,
            )

    def _tell(self) -> None:
        if self._progress is not None:
            self._progress(self.status())

    # ------------------------------------------------------------------ one example
    def _outcome(self, body: dict[str, Any], run: RunScenario, shrinking_for: Found | None) -> Outcome | None:
        """The cached or fresh outcome of ``body``; None when no run may be spent on it now.

        A body the loader refuses is an outcome with ``error`` set and costs no run."""
        key = canonical(body)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            if shrinking_for is not None:
                if shrinking_for.shrink_runs >= self.options.shrink_runs or self._out_of_budget() or self._interrupted:
                    return None
            else:
                if self._done():
                    return None
                self._examples += 1  # reserved before the run, so parallel workers stop at the count
        outcome = run_body(body, run)
        with self._lock:
            self._cache[key] = outcome
            if outcome.error is not None and shrinking_for is None:
                self._errors.append(outcome.error)  # a drawn body the loader refused: a generator bug
            if shrinking_for is not None and outcome.error is None:
                shrinking_for.shrink_runs += 1
                self._shrink_runs += 1
            if shrinking_for is None:
                if outcome.failed:
                    self._failing += 1
                elif outcome.skipped:
                    self._skipped += 1
        self._tell()
        return outcome

    # ------------------------------------------------------------------ a worker
    def _search(self, worker: int, run: RunScenario) -> None:
        """Draw and run examples until the campaign is done; shrink each new failure class at once.

        Hypothesis only draws here (no failure is ever raised to it, so nothing it replays can
        flake); the end of the campaign is the one exception it sees, and it is raised again on
        its replay, so it always leaves the same way."""

        def example(body: dict[str, Any]) -> None:
            if self._done():
                raise _Stop
            outcome = self._outcome(body, run, None)
            if outcome is None or outcome.failure is None or outcome.result is None:
                return
            with self._lock:
                if outcome.failure.key in self.options.known:
                    self._known[outcome.failure.key] = self._known.get(outcome.failure.key, 0) + 1
                    return
                known = self._found.get(outcome.failure.key)
                if known is not None:
                    known.examples += 1
                    return
                found = Found(outcome.failure.key, body, outcome.result, outcome.failure.known_issue)
                self._found[found.key] = found
            self._shrink(found, run)

        search = settings(
            max_examples=10**9,  # the campaign ends the search (examples, budget), not Hypothesis
            database=None,
            deadline=None,
            derandomize=False,
            phases=[Phase.generate],  # shrinking is ours: bounded live runs (contract.explore.shrink)
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
            print_blob=False,
        )(seed(self.options.seed * 1_000_003 + worker * 10_007)(given(body=scenarios(self.options.surface))(example)))
        try:
            search()
        except _Stop:
            return

    def _shrink(self, found: Found, run: RunScenario) -> None:
        with self._lock:
            self._shrinking += 1
        self._tell()

        def still_fails(candidate: dict[str, Any]) -> bool | None:
            outcome = self._outcome(candidate, run, found)
            if outcome is None or outcome.error is not None or outcome.result is None:
                return None if outcome is None or outcome.error is not None else False
            if outcome.failure is not None and outcome.failure.key == found.key:
                with self._lock:
                    found.body, found.result = candidate, outcome.result
                return True
            if outcome.failure is not None and outcome.failure.key not in self.options.known:
                with self._lock:  # another class met while shrinking: kept as found, unshrunk
                    self._found.setdefault(
                        outcome.failure.key,
                        Found(outcome.failure.key, candidate, outcome.result, outcome.failure.known_issue),
                    )
            return False

        try:
            shrink(found.body, still_fails, self.options.shrink_runs)
        finally:
            with self._lock:
                found.shrunk = True
                self._shrinking -= 1

    def _worker(self, worker: int) -> None:
        try:
            run = self._runner_for_worker(worker)
            self._search(worker, run)
        except BaseException as err:  # handed to the main thread, which re-raises it
            with self._lock:
                self._interrupted = True
                self._failure = self._failure or err

    # ------------------------------------------------------------------ the campaign
    def run(self) -> CampaignResult:
        self._started = self._monotonic()
        threads = [
            threading.Thread(target=self._worker, args=(w,), name=f"explore-{w}", daemon=True)
            for w in range(max(1, self.options.jobs))
        ]
        for t in threads:
            t.start()
        stopped_by = "examples"
        try:
            for t in threads:
                while t.is_alive():
                    t.join(timeout=0.5)
        except KeyboardInterrupt:
            self._interrupted = True
            stopped_by = "interrupted"
            for t in threads:
                t.join(timeout=60)
        if self._failure is not None:
            raise self._failure
        if stopped_by != "interrupted" and self._out_of_budget() and self._examples < self.options.examples:
            stopped_by = "budget"
        found = sorted(self._found.values(), key=lambda f: f.key)
        return CampaignResult(
            examples=self._examples,
            failing=self._failing,
            skipped=self._skipped,
            shrink_runs=self._shrink_runs,
            seconds=self._elapsed(),
            found=found,
            generator_errors=list(dict.fromkeys(self._errors)),
            stopped_by=stopped_by,
            known=dict(self._known),
        )
