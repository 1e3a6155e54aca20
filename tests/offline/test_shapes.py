"""Response shapes of the offline OpenMeter against the live HEAD server's, recorded in
``shared/openmeter/recorded/head-4412.jsonl``: the same #4412 calls must answer with the same
fields (object keys, recursively; the first element stands for a list; item-key maps normalised)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from contract.client import OpenMeterClient
from contract.client.inputs import Event
from contract.clock import VirtualClock

from .helpers import REPO_ROOT, settled, setup_4412

RECORDING = REPO_ROOT.parent / "shared" / "openmeter" / "recorded" / "head-4412.jsonl"
#: maps whose keys are data (item keys), not field names
_DATA_KEYED = ("itemTimelines",)


def _keys(value: Any, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            name = "*" if prefix.rsplit(".", 2)[-2:-1] == [_DATA_KEYED[0]] else key
            out.add(prefix + name)
            out |= _keys(inner, f"{prefix}{name}.")
    elif isinstance(value, list) and value:
        out |= _keys(value[0], f"{prefix}[].")
    return out


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    if not RECORDING.exists():
        pytest.skip(f"{RECORDING} is absent (the shared folder next to the repository is present only in CI)")
    steps: dict[str, Any] = {}
    for line in RECORDING.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry.get("kind") == "http":
            steps.setdefault(entry["step"], entry["response_body"])
    return steps


def _drive(om: OpenMeterClient, clock: VirtualClock) -> dict[str, Any]:
    """The recorded #4412 run's calls against the fake, keyed by the recording's step names."""
    mine: dict[str, Any] = {}

    def call(step: str, method: str, path: str, **kwargs: Any) -> Any:
        mine[step] = om.request(method, path, **kwargs).body
        return mine[step]

    v3 = "/api/v3/openmeter"
    call("version", "GET", "/version")
    setup = setup_4412(om)
    cid = setup.customer.id
    call("meter_api_calls", "GET", f"{v3}/meters/{setup.meters['api_calls'].id}")
    call("feature_api_calls", "GET", f"{v3}/features/{setup.features['api_calls'].id}")
    call("customer", "GET", f"{v3}/customers/{cid}")
    mine["credit_grant"] = call("credit_grant", "GET", f"{v3}/customers/{cid}/credits/grants")["data"][0]
    call("credit_balance", "GET", f"{v3}/customers/{cid}/credits/balance")
    call("plan_publish", "GET", f"{v3}/plans/{setup.plan.id}")
    sub = call(
        "subscription_create",
        "POST",
        f"{v3}/subscriptions",
        json_body={
            "customer": {"id": cid},
            "plan": {"id": setup.plan.id},
            "settlement_mode": "credit_then_invoice",
        },
    )
    call("subscription_get_v1", "GET", f"/api/v1/subscriptions/{sub['id']}")
    settled(om, cid)
    call("charges_after_subscribe", "GET", f"{v3}/customers/{cid}/charges")
    invoices = [("customers", cid), ("expand", "lines"), ("pageSize", 100)]
    call("invoices_after_subscribe", "GET", "/api/v1/billing/invoices", params=invoices)
    om.ingest([Event("e1", "ev_api_calls", "subj_4412", clock.now(), {"value": "7"})])
    clock.advance(timedelta(seconds=2))
    call("meter_query", "POST", f"{v3}/meters/{setup.meters['api_calls'].id}/query", json_body={})
    call(
        "subscription_cancel",
        "POST",
        f"{v3}/subscriptions/{sub['id']}/cancel",
        json_body={"timing": "immediate"},
    )
    call("subscription_get_v1_after_cancel", "GET", f"/api/v1/subscriptions/{sub['id']}")
    settled(om, cid)
    call("charges_after_cancel", "GET", f"{v3}/customers/{cid}/charges")
    call("invoices_after_cancel", "GET", "/api/v1/billing/invoices", params=invoices)
    call("subscription_get_v3_after_cancel", "GET", f"{v3}/subscriptions/{sub['id']}")
    return mine


def test_every_response_has_the_fields_the_live_head_server_answers_with(
    recorded: dict[str, Any], om: OpenMeterClient, clock: VirtualClock
) -> None:
    mine = _drive(om, clock)
    differences = {}
    for step, body in mine.items():
        live, fake = _keys(recorded[step]), _keys(body)
        if live != fake:
            differences[step] = {"missing": sorted(live - fake), "extra": sorted(fake - live)}
    assert differences == {}
    assert len(mine) == 17


def test_the_key_walk_normalises_item_key_maps() -> None:
    body = {"phases": [{"itemTimelines": {"api_calls_1": [{"id": "x"}]}, "key": "default"}]}
    assert _keys(body) == {
        "phases",
        "phases.[].itemTimelines",
        "phases.[].itemTimelines.*",
        "phases.[].itemTimelines.*.[].id",
        "phases.[].key",
    }
