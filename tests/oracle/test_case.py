"""Loading oracle case files (contract.oracle.case): typed inputs and one-line errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from contract.compare.expectation import Partial
from contract.errors import InputError
from contract.model.domain import Backend, EndProrationMode, PaymentTerm, PriceType
from contract.model.time import Duration, parse_time
from contract.oracle.case import (
    CancelStep,
    GenerateStep,
    InvoiceStep,
    SyncStep,
    UpdateStep,
    case_paths,
    load_case,
    load_cases,
)

HERE = Path(__file__).resolve().parent
BROKEN = HERE / "broken"
ORACLE = HERE.parents[1] / "fixtures" / "oracle"


def error_of(name: str) -> str:
    with pytest.raises(InputError) as err:
        load_case(BROKEN / name)
    return str(err.value)


@pytest.mark.parametrize(
    ("name", "where", "reason"),
    [
        (
            "unknown_field.yaml",
            "5: subscription.billing_cadance",
            "unknown field (allowed: id, customer_id, currency, active_from, active_to, billing_anchor, "
            "billing_cadence, pro_rating, settlement_mode, phases)",
        ),
        ("bad_time.yaml", "4: subscription.active_from", "not an RFC 3339 timestamp: '2024-13-01T00:00:00Z'"),
        (
            "naive_time.yaml",
            "4: subscription.active_from",
            "timestamp 2024-01-01T00:00:00 has no time zone (write Z)",
        ),
        ("bad_duration.yaml", "5: subscription.billing_cadence", "not an ISO 8601 duration: '1M'"),
        ("missing_steps.yaml", "1: steps", "required field is missing"),
        (
            "float_amount.yaml",
            "10: subscription.phases[0].items[0].rate_card.price.amount",
            'expected a decimal number written as a string ("2.26"), got a float (5.5)',
        ),
        ("bad_partial.yaml", "12: steps[0].expect.partial", 'expected true, false or "lines"'),
        (
            "two_kinds.yaml",
            "10: steps[0]",
            "a step needs exactly one of generate, sync, cancel, update, invoice",
        ),
        (
            "bad_backend.yaml",
            "16: steps[0].expect.items[0].backend",
            "unknown backend 'invoice' (line or charge)",
        ),
        (
            "usage_without_cadence.yaml",
            "10: subscription.phases[0].items[0].rate_card",
            "usage-priced rate cards need a billing_cadence",
        ),
        ("unknown_phase.yaml", "10: steps[0].generate.phase", "no phase 'trial' in the subscription"),
    ],
)
def test_broken_case_reports_file_line_field_and_reason(name: str, where: str, reason: str) -> None:
    assert error_of(name) == f"{BROKEN / name}:{where}: {reason}"


def test_yaml_syntax_errors_name_the_line() -> None:
    # the wording comes from PyYAML: libyaml's parser and the pure-Python one phrase it differently
    where = f"{BROKEN / 'bad_yaml.yaml'}:5: not valid YAML: "
    assert error_of("bad_yaml.yaml") in {
        where + "did not find expected key",
        where + "expected <block end>, but found '<block mapping start>'",
    }


def test_errors_carry_exit_code_2() -> None:
    with pytest.raises(InputError) as err:
        load_case(BROKEN / "bad_time.yaml")
    assert err.value.exit_code == 2 and err.value.line == 4 and err.value.field == "subscription.active_from"


def test_missing_file_and_empty_folder_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        case_paths([tmp_path / "nope.yaml"])
    with pytest.raises(InputError, match=r"no \*\.yaml case files in this folder"):
        case_paths([tmp_path])
    with pytest.raises(InputError, match=r"nope\.yaml: no such file$"):
        load_case(tmp_path / "nope.yaml")


def test_duplicate_case_ids_are_rejected(tmp_path: Path) -> None:
    src = (ORACLE / "PI-sanity.yaml").read_text()
    (tmp_path / "a.yaml").write_text(src)
    (tmp_path / "b.yaml").write_text(src)
    with pytest.raises(InputError, match="case id 'PI-sanity' also used by"):
        load_cases([tmp_path])


def test_a_case_loads_into_typed_inputs() -> None:
    case = load_case(ORACLE / "O17-in-arrears-one-time-fee-cti.yaml")
    sub = case.subscription
    assert sub.billing_anchor == parse_time("2023-12-15T00:00:00Z")
    assert sub.billing_cadence == Duration(months=1)
    [phase] = sub.phases
    [item] = phase.items
    price = item.versions[0].rate_card.price
    assert price is not None and price.type is PriceType.FLAT and price.payment_term is PaymentTerm.IN_ARREARS
    assert item.versions[0].rate_card.billing_cadence is None
    assert [type(s) for s in case.steps] == [SyncStep, CancelStep, SyncStep]
    cancel = case.steps[1]
    assert isinstance(cancel, CancelStep) and cancel.timing == parse_time("2024-01-15T00:00:00Z")
    first, last = case.steps[0].expect, case.steps[2].expect
    assert first is not None and first.partial is Partial.ALL and first.no_gathering_invoice is True
    assert last is not None and last.partial is Partial.LINES
    [expected] = last.items
    assert expected.backend is Backend.CHARGE and expected.amount_before_proration == Decimal("5")
    assert expected.mirror is not None and expected.mirror.amount == Decimal("5")


def test_versions_keep_their_offsets_and_build_absolute_times() -> None:
    case = load_case(ORACLE / "PI-active-from-to-missmatching-period.yaml")
    built = case.subscription.build()
    v0, v1 = built.phases[0].items["item-key"]
    assert v0.active_to == parse_time("2021-01-02T20:00:00.1234Z")
    assert v1.active_from == parse_time("2021-01-02T20:00:00.1234Z") and v1.active_to is None
    assert isinstance(case.steps[0], GenerateStep)
    assert case.steps[0].until == parse_time("2021-01-03T00:00:00.999999Z")


def test_step_config_overrides_and_update_and_invoice_steps() -> None:
    o23 = load_case(ORACLE / "O23-retire-zero-amount-line-cti.yaml")
    first = o23.steps[0]
    assert isinstance(first, SyncStep) and first.config is not None
    assert not first.config.credits_enabled and first.config.credit_then_invoice
    assert isinstance(o23.steps[1], UpdateStep)
    assert o23.steps[2].expect is not None and o23.steps[2].expect.absent == ("S/default/users/v[0]/period[0]",)
    o24 = load_case(ORACLE / "O24-progressive-billing-cancellation-lines.yaml")
    invoice = o24.steps[1]
    assert isinstance(invoice, InvoiceStep) and invoice.progressive and invoice.as_of == invoice.at
    assert (
        load_case(ORACLE / "O11-aligned-prorating-behavior-lines.yaml").config.end_proration
        is EndProrationMode.BILL_ACTUAL_PERIOD
    )
