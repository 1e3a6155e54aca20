"""Between OpenMeter's shapes and the engine's: the subscription in, the artifacts out.

* :func:`to_engine_subscription` turns the subscription *as OpenMeter stored it* (v1 view, with
  microsecond timestamps and item timelines) into the engine's :class:`~contract.model.Subscription`,
  so predictions use OpenMeter's real ``activeFrom``/``billingAnchor``/``activeTo``.
* :func:`observe` turns charges (v3) and invoices (v1) into a :class:`~contract.model.Snapshot`.
  Charges carry their unique reference id. v1 lines expose none, so a gathering line is matched to
  its charge as the charge's *mirror line* by subscription, item, ``invoiceAt`` and period; a line
  without a charge (invoice-backed) gets the unique id of the predicted line with the same
  phase, item, version and period start (:class:`ItemIndex` knows every item id the run has seen,
  old ones included: OpenMeter re-creates item rows on cancel and edit).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from contract.client.models import Charge, Invoice, InvoiceLine, SubscriptionView
from contract.limits import MAX_DURATION_YEARS, instant_problem
from contract.model import (
    Artifact,
    Backend,
    Duration,
    InvoicedLine,
    ItemVersion,
    MirrorLine,
    Period,
    Phase,
    RateCard,
    SettlementMode,
    Snapshot,
    Subscription,
)


class MappingError(ValueError):
    """OpenMeter returned a subscription the engine cannot represent."""


def to_engine_subscription(view: SubscriptionView, currency: str | None = None) -> Subscription:
    """The engine's input for ``view`` (raises :class:`MappingError` for what it cannot model).

    What OpenMeter answers is checked like any input: the domain's invariants (phases, positive
    cadences) and the suite's limits (instants in 1970..2199, cadences at most 100 years) refuse
    it here, as a MappingError, rather than failing deep inside the engine's calendar arithmetic.
    """
    try:
        sub = _build_subscription(view, currency)
    except MappingError:
        raise
    except ValueError as err:
        raise MappingError(f"subscription {view.id}: {err}") from None
    problem = _limits_problem(sub)
    if problem is not None:
        raise MappingError(f"subscription {view.id}: {problem}")
    return sub


def _limits_problem(sub: Subscription) -> str | None:
    instants = [sub.active_from, sub.billing_anchor, sub.active_to]
    offsets: list[Duration] = []  # phase starts: any sign
    cadences: list[Duration] = [sub.billing_cadence] if sub.billing_cadence is not None else []  # positive
    for phase in sub.phases:
        offsets.append(phase.start_after)
        for versions in phase.items.values():
            for v in versions:
                instants += [v.active_from, v.active_to]
                if v.rate_card.billing_cadence is not None:
                    cadences.append(v.rate_card.billing_cadence)
    for t in instants:
        if t is not None and (problem := instant_problem(t)) is not None:
            return problem
    for d in (*cadences, *offsets):
        if abs(d.approx_seconds()) > MAX_DURATION_YEARS * 365.25 * 86400:
            return f"{d} is longer than {MAX_DURATION_YEARS} years"
    for d in cadences:
        if d.approx_seconds() <= 0:
            return f"billing cadence {d} is not positive"
    return None


def _build_subscription(view: SubscriptionView, currency: str | None) -> Subscription:
    if view.billing_cadence is None:
        raise MappingError(f"subscription {view.id} has no billing cadence")
    phases: list[Phase] = []
    for hint, ph in enumerate(view.phases):
        items: dict[str, tuple[ItemVersion, ...]] = {}
        for timeline in ph.item_timelines:
            versions: list[ItemVersion] = []
            for v in timeline.versions:
                rc = v.rate_card
                try:
                    price = rc.price.to_domain() if rc.price is not None else None
                    cadence = Duration.parse(rc.billing_cadence) if rc.billing_cadence else None
                    rate_card = RateCard(name=rc.name, feature_key=rc.feature_key, price=price, billing_cadence=cadence)
                except ValueError as err:
                    raise MappingError(f"subscription {view.id} item {v.key}: {err}") from None
                versions.append(
                    ItemVersion(
                        key=v.key,
                        active_from=v.active_from,
                        active_to=v.active_to,
                        rate_card=rate_card,
                        id=v.id,
                    )
                )
            items[timeline.key] = tuple(versions)
        phases.append(
            Phase(
                key=ph.key,
                start_after=Duration.between(view.active_from, ph.active_from),
                items=items,
                id=ph.id,
                sort_hint=hint,
            )
        )
    try:
        cadence = Duration.parse(view.billing_cadence)
    except ValueError:
        raise MappingError(f"billing cadence {view.billing_cadence!r} is not an ISO-8601 duration") from None
    return Subscription(
        id=view.id,
        customer_id=view.customer_id,
        currency=view.currency or currency or "USD",
        active_from=view.active_from,
        billing_anchor=view.billing_anchor,
        billing_cadence=cadence,
        phases=tuple(phases),
        active_to=view.active_to,
        pro_rating=view.pro_rating_enabled,
        settlement_mode=view.settlement_mode or SettlementMode.CREDIT_THEN_INVOICE,
    )


@dataclass
class ItemIndex:
    """Every subscription item id seen during a run -> (subscription, phase key, item key, version)."""

    items: dict[str, tuple[str, str, str, int]] = field(default_factory=dict)

    def learn(self, view: SubscriptionView) -> None:
        for ph in view.phases:
            for timeline in ph.item_timelines:
                for version, item in enumerate(timeline.versions):
                    self.items[item.id] = (view.id, ph.key, timeline.key, version)

    def prefix(self, item_id: str | None) -> str | None:
        """``{subscription}/{phase}/{item}/v[{n}]`` for an item id, if known."""
        if item_id is None or item_id not in self.items:
            return None
        sub, phase, key, version = self.items[item_id]
        return f"{sub}/{phase}/{key}/v[{version}]"


def _overlap(a: Period, b: Period) -> bool:
    return (a.start < b.end and b.start < a.end) or a == b


def _mirror_score(charge: Charge, line: InvoiceLine, index: ItemIndex) -> int | None:
    """How well ``line`` fits as ``charge``'s mirror line (None: not at all).

    Item ids must name the same item version; OpenMeter re-creates item rows on cancel and edit
    and re-points charges and lines at different moments, so ids of the same version count too."""
    ref = line.subscription
    cref = charge.subscription
    if ref is None or cref is None or ref.subscription_id != cref.id:
        return None
    if cref.item_id is not None and ref.item_id is not None and cref.item_id != ref.item_id:
        same_version = index.prefix(cref.item_id)
        if same_version is None or same_version != index.prefix(ref.item_id):
            return None
    if not _overlap(line.period, charge.service_period) and line.period.end != charge.service_period.end:
        return None
    score = 1
    if line.invoice_at == charge.invoice_at:
        score += 4
    if line.period.end == charge.service_period.end:
        score += 2
    if line.period.start == charge.service_period.start:
        score += 1
    if charge.name and line.name == charge.name:
        score += 1
    return score


def _pair(charges: Sequence[Charge], lines: list[InvoiceLine], index: ItemIndex) -> dict[str, InvoiceLine]:
    """Charge id -> its best line, each line used once (greedy on score)."""
    candidates: list[tuple[int, str, str, InvoiceLine]] = []
    for charge in charges:
        for line in lines:
            score = _mirror_score(charge, line, index)
            if score is not None:
                candidates.append((score, charge.id, line.id, line))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    paired: dict[str, InvoiceLine] = {}
    used: set[str] = set()
    for _score, charge_id, line_id, line in candidates:
        if charge_id in paired or line_id in used:
            continue
        paired[charge_id] = line
        used.add(line_id)
    return paired


def _line_uid(line: InvoiceLine, index: ItemIndex, predicted: Iterable[Artifact]) -> str:
    ref = line.subscription
    prefix = index.prefix(ref.item_id if ref else None)
    if prefix is not None:
        for a in predicted:
            same_item = a.id.startswith(prefix + "/") or a.id == prefix
            same_period = a.service_period.start == line.period.start or (
                a.billing_period is not None
                and ref is not None
                and ref.billing_period is not None
                and a.billing_period.start == ref.billing_period.start
            )
            if same_item and same_period:
                return a.id
        return f"{prefix}/line@{line.period.start.isoformat()}"
    item = ref.item_id if ref else "?"
    return f"{ref.subscription_id if ref else '?'}/?/{item}/line@{line.period.start.isoformat()}"


def _charge_artifact(charge: Charge, mirror: InvoiceLine | None) -> Artifact:
    ref = charge.subscription
    mirror_line = None
    if mirror is not None:
        mirror_line = MirrorLine(
            service_period=mirror.period,
            billing_period=mirror.subscription.billing_period if mirror.subscription else None,
            invoice_at=mirror.invoice_at or mirror.period.end,
            amount=mirror.price.amount if mirror.price is not None else None,
            line_id=mirror.id,
        )
    amount = charge.amount_after_proration
    before = None
    if charge.price is not None:
        if charge.type == "flat_fee":
            before = charge.price.amount  # a flat-fee charge's price is the amount before proration
        if amount is None:
            amount = charge.price.amount
    return Artifact(
        id=charge.unique_reference_id or f"charge:{charge.id}",
        backend=Backend.CHARGE,
        service_period=charge.service_period,
        invoice_at=charge.invoice_at,
        billing_period=charge.billing_period,
        full_service_period=charge.full_service_period,
        amount=amount,
        amount_before_proration=before,
        status=charge.status,
        mirror=mirror_line,
        subscription_id=ref.id if ref else None,
        phase_id=ref.phase_id if ref else None,
        item_id=ref.item_id if ref else None,
        name=charge.name,
        object_id=charge.id,
    )


def _belongs(line: InvoiceLine, subscription_id: str) -> bool:
    return line.subscription is not None and line.subscription.subscription_id == subscription_id


def observe(
    subscription_id: str,
    charges: Sequence[Charge],
    invoices: Sequence[Invoice],
    index: ItemIndex,
    predicted: Snapshot | None = None,
) -> Snapshot:
    """What OpenMeter shows for one subscription, in the engine's comparison shape.

    ``invoiced`` lists the subscription's lines on standard (non-gathering) invoices, each under
    the unique id of its charge or predicted line.
    """
    mine = [c for c in charges if c.subscription is not None and c.subscription.id == subscription_id]
    live = [c for c in mine if c.status != "deleted"]
    deleted = [c for c in mine if c.status == "deleted"]
    gathering = [inv for inv in invoices if inv.status == "gathering" and inv.deleted_at is None]
    standard = [inv for inv in invoices if inv.status != "gathering" and inv.deleted_at is None]
    g_lines = [ln for inv in gathering for ln in inv.lines if ln.deleted_at is None and _belongs(ln, subscription_id)]
    s_lines = [ln for inv in standard for ln in inv.lines if ln.deleted_at is None and _belongs(ln, subscription_id)]

    mirrors = _pair(live, g_lines, index)
    used = {ln.id for ln in mirrors.values()}
    predicted_items = predicted.items if predicted is not None else ()
    items = [_charge_artifact(c, mirrors.get(c.id)) for c in live]
    for line in g_lines:
        if line.id in used:
            continue
        ref = line.subscription
        items.append(
            Artifact(
                id=_line_uid(line, index, predicted_items),
                backend=Backend.LINE,
                service_period=line.period,
                invoice_at=line.invoice_at or line.period.end,
                billing_period=ref.billing_period if ref else None,
                amount=line.price.amount if line.price is not None else None,
                subscription_id=ref.subscription_id if ref else None,
                phase_id=ref.phase_id if ref else None,
                item_id=ref.item_id if ref else None,
                name=line.name,
                object_id=line.id,
            )
        )
    charge_of_line = {ln.id: c for c in mine for ln in [_pair([c], s_lines, index).get(c.id)] if ln is not None}
    invoiced = []
    for line in s_lines:
        charge = charge_of_line.get(line.id)
        uid = (
            charge.unique_reference_id
            if charge is not None and charge.unique_reference_id
            else _line_uid(line, index, predicted_items)
        )
        invoiced.append(
            InvoicedLine(
                id=uid,
                service_period=line.period,
                invoice_at=line.invoice_at or line.period.end,
                amount=line.total,
                subscription_id=subscription_id,
                line_id=line.id,
            )
        )
    items.sort(key=lambda a: (a.id, a.backend.value))
    return Snapshot(
        items=tuple(items),
        deleted_charges=tuple(sorted((_charge_artifact(c, None) for c in deleted), key=lambda a: a.id)),
        invoiced=tuple(sorted(invoiced, key=lambda i: (i.id, i.service_period.start))),
        gathering_invoice_exists=bool(gathering),
    )
