"""The scenario loader: typed output, one-line located errors, lifecycle checks, run keys, selection."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from contract.compare.expectation import Expectation as Expected
from contract.compare.expectation import ExpectedItem, Partial
from contract.errors import EXIT_BAD_INPUT, InputError
from contract.model.domain import Backend, EndProrationMode, PaymentTerm, PriceType, SettlementMode
from contract.model.time import Duration
from contract.scenario.loader import load_scenario, load_scenarios, scenario_files
from contract.scenario.model import (
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    CancelStep,
    ContinueStep,
    EditStep,
    IngestStep,
    PriceKind,
    Scenario,
    SubscribeStep,
    TimingKind,
    WaitStep,
    new_run_id,
)
from contract.scenario.timeexpr import TimeBase

HEAD = """\
id: __ID__
title: a scenario
provenance: tests
description: used by the loader tests
setup:
  features:
    - {key: api_calls, meter: {aggregation: sum, value_property: "$.value"}}
    - {key: tokens, name: Tokens, meter: {aggregation: sum, value_property: "$.value"}}
  customer: {currency: USD}
  grants: [{amount: "10"}]
  plans:
    - key: usage
      currency: USD
      billing_cadence: P1M
      settlement_mode: credit_then_invoice
      phases:
        - key: default
          rate_cards:
            - {key: api_calls, feature: api_calls, billing_cadence: P1M, price: {type: unit, amount: "0.10"}}
            - feature: tokens
              billing_cadence: P1M
              price: {type: graduated, tiers: [{up_to: "100", unit_amount: "0.10"}, {unit_amount: "0.05"}]}
            - {key: platform_fee, billing_cadence: P1M, price: {type: flat, amount: "30"}}
"""
HEAD_LINES = HEAD.count("\n")


def write(tmp_path: Path, steps: str, *, name: str = "sc", head: str = HEAD) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(head.replace("__ID__", name) + steps, encoding="utf-8")
    return path


def error_of(path: Path) -> InputError:
    with pytest.raises(InputError) as err:
        load_scenario(path)
    return err.value


# --------------------------------------------------------------------------- typed output


def test_a_valid_file_loads_into_typed_frozen_objects(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
steps:
  - subscribe: {plan: usage, billing_anchor: now-P1W+PT20S}
  - ingest: {feature: api_calls, events: 3, value: "7"}
  - ingest: {feature: tokens, values: ["120", "30"], at: now-PT1M}
  - name: schedule the end
    cancel: {timing: next_billing_cycle}
  - continue:
  - wait: {until: current_period_end, plus: PT2S, max: PT1M}
""",
    )
    sc = load_scenario(path)
    assert sc.id == "sc" and sc.source == str(path)
    plan = sc.setup.plan("usage")
    assert plan.billing_cadence == Duration(months=1)
    assert plan.settlement_mode is SettlementMode.CREDIT_THEN_INVOICE
    api, tokens, fee = plan.phases[0].rate_cards
    assert api.price is not None and api.price.amount == Decimal("0.10") and api.price.kind is PriceKind.UNIT
    assert tokens.key == "tokens" and tokens.name == "tokens"  # key defaults to the feature
    assert tokens.price is not None and [t.up_to for t in tokens.price.tiers] == [Decimal(100), None]
    assert fee.price is not None and fee.price.payment_term is PaymentTerm.IN_ADVANCE  # flat default
    assert sc.setup.grants[0].currency == "USD"  # defaults to the customer's
    subscribe, ingest1, ingest2, cancel, cont, wait = sc.steps
    assert isinstance(subscribe, SubscribeStep) and subscribe.billing_anchor is not None
    assert str(subscribe.billing_anchor) == "now-P1W+PT20S" and subscribe.timing.is_now
    assert isinstance(ingest1, IngestStep) and ingest1.values == (Decimal(7),) * 3 and ingest1.events == 3
    assert isinstance(ingest2, IngestStep) and ingest2.values == (Decimal(120), Decimal(30))
    assert isinstance(cancel, CancelStep) and cancel.timing.kind is TimingKind.NEXT_BILLING_CYCLE
    assert cancel.label == "schedule the end" and cancel.index == 3 and cancel.line == HEAD_LINES + 6
    assert isinstance(cont, ContinueStep) and cont.label == "steps[4].continue"
    assert isinstance(wait, WaitStep) and wait.plus == Duration(seconds=2) and wait.max == Duration(minutes=1)
    assert wait.until.base is TimeBase.NAMED
    with pytest.raises(AttributeError):
        sc.id = "other"  # type: ignore[misc]


def test_prices_convert_to_the_engine_domain(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, "steps:\n  - subscribe: {plan: usage}\n"))
    api, tokens, fee = sc.setup.plan("usage").phases[0].rate_cards
    keys = sc.keys_for_run("1700000000000_abc")
    api_card = api.to_domain(keys)
    assert api_card.feature_key == "api_calls_1700000000000_abc"
    assert api_card.billing_cadence == Duration(months=1)
    assert api_card.price is not None and api_card.price.type is PriceType.UNIT
    tiered = tokens.to_domain().price
    assert tiered is not None and tiered.type is PriceType.TIERED and tiered.mode == "graduated"
    assert [(t.up_to, t.unit_amount) for t in tiered.tiers] == [
        (Decimal(100), Decimal("0.10")),
        (None, Decimal("0.05")),
    ]
    flat = fee.to_domain().price
    assert flat is not None and flat.in_advance and flat.amount == Decimal(30)


def test_expect_blocks_are_typed_at_load_with_their_location(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
steps:
  - subscribe: {plan: usage}
    expect:
      partial: true
      items:
        - {id: "S/default/api_calls/v[0]/period[0]", backend: charge, invoice_at: 2026-01-01T00:00:00Z}
  - cancel: {timing: immediate}
  - continue: {}
    expect: {refused: {status: 403, code: null}}
""",
    )
    sc = load_scenario(path)
    expect = sc.steps[0].expect
    assert expect is not None and sc.steps[0].refused is None
    assert expect.expected == Expected(
        items=(
            ExpectedItem(
                id="S/default/api_calls/v[0]/period[0]",
                backend=Backend.CHARGE,
                invoice_at=datetime(2026, 1, 1, tzinfo=UTC),
                line=HEAD_LINES + 6,
            ),
        ),
        partial=Partial.ALL,
    )
    assert (expect.file, expect.line, expect.field) == (str(path), HEAD_LINES + 4, "steps[0].expect")
    refused = sc.steps[2].refused
    assert refused is not None and (refused.status, refused.code) == (403, None)
    assert sc.steps[2].expect is None


def test_requires_profile_and_known_issues_are_typed(tmp_path: Path) -> None:
    head = HEAD.replace(
        "setup:\n",
        "requires: {credits: true, credit_then_invoice: false}\n"
        "profile: {progressive_billing: false, end_proration: bill_full_period}\n"
        "known_issues: [openmeterio/openmeter#4412]\nsetup:\n",
        1,
    )
    sc = load_scenario(write(tmp_path, "steps:\n  - subscribe: {plan: usage}\n", head=head))
    config = sc.sync_config()
    assert (config.credits_enabled, config.credit_then_invoice) == (True, False)
    assert config.end_proration is EndProrationMode.BILL_FULL_PERIOD and config.progressive_billing is False
    assert sc.known_issues == ("openmeterio/openmeter#4412",)


def test_defaults_follow_the_servers_default_profile(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, "steps:\n  - subscribe: {plan: usage}\n"))
    config = sc.sync_config()
    assert (config.credits_enabled, config.credit_then_invoice) == (True, True)
    assert config.progressive_billing is True and config.end_proration is EndProrationMode.BILL_ACTUAL_PERIOD


# --------------------------------------------------------------------------- errors


def test_error_text_is_file_line_field_reason_and_exit_code_2(tmp_path: Path) -> None:
    path = write(tmp_path, "steps:\n  - subscribe: {plan: usage}\n  - cancel: {timing: later}\n")
    err = error_of(path)
    assert err.exit_code == EXIT_BAD_INPUT
    assert (err.file, err.line, err.field) == (str(path), HEAD_LINES + 3, "steps[1].cancel.timing")
    assert str(err).startswith(f"{path}:{HEAD_LINES + 3}: steps[1].cancel.timing: bad timing 'later': ")
    assert "\n" not in str(err)


@pytest.mark.parametrize(
    ("steps", "line", "field", "reason"),
    [
        (
            "  - subscribe: {plan: usage}\n  - ingest: {feature: api_calls, value: 7}\n",
            3,
            "steps[1].ingest.value",
            'write decimals as quoted strings: "7", not 7',
        ),
        (
            '  - subscribe: {plan: usage}\n  - ingest: {feature: api_calls, value: "7", values: ["1"]}\n',
            3,
            "steps[1].ingest.value",
            "give either values or value, not both",
        ),
        (
            "  - subscribe: {plan: usage}\n  - ingest: {feature: api_calls, events: 0}\n",
            3,
            "steps[1].ingest.events",
            "events must be between 1 and 1000, got 0",
        ),
        (
            '  - subscribe: {plan: usage}\n  - ingest: {feature: api_calls, value: "1e3"}\n',
            3,
            "steps[1].ingest.value",
            "not a decimal number: '1e3'",
        ),
        (
            "  - subscribe: {plan: usage}\n  - subscribe: {plan: usage}\n",
            3,
            "steps[1].subscribe",
            "the customer already has a subscription",
        ),
        (
            "  - subscribe: {plan: usage}\n  - cancel: {timing: immediate}\n  - cancel: {}\n",
            4,
            "steps[2].cancel",
            "OpenMeter cancels only active subscriptions (403 otherwise), and the subscription has",
        ),
        (
            "  - subscribe: {plan: usage}\n  - edit: {remove: [storage]}\n",
            3,
            "steps[1].edit.remove[0]",
            "unknown item to remove 'storage' (defined: api_calls, tokens, platform_fee)",
        ),
        ("  - subscribe: {plan: usage}\n  - edit: {}\n", 3, "steps[1].edit", "an edit needs add or remove"),
        (
            "  - subscribe: {plan: usage}\n  - edit: {phase: trial, remove: [tokens]}\n",
            3,
            "steps[1].edit.phase",
            "unknown phase of plan 'usage': 'trial'",
        ),
        (
            "  - subscribe: {plan: usage}\n  - cancel: {timing: immediate}\n  - wait: {until: current_period_end}\n",
            4,
            "steps[2].wait.until",
            "current_period_end exists only while the subscription runs",
        ),
        (
            "  - wait: {until: subscription_start}\n",
            2,
            "steps[0].wait.until",
            "subscription_start needs a subscription",
        ),
        (
            "  - subscribe: {plan: usage}\n  - wait: {until: now, max: PT1H}\n",
            3,
            "steps[1].wait.max",
            "a wait may last at most PT30M, got PT1H",
        ),
        (
            "  - subscribe: {plan: usage}\n  - resync: {}\n    expect: {refused: {status: 400}}\n",
            4,
            "steps[1].expect",
            "a resync runs the jobs command, not a request and cannot be refused",
        ),
        (
            "  - subscribe: {plan: usage}\n    expect: {refused: {status: 500}}\n",
            3,
            "steps[0].expect.refused.status",
            "a refusal is a 4xx HTTP status, got 500",
        ),
        (
            "  - subscribe: {plan: usage}\n  - continue: {now: true}\n",
            3,
            "steps[1].continue.now",
            "unknown continue field 'now' (none are allowed)",
        ),
        (
            "  - subscribe: {plan: usage}\n    nme: first\n",
            3,
            "steps[0].nme",
            "unknown step key 'nme'; did you mean 'name'?",
        ),
        ("  - {name: nothing to do}\n", 2, "steps[0]", "a step needs an action (valid steps: subscribe"),
        ("  - subscribe\n", 2, "steps[0]", "a step is a mapping with one action"),
        (
            "  - subscribe: {plan: usage, timing: 2026-01-01T00:00:00+01:00}\n",
            2,
            "steps[0].subscribe.timing",
            "timestamps must be UTC",
        ),
        (
            "  - subscribe: {plan: usage, settlement_mode: invoice_only}\n",
            2,
            "steps[0].subscribe.settlement_mode",
            "unknown settlement mode 'invoice_only'",
        ),
        (
            "  - subscribe: {plan: usage}\n    expect: {items: [], items: []}\n",
            3,
            "steps[0].expect.items",
            f"duplicate key (first at line {HEAD_LINES + 3})",
        ),
    ],
)
def test_step_errors_name_line_field_and_reason(tmp_path: Path, steps: str, line: int, field: str, reason: str) -> None:
    err = error_of(write(tmp_path, "steps:\n" + steps))
    assert (err.line, err.field) == (HEAD_LINES + line, field), str(err)
    assert reason in err.reason, str(err)


def test_scheduled_cancel_then_continue_is_accepted(tmp_path: Path) -> None:
    sc = load_scenario(
        write(
            tmp_path,
            """\
steps:
  - subscribe: {plan: usage}
  - cancel: {timing: next_billing_cycle}
  - continue: {}
  - cancel: {timing: current_period_end}
  - continue: {}
  - edit: {add: [{key: platform_fee, billing_cadence: P1M, price: {type: flat, amount: "40"}}]}
""",
        )
    )
    assert [s.kind for s in sc.steps] == ["subscribe", "cancel", "continue", "cancel", "continue", "edit"]
    edit = sc.steps[-1]
    assert isinstance(edit, EditStep) and edit.add[0].key == "platform_fee"
    assert edit.timing.kind is TimingKind.IMMEDIATE


def test_a_scheduled_cancel_takes_effect_after_waiting_past_the_period_end(tmp_path: Path) -> None:
    err = error_of(
        write(
            tmp_path,
            """\
steps:
  - subscribe: {plan: usage}
  - cancel: {timing: next_billing_cycle}
  - wait: {until: current_period_end, plus: PT2S}
  - continue: {}
""",
        )
    )
    assert err.field == "steps[3].continue" and "but the subscription has ended" in err.reason


def test_refused_steps_bypass_lifecycle_checks_and_change_nothing(tmp_path: Path) -> None:
    sc = load_scenario(
        write(
            tmp_path,
            """\
steps:
  - subscribe: {plan: usage}
  - subscribe: {plan: usage}
    expect: {refused: {status: 409, code: only_single_subscription_allowed_per_customer_at_a_time}}
  - cancel: {timing: immediate}
  - continue: {}
    expect: {refused: {status: 403}}
  - cancel: {}
    expect: {refused: {status: 403}}
""",
        )
    )
    refused = [s.refused for s in sc.steps]
    assert refused[1] is not None
    assert refused[1].code == "only_single_subscription_allowed_per_customer_at_a_time"
    assert refused[3] is not None and refused[3].status == 403 and refused[3].code is None


@pytest.mark.parametrize(
    ("old", "new", "field", "reason"),
    [
        (
            "  customer: {currency: USD}",
            "  customer: {currency: usd}",
            "setup.customer.currency",
            "currency 'usd' must be a 3-letter ISO 4217 code",
        ),
        (
            "  customer: {currency: USD}",
            "  customer: {currency: USD, curency: EUR}",
            "setup.customer.curency",
            "unknown key 'curency'; did you mean 'currency'?",
        ),
        (
            "    - key: usage\n      currency: USD",
            "    - key: usage\n      currency: EUR",
            "setup.plans[0].currency",
            "plan currency EUR differs from the customer's USD",
        ),
        (
            '{key: api_calls, meter: {aggregation: sum, value_property: "$.value"}}',
            '{key: api_calls, meter: {aggregation: SUM, value_property: "$.value"}}',
            "setup.features[0].meter.aggregation",
            "unknown aggregation 'SUM'; did you mean 'sum'?",
        ),
        (
            '{key: api_calls, meter: {aggregation: sum, value_property: "$.value"}}',
            "{key: api_calls, meter: {aggregation: max}}",
            "setup.features[0].meter.value_property",
            "value_property is required for aggregation max",
        ),
        (
            "{key: api_calls, meter:",
            "{key: ApiCalls, meter:",
            "setup.features[0].key",
            "key 'ApiCalls' must match ^[a-z0-9]+(?:_[a-z0-9]+)*$",
        ),
        (
            "{key: api_calls, meter:",
            "{key: " + "a" * 33 + ", meter:",
            "setup.features[0].key",
            "has 33 characters; at most 32",
        ),
        ("    - {key: tokens,", "    - {key: api_calls,", "setup.features[1].key", "duplicate feature key 'api_calls'"),
        (
            '{key: platform_fee, billing_cadence: P1M, price: {type: flat, amount: "30"}}',
            '{key: tokens, billing_cadence: P1M, price: {type: flat, amount: "30"}}',
            "setup.plans[0].phases[0].rate_cards[2].key",
            "'tokens' is a feature key: reference it with feature: tokens",
        ),
        (
            '{key: platform_fee, billing_cadence: P1M, price: {type: flat, amount: "30"}}',
            '{key: platform_fee, billing_cadence: P1M, price: {type: flat, amount: "30", tiers: []}}',
            "setup.plans[0].phases[0].rate_cards[2].price.tiers",
            "unknown key for a flat price 'tiers'",
        ),
        (
            '{key: platform_fee, billing_cadence: P1M, price: {type: flat, amount: "30"}}',
            '{key: platform_fee, billing_cadence: P1M, price: {type: tiered, amount: "30"}}',
            "setup.plans[0].phases[0].rate_cards[2].price.type",
            "unknown price type 'tiered'",
        ),
        (
            '{key: platform_fee, billing_cadence: P1M, price: {type: flat, amount: "30"}}',
            '{key: platform_fee, price: {type: unit, amount: "30"}}',
            "setup.plans[0].phases[0].rate_cards[2].feature",
            "a unit (usage) price needs a feature",
        ),
        (
            "- feature: tokens\n              billing_cadence: P1M",
            "- feature: tokens\n              billing_cadence: null",
            "setup.plans[0].phases[0].rate_cards[1].billing_cadence",
            "a graduated (usage) price needs a billing_cadence",
        ),
        (
            '[{up_to: "100", unit_amount: "0.10"}, {unit_amount: "0.05"}]',
            '[{up_to: "100", unit_amount: "0.10"}, {up_to: "50", unit_amount: "0.05"}, {unit_amount: "0.01"}]',
            "setup.plans[0].phases[0].rate_cards[1].price.tiers[1].up_to",
            "up_to must increase from tier to tier",
        ),
        (
            '[{up_to: "100", unit_amount: "0.10"}, {unit_amount: "0.05"}]',
            '[{up_to: "100"}, {unit_amount: "0.05"}]',
            "setup.plans[0].phases[0].rate_cards[1].price.tiers[0]",
            "a tier needs unit_amount, flat_amount or both",
        ),
        (
            '  grants: [{amount: "10"}]',
            '  grants: [{amount: "0"}]',
            "setup.grants[0].amount",
            "must be greater than zero",
        ),
        (
            "      billing_cadence: P1M\n      settlement_mode",
            "      billing_cadence: P0D\n      settlement_mode",
            "setup.plans[0].billing_cadence",
            "must be a positive duration, got P0D",
        ),
        ("provenance: tests\n", "", "provenance", "required field missing"),
        ("title: a scenario\n", "title: a scenario\nowner: me\n", "owner", "unknown key 'owner'"),
        ("title: a scenario\n", "title: ''\n", "title", "must not be empty"),
        ("title: a scenario\n", "title: [a, b]\n", "title", "expected a string, got a list"),
        ("setup:\n", "known_issues: [4412]\nsetup:\n", "known_issues[0]", "expected a string, got an integer"),
        ("setup:\n", "known_issues: [issue 4412]\nsetup:\n", "known_issues[0]", "must read owner/repo#number"),
        (
            "setup:\n",
            "requires: {credits: false, credit_then_invoice: true}\nsetup:\n",
            "requires.credit_then_invoice",
            "credit_then_invoice: true needs credits: true",
        ),
        (
            "setup:\n",
            "profile: {end_proration: full}\nsetup:\n",
            "profile.end_proration",
            "unknown end proration 'full'",
        ),
        ("setup:\n", "requires: {credits: maybe}\nsetup:\n", "requires.credits", "expected true or false"),
    ],
)
def test_setup_errors_name_field_and_reason(tmp_path: Path, old: str, new: str, field: str, reason: str) -> None:
    head = HEAD.replace(old, new, 1)
    assert head != HEAD, "test edit did not apply"
    err = error_of(write(tmp_path, "steps:\n  - subscribe: {plan: usage}\n", head=head))
    assert err.field == field, str(err)
    assert reason in err.reason, str(err)
    lines = head.splitlines()
    assert err.line is not None and 1 <= err.line <= len(lines), str(err)


def test_the_line_points_at_the_offending_node(tmp_path: Path) -> None:
    head = HEAD.replace('{type: flat, amount: "30"}', "{type: flat, amount: 30}")
    err = error_of(write(tmp_path, "steps:\n  - subscribe: {plan: usage}\n", head=head))
    line_text = head.splitlines()[(err.line or 0) - 1]
    assert "amount: 30" in line_text and err.field == "setup.plans[0].phases[0].rate_cards[2].price.amount"


def test_file_level_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert str(error_of(missing)) == f"{missing}: no such file"
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    assert "empty file" in str(error_of(empty))
    listing = tmp_path / "listing.yaml"
    listing.write_text("- a\n- b\n")
    assert str(error_of(listing)) == f"{listing}:1: expected a mapping, got a list"
    two_docs = tmp_path / "two.yaml"
    two_docs.write_text("id: two\n---\nid: two\n")
    err = error_of(two_docs)
    assert err.line == 2 and "invalid YAML: " in err.reason and "\n" not in str(err)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"id: x\n\x80\x00")
    assert str(error_of(binary)) == f"{binary}:2: not UTF-8 text (byte 0x80); save the file as UTF-8"
    utf16 = tmp_path / "utf16.yaml"
    utf16.write_bytes(b"\xff\xfe\x00")
    assert str(error_of(utf16)) == f"{utf16}: UTF-16 text; save the file as UTF-8"


def test_id_must_equal_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text(HEAD.replace("__ID__", "sc") + "steps:\n  - subscribe: {plan: usage}\n")
    assert str(error_of(path)) == f"{path}:1: id: id 'sc' must equal the file name stem 'other'"


# --------------------------------------------------------------------------- several files


def test_folders_load_sorted_yaml_files_and_skip_other_files(tmp_path: Path) -> None:
    for name in ("b_two", "a_one"):
        write(tmp_path, "steps:\n  - subscribe: {plan: usage}\n", name=name)
    (tmp_path / "FORMAT.md").write_text("# not a scenario\n")
    (tmp_path / "notes.yml").write_text("not: loaded\n")
    loaded = load_scenarios([tmp_path])
    assert [s.id for s in loaded] == ["a_one", "b_two"]
    # A file named twice (directly and through its folder) loads once.
    assert [s.id for s in load_scenarios([tmp_path / "b_two.yaml", tmp_path])] == ["b_two", "a_one"]
    assert scenario_files([tmp_path]) == [tmp_path / "a_one.yaml", tmp_path / "b_two.yaml"]


def test_duplicate_ids_across_folders_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    first = write(tmp_path / "x", "steps:\n  - subscribe: {plan: usage}\n", name="same")
    second = write(tmp_path / "y", "steps:\n  - subscribe: {plan: usage}\n", name="same")
    with pytest.raises(InputError) as err:
        load_scenarios([tmp_path / "x", tmp_path / "y"])
    assert str(err.value) == f"{second}:1: id: duplicate scenario id 'same' (also in {first})"


def test_missing_paths_and_empty_folders_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        load_scenarios([tmp_path / "absent"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no scenario files \(\*\.yaml\) in this folder"):
        load_scenarios([tmp_path / "empty"])


# --------------------------------------------------------------------------- run keys


def _scenario(tmp_path: Path) -> Scenario:
    return load_scenario(
        write(
            tmp_path,
            """\
steps:
  - subscribe: {plan: usage}
  - edit: {add: [{key: extra_fee, billing_cadence: P1M, price: {type: flat, amount: "5"}}]}
""",
        )
    )


def test_new_run_ids_are_key_safe_and_distinct() -> None:
    ids = [new_run_id() for _ in range(200)]
    assert len(set(ids)) == len(ids)
    for run_id in ids:
        assert re.fullmatch(r"[0-9]{13}_[0-9a-f]{8}", run_id), run_id


def test_keys_for_run_are_valid_openmeter_keys_and_unique_per_run(tmp_path: Path) -> None:
    sc = _scenario(tmp_path)
    a, b = sc.keys_for_run(new_run_id()), sc.keys_for_run(new_run_id())
    reals_a = {*a.values(), *a.meters.values(), a.customer, a.subject}
    reals_b = {*b.values(), *b.meters.values(), b.customer, b.subject}
    assert not reals_a & reals_b
    for key in reals_a:
        assert KEY_PATTERN.match(key) and len(key) <= MAX_KEY_LENGTH, key
    assert dict(a) == {
        "usage": f"usage_{a.run_id}",
        "api_calls": f"api_calls_{a.run_id}",
        "tokens": f"tokens_{a.run_id}",
    }


def test_feature_backed_items_take_the_features_real_key(tmp_path: Path) -> None:
    keys = _scenario(tmp_path).keys_for_run("1700000000000_abc")
    assert keys.item_key("api_calls") == keys.features["api_calls"] == "api_calls_1700000000000_abc"
    assert keys.item_key("tokens") == "tokens_1700000000000_abc"
    assert keys.item_key("platform_fee") == "platform_fee"
    assert keys.item_key("extra_fee") == "extra_fee"  # added by an edit, no feature
    assert keys.meters["tokens"] == "m_tokens_1700000000000_abc"
    assert keys.event_types["tokens"] == "ev_tokens_1700000000000_abc"
    assert (keys.customer, keys.subject) == ("cust_1700000000000_abc", "subj_1700000000000_abc")


def test_unique_ids_map_between_logical_and_real(tmp_path: Path) -> None:
    keys = _scenario(tmp_path).keys_for_run("1700000000000_abc")
    real = keys.real_unique_id("S/default/api_calls/v[0]/period[1]", "01SUB")
    assert real == "01SUB/default/api_calls_1700000000000_abc/v[0]/period[1]"
    assert keys.logical_unique_id(real, "01SUB") == "S/default/api_calls/v[0]/period[1]"
    assert keys.real_unique_id("S/default/platform_fee/v[2]", "01SUB") == "01SUB/default/platform_fee/v[2]"
    with pytest.raises(ValueError, match="not a unique reference id"):
        keys.real_unique_id("api_calls", "01SUB")


def test_longest_logical_keys_still_fit_with_the_longest_run_id(tmp_path: Path) -> None:
    long_key = "k" * 32
    extra_feature = "    - {key: " + long_key + ", meter: {aggregation: count}}\n"
    head = HEAD.replace("  customer:", extra_feature + "  customer:")
    sc = load_scenario(write(tmp_path, "steps:\n  - subscribe: {plan: usage}\n", head=head))
    keys = sc.keys_for_run("1" * 24)
    assert len(keys.meters[long_key]) <= MAX_KEY_LENGTH and KEY_PATTERN.match(keys.meters[long_key])


@pytest.mark.parametrize("run_id", ["", "Upper", "has-dash", "a__b", "1" * 25])
def test_bad_run_ids_are_refused(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(ValueError, match="run id"):
        _scenario(tmp_path).keys_for_run(run_id)
