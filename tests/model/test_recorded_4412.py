"""The engine against the #4412 scenario recorded on a live OpenMeter (shared/openmeter/recorded/).

HEAD (``7e57a394a``): subscribe -> two usage charges with mirror lines; cancel immediately ->
charges trimmed to activeTo (status active, FSP unchanged), mirror lines moved with their line
ids to a draft invoice, gathering invoice gone, next sync at activeTo. Bug build (``f67a8a103``):
the cancel's sync fails and nothing changes. The engine's ``sync_and_invoice`` must predict both.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from contract.compare.expectation import status_class
from contract.model import (
    Behaviour,
    Engine,
    ItemVersion,
    Period,
    Phase,
    Price,
    PriceType,
    RateCard,
    Subscription,
    Tier,
    empty_state,
    parse_time,
)
from contract.model.time import Duration

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
RECORDED = SHARED / "openmeter" / "recorded"

pytestmark = pytest.mark.skipif(not RECORDED.is_dir(), reason=f"shared folder not present: {RECORDED}")


def load(name: str) -> dict[str, dict[str, Any]]:
    """The recording's entries by step name (the last entry of a step wins)."""
    out: dict[str, dict[str, Any]] = {}
    for line in (RECORDED / name).read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        out[entry["step"]] = entry
    return out


def price(raw: dict[str, Any]) -> Price:
    if raw["type"] == "unit":
        return Price(PriceType.UNIT, Decimal(raw["amount"]))
    tiers = tuple(
        Tier(
            up_to=Decimal(t["upToAmount"]) if t.get("upToAmount") else None,
            unit_amount=Decimal(t["unitPrice"]["amount"]) if t.get("unitPrice") else None,
        )
        for t in raw["tiers"]
    )
    return Price(PriceType.TIERED, Decimal(0), mode=raw["mode"], tiers=tiers)


def subscription(body: dict[str, Any]) -> Subscription:
    """The engine's view of a v1 ``GET /api/v1/subscriptions/{id}`` body."""
    start = parse_time(body["activeFrom"])
    phases = []
    for p in body["phases"]:
        items = {}
        for key, timeline in p["itemTimelines"].items():
            items[key] = tuple(
                ItemVersion(
                    key=key,
                    active_from=parse_time(v["activeFrom"]),
                    active_to=parse_time(v["activeTo"]) if v.get("activeTo") else None,
                    rate_card=RateCard(
                        v["name"], v.get("featureKey"), price(v["price"]), Duration.parse(v["billingCadence"])
                    ),
                    id=v["id"],
                )
                for v in timeline
            )
        offset = parse_time(p["activeFrom"]) - start
        phases.append(Phase(p["key"], Duration(seconds=int(offset.total_seconds())), items, id=p["id"]))
    return Subscription(
        id=body["id"],
        customer_id=body["customerId"],
        currency=body["currency"],
        active_from=start,
        billing_anchor=parse_time(body["billingAnchor"]),
        billing_cadence=Duration.parse(body["billingCadence"]),
        phases=tuple(phases),
        active_to=parse_time(body["activeTo"]) if body.get("activeTo") else None,
    )


def period(raw: dict[str, str]) -> Period:
    return Period(parse_time(raw["from"]), parse_time(raw["to"]))


def sync_state_next(entry: dict[str, Any]) -> datetime:
    raw = entry["subscription_billing_sync_states"].split("\t")[2]
    return parse_time(raw.replace(" ", "T").replace("+00", "Z"))


def assert_charges_match(engine: Engine, state: Any, sub_id: str, recorded: list[dict[str, Any]]) -> None:
    snap = engine.snapshot(state, sub_id)
    ours = snap.by_id()
    assert set(ours) == {c["unique_reference_id"] for c in recorded}
    for c in recorded:
        mine = ours[c["unique_reference_id"]]
        assert mine.service_period == period(c["service_period"])
        assert mine.full_service_period == period(c["full_service_period"])
        assert mine.billing_period == period(c["billing_period"])
        assert mine.invoice_at == parse_time(c["invoice_at"])
        assert status_class(mine.status) == c["status"]  # the v3 API shows the meta status
        assert mine.item_id == c["subscription"]["phase"]["item"]["id"]


def test_head_recording_subscribe_then_cancel() -> None:
    rec = load("head-4412.jsonl")
    sub = subscription(rec["subscription_get_v1"]["response_body"])
    charges = rec["charges_after_subscribe"]["response_body"]["data"]
    engine = Engine()
    created = parse_time(charges[0]["created_at"])
    first = engine.sync_and_invoice(empty_state(), sub, created, created)
    assert first.error is None
    assert_charges_match(engine, first.state, sub.id, charges)
    snap = engine.snapshot(first.state, sub.id)
    # created, with the service period already started: the charge advancer may move them any time
    assert {(a.status, a.status_deterministic) for a in snap.items} == {("created", False)}
    gathering = rec["invoices_after_subscribe"]["response_body"]["items"]
    assert [i["status"] for i in gathering] == ["gathering"]
    assert sorted((m.mirror.service_period, m.mirror.invoice_at) for m in snap.items if m.mirror) == sorted(
        (period(ln["period"]), parse_time(ln["invoiceAt"])) for ln in gathering[0]["lines"]
    )
    assert snap.sync_state is not None
    assert snap.sync_state.next_sync_after == sync_state_next(rec["sync_state_before_cancel"])
    mirror_ids = {m.mirror.line_id for m in snap.items if m.mirror}

    cancelled = subscription(rec["subscription_get_v1_after_cancel"]["response_body"])
    assert cancelled.active_to == parse_time(rec["active_to"]["active_to"])
    after = rec["charges_after_cancel"]["response_body"]["data"]
    now = parse_time(after[0]["updated_at"])
    second = engine.sync_and_invoice(first.state, cancelled, cancelled.active_to, now)
    assert second.error is None
    assert_charges_match(engine, second.state, sub.id, after)
    snap = engine.snapshot(second.state, sub.id)
    assert not snap.gathering_invoice_exists
    invoices = rec["invoices_after_cancel"]["response_body"]["items"]
    assert [i["status"] for i in invoices] == ["draft"]
    # the draft waits for collection, and so do the charges whose lines it took (upstream's
    # invoice_created: active -> active.realization.started -> ...waiting_for_collection)
    assert [i["statusDetails"]["extendedStatus"] for i in invoices] == ["draft.waiting_for_collection"]
    assert {a.status for a in snap.items} == {"active.realization.waiting_for_collection"}
    assert {a.status_deterministic for a in snap.items} == {True}
    assert sorted(line.service_period for line in second.invoiced) == sorted(
        period(ln["period"]) for ln in invoices[0]["lines"]
    )
    recorded_ids = {ln["id"] for ln in invoices[0]["lines"]}
    gathering_ids = {ln["id"] for ln in gathering[0]["lines"]}
    assert recorded_ids == gathering_ids  # OpenMeter moved the lines, same ids ...
    assert {line.line_id for line in second.invoiced} == mirror_ids  # ... and so does the engine
    assert snap.sync_state is not None
    assert snap.sync_state.next_sync_after == sync_state_next(rec["sync_state_after_cancel"])


def test_bug_recording_cancel_fails_with_the_duplicate_id_and_changes_nothing() -> None:
    rec = load("bug-4412.jsonl")
    sub = subscription(rec["subscription_get_v1"]["response_body"])
    charges = rec["charges_after_subscribe"]["response_body"]["data"]
    engine = Engine(behaviour=Behaviour.ISSUE_4412)
    created = parse_time(charges[0]["created_at"])
    first = engine.sync_and_invoice(empty_state(), sub, created, created)
    assert first.error is None
    assert_charges_match(engine, first.state, sub.id, charges)

    cancelled = subscription(rec["subscription_get_v1_after_cancel"]["response_body"])
    assert cancelled.active_to is not None
    second = engine.sync_and_invoice(first.state, cancelled, cancelled.active_to, cancelled.active_to)
    assert second.error is not None
    assert second.error.startswith("duplicate unique id across persisted lines and charges: ")
    assert second.error.split(": ", 1)[1] in {c["unique_reference_id"] for c in charges}
    assert second.state is first.state
    assert_charges_match(engine, second.state, sub.id, rec["charges_after_cancel"]["response_body"]["data"])
    state_note = rec["sync_state_after_cancel"]["subscription_billing_sync_states"]
    assert state_note == rec["sync_state_before_cancel"]["subscription_billing_sync_states"]
    assert Engine().sync_and_invoice(first.state, cancelled, cancelled.active_to, cancelled.active_to).error is None
