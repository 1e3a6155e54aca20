"""The shipped scenarios load and say what they claim; every broken input fails exactly as documented."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from contract.errors import InputError
from contract.model.domain import SettlementMode
from contract.model.time import Duration
from contract.scenario.loader import load_scenario, load_scenarios
from contract.scenario.model import (
    EXPECT_KEYS,
    STEP_KINDS,
    CancelStep,
    ChangePlanStep,
    ContinueStep,
    EditStep,
    IngestStep,
    PriceKind,
    ResyncStep,
    Scenario,
    SubscribeStep,
    TimingKind,
    WaitStep,
)

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "fixtures" / "scenarios"
BROKEN = REPO / "fixtures" / "broken"
SHARED = REPO.parent / "shared"

SCENARIO_FILES = sorted(SCENARIOS.glob("*.yaml"))
BROKEN_FILES = sorted(BROKEN.glob("*.yaml"))
REQUIRED_IDS = {
    "issue-4412-cti-cancel-immediately",
    "cancel-next-billing-cycle",
    "renewal",
    "plan-edit",
    "plan-change",
    "continue-after-scheduled-cancel",
    "continue-after-immediate-cancel-refused",
    "issue-4412-credit-only",
    "issue-4412-invoice-only",
    "issue-4412-no-cti",
    "flat-fee-in-advance-prorated",
}
_ERROR_LINE = re.compile(r"^# error: (?P<message>.+)$")


def by_id() -> dict[str, Scenario]:
    return {s.id: s for s in load_scenarios([SCENARIOS])}


def expected_error(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    m = _ERROR_LINE.match(first)
    assert m, f"{path.name}: the first line must be '# error: <message>'"
    return m["message"]


# --------------------------------------------------------------------------- scenario files


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_every_scenario_file_loads_and_is_documented(path: Path) -> None:
    sc = load_scenario(path)
    assert sc.id == path.stem
    assert sc.title.strip() and sc.description.strip()
    assert sc.provenance.strip(), f"{path.name} has no provenance"
    assert sc.steps and isinstance(sc.steps[0], SubscribeStep)


def test_the_folder_holds_every_required_scenario_with_unique_ids() -> None:
    loaded = load_scenarios([SCENARIOS])
    ids = [s.id for s in loaded]
    assert len(ids) == len(set(ids)) == len(SCENARIO_FILES)
    assert set(ids) >= REQUIRED_IDS
    assert (SCENARIOS / "FORMAT.md").is_file()


def test_format_doc_names_every_step_kind_and_expect_key() -> None:
    doc = (SCENARIOS / "FORMAT.md").read_text(encoding="utf-8")
    for kind in STEP_KINDS:
        assert f"`{kind}`" in doc, kind
    for key in EXPECT_KEYS:
        assert f"`{key}`" in doc or f"{key}:" in doc, key


def test_the_4412_repro_matches_the_report() -> None:
    sc = by_id()["issue-4412-cti-cancel-immediately"]
    assert sc.known_issues == ("openmeterio/openmeter#4412",)
    assert (sc.requires.credits, sc.requires.credit_then_invoice) == (True, True)
    assert [(f.key, f.meter.aggregation.value, f.meter.value_property) for f in sc.setup.features] == [
        ("api_calls", "sum", "$.value"),
        ("tokens", "sum", "$.value"),
    ]
    assert [(g.amount, g.currency) for g in sc.setup.grants] == [(Decimal(10), "USD")]
    (plan,) = sc.setup.plans
    assert plan.billing_cadence == Duration(months=1)
    assert plan.settlement_mode is SettlementMode.CREDIT_THEN_INVOICE
    cards = plan.phases[0].rate_cards
    assert [(rc.key, rc.feature, rc.price.kind if rc.price else None) for rc in cards] == [
        ("api_calls", "api_calls", PriceKind.UNIT),
        ("tokens", "tokens", PriceKind.GRADUATED),
    ]
    kinds = [type(s) for s in sc.steps]
    assert kinds == [SubscribeStep, IngestStep, IngestStep, CancelStep]
    cancel = sc.steps[-1]
    assert isinstance(cancel, CancelStep) and cancel.timing.kind is TimingKind.IMMEDIATE
    assert cancel.expect is not None
    assert [i.id for i in cancel.expect.expected.items] == [
        "S/default/api_calls/v[0]/period[0]",
        "S/default/tokens/v[0]/period[0]",
    ]
    # Dates depend on activeTo: the file must not pin any period or invoice time.
    assert all(
        (item.service_period, item.billing_period, item.invoice_at) == (None, None, None)
        for item in cancel.expect.expected.items
    )


def test_twins_differ_from_the_repro_only_in_configuration_and_settlement() -> None:
    scenarios = by_id()
    repro = scenarios["issue-4412-cti-cancel-immediately"]
    credit_only = scenarios["issue-4412-credit-only"]
    invoice_only = scenarios["issue-4412-invoice-only"]
    no_cti = scenarios["issue-4412-no-cti"]
    assert credit_only.setup.plans[0].settlement_mode is SettlementMode.CREDIT_ONLY
    assert (invoice_only.requires.credits, invoice_only.requires.credit_then_invoice) == (False, False)
    assert invoice_only.setup.grants == ()
    assert (no_cti.requires.credits, no_cti.requires.credit_then_invoice) == (True, False)
    for twin in (credit_only, invoice_only, no_cti):
        assert [type(s) for s in twin.steps] == [type(s) for s in repro.steps]
        assert [rc.price for rc in twin.setup.plans[0].phases[0].rate_cards] == [
            rc.price for rc in repro.setup.plans[0].phases[0].rate_cards
        ]
        assert twin.setup.features == repro.setup.features


def test_renewal_reaches_the_boundary_without_a_clock() -> None:
    sc = by_id()["renewal"]
    assert sc.technique and "billing_anchor" in sc.technique
    subscribe, _, wait, resync = sc.steps
    assert isinstance(subscribe, SubscribeStep) and subscribe.billing_anchor is not None
    cadence = sc.setup.plan(subscribe.plan).billing_cadence
    assert cadence == Duration(weeks=1)
    assert all(rc.billing_cadence == cadence for rc in sc.setup.plan(subscribe.plan).phases[0].rate_cards)
    now = datetime(2026, 8, 18, 16, 0, tzinfo=UTC)
    first_period_end = subscribe.billing_anchor.resolve(now) + timedelta(weeks=1)
    assert first_period_end - now == timedelta(seconds=20)
    assert isinstance(wait, WaitStep) and wait.until.name == "current_period_end"
    assert wait.plus == Duration(seconds=2) and wait.max.approx_seconds() <= 180
    assert isinstance(resync, ResyncStep) and resync.expect is not None
    assert "S/default/api_calls/v[0]/period[1]" in [i.id for i in resync.expect.expected.items]


def test_continue_scenarios_follow_openmeters_state_machine() -> None:
    scenarios = by_id()
    scheduled = scenarios["continue-after-scheduled-cancel"]
    cancel, cont = scheduled.steps[1], scheduled.steps[2]
    assert isinstance(cancel, CancelStep) and cancel.timing.kind is TimingKind.NEXT_BILLING_CYCLE
    assert isinstance(cont, ContinueStep) and cont.refused is None
    refused = scenarios["continue-after-immediate-cancel-refused"]
    cancel, cont = refused.steps[1], refused.steps[2]
    assert isinstance(cancel, CancelStep) and cancel.timing.kind is TimingKind.IMMEDIATE
    assert isinstance(cont, ContinueStep) and cont.refused is not None
    assert (cont.refused.status, cont.refused.code) == (403, None)
    assert "transition continue in state inactive not allowed" in refused.description


def test_edit_and_change_scenarios_exercise_their_actions() -> None:
    scenarios = by_id()
    edit = next(s for s in scenarios["plan-edit"].steps if isinstance(s, EditStep))
    assert [rc.key for rc in edit.add] == ["storage"] and edit.remove == ("tokens",)
    change = next(s for s in scenarios["plan-change"].steps if isinstance(s, ChangePlanStep))
    assert change.plan == "usage_v2" and change.timing.kind is TimingKind.IMMEDIATE
    fee = scenarios["flat-fee-in-advance-prorated"].setup.plans[0]
    assert fee.pro_rating and fee.phases[0].rate_cards[0].price is not None
    assert fee.phases[0].rate_cards[0].price.kind is PriceKind.FLAT


def test_every_scenario_makes_valid_keys_for_a_run() -> None:
    for sc in load_scenarios([SCENARIOS]):
        keys = sc.keys_for_run("1795765605940_1a2b3c4d")
        for real in (*keys.values(), *keys.meters.values(), keys.customer, keys.subject):
            assert re.fullmatch(r"[a-z0-9]+(?:_[a-z0-9]+)*", real) and len(real) <= 64, (sc.id, real)


# --------------------------------------------------------------------------- broken inputs


def test_the_broken_corpus_is_large_enough() -> None:
    assert len(BROKEN_FILES) >= 12


@pytest.mark.parametrize("path", BROKEN_FILES, ids=[p.stem for p in BROKEN_FILES])
def test_every_broken_file_gives_exactly_its_documented_error(path: Path) -> None:
    want = expected_error(path).replace("{path}", str(path))
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert str(err.value) == want


def test_duplicate_ids_across_folders_give_the_documented_error() -> None:
    first, second = BROKEN / "duplicate-ids" / "first", BROKEN / "duplicate-ids" / "second"
    assert len(load_scenarios([first])) == 1 and len(load_scenarios([second])) == 1
    want = (
        expected_error(second / "dup.yaml")
        .replace("{path}", str(second / "dup.yaml"))
        .replace("{first}", str(first / "dup.yaml"))
    )
    with pytest.raises(InputError) as err:
        load_scenarios([first, second])
    assert str(err.value) == want


# --------------------------------------------------------------------------- recorded facts


def _recorded() -> list[dict[str, object]]:
    path = SHARED / "openmeter" / "recorded" / "head-4412.jsonl"
    if not path.is_file():
        pytest.skip(f"shared folder not present ({path} missing)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_4412_repro_sends_what_the_recorded_live_run_sent() -> None:
    records = [r for r in _recorded() if r.get("kind") == "http"]
    bodies = {str(r["step"]): r.get("request_body") for r in records}
    sc = by_id()["issue-4412-cti-cancel-immediately"]

    grant = bodies["credit_grant"]
    assert isinstance(grant, dict)
    ours_grants = [(g.amount, g.currency) for g in sc.setup.grants]
    assert [(Decimal(str(grant["amount"])), grant["currency"])] == ours_grants

    plan = bodies["plan_create"]
    assert isinstance(plan, dict)
    assert Duration.parse(str(plan["billing_cadence"])) == sc.setup.plans[0].billing_cadence
    recorded_cards = plan["phases"][0]["rate_cards"]
    cards = sc.setup.plans[0].phases[0].rate_cards
    assert len(recorded_cards) == len(cards)
    for rec, card in zip(recorded_cards, cards, strict=True):
        assert rec["key"].startswith(card.key + "_") and card.price is not None
        assert rec["price"]["type"] == card.price.kind.value
        if card.price.kind is PriceKind.UNIT:
            assert Decimal(rec["price"]["amount"]) == card.price.amount
        else:
            tiers = rec["price"]["tiers"]
            up_to = [Decimal(t["up_to_amount"]) if "up_to_amount" in t else None for t in tiers]
            assert up_to == [t.up_to for t in card.price.tiers]
            assert [Decimal(t["unit_price"]["amount"]) for t in rec["price"]["tiers"]] == [
                t.unit_amount for t in card.price.tiers
            ]

    subscribe = bodies["subscription_create"]
    assert isinstance(subscribe, dict) and "billing_anchor" not in subscribe
    assert subscribe["settlement_mode"] == "credit_then_invoice"

    recorded_values: dict[str, list[Decimal]] = {}
    for r in records:
        body = r.get("request_body")
        if str(r["step"]).startswith("ingest_") and isinstance(body, dict):
            feature = re.sub(r"^ev_|_\d+_\d+$", "", str(body["type"]))
            recorded_values.setdefault(feature, []).append(Decimal(str(body["data"]["value"])))
    ours: dict[str, list[Decimal]] = {}
    for step in sc.steps:
        if isinstance(step, IngestStep):
            ours.setdefault(step.feature, []).extend(step.values)
    assert ours == recorded_values

    assert bodies["subscription_cancel"] == {"timing": "immediate"}
