"""OpenMeter's shapes -> the engine's: subscription in, observed artifacts out."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from contract.client.models import Charge, Invoice, SubscriptionView
from contract.model import Backend, Duration, Engine, SettlementMode, empty_state
from contract.scenario.mapping import ItemIndex, observe, to_engine_subscription


def _steps(path: Path) -> dict[str, list[dict[str, Any]]]:
    by: dict[str, list[dict[str, Any]]] = {}
    for line in path.read_text().splitlines():
        obj = json.loads(line)
        by.setdefault(obj.get("step"), []).append(obj)
    return by


def _charges(rec: dict[str, list[dict[str, Any]]], step: str) -> list[Charge]:
    return [Charge.from_v3(c) for c in rec[step][-1]["response_body"]["data"] or []]


def _invoices(rec: dict[str, list[dict[str, Any]]], step: str) -> list[Invoice]:
    return [Invoice.from_v1(i) for i in rec[step][-1]["response_body"]["items"] or []]


def test_subscription_view_becomes_the_engine_input_with_microseconds(recorded: Path) -> None:
    rec = _steps(recorded / "head-4412.jsonl")
    view = SubscriptionView.from_v1(rec["subscription_get_v1"][0]["response_body"])
    sub = to_engine_subscription(view)
    assert sub.id == view.id and sub.customer_id == view.customer_id
    assert sub.active_from == view.active_from and sub.active_from.microsecond == 133013
    assert sub.billing_anchor == view.billing_anchor
    assert sub.billing_cadence == Duration.parse("P1M")
    assert sub.settlement_mode is SettlementMode.CREDIT_THEN_INVOICE
    [phase] = sub.phases
    assert phase.key == "default" and phase.start_after == Duration()
    assert sorted(phase.items) == ["api_calls_1795765605940_142", "tokens_1795765605940_142"]
    version = phase.items["api_calls_1795765605940_142"][0]
    assert version.rate_card.price is not None and str(version.rate_card.price.amount) == "0.1"
    assert version.id == view.phases[0].item_timelines[0].versions[0].id


def test_observed_charges_carry_their_mirror_lines_and_match_the_engine(recorded: Path) -> None:
    rec = _steps(recorded / "head-4412.jsonl")
    view = SubscriptionView.from_v1(rec["subscription_get_v1"][0]["response_body"])
    index = ItemIndex()
    index.learn(view)
    snap = observe(view.id, _charges(rec, "charges_after_subscribe"), _invoices(rec, "invoices_after_subscribe"), index)
    assert len(snap.items) == 2 and snap.gathering_invoice_exists
    for art in snap.items:
        assert art.backend is Backend.CHARGE and art.mirror is not None
        assert art.mirror.service_period == art.service_period
        assert art.mirror.invoice_at == art.invoice_at
        assert art.id.startswith(f"{view.id}/default/") and art.id.endswith("/v[0]/period[0]")
    engine = Engine()
    sub = to_engine_subscription(view)
    as_of = view.active_from + timedelta(seconds=1)
    predicted = engine.snapshot(engine.sync_and_invoice(empty_state(), sub, as_of, as_of).state, view.id)
    assert [(a.id, a.service_period, a.invoice_at) for a in predicted.items] == [
        (a.id, a.service_period, a.invoice_at) for a in snap.items
    ]


def test_after_the_head_cancel_lines_are_invoiced_and_no_gathering_invoice_is_left(recorded: Path) -> None:
    rec = _steps(recorded / "head-4412.jsonl")
    index = ItemIndex()
    for step in ("subscription_get_v1", "subscription_get_v1_after_cancel"):
        index.learn(SubscriptionView.from_v1(rec[step][-1]["response_body"]))
    view = SubscriptionView.from_v1(rec["subscription_get_v1_after_cancel"][-1]["response_body"])
    assert view.active_to is not None
    snap = observe(view.id, _charges(rec, "charges_after_cancel"), _invoices(rec, "invoices_after_cancel"), index)
    assert not snap.gathering_invoice_exists
    assert all(a.mirror is None and a.service_period.end <= view.active_to for a in snap.items)
    assert sorted(i.id for i in snap.invoiced) == sorted(a.id for a in snap.items)


def test_a_mirror_line_still_pointing_at_the_old_item_row_pairs_with_its_charge(recorded: Path) -> None:
    rec = _steps(recorded / "head-4412.jsonl")
    before = SubscriptionView.from_v1(rec["subscription_get_v1"][0]["response_body"])
    after = SubscriptionView.from_v1(rec["subscription_get_v1_after_cancel"][-1]["response_body"])
    index = ItemIndex()
    index.learn(before)
    index.learn(after)
    charges = _charges(rec, "charges_after_subscribe")
    new_item = {t.key: t.versions[0].id for t in after.phases[0].item_timelines}
    # the charges were re-pointed to the re-created items, the lines not yet
    moved = []
    for c in charges:
        assert c.subscription is not None and c.unique_reference_id is not None
        key = c.unique_reference_id.split("/")[2]
        moved.append(replace(c, subscription=replace(c.subscription, item_id=new_item[key])))
    snap = observe(before.id, moved, _invoices(rec, "invoices_after_subscribe"), index)
    assert len(snap.items) == 2 and all(a.mirror is not None for a in snap.items)
    assert len({a.id for a in snap.items}) == 2
