"""Target state: phases, billing periods, period iteration, horizon, cancel timing (sync-model.md §1–§2)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contract.model.domain import EndProrationMode, PaymentTerm
from contract.model.targetstate import (
    CANCEL_MISALIGNED,
    QueriedBeforeStartError,
    SubscriptionTimeline,
    TargetStateError,
    build_target_state,
    cancel_active_to,
    expected_line_amount,
    generate_phase,
    item_cadence,
    minimum_billable_time,
    phase_cadences,
)
from contract.model.time import Duration, Period

from .builders import P1D, d, flat, phase, simple, subscription, t, unpriced, usage, version


def ids(items: list) -> list[str]:  # type: ignore[type-arg]
    return [i.unique_id for i in items]


def test_phase_ends_at_the_next_phase_and_is_capped_by_active_to() -> None:
    sub = subscription(phase("trial"), phase("default", "P1M"), active_to="2024-01-20")
    trial, default = phase_cadences(sub)
    assert (trial.start, trial.end) == (t("2024-01-01"), t("2024-01-20"))
    assert (default.start, default.end) == (t("2024-02-01"), t("2024-02-01"))  # raised to its start
    assert default.zero_length


def test_phases_sort_by_start_then_sort_hint_then_key() -> None:
    sub = subscription(phase("b", "P1M"), phase("a", "P0D"))
    assert [pc.phase.key for pc in phase_cadences(sub)] == ["a", "b"]


def test_billing_period_is_clipped_to_the_phase() -> None:
    sub = subscription(phase("first"), phase("second", "P2W"))
    tl = SubscriptionTimeline(sub)
    assert tl.billing_period_at(t("2024-01-03")) == Period(t("2024-01-01"), t("2024-01-15"))
    assert tl.billing_period_at(t("2024-01-20")) == Period(t("2024-01-15"), t("2024-02-01"))
    assert tl.billing_period_at(t("2024-02-10")) == Period(t("2024-02-01"), t("2024-03-01"))


def test_billing_period_after_the_end_uses_the_last_phase_started_by_then() -> None:
    sub = subscription(phase("default"), active_to="2024-03-10")
    tl = SubscriptionTimeline(sub)
    assert tl.billing_period_at(t("2024-03-10")) == Period(t("2024-03-01"), t("2024-03-10"))


def test_billing_period_before_the_start_is_an_error() -> None:
    tl = SubscriptionTimeline(subscription(phase("default"), start="2024-02-01"))
    with pytest.raises(QueriedBeforeStartError):
        tl.billing_period_at(t("2024-01-20"))


def test_billing_period_needs_a_billing_cadence() -> None:
    tl = SubscriptionTimeline(subscription(phase("default"), cadence=None))
    with pytest.raises(TargetStateError, match="no billing cadence"):
        tl.billing_period_at(t("2024-01-20"))


def test_item_activity_is_clipped_to_the_phase() -> None:
    sub = subscription(phase("default", api=(version("api", usage(), t("2024-02-01")),)), active_to="2024-01-15")
    pc = phase_cadences(sub)[0]
    assert item_cadence(pc.phase.items["api"][0], pc) == (t("2024-01-15"), t("2024-01-15"))


def test_recurring_periods_are_contiguous_with_restarting_index_per_version() -> None:
    v0 = version("api", usage("1", P1D), t("2024-01-01"), t("2024-01-02T12:00:00Z"))
    v1 = version("api", usage("2", P1D), t("2024-01-02T12:00:00Z"))
    sub = subscription(phase("p", api=(v0, v1)), cadence=P1D)
    items = generate_phase(SubscriptionTimeline(sub), "p", t("2024-01-03"))
    assert ids(items) == ["S/p/api/v[0]/period[0]", "S/p/api/v[0]/period[1]", "S/p/api/v[1]/period[0]"]
    assert items[1].service_period == Period(t("2024-01-02"), t("2024-01-02T12:00:00Z"))
    assert items[1].full_service_period == Period(t("2024-01-02"), t("2024-01-03"))
    assert items[2].service_period.start == items[1].service_period.end


def test_invoice_at_is_bp_start_in_advance_and_period_end_in_arrears() -> None:
    sub = simple(flat("5", PaymentTerm.IN_ADVANCE, Duration(weeks=1)), start="2024-01-01")
    sub4w = subscription(*sub.phases, cadence=Duration(weeks=4))
    items = generate_phase(SubscriptionTimeline(sub4w), "default", t("2024-01-29"))
    assert {i.invoice_at for i in items[:4]} == {t("2024-01-01")}
    arrears = subscription(
        *simple(flat("5", PaymentTerm.IN_ARREARS, Duration(weeks=1))).phases, cadence=Duration(weeks=4)
    )
    items = generate_phase(SubscriptionTimeline(arrears), "default", t("2024-01-29"))
    assert {i.invoice_at for i in items} == {t("2024-01-29")}
    assert len(items) == 4


def test_horizon_stops_at_the_first_invoice_at_beyond_it() -> None:
    sub = simple(usage())
    items = generate_phase(SubscriptionTimeline(sub), "default", t("2024-03-01"))
    assert ids(items) == ["S/default/api/v[0]/period[0]", "S/default/api/v[0]/period[1]"]


def test_versions_starting_at_the_subscription_end_are_skipped() -> None:
    v = version("api", flat("1", cadence=P1D), t("2024-01-31"))
    sub = subscription(phase("p", api=(v,)), active_to="2024-01-03", cadence=P1D)
    assert generate_phase(SubscriptionTimeline(sub), "p", t("2024-01-03")) == []


def test_unpriced_items_yield_nothing() -> None:
    sub = subscription(phase("p", free=(version("free", unpriced(), t("2024-01-01")),)))
    assert generate_phase(SubscriptionTimeline(sub), "p", t("2024-06-01")) == []


def test_one_time_fee_in_an_open_phase_is_an_instant_and_ignores_the_horizon() -> None:
    sub = simple(flat("5", cadence=None))
    [item] = generate_phase(SubscriptionTimeline(sub), "default", t("2023-06-01"))
    assert item.unique_id == "S/default/api/v[0]"
    assert item.service_period == Period(t("2024-01-01"), t("2024-01-01"))
    assert item.billing_period == Period(t("2024-01-01"), t("2024-02-01"))
    assert item.is_billable


def test_in_arrears_one_time_fee_is_billable_only_once_the_phase_ends() -> None:
    open_sub = simple(flat("5", PaymentTerm.IN_ARREARS, cadence=None))
    [item] = generate_phase(SubscriptionTimeline(open_sub), "default", t("2024-02-01"))
    assert not item.is_billable
    ended = simple(flat("5", PaymentTerm.IN_ARREARS, cadence=None), active_to="2024-01-15")
    [item] = generate_phase(SubscriptionTimeline(ended), "default", t("2024-02-01"))
    assert item.is_billable
    assert item.service_period == Period(t("2024-01-01"), t("2024-01-15"))
    assert item.invoice_at == t("2024-01-15")


def test_sub_second_usage_versions_are_dropped_but_keep_the_version_numbering() -> None:
    v0 = version("api", usage(), t("2024-01-01"), t("2024-01-01T00:00:00.5Z"))
    v1 = version("api", usage(), t("2024-01-01T00:00:00.5Z"))
    sub = subscription(phase("p", api=(v0, v1)))
    items = generate_phase(SubscriptionTimeline(sub), "p", t("2024-02-01"))
    assert ids(items) == ["S/p/api/v[1]/period[0]"]
    assert items[0].service_period == Period(t("2024-01-01"), t("2024-02-01"))


def test_flat_targets_with_an_empty_floored_period_survive() -> None:
    v0 = version("api", flat("5"), t("2024-01-01"), t("2024-01-01T00:00:00.5Z"))
    v1 = version("api", flat("5"), t("2024-01-01T00:00:00.5Z"))
    sub = subscription(phase("p", api=(v0, v1)))
    items = generate_phase(SubscriptionTimeline(sub), "p", t("2024-01-01"))
    assert ids(items)[0] == "S/p/api/v[0]/period[0]"
    assert items[0].service_period.is_empty


def test_horizon_looks_ahead_one_billing_period_unless_as_of_is_a_boundary() -> None:
    sub = subscription(
        phase(
            "default",
            fee=(version("fee", flat(), t("2024-01-01")),),
            api=(version("api", usage(), t("2024-01-01")),),
        )
    )
    mid = build_target_state(sub, t("2024-01-10"))
    assert sorted(ids(list(mid.items))) == [
        "S/default/api/v[0]/period[0]",
        "S/default/fee/v[0]/period[0]",
        "S/default/fee/v[0]/period[1]",
    ]
    assert mid.max_generation_limit == t("2024-02-01")
    boundary = build_target_state(sub, t("2024-02-01"))
    assert sorted(ids(list(boundary.items))) == [
        "S/default/api/v[0]/period[0]",
        "S/default/fee/v[0]/period[0]",
        "S/default/fee/v[0]/period[1]",
    ]


def test_future_subscription_generates_only_the_first_in_advance_period() -> None:
    sub = subscription(
        phase(
            "default",
            fee=(version("fee", flat(), t("2024-02-01")),),
            api=(version("api", usage(), t("2024-02-01")),),
        ),
        start="2024-02-01",
    )
    state = build_target_state(sub, t("2024-01-20"))
    assert ids(list(state.items)) == ["S/default/fee/v[0]/period[0]"]
    assert state.max_generation_limit == t("2024-02-01")


def test_a_phase_after_a_free_trial_is_generated_up_to_the_horizon() -> None:
    trial = phase("trial", api=(version("api", unpriced(), t("2024-01-01")),))
    paid = phase("default", "P1M", api=(version("api", usage(), t("2024-02-01")),))
    early = build_target_state(subscription(trial, paid), t("2024-01-05"))
    assert early.items == ()  # the first usage period invoices 03-01, beyond the horizon 02-01
    assert early.max_generation_limit == t("2024-02-01")
    later = build_target_state(subscription(trial, paid), t("2024-03-01"))
    assert ids(list(later.items)) == ["S/default/api/v[0]/period[0]"]


def test_zero_length_phases_produce_nothing() -> None:
    trial = phase("trial", api=(version("api", unpriced(), t("2024-01-01")),))
    paid = phase("default", "P1M", api=(version("api", usage(), t("2024-02-01")),))
    state = build_target_state(subscription(trial, paid, active_to="2024-01-02T00:01:00Z"), t("2024-04-01"))
    assert state.items == ()
    assert state.max_generation_limit is None


def test_minimum_billable_time_skips_sub_second_usage() -> None:
    v = version("api", usage(), t("2024-03-01T00:00:00.2Z"), t("2024-03-01T00:00:00.7Z"))
    sub = subscription(phase("a"), phase("b", "P2M", api=(v,)))
    assert minimum_billable_time(phase_cadences(sub)[1]) is None


def test_line_amount_prorates_partial_periods_and_drops_zero() -> None:
    sub = simple(flat("5"), active_to="2024-01-15")
    [item] = generate_phase(SubscriptionTimeline(sub), "default", t("2024-01-15"))
    assert expected_line_amount(item, sub, EndProrationMode.BILL_ACTUAL_PERIOD) == Decimal("2.26")
    assert expected_line_amount(item, sub, EndProrationMode.BILL_FULL_PERIOD) == Decimal("5.00")
    no_proration = simple(flat("5"), active_to="2024-01-15", pro_rating=False)
    assert expected_line_amount(item, no_proration, EndProrationMode.BILL_ACTUAL_PERIOD) == Decimal("5.00")
    tiny = simple(flat("5"), active_to="2024-01-01T00:00:40Z")
    [item] = generate_phase(SubscriptionTimeline(tiny), "default", t("2024-01-01"))
    assert expected_line_amount(item, tiny, EndProrationMode.BILL_ACTUAL_PERIOD) is None


def test_cancel_immediately_keeps_sub_second_precision() -> None:
    sub = simple(usage())
    at = t("2024-01-10T10:00:00.123456Z")
    assert cancel_active_to(sub, at, "immediate") == at


def test_cancel_at_next_billing_cycle_is_the_end_of_the_current_billing_period() -> None:
    sub = simple(usage(), anchor="2023-12-15")
    assert cancel_active_to(sub, t("2024-01-20"), "next_billing_cycle") == t("2024-02-15")


def test_cancel_at_a_custom_time_must_be_a_billing_period_boundary() -> None:
    sub = simple(usage(), anchor="2023-12-15")
    assert cancel_active_to(sub, t("2024-01-01"), t("2024-01-15")) == t("2024-01-15")
    with pytest.raises(ValueError, match=f"^{CANCEL_MISALIGNED}$"):
        cancel_active_to(sub, t("2024-01-01"), t("2024-01-16"))


def test_cancel_rejects_unknown_timing() -> None:
    with pytest.raises(ValueError, match="invalid change timing"):
        cancel_active_to(simple(usage()), t("2024-01-01"), "tomorrow")


def test_shorter_item_cadence_yields_many_periods_per_billing_period() -> None:
    sub = simple(usage("1", d("P1W")))
    items = generate_phase(SubscriptionTimeline(sub), "default", t("2024-02-01"))
    assert len(items) == 4
    assert [i.billing_period for i in items] == [Period(t("2024-01-01"), t("2024-02-01"))] * 4
    assert items[-1].service_period == Period(t("2024-01-22"), t("2024-01-29"))
    assert {i.invoice_at for i in items} == {t("2024-02-01")}


def test_the_horizon_judges_in_arrears_targets_by_the_billing_period_end() -> None:
    # a weekly usage card under monthly billing: every week is invoiced at the month's end (§1.3),
    # so a horizon inside the month generates none of them yet (§2.3)
    sub = simple(usage("1", d("P1W")))
    assert generate_phase(SubscriptionTimeline(sub), "default", t("2024-01-20")) == []
    assert len(generate_phase(SubscriptionTimeline(sub), "default", t("2024-02-01"))) == 4


def test_a_version_ending_after_its_phase_is_capped_at_the_phase_end() -> None:
    v = version("api", usage(), t("2024-01-01"), t("2024-03-01"))
    sub = subscription(phase("p", api=(v,)), active_to="2024-01-15")
    pc = phase_cadences(sub)[0]
    assert item_cadence(v, pc) == (t("2024-01-01"), t("2024-01-15"))
    [target] = generate_phase(SubscriptionTimeline(sub), "p", t("2024-01-15"))
    assert target.service_period == Period(t("2024-01-01"), t("2024-01-15"))


def test_a_one_time_fee_spans_its_phase_even_when_its_version_ends_earlier() -> None:
    # §2.4: FSP = [version start, phase end]; SP = FSP ∩ version activity
    fee = version("fee", flat("31", PaymentTerm.IN_ARREARS, cadence=None), t("2024-01-01"), t("2024-01-10"))
    sub = subscription(phase("one", fee=(fee,)), phase("two", "P1M"))
    [target] = generate_phase(SubscriptionTimeline(sub), "one", t("2024-03-01"))
    assert target.full_service_period == Period(t("2024-01-01"), t("2024-02-01"))
    assert target.service_period == Period(t("2024-01-01"), t("2024-01-10"))
    assert expected_line_amount(target, sub, EndProrationMode.BILL_ACTUAL_PERIOD) == Decimal("9.00")


def test_a_custom_cancel_time_may_be_the_end_of_its_billing_period() -> None:
    # §2.8: start or end of BP(time); the end is a boundary only where the period was cut short,
    # e.g. re-cancelling a subscription that already ends mid-period at that instant
    sub = simple(usage(), active_to="2024-01-15T12:00:00Z")
    assert cancel_active_to(sub, t("2024-01-10"), t("2024-01-15T12:00:00Z")) == t("2024-01-15T12:00:00Z")
    with pytest.raises(ValueError, match=f"^{CANCEL_MISALIGNED}$"):
        cancel_active_to(sub, t("2024-01-10"), t("2024-01-15T11:00:00Z"))
