"""Generated lifecycles through every layer: scenario text -> loader -> runner -> client -> offline
OpenMeter -> mapping -> engine -> comparator.

Hypothesis draws subscription lifecycles (usage and flat-fee rate cards, monthly or weekly billing,
ingest, edits, cancels at either timing, continue, renewal through a forced sync) and writes them
as scenario files. Against the offline OpenMeter playing ``head`` every one must agree: a
disagreement here is a bug in the suite's own plumbing (JSON shapes, the v1 id swap, mirror-line
pairing across re-created items, the mapping to the engine), which Hypothesis then shrinks to a
minimal lifecycle. Under ``issue-4412`` every lifecycle that re-syncs a credit_then_invoice
subscription must disagree, and name #4412.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from contract.model import Behaviour
from contract.scenario.loader import load_scenario
from contract.scenario.result import Verdict
from contract.scenario.runner import Runner
from contract.scenario.targets import open_live, open_offline

FEATURES = ["api_calls", "tokens", "storage"]
USAGE = {"type": "unit", "amount": "0.10"}
GRADUATED = {"type": "graduated", "tiers": [{"up_to": "100", "unit_amount": "0.10"}, {"unit_amount": "0.05"}]}


@st.composite
def lifecycles(draw: st.DrawFn) -> dict[str, object]:
    weekly = draw(st.booleans())
    cadence = "P1W" if weekly else "P1M"
    cards: list[dict[str, object]] = [
        {"key": "api_calls", "feature": "api_calls", "billing_cadence": cadence, "price": USAGE},
        {"key": "tokens", "feature": "tokens", "billing_cadence": cadence, "price": GRADUATED},
    ]
    if draw(st.booleans()):
        cards.append(
            {
                "key": "fee",
                "billing_cadence": cadence,
                "price": {
                    "type": "flat",
                    "amount": draw(st.sampled_from(["5", "30"])),
                    "payment_term": draw(st.sampled_from(["in_advance", "in_arrears"])),
                },
            }
        )
    subscribe: dict[str, object] = {"plan": "p"}
    if weekly:  # a first period that ends within the run, so renewal can be exercised
        subscribe["billing_anchor"] = "now-P1W+PT20S"
    steps: list[dict[str, object]] = [{"subscribe": subscribe}]
    state, items, renewed = "active", {"api_calls", "tokens"}, False
    for _ in range(draw(st.integers(1, 5))):
        choices = ["ingest"]
        if state == "active":
            choices += ["cancel_now", "cancel_next", "edit_add", "edit_remove"]
            if weekly and not renewed:
                choices.append("renew")
        if state == "scheduled":
            choices.append("continue")
        action = draw(st.sampled_from(choices))
        if action == "ingest":
            steps.append({"ingest": {"feature": draw(st.sampled_from(sorted(items))), "values": ["3", "4"]}})
        elif action == "cancel_now":
            steps.append({"cancel": {"timing": "immediate"}})
            state = "ended"
        elif action == "cancel_next":
            steps.append({"cancel": {"timing": "next_billing_cycle"}})
            state = "scheduled"
        elif action == "continue":
            steps.append({"continue": {}})
            state = "active"
        elif action == "edit_add" and "storage" not in items:
            steps.append(
                {
                    "edit": {
                        "add": [
                            {
                                "key": "storage",
                                "feature": "storage",
                                "billing_cadence": cadence,
                                "price": {"type": "unit", "amount": "0.02"},
                            }
                        ]
                    }
                }
            )
            items.add("storage")
        elif action == "edit_remove" and len(items) > 1:
            gone = draw(st.sampled_from(sorted(items)))
            steps.append({"edit": {"remove": [gone]}})
            items.discard(gone)
        elif action == "renew":
            steps += [{"wait": {"until": "current_period_end", "plus": "PT2S", "max": "PT1M"}}, {"resync": {}}]
            renewed = True
        if state == "ended":
            break
    return {
        "setup": {
            "features": [{"key": f, "meter": {"aggregation": "sum", "value_property": "$.value"}} for f in FEATURES],
            "customer": {"currency": "USD"},
            "grants": [{"amount": "10", "currency": "USD"}],
            "plans": [
                {
                    "key": "p",
                    "currency": "USD",
                    "billing_cadence": cadence,
                    "settlement_mode": "credit_then_invoice",
                    "phases": [{"key": "default", "rate_cards": cards}],
                }
            ],
        },
        "steps": steps,
    }


def _write(tmp: Path, body: dict[str, object]) -> Path:
    path = tmp / "generated.yaml"
    doc = {
        "id": "generated",
        "title": "generated lifecycle",
        "provenance": "hypothesis",
        "description": "drawn by tests/scenario/test_generated_lifecycles.py",
        **body,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


START = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda t: t.replace(tzinfo=UTC)
)

_SETTINGS = settings(
    max_examples=25,
    deadline=timedelta(seconds=10),
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_SETTINGS
@given(body=lifecycles(), start=START)
def test_every_generated_lifecycle_agrees_with_the_offline_openmeter(
    tmp_path: Path, body: dict[str, object], start: datetime
) -> None:
    scenario = load_scenario(_write(tmp_path, body))
    with open_offline(Behaviour.HEAD, start=start) as session:
        result = Runner(session.env).run(scenario)
    assert result.verdict is Verdict.AGREE, (
        yaml.safe_dump(body["steps"]),
        result.reason,
        [f.one_line() for s in result.steps for f in s.findings],
    )


@_SETTINGS
@given(body=lifecycles(), start=START)
def test_under_issue_4412_every_resync_of_charges_is_caught_by_name(
    tmp_path: Path, body: dict[str, object], start: datetime
) -> None:
    scenario = load_scenario(_write(tmp_path, body))
    with open_offline(Behaviour.ISSUE_4412, start=start) as session:
        result = Runner(session.env).run(scenario)
    resyncs = [s.index for s in scenario.steps if s.kind in ("cancel", "edit", "continue", "resync")]
    if resyncs:
        assert result.verdict is Verdict.DISAGREE
    if result.verdict is Verdict.AGREE:
        return
    # The first failing re-sync is the first explicit one, or earlier: a due in-advance fee is
    # invoiced right after the first sync and the invoice-created handler re-syncs at once.
    first = result.first_disagreement
    assert first is not None and first.index <= (resyncs[0] if resyncs else 0)
    assert any(ev.upstream_issue == "openmeterio/openmeter#4412" for ev in first.logs)


_LIVE_SETTINGS = settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    phases=[Phase.generate],  # no shrinking against a live server: each run takes seconds
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.live
@_LIVE_SETTINGS
@given(body=lifecycles())
def test_generated_lifecycles_agree_with_a_live_openmeter(tmp_path: Path, body: dict[str, object]) -> None:
    url = os.environ.get("OPENMETER_URL") or os.environ.get("OPENMETER_ADDRESS")
    if not url:
        pytest.skip('no OpenMeter: set OPENMETER_URL (e.g. eval "$(omnative up)")')
    if (os.environ.get("OPENMETER_CONFIG") or "cti") != "cti":
        pytest.skip("generated lifecycles need credit_then_invoice on (OPENMETER_CONFIG=cti)")
    if any("resync" in step for step in body["steps"]) and not os.environ.get("OPENMETER_FORCE_SYNC"):  # type: ignore[attr-defined]
        pytest.skip("a renewal needs OPENMETER_FORCE_SYNC (a command that runs the subscription sync job)")
    scenario = load_scenario(_write(tmp_path, body))
    with open_live(url=url) as session:
        result = Runner(session.env).run(scenario)
    assert result.verdict is Verdict.AGREE, (
        yaml.safe_dump(body["steps"]),
        result.reason,
        [f.one_line() for s in result.steps for f in s.findings],
    )
