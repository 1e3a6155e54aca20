"""Target state: what subscription sync should produce for a subscription (upstream ``targetstate``).

Rules (shared/design/sync-model.md §1.2, §1.3, §2):

* phases start at ``activeFrom + startAfter`` and end at the next phase's start, capped at the
  subscription's ``activeTo`` (an end before the start is raised to the start: zero length);
* an item version is active over its own ``[activeFrom, activeTo)`` clipped to its phase
  (:func:`item_cadence`, upstream ``GetCadence``), so a cancelled view needs no manual clipping;
* the aligned billing period ``BP(t)`` is the billing-cadence recurrence period of the billing
  anchor containing ``t``, clipped to the phase (§2.2);
* each priced version yields one :class:`TargetItem` per rate-card cadence period (§2.3) or one
  for a one-time fee (§2.4); periods are floored to whole seconds afterwards (§2.5);
* the horizon (§2.6) decides how far ahead each phase is generated.

Everything here is pure; the engine never reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from contract.model.domain import (
    EndProrationMode,
    ItemVersion,
    PaymentTerm,
    Phase,
    Price,
    PriceType,
    RateCard,
    Subscription,
)
from contract.model.money import prorate, round_money
from contract.model.time import (
    Period,
    RecurrenceCache,
    add,
    floor_second,
    require_utc,
    widen_to_second,
)

#: Upstream's hard cap on periods per item version and generation call.
MAX_PERIODS_PER_VERSION = 1000

CANCEL_MISALIGNED = "cannot cancel aligned subscription with custom misaligned timing"


class TargetStateError(Exception):
    """Target generation failed the way upstream fails (the sync reports it as its error)."""


class QueriedBeforeStartError(TargetStateError):
    """``BP(t)`` asked for a ``t`` before the subscription starts (handled by the horizon)."""


@dataclass(frozen=True, slots=True)
class PhaseCadence:
    """A phase with its derived activity ``[start, end)`` (``end`` None: open-ended)."""

    phase: Phase
    start: datetime
    end: datetime | None

    @property
    def zero_length(self) -> bool:
        return self.end is not None and self.end == self.start

    def has_billables(self) -> bool:
        return any(v.rate_card.price is not None for vs in self.phase.items.values() for v in vs)


def sorted_phases(subscription: Subscription) -> tuple[Phase, ...]:
    """Phases by start time; ties broken by sort hint, then key (upstream ``GetSortedPhases``)."""
    return tuple(
        sorted(
            subscription.phases,
            key=lambda p: (add(subscription.active_from, p.start_after), p.sort_hint, p.key),
        )
    )


def phase_cadences(subscription: Subscription) -> tuple[PhaseCadence, ...]:
    phases = sorted_phases(subscription)
    starts = [add(subscription.active_from, p.start_after) for p in phases]
    out: list[PhaseCadence] = []
    for i, phase in enumerate(phases):
        start = starts[i]
        end: datetime | None = starts[i + 1] if i + 1 < len(phases) else None
        if subscription.active_to is not None and (end is None or subscription.active_to < end):
            end = subscription.active_to
        if end is not None and end < start:
            end = start
        out.append(PhaseCadence(phase, start, end))
    return tuple(out)


def item_cadence(version: ItemVersion, phase: PhaseCadence) -> tuple[datetime, datetime | None]:
    """The version's activity clipped to its phase (upstream ``SubscriptionItemSpec.GetCadence``).

    A version starting after the phase end collapses to the instant ``[phaseEnd, phaseEnd]``;
    an open or later end is capped at the phase end. Idempotent on an already clipped view.
    """
    start = version.active_from
    if phase.end is not None and phase.end < start:
        return phase.end, phase.end
    end = version.active_to
    if end is None or (phase.end is not None and phase.end < end):
        end = phase.end
    return start, end


@dataclass(frozen=True, slots=True)
class TargetItem:
    """One artifact sync should produce: an item version over one service period (§1.3)."""

    unique_id: str
    subscription_id: str
    phase_key: str
    phase_id: str
    item_key: str
    item_id: str
    version: int
    period_index: int | None  # None: one-time fee
    rate_card: RateCard
    service_period: Period
    full_service_period: Period
    billing_period: Period

    @property
    def price(self) -> Price:
        price = self.rate_card.price
        if price is None:  # pragma: no cover - generation never emits unpriced versions
            raise ValueError(f"{self.unique_id}: target without a price")
        return price

    @property
    def invoice_at(self) -> datetime:
        """In-advance flat fees invoice at ``BP.from``; everything else at ``max(SP.to, BP.to)``."""
        price = self.rate_card.price
        if price is not None and price.payment_term is PaymentTerm.IN_ADVANCE and price.type is PriceType.FLAT:
            return self.billing_period.start
        return max(self.service_period.end, self.billing_period.end)

    @property
    def is_billable(self) -> bool:
        """Priced, and not an in-arrears price over an instant full service period."""
        price = self.rate_card.price
        if price is None:
            return False
        if price.payment_term is PaymentTerm.IN_ADVANCE and price.type is PriceType.FLAT:
            return True
        fsp = self.full_service_period
        return fsp.end != fsp.start


@dataclass(frozen=True, slots=True)
class TargetState:
    items: tuple[TargetItem, ...]
    max_generation_limit: datetime | None  # upstream MaxGenerationTimeLimit; None when nothing ran


class SubscriptionTimeline:
    """A subscription's phase cadences and aligned billing periods, computed once per use."""

    __slots__ = ("_billing_key", "_bp_cache", "_bp_floor_cache", "_by_key", "cadences", "recurrence", "subscription")

    def __init__(self, subscription: Subscription, recurrence: RecurrenceCache | None = None) -> None:
        self.subscription = subscription
        self.cadences = phase_cadences(subscription)
        self._by_key = {pc.phase.key: pc for pc in self.cadences}
        self._bp_cache: dict[datetime, Period] = {}
        self._bp_floor_cache: dict[tuple[datetime, datetime], Period] = {}
        self.recurrence = recurrence if recurrence is not None else RecurrenceCache()
        cadence = subscription.billing_cadence
        self._billing_key = cadence.components() if cadence is not None else None

    def floored(self, period: Period) -> Period:
        """``period.floor()``, memoised (periods repeat across the items of a phase)."""
        start, end = period.start, period.end
        if not start.microsecond and not end.microsecond:
            return period
        cached = self._bp_floor_cache.get((start, end))
        if cached is None:
            cached = self._bp_floor_cache[(start, end)] = period.floor()
        return cached

    def phase(self, key: str) -> PhaseCadence:
        try:
            return self._by_key[key]
        except KeyError:
            raise TargetStateError(f"phase {key} not found in subscription {self.subscription.id}") from None

    def billing_period_at(self, t: datetime) -> Period:
        """``BP(t)`` (§2.2): the billing recurrence period containing ``t``, clipped to its phase.

        Far after a cancellation the clipped period can be inverted (``start > end``); upstream
        returns it as is and so does this.
        """
        cached = self._bp_cache.get(t)
        if cached is not None:
            return cached
        period = self._billing_period_at(t)
        self._bp_cache[t] = period
        return period

    def _billing_period_at(self, t: datetime) -> Period:
        sub = self.subscription
        billing_key = self._billing_key
        if billing_key is None:
            raise TargetStateError("subscription has no billing cadence")
        if sub.is_active_at(t):
            chosen: PhaseCadence | None = None
            for pc in self.cadences:
                if pc.start <= t:
                    chosen = pc
                else:
                    break
        elif t < sub.active_from:
            raise QueriedBeforeStartError(f"billing period queried before subscription start: {t} < {sub.active_from}")
        else:
            assert sub.active_to is not None
            chosen = None
            for pc in self.cadences:
                if pc.start > sub.active_to:
                    break
                chosen = pc
        if chosen is None:
            raise TargetStateError(f"no phase found for subscription billing period calculation at {t}")
        period = self.recurrence.period(sub.billing_anchor, billing_key, t)
        start, end = period.start, period.end
        if chosen.end is not None and chosen.end < end:
            end = chosen.end
        if chosen.start > start:
            start = chosen.start
        if start == period.start and end == period.end:
            return period
        return Period(start, end)


def _unique_id(sub_id: str, phase_key: str, item_key: str, version: int, period: int | None) -> str:
    base = f"{sub_id}/{phase_key}/{item_key}/v[{version}]"
    return base if period is None else f"{base}/period[{period}]"


def _recurring(
    timeline: SubscriptionTimeline,
    pc: PhaseCadence,
    item_key: str,
    index: int,
    version: ItemVersion,
    horizon_end: datetime,
    out: list[TargetItem],
) -> bool:
    """Periods of one recurring version (§2.3); returns True to skip the later versions too."""
    sub = timeline.subscription
    rate_card = version.rate_card
    cadence = rate_card.billing_cadence
    assert cadence is not None
    start, end = item_cadence(version, pc)
    if sub.active_to is not None and start >= sub.active_to:
        return True
    if pc.end is not None and start >= pc.end:
        return True
    zero_length = end is not None and end == start
    price = rate_card.price
    assert price is not None
    in_advance = price.in_advance
    flat = price.is_flat
    # hot loop: bind what it uses once
    billing_period_at = timeline.billing_period_at
    floored = timeline.floored
    anchor = sub.billing_anchor
    cadence_key = cadence.components()
    recurrence = timeline.recurrence.period
    phase_end = pc.end
    prefix = f"{sub.id}/{pc.phase.key}/{item_key}/v[{index}]/period["
    sub_id, phase_key, phase_id, item_id = sub.id, pc.phase.key, pc.phase.id, version.id
    at = start
    k = 0
    while True:
        bp = billing_period_at(at)
        fsp = recurrence(anchor, cadence_key, at)
        if zero_length:
            sp = Period(start, start)
        elif fsp.start >= start and (end is None or fsp.end <= end):
            sp = fsp  # the whole cadence period (the common case)
        else:
            sp_end = fsp.end if end is None or fsp.end < end else end
            sp = Period(fsp.start if fsp.start > start else start, sp_end)
        # the horizon compares the invoiceAt of the unfloored periods (upstream does the same)
        invoice_at = bp.start if in_advance else max(sp.end, bp.end)
        if invoice_at > horizon_end:
            break
        floored_sp = floored(sp)
        if flat or not floored_sp.is_empty:  # §2.5: usage targets with an empty floored SP are dropped
            out.append(
                TargetItem(
                    f"{prefix}{k}]",
                    sub_id,
                    phase_key,
                    phase_id,
                    item_key,
                    item_id,
                    index,
                    k,
                    rate_card,
                    floored_sp,
                    floored(fsp),
                    floored(bp),
                )
            )
        k += 1
        at = sp.end
        if end is not None and at >= end:
            break
        if phase_end is not None and at >= phase_end:
            break
        if k > MAX_PERIODS_PER_VERSION:
            break
    return False


def _one_time(
    timeline: SubscriptionTimeline, pc: PhaseCadence, item_key: str, index: int, version: ItemVersion
) -> TargetItem:
    """The single target of a one-time fee (§2.4); it ignores the horizon."""
    sub = timeline.subscription
    start, end = item_cadence(version, pc)
    bp = timeline.billing_period_at(start)
    fsp_end = start
    if end is not None:
        fsp_end = end
    if pc.end is not None:
        fsp_end = pc.end
    fsp = Period(start, fsp_end)
    inter_end = fsp.end if end is None or fsp.end < end else end
    sp: Period | None = Period(start, inter_end) if start < inter_end else None
    if sp is None and fsp.duration.total_seconds() == 0:
        sp = fsp
    if sp is None:
        raise TargetStateError(
            f"service period is empty, cadence is [from {start} to {end}], "
            f"full service period is [from {fsp.start} to {fsp.end}]"
        )
    return TargetItem(
        unique_id=_unique_id(sub.id, pc.phase.key, item_key, index, None),
        subscription_id=sub.id,
        phase_key=pc.phase.key,
        phase_id=pc.phase.id,
        item_key=item_key,
        item_id=version.id,
        version=index,
        period_index=None,
        rate_card=version.rate_card,
        service_period=sp,
        full_service_period=fsp,
        billing_period=bp,
    )


def _emit(out: list[TargetItem], item: TargetItem) -> None:
    """Floor the periods to whole seconds and keep the target unless it is a usage target
    whose floored service period is empty (§2.5)."""
    sp = item.service_period.floor()
    if sp.is_empty and not item.price.is_flat:
        return
    fsp = item.full_service_period.floor()
    bp = item.billing_period.floor()
    if sp is not item.service_period or fsp is not item.full_service_period or bp is not item.billing_period:
        item = replace(item, service_period=sp, full_service_period=fsp, billing_period=bp)
    out.append(item)


def generate_phase(timeline: SubscriptionTimeline, phase_key: str, horizon_end: datetime) -> list[TargetItem]:
    """Upstream ``PhaseIterator.Generate``: every target of the phase whose invoiceAt is within
    ``horizon_end`` widened to the whole second (§2.3–§2.5). Unpriced versions yield nothing."""
    require_utc(horizon_end, "horizon end")
    pc = timeline.phase(phase_key)
    end = widen_to_second(horizon_end)
    out: list[TargetItem] = []
    for item_key, versions in pc.phase.items.items():
        for index, version in enumerate(versions):
            if version.rate_card.price is None:
                continue
            if version.rate_card.billing_cadence is None:
                _emit(out, _one_time(timeline, pc, item_key, index, version))
                continue
            if _recurring(timeline, pc, item_key, index, version, end, out):
                break
    return out


def minimum_billable_time(pc: PhaseCadence) -> datetime | None:
    """The earliest instant the phase can yield a target (floored), None if it never can."""
    best: datetime | None = None
    for versions in pc.phase.items.values():
        for version in versions:
            price = version.rate_card.price
            if price is None:
                continue
            start, end = item_cadence(version, pc)
            if price.is_flat:
                candidate = floor_second(start)
            else:
                if end is not None and floor_second(end) <= floor_second(start):
                    continue
                candidate = floor_second(start)
            if best is None or candidate < best:
                best = candidate
    return best


def build_target_state(
    subscription: Subscription, as_of: datetime, recurrence: RecurrenceCache | None = None
) -> TargetState:
    """All targets sync generates ``as_of`` (the horizon of §2.6) and the next-sync time.

    ``recurrence``: the caller's period cache (an engine passes its own); None: a fresh one.
    """
    require_utc(as_of, "as_of")
    timeline = SubscriptionTimeline(subscription, recurrence)
    items: list[TargetItem] = []
    max_limit: datetime | None = None
    for pc in timeline.cadences:
        if pc.zero_length or not pc.has_billables():
            continue
        limit = as_of
        current: Period | None = None
        try:
            current = timeline.billing_period_at(as_of)
        except QueriedBeforeStartError:
            limit = subscription.active_from
        if current is not None and limit != current.start:
            limit = current.end
        if pc.start > limit:
            earliest = minimum_billable_time(pc)
            if earliest is None:
                continue
            limit = earliest
        items.extend(generate_phase(timeline, pc.phase.key, limit))
        if max_limit is None or max_limit < limit:
            max_limit = limit
        if pc.end is not None and pc.end >= as_of:
            break
    return TargetState(tuple(items), max_limit)


def has_billables(subscription: Subscription) -> bool:
    return any(v.rate_card.price is not None for p in subscription.phases for vs in p.items.values() for v in vs)


def should_prorate_line(target: TargetItem, subscription: Subscription, end_proration: EndProrationMode) -> bool:
    """§1.4: invoice-backed flat lines prorate unless the profile bills the full last period."""
    if not subscription.pro_rating or not target.price.is_flat:
        return False
    return not (
        end_proration is EndProrationMode.BILL_FULL_PERIOD
        and subscription.active_to is not None
        and subscription.active_to <= target.service_period.end
    )


def expected_line_amount(
    target: TargetItem, subscription: Subscription, end_proration: EndProrationMode
) -> Decimal | None:
    """The per-unit amount of the invoice-backed line for ``target``; None means "no line".

    Flat: the rate-card amount, prorated by ``dur(SP)/dur(FSP)`` when §1.4 says so, rounded to
    the currency's minor unit; zero means no line. Usage: the unit amount, carried unchanged
    (tiered prices carry no single amount and return ``Decimal(0)`` — the line still exists).
    In-arrears prices over an instant full service period have no line.
    """
    price = target.price
    if not target.is_billable:
        return None
    if not price.is_flat:
        return price.amount
    currency = subscription.currency
    amount = round_money(price.amount, currency)
    sp, fsp = target.service_period, target.full_service_period
    if not sp.is_empty and should_prorate_line(target, subscription, end_proration):
        full = Decimal(int(fsp.duration.total_seconds() * 1_000_000))
        if full != 0:
            part = Decimal(int(sp.duration.total_seconds() * 1_000_000))
            amount = prorate(price.amount, part, full, currency)
    if amount == 0:
        return None
    return amount


def cancel_active_to(subscription: Subscription, at: datetime, timing: str | datetime) -> datetime:
    """The ``activeTo`` a cancel at wall-clock ``at`` sets (§2.8).

    ``timing`` is ``"immediate"`` (``at``, sub-second precision kept), ``"next_billing_cycle"``
    (the end of ``BP(at)``) or a custom instant, which must be a start or end of ``BP(instant)``
    — otherwise ``ValueError`` with upstream's message.
    """
    require_utc(at, "cancel time")
    timeline = SubscriptionTimeline(subscription)
    if isinstance(timing, datetime):
        require_utc(timing, "cancel timing")
        try:
            bp = timeline.billing_period_at(timing)
        except TargetStateError:
            raise ValueError(CANCEL_MISALIGNED) from None
        if timing in (bp.start, bp.end):
            return timing
        raise ValueError(CANCEL_MISALIGNED)
    if timing == "immediate":
        return at
    if timing == "next_billing_cycle":
        if subscription.billing_cadence is None:
            raise ValueError("subscription does not have a billing cadence, there isn't a next_billing_cycle")
        try:
            return timeline.billing_period_at(at).end
        except TargetStateError as err:
            raise ValueError(str(err)) from None
    raise ValueError(f"invalid change timing: {timing!r} (valid: immediate, next_billing_cycle, an RFC 3339 time)")


__all__ = [
    "CANCEL_MISALIGNED",
    "MAX_PERIODS_PER_VERSION",
    "PhaseCadence",
    "QueriedBeforeStartError",
    "SubscriptionTimeline",
    "TargetItem",
    "TargetState",
    "TargetStateError",
    "build_target_state",
    "cancel_active_to",
    "expected_line_amount",
    "generate_phase",
    "has_billables",
    "item_cadence",
    "minimum_billable_time",
    "phase_cadences",
    "should_prorate_line",
    "sorted_phases",
]
