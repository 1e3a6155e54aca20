"""Wall-time benchmark of the reference engine (a script, not a test: it prints, never asserts).

    .venv/bin/python benchmarks/bench_engine.py [--subscriptions 1000] [--oracle PATH]

1. checks the whole oracle corpus (fixtures/oracle) through the engine, as ``omcontract model
   check`` does, and prints the wall time (target: < 1 s);
2. syncs a generated load: N subscriptions (one customer each), 3 items each (a flat in-advance
   fee, a flat in-arrears fee, a unit-priced usage item), monthly billing; each subscription is
   synced once with ``as_of`` 12 months after its start (12-month horizon), then cancelled
   immediately mid-period and synced again; prints the total time and subscriptions per second
   (target: 1,000 subscriptions < 5 s on one core).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from contract.model import (  # noqa: E402
    Duration,
    Engine,
    ItemVersion,
    PaymentTerm,
    Phase,
    Price,
    PriceType,
    RateCard,
    Subscription,
    cancel_active_to,
    empty_state,
)
from contract.model.time import add  # noqa: E402
from contract.oracle.case import load_cases  # noqa: E402
from contract.oracle.runner import run_case  # noqa: E402

P1M = Duration(months=1)


def make_subscription(n: int, start: datetime) -> Subscription:
    cards = {
        "seats": RateCard("Seats", None, Price(PriceType.FLAT, Decimal("10"), PaymentTerm.IN_ADVANCE), P1M),
        "support": RateCard(
            "Support", None, Price(PriceType.FLAT, Decimal("4.5"), PaymentTerm.IN_ARREARS), P1M
        ),
        "api_calls": RateCard("API calls", "api_calls", Price(PriceType.UNIT, Decimal("0.01")), P1M),
    }
    items = {key: (ItemVersion(key, start, card, id=f"item-{n}-{key}"),) for key, card in cards.items()}
    return Subscription(
        id=f"sub-{n:05d}",
        customer_id=f"cust-{n:05d}",
        currency="USD",
        active_from=start,
        billing_anchor=start,
        billing_cadence=P1M,
        phases=(Phase("default", Duration(), items, id=f"phase-{n}"),),
    )


class Timer:
    """Wall and CPU seconds of a block (CPU time is what one core spent, whatever the machine load)."""

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def bench_corpus(path: Path) -> tuple[int, int]:
    cases = load_cases([path])
    passed = sum(1 for case in cases if run_case(case).passed)
    return len(cases), passed


def bench_load(count: int) -> int:
    """Sync ``count`` generated subscriptions (see the module doc); returns the charges made."""
    engine = Engine()
    state = empty_state()
    base = datetime(2024, 1, 1, tzinfo=UTC)
    charges = 0
    for n in range(count):
        start = base + timedelta(hours=n % 24, minutes=n % 60, seconds=n % 7, microseconds=1234 * (n % 5))
        sub = make_subscription(n, start)
        as_of = add(start, P1M, 12)
        result = engine.sync(state, sub, as_of)
        state = result.state
        cancel_at = as_of + timedelta(days=9, hours=3)
        cancelled = sub.with_active_to(cancel_active_to(sub, cancel_at, "immediate"))
        result = engine.sync(state, cancelled, cancelled.active_to or cancel_at, now=cancel_at)
        if result.error is not None:
            raise SystemExit(f"sync failed: {result.error}")
        state = result.state
    for cust in state.customers.values():
        charges += len(cust.charges)
    return charges


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--oracle", type=Path, default=REPO / "fixtures" / "oracle")
    args = parser.parse_args(argv)

    with Timer() as t:
        cases, passed = bench_corpus(args.oracle)
    print(f"oracle corpus: {cases} cases ({passed} pass) checked in {t.wall:.3f} s wall, {t.cpu:.3f} s CPU "
          "(target < 1 s)")

    subs = args.subscriptions
    with Timer() as t:
        charges = bench_load(subs)
    print(
        f"load: {subs} subscriptions x 3 items, 12-month horizon, one immediate cancel each "
        f"({2 * subs} syncs, {charges} charges): {t.wall:.3f} s wall, {t.cpu:.3f} s CPU, "
        f"{subs / t.wall:.0f} subscriptions/s (target < 5 s)"
    )
    if hasattr(os, "getloadavg"):
        print(f"machine load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPU(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
