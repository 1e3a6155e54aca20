"""Shrink a failing scenario against the server that failed it, in a bounded number of runs.

Every candidate costs a live run (seconds), so shrinking is greedy and structural rather than
Hypothesis's byte-level search: try the simpler variants of the current best body in order —
drop a step (a renewal's wait and resync together), drop the second plan, the grants, a phase, a
rate card, a billing anchor, pro-rating off, a settlement mode, unused features — and keep the
first that still fails *with the same failure class*; start again from it; stop when no variant
fails or the run budget is spent. A variant the loader refuses (a lifecycle that no longer makes
sense) costs nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["shrink", "variants"]

Body = dict[str, Any]


def _without_step(body: Body, index: int) -> Body:
    out = copy.deepcopy(body)
    steps = out["steps"]
    drop = {index}
    if "wait" in steps[index] and index + 1 < len(steps) and "resync" in steps[index + 1]:
        drop.add(index + 1)  # a renewal is a wait and its resync
    out["steps"] = [s for i, s in enumerate(steps) if i not in drop]
    return out


def _referenced_features(body: Body) -> set[str]:
    used = set()
    for plan in body["setup"].get("plans", []):
        for phase in plan.get("phases", []):
            used |= {str(c["feature"]) for c in phase.get("rate_cards", []) if c.get("feature")}
    for step in body["steps"]:
        used |= {str(c["feature"]) for c in step.get("edit", {}).get("add", []) if c.get("feature")}
        if "ingest" in step:
            used.add(str(step["ingest"]["feature"]))
    return used


def variants(body: Body) -> Iterator[Body]:
    """Simpler bodies than ``body``, most simplifying first."""
    steps = body.get("steps", [])
    for index in range(len(steps) - 1, 0, -1):  # never the subscribe step
        yield _without_step(body, index)
    setup = body["setup"]
    plans = setup.get("plans", [])
    if len(plans) > 1 and not any("change_plan" in s for s in steps):
        out = copy.deepcopy(body)
        out["setup"]["plans"] = plans[:1]
        yield out
    if setup.get("grants"):
        out = copy.deepcopy(body)
        del out["setup"]["grants"]
        yield out
    for p, plan in enumerate(plans):
        phases = plan.get("phases", [])
        for ph in range(len(phases) - 1):  # drop a leading, fixed-length phase
            out = copy.deepcopy(body)
            del out["setup"]["plans"][p]["phases"][ph]
            yield out
        for ph, phase in enumerate(phases):
            for c in range(len(phase.get("rate_cards", []))):
                out = copy.deepcopy(body)
                del out["setup"]["plans"][p]["phases"][ph]["rate_cards"][c]
                yield out
        for key in ("pro_rating", "settlement_mode"):
            if key in plan:
                out = copy.deepcopy(body)
                del out["setup"]["plans"][p][key]
                yield out
    if steps and "billing_anchor" in steps[0].get("subscribe", {}):
        out = copy.deepcopy(body)
        del out["steps"][0]["subscribe"]["billing_anchor"]
        yield out
    features = setup.get("features", [])
    used = _referenced_features(body)
    if any(f["key"] not in used for f in features):
        out = copy.deepcopy(body)
        kept = [f for f in features if f["key"] in used]
        if kept:
            out["setup"]["features"] = kept
        else:
            del out["setup"]["features"]
        yield out


def shrink(body: Body, still_fails: Callable[[Body], bool | None], max_runs: int) -> tuple[Body, int]:
    """The smallest body reached greedily from ``body`` and the runs spent.

    ``still_fails(candidate)`` runs a candidate: True (fails the same way), False (does not), or
    None (refused before any run: costs nothing)."""
    best, runs = body, 0
    improved = True
    while improved and runs < max_runs:
        improved = False
        for candidate in variants(best):
            if runs >= max_runs:
                break
            verdict = still_fails(candidate)
            if verdict is None:
                continue
            runs += 1
            if verdict:
                best, improved = candidate, True
                break
    return best, runs
