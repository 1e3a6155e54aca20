"""Hypothesis properties of the reference engine over generated subscriptions and timelines."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.model import (
    Backend,
    Behaviour,
    Engine,
    ItemVersion,
    PaymentTerm,
    Phase,
    Price,
    PriceType,
    RateCard,
    Snapshot,
    Subscription,
    SyncConfig,
    cancel_active_to,
    empty_state,
)
from contract.model.targetstate import SubscriptionTimeline, generate_phase
from contract.model.time import Duration, floor_second

BILLING = [Duration.parse(c) for c in ("P1W", "P2W", "P4W", "P1M", "P3M")]
ITEM_CADENCES = [Duration.parse(c) for c in ("P1D", "P1W", "P1M", "P3M")]
CONFIGS = [SyncConfig(), SyncConfig(credits_enabled=False), SyncConfig(credit_then_invoice=False)]
PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def rate_cards(draw: st.DrawFn) -> RateCard:
    kind = draw(st.sampled_from(["unit", "advance", "arrears", "one-time", "none"]))
    amount = Decimal(draw(st.sampled_from(["0", "5", "9.99", "31"])))
    cadence = draw(st.sampled_from(ITEM_CADENCES))
    if kind == "unit":
        return RateCard("u", None, Price(PriceType.UNIT, amount), cadence)
    if kind == "advance":
        return RateCard("a", None, Price(PriceType.FLAT, amount, PaymentTerm.IN_ADVANCE), cadence)
    if kind == "arrears":
        return RateCard("r", None, Price(PriceType.FLAT, amount, PaymentTerm.IN_ARREARS), cadence)
    if kind == "one-time":
        term = draw(st.sampled_from([PaymentTerm.IN_ADVANCE, PaymentTerm.IN_ARREARS]))
        return RateCard("o", None, Price(PriceType.FLAT, amount, term), None)
    return RateCard("n", None, None, cadence)


@st.composite
def subscriptions(draw: st.DrawFn) -> Subscription:
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(
        days=draw(st.integers(0, 400)),
        seconds=draw(st.integers(0, 86399)),
        microseconds=draw(st.sampled_from([0, 0, 123400, 999999])),
    )
    anchor = start - timedelta(days=draw(st.sampled_from([0, 0, 3, 17])))
    phase_offsets = [0, *sorted(set(draw(st.lists(st.integers(1, 90), max_size=2))))]
    phases = []
    for n, offset in enumerate(phase_offsets):
        phase_start = start + timedelta(days=offset)
        items: dict[str, tuple[ItemVersion, ...]] = {}
        for key in draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True)):
            edit = draw(st.one_of(st.none(), st.integers(1, 40)))
            first = draw(rate_cards())
            if edit is None:
                versions = (ItemVersion(key, phase_start, first, None, f"{n}-{key}-0"),)
            else:
                cut = phase_start + timedelta(days=edit)
                versions = (
                    ItemVersion(key, phase_start, first, cut, f"{n}-{key}-0"),
                    ItemVersion(key, cut, draw(rate_cards()), None, f"{n}-{key}-1"),
                )
            items[key] = versions
        phases.append(Phase(f"p{n}", Duration(days=offset), items, id=f"phase-{n}"))
    return Subscription("S", "C", "USD", start, anchor, draw(st.sampled_from(BILLING)), tuple(phases))


def assert_charge_validation_error(error: str) -> None:
    """Upstream's charge validation rejects shrinking a charge to an end at or before its start (a
    one-time fee whose version started after the cancel collapses to an instant at activeTo);
    the sync then fails and changes nothing. That is the only error a cancel may cause here."""
    assert error.startswith("updating charges: charge[")
    assert "]: new service period to must be greater than existing service period from" in error


def as_of_for(sub: Subscription, days: int) -> datetime:
    return sub.active_from + timedelta(days=days, hours=5)


@PROPERTY_SETTINGS
@given(subscriptions(), st.integers(0, 200))
def test_periods_of_one_item_version_are_contiguous_and_do_not_overlap(sub: Subscription, days: int) -> None:
    timeline = SubscriptionTimeline(sub)
    for phase in sub.phases:
        targets = generate_phase(timeline, phase.key, as_of_for(sub, days))
        by_version: dict[tuple[str, int], list] = defaultdict(list)  # type: ignore[type-arg]
        for target in targets:
            if target.period_index is not None:
                by_version[(target.item_key, target.version)].append(target)
        for periods in by_version.values():
            periods.sort(key=lambda x: x.period_index)
            assert [p.period_index for p in periods] == list(range(len(periods)))
            for prev, nxt in itertools.pairwise(periods):
                assert prev.service_period.end == nxt.service_period.start
                assert prev.service_period.start <= prev.service_period.end


@PROPERTY_SETTINGS
@given(
    subscriptions(),
    st.integers(-20, 200),
    st.sampled_from(CONFIGS),
    st.integers(0, 120),
    st.sampled_from(["immediate", "next_billing_cycle"]),
)
def test_unique_ids_are_unique_across_lines_and_charges(
    sub: Subscription, days: int, config: SyncConfig, cancel_days: int, timing: str
) -> None:
    engine = Engine(config)
    first = engine.sync(empty_state(), sub, as_of_for(sub, days))
    assert first.error is None
    cancelled = sub.with_active_to(cancel_active_to(sub, as_of_for(sub, cancel_days), timing))
    active_to = cancelled.active_to
    assert active_to is not None
    second = engine.sync(first.state, cancelled, active_to)
    if second.error is not None:
        assert_charge_validation_error(second.error)
    for state in (first.state, second.state):
        snap = engine.snapshot(state, "S")
        ids = [a.id for a in snap.items]
        assert len(ids) == len(set(ids))
        lines = {a.id for a in snap.items if a.backend is Backend.LINE}
        charges = {a.id for a in snap.items if a.backend is Backend.CHARGE}
        assert not lines & charges


@PROPERTY_SETTINGS
@given(
    subscriptions(),
    st.integers(0, 200),
    st.sampled_from(CONFIGS),
    st.integers(0, 150),
    st.sampled_from(["immediate", "next_billing_cycle"]),
)
def test_after_a_cancel_no_live_artifact_starts_at_or_after_active_to(
    sub: Subscription, days: int, config: SyncConfig, cancel_days: int, timing: str
) -> None:
    engine = Engine(config)
    state = engine.sync(empty_state(), sub, as_of_for(sub, days)).state
    cancelled = sub.with_active_to(cancel_active_to(sub, as_of_for(sub, cancel_days), timing))
    active_to = cancelled.active_to
    assert active_to is not None
    result = engine.sync(state, cancelled, active_to)
    if result.error is not None:
        assert_charge_validation_error(result.error)
        assert result.state is state
        return
    snap = engine.snapshot(result.state, "S")
    cut = floor_second(active_to)
    for artifact in snap.items:
        sp = artifact.service_period
        one_time = "/period[" not in artifact.id
        # a one-time fee whose version starts after the cancel collapses to the instant activeTo
        assert sp.start < active_to or (one_time and sp.start == sp.end == cut), artifact
        # nothing is served after the (floored) end (§3.4); billing period and invoiceAt are
        # patched only together with the service period's end (§3.3), so they are not checked here
        assert sp.end <= cut, artifact
        if artifact.mirror is not None:
            assert artifact.mirror.service_period.start < active_to or one_time
            assert artifact.mirror.service_period.end <= cut
    # reconciling converges: what the cancel left is what a first sync of the cancelled
    # subscription makes, in ids, backends and service periods (the other fields follow only
    # when the service period's end moves, §3.3)
    fresh = Engine(config).sync(empty_state(), cancelled, active_to)
    assert fresh.error is None
    assert _shape(snap) == _shape(engine.snapshot(fresh.state, "S"))


def _shape(snap: Snapshot) -> list[tuple[object, ...]]:
    """What reconciling converges on: ids, backends, service periods (also of mirror lines)."""
    return sorted(
        (a.id, a.backend.value, a.service_period, None if a.mirror is None else a.mirror.service_period)
        for a in snap.items
    )


@PROPERTY_SETTINGS
@given(
    subscriptions(),
    st.integers(-20, 200),
    st.sampled_from(CONFIGS),
    st.sampled_from([Behaviour.HEAD, Behaviour.ISSUE_4412]),
)
def test_a_resync_with_no_change_writes_nothing(
    sub: Subscription, days: int, config: SyncConfig, behaviour: Behaviour
) -> None:
    engine = Engine(config, Behaviour.HEAD)
    as_of = as_of_for(sub, days)
    first = engine.sync(empty_state(), sub, as_of)
    assert first.error is None
    again = engine.sync(first.state, sub, as_of)
    assert again.error is None
    assert again.operations.total == 0
    assert again.state.customer("C").lines == first.state.customer("C").lines
    assert again.state.customer("C").charges == first.state.customer("C").charges
    assert again.state.next_seq == first.state.next_seq
    legacy = Engine(config, behaviour).sync(empty_state(), sub, as_of)
    assert Engine(config).snapshot(legacy.state, "S") == engine.snapshot(first.state, "S")
