"""Every drawn scenario is one the loader accepts, for every server configuration."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.explore.example import document, load_document
from contract.explore.generate import ACTIONS, DIMENSIONS, Surface, scenarios
from contract.explore.shrink import variants


def _doc(body: dict[str, Any]) -> dict[str, Any]:
    return document(body, scenario_id="drawn", title="t", provenance="p", description="d")


@pytest.mark.parametrize("config", ["cti", "no-cti", "no-credits"])
@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_drawn_scenario_loads(config: str, data: st.DataObject) -> None:
    body = data.draw(scenarios(Surface(config=config)))
    scenario = load_document(_doc(body))
    assert scenario.steps[0].kind == "subscribe"
    assert scenario.requires.credit_then_invoice is (config == "cti")


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=scenarios(Surface(config="no-credits", can_force_sync=False)))
def test_a_server_without_credits_gets_no_grants_and_no_settlement_mode(body: dict[str, Any]) -> None:
    scenario = load_document(_doc(body))
    assert not scenario.setup.grants
    assert all(p.settlement_mode is None for p in scenario.setup.plans)
    assert not scenario.requires.credits
    assert all(s.kind != "resync" for s in scenario.steps)  # no way to force a sync: no renewal


@settings(max_examples=30, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=scenarios())
def test_every_shrink_variant_is_smaller(body: dict[str, Any]) -> None:
    size = len(str(body))
    for variant in variants(body):
        assert len(str(variant)) < size


def test_the_readme_table_names_every_dimension_once() -> None:
    names = [name for name, _ in DIMENSIONS]
    assert len(names) == len(set(names))
    assert {state for _, state in DIMENSIONS} == {"generated", "not yet"}
    assert "renew" in ACTIONS and "cancel_now" in ACTIONS


def test_the_readme_lists_every_dimension_with_its_state() -> None:
    from pathlib import Path

    readme = Path(__file__).resolve().parents[2] / "README.md"
    text = readme.read_text(encoding="utf-8")
    for name, state in DIMENSIONS:
        assert f"| {name} | {state} |" in text, name
