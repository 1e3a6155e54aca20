"""Runner overhead per step, excluding waiting on OpenMeter (target: under 50 ms per step).

Runs every scenario in fixtures/scenarios against the offline OpenMeter (HEAD behaviour). Its
clock is virtual (waits cost nothing) and the time spent inside the fake answering requests is
measured and subtracted, so what remains is the runner's own work per step: driving the client
(building requests, parsing responses), engine predictions, comparisons, log scans.

    python benchmarks/bench_runner.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import httpx

from contract.model import Behaviour
from contract.scenario.loader import load_scenarios
from contract.scenario.runner import Runner
from contract.scenario.targets import open_offline

ROOT = Path(__file__).resolve().parents[1]


class TimedTransport(httpx.BaseTransport):
    """Adds up the time spent inside OpenMeter (here: the offline fake) answering requests."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        t0 = time.perf_counter()
        try:
            response = self.inner.handle_request(request)
            response.read()
            return response
        finally:
            self.seconds += time.perf_counter() - t0
            self.requests += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario (the best is kept)")
    args = parser.parse_args()
    scenarios = load_scenarios([ROOT / "fixtures" / "scenarios"])
    per_step: list[float] = []
    total_steps = 0
    started = time.perf_counter()
    for scenario in scenarios:
        config = (
            "cti"
            if scenario.requires.credit_then_invoice
            else ("no-cti" if scenario.requires.credits else "no-credits")
        )
        best = float("inf")
        steps = 0
        verdict = ""
        for _ in range(args.repeat):
            timed: list[TimedTransport] = []

            def wrap(inner: httpx.BaseTransport, timed: list[TimedTransport] = timed) -> httpx.BaseTransport:
                timed.append(TimedTransport(inner))
                return timed[-1]

            with open_offline(Behaviour.HEAD, config_name=config, wrap_transport=wrap) as session:
                t0 = time.perf_counter()
                result = Runner(session.env).run(scenario)
                elapsed = time.perf_counter() - t0 - timed[0].seconds  # minus OpenMeter's own time
            steps = max(len(result.steps), 1)
            best = min(best, elapsed)
            verdict = result.verdict.value
        per_step.append(best / steps * 1000)
        total_steps += steps
        print(
            f"{scenario.id:45s} {verdict:9s} {steps:2d} steps  {best * 1000:7.1f} ms  "
            f"{best / steps * 1000:6.1f} ms/step"
        )
    wall = time.perf_counter() - started
    print(
        f"\n{len(scenarios)} scenarios, {total_steps} steps: mean {statistics.mean(per_step):.1f} ms/step, "
        f"max {max(per_step):.1f} ms/step (target < 50 ms/step); wall {wall:.1f} s for {args.repeat} runs each"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
