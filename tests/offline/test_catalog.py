from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType

import pytest

from contract.model.domain import EndProrationMode, SyncConfig
from contract.model.time import Period
from contract.offline.catalog import (
    Feature,
    Meter,
    Plan,
    UsageEvent,
    aggregate,
    default_profile,
    parse_customer,
    parse_event,
    parse_meter,
    parse_plan_v3,
    parse_profile,
    validate_plan,
)
from contract.offline.problems import ApiError

from .helpers import START

FEATURE = Feature("01E00000000000000000000001", "api_calls", "api_calls", "01M00000000000000000000002", START)


def _event(n: int, value: object, *, subject: str = "subj", seconds: int = 0, type_: str = "ev") -> UsageEvent:
    return UsageEvent(
        f"e{n}", "src", type_, subject, START + timedelta(seconds=seconds), MappingProxyType({"value": value})
    )


def _meter(aggregation: str) -> Meter:
    return Meter("m", "m", "m", aggregation, "ev", None if aggregation == "count" else "$.value", START)


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ("sum", Decimal(15)),
        ("count", Decimal(3)),
        ("max", Decimal(7)),
        ("min", Decimal(3)),
        ("avg", Decimal(5)),
        ("latest", Decimal(5)),
        ("unique_count", Decimal(3)),
    ],
)
def test_meters_aggregate_event_values_of_their_event_type(aggregation: str, expected: Decimal) -> None:
    events = [
        _event(1, "7", seconds=1),
        _event(2, 3, seconds=2),
        _event(3, "5", seconds=3),
        _event(4, "100", type_="other"),
    ]
    found = aggregate(_meter(aggregation), events)
    assert found is not None
    assert found[0] == expected
    assert found[1] == Period(
        START.replace(second=0, microsecond=0), START.replace(second=0, microsecond=0) + timedelta(minutes=1)
    )


def test_aggregation_can_be_narrowed_to_subjects_and_a_period() -> None:
    events = [
        _event(1, "7", subject="a"),
        _event(2, "5", subject="b", seconds=10),
        _event(3, "1", subject="a", seconds=20),
    ]
    window = Period(START, START + timedelta(seconds=15))
    found = aggregate(_meter("sum"), events, subjects=frozenset({"a"}), period=window)
    assert found is not None and found[0] == Decimal(7)
    assert aggregate(_meter("sum"), events, subjects=frozenset({"nobody"})) is None


def test_events_without_a_readable_value_do_not_count() -> None:
    events = [_event(1, "x"), _event(2, None), _event(3, True), _event(4, "2")]
    found = aggregate(_meter("sum"), events)
    assert found is not None and found[0] == Decimal(2)


def _plan_body(**rate_card: object) -> dict[str, object]:
    card = {
        "key": "api_calls",
        "name": "API",
        "feature": {"id": FEATURE.id},
        "billing_cadence": "P1M",
        "price": {"type": "unit", "amount": "0.1"},
    } | rate_card
    return {
        "key": "p",
        "name": "P",
        "currency": "USD",
        "billing_cadence": "P1M",
        "phases": [{"key": "default", "name": "Default", "rate_cards": [card]}],
    }


def _parse(body: dict[str, object]) -> Plan:
    return parse_plan_v3(
        body,
        new_id="01P00000000000000000000009",
        version=1,
        now=START,
        feature_by_id={FEATURE.id: FEATURE}.get,
    )


def test_publish_validation_names_openmeters_codes() -> None:
    good = _parse(_plan_body())
    mismatch = _parse(_plan_body(key="calls"))
    unaligned = _parse(_plan_body(billing_cadence="P1W"))
    assert validate_plan(good) == []
    assert [i.code for i in validate_plan(mismatch)] == ["rate_card_key_feature_key_mismatch"]
    issues = validate_plan(unaligned)
    assert [(i.code, i.field) for i in issues] == [
        ("rate_card_billing_cadence_unaligned", "phases[0].rate_cards[0].billing_cadence")
    ]


def test_plan_create_refuses_unknown_features_and_fields() -> None:
    with pytest.raises(ApiError, match="feature 01E9 not found"):
        _parse(_plan_body(feature={"id": "01E9"}))
    with pytest.raises(ApiError, match="unknown property"):
        _parse(_plan_body(colour="red"))


def test_only_the_last_phase_may_be_open_ended() -> None:
    body = _plan_body()
    phases = body["phases"]
    assert isinstance(phases, list)
    body["phases"] = [phases[0], {**phases[0], "key": "later"}]
    with pytest.raises(ApiError, match=r"phases\[0\].duration: only the last phase"):
        _parse(body)


def test_customer_keys_are_free_form_but_bounded() -> None:
    customer = parse_customer(
        {
            "key": "Customer 4412!",
            "name": "C",
            "currency": "USD",
            "usage_attribution": {"subject_keys": ["s1"]},
        },
        new_id="c",
        now=START,
    )
    assert customer.usage_subjects() == frozenset({"Customer 4412!", "s1"})
    with pytest.raises(ApiError, match="1 to 256"):
        parse_customer({"key": "k" * 257, "name": "C"}, new_id="c", now=START)
    with pytest.raises(ApiError, match="currency"):
        parse_customer({"key": "k", "name": "C", "currency": "usd"}, new_id="c", now=START)


def test_count_meters_need_no_value_property_but_sums_do() -> None:
    assert (
        parse_meter(
            {"key": "m", "name": "m", "aggregation": "count", "event_type": "e"}, new_id="m", now=START
        ).value_property
        is None
    )
    with pytest.raises(ApiError, match="value_property: required for sum"):
        parse_meter({"key": "m", "name": "m", "aggregation": "sum", "event_type": "e"}, new_id="m", now=START)


def test_a_cloned_profile_changes_progressive_billing_and_end_proration() -> None:
    base = SyncConfig()
    default = default_profile(base, profile_id="b1", app_id="a1", supplier_id="s1", now=START)
    assert default.sync_config(base) == base
    body = default.v3()
    body["workflow"]["invoicing"]["progressive_billing"] = True
    body["workflow"]["invoicing"]["subscription_end_proration_mode"] = "bill_full_period"
    clone = parse_profile(
        {
            "name": "clone",
            "default": False,
            "apps": {r: {"id": "a1"} for r in ("tax", "invoicing", "payment")},
            "supplier": {"name": "OpenMeter"},
            "workflow": body["workflow"],
        },
        new_id="b2",
        now=START,
        known_apps=("a1",),
    )
    config = clone.sync_config(base)
    assert config.progressive_billing is True
    assert config.end_proration is EndProrationMode.BILL_FULL_PERIOD


def test_a_profile_may_not_set_the_read_only_supplier_id() -> None:
    with pytest.raises(ApiError, match=r"supplier\.id: read-only"):
        parse_profile(
            {"name": "x", "default": False, "apps": {}, "workflow": {}, "supplier": {"id": "s", "name": "n"}},
            new_id="b",
            now=START,
            known_apps=(),
        )


def test_an_event_without_time_happened_when_received() -> None:
    event = parse_event(
        {"specversion": "1.0", "id": "1", "source": "s", "type": "t", "subject": "x", "data": {"value": "1"}},
        "",
        now=START,
    )
    assert event.time == START
    with pytest.raises(ApiError, match="specversion"):
        parse_event({"specversion": "0.3", "id": "1", "source": "s", "type": "t", "subject": "x"}, "", now=START)
