"""The shrinker: greedy, same failure class only, bounded in runs, refusals free."""

from __future__ import annotations

from typing import Any

from contract.explore.shrink import shrink, variants


def _body(*steps: dict[str, Any]) -> dict[str, Any]:
    return {
        "setup": {
            "features": [{"key": "api_calls", "meter": {"aggregation": "sum", "value_property": "$.value"}}],
            "customer": {"currency": "USD"},
            "grants": [{"amount": "10", "currency": "USD"}],
            "plans": [
                {
                    "key": "p",
                    "currency": "USD",
                    "billing_cadence": "P1M",
                    "pro_rating": False,
                    "phases": [
                        {
                            "key": "default",
                            "rate_cards": [
                                {"key": "api_calls", "feature": "api_calls", "billing_cadence": "P1M"},
                                {"key": "fee", "billing_cadence": "P1M", "price": {"type": "flat", "amount": "5"}},
                            ],
                        }
                    ],
                }
            ],
        },
        "steps": [{"subscribe": {"plan": "p"}}, *steps],
    }


def test_shrinks_to_the_steps_and_cards_the_failure_needs() -> None:
    body = _body({"ingest": {"feature": "api_calls"}}, {"cancel": {"timing": "immediate"}}, {"invoice": {}})

    def fails(candidate: dict[str, Any]) -> bool:  # the "bug": a cancel on a plan with a fee
        cards = candidate["setup"]["plans"][0]["phases"][0]["rate_cards"]
        return any("cancel" in s for s in candidate["steps"]) and any(c["key"] == "fee" for c in cards)

    best, runs = shrink(body, fails, max_runs=100)
    assert [next(iter(s)) for s in best["steps"]] == ["subscribe", "cancel"]
    assert [c["key"] for c in best["setup"]["plans"][0]["phases"][0]["rate_cards"]] == ["fee"]
    assert "grants" not in best["setup"] and "pro_rating" not in best["setup"]["plans"][0]
    assert 0 < runs < 100


def test_stops_at_the_run_budget() -> None:
    body = _body(*[{"ingest": {"feature": "api_calls"}}] * 6)
    best, runs = shrink(body, lambda candidate: True, max_runs=3)
    assert runs == 3
    assert len(best["steps"]) == 7 - 3


def test_refused_candidates_cost_nothing() -> None:
    body = _body({"cancel": {"timing": "immediate"}})
    best, runs = shrink(body, lambda candidate: None, max_runs=5)
    assert runs == 0 and best == body


def test_a_renewal_wait_and_its_resync_go_together() -> None:
    body = _body({"wait": {"until": "current_period_end"}}, {"resync": {}})
    first = next(variants(body))  # dropping the last step first: the resync alone
    assert [next(iter(s)) for s in first["steps"]] == ["subscribe", "wait"]
    second = list(variants(body))[1]  # dropping the wait takes its resync along
    assert [next(iter(s)) for s in second["steps"]] == ["subscribe"]
