"""Persisted state: what exists in a namespace, and how sync loads it (upstream ``persistedstate``).

Objects (OpenMeter's words, shared/design/sync-model.md §1.6, §1.7, §3.1):

* :class:`Invoice` — a customer's gathering invoice (one per currency, deleted when its last line
  leaves) or a standard invoice (created by invoicing; drafts are mutable);
* :class:`InvoiceLine` — an invoice-backed line (``engine=invoice``, carries the unique id as
  ``child_unique_reference_id``), a charge's mirror ("projection") line (``charge_id`` set,
  engine ``charge_flat_fee``/``charge_usage_based``), or a charge's invoiced run line;
* :class:`SplitLineGroup` — owns a unique id once a usage line was progressively invoiced; its
  children are lines with ``split_line_group_id`` and no unique id of their own;
* :class:`Charge` — a flat-fee or usage-based charge intent with status and realization runs.

:class:`EngineState` is the immutable namespace: one :class:`CustomerState` per customer (sync
and invoicing touch one customer, under upstream's customer billing lock), so a step copies only
that customer's objects. :class:`Workspace` is the mutable copy one transaction works on.

:func:`load_for_subscription` is the loader of §3.1 with the two behaviours: HEAD excludes
charge-managed lines; the #4412 window (``include_charge_managed=True``) loads mirror lines that
carry the charge's unique id, so the cross-backend integrity guard fires.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import TypeVar

from contract.model.domain import Backend, PaymentTerm, Price, SettlementMode
from contract.model.money import prorate, round_money
from contract.model.snapshot import SyncState
from contract.model.time import Period, floor_second

DUPLICATE_ACROSS = "duplicate unique id across persisted lines and charges: {id}"


def object_id(seq: int) -> str:
    """A deterministic, sortable 26-character ULID-like id for the ``seq``-th object
    (``01`` and 24 decimal digits — every digit is a Crockford base-32 character)."""
    return f"01{seq:024d}"


class SyncError(Exception):
    """A sync failed; nothing it did is kept (the transaction rolls back)."""


class LineEngine(enum.StrEnum):
    INVOICE = "invoice"
    CHARGE_FLAT_FEE = "charge_flat_fee"
    CHARGE_USAGE_BASED = "charge_usage_based"


class ChargeType(enum.StrEnum):
    FLAT_FEE = "flat_fee"
    USAGE_BASED = "usage_based"


class ChargeStatus(enum.StrEnum):
    """Charge statuses as the v3 API reports them (upstream's meta status)."""

    CREATED = "created"
    ACTIVE = "active"
    FINAL = "final"
    DELETED = "deleted"


class Realization(enum.StrEnum):
    """Upstream's detailed ``active.*`` statuses of a ``credit_then_invoice`` charge being invoiced
    (``openmeter/billing/charges/{flatfee,usagebased}``); their meta status is ``active``."""

    STARTED = "active.realization.started"  # transient: left at once for waiting_for_collection
    WAITING_FOR_COLLECTION = "active.realization.waiting_for_collection"
    PROCESSING = "active.realization.processing"
    ISSUING = "active.realization.issuing"  # transient
    COMPLETED = "active.realization.completed"  # transient
    AWAITING_PAYMENT_SETTLEMENT = "active.awaiting_payment_settlement"


def meta_status(status: str) -> ChargeStatus:
    """The meta status of a detailed one: the part before the first dot (upstream
    ``DetailedStatusToMetaStatus``); what the v3 API reports."""
    return ChargeStatus(status.split(".", 1)[0])


GATHERING = "gathering"
DRAFT = "draft"


@dataclass(frozen=True, slots=True)
class SubscriptionRef:
    subscription_id: str
    phase_id: str
    item_id: str
    billing_period: Period | None = None


@dataclass(frozen=True, slots=True)
class Invoice:
    id: str
    customer_id: str
    currency: str
    status: str  # "gathering" or a standard invoice status ("draft", ...)
    immutable: bool = False
    deleted: bool = False

    @property
    def is_gathering(self) -> bool:
        return self.status == GATHERING


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    id: str
    invoice_id: str
    currency: str
    name: str
    engine: LineEngine
    service_period: Period
    invoice_at: datetime
    price: Price
    amount: Decimal | None  # flat: per-unit amount (after proration); usage: the unit amount or None
    subscription: SubscriptionRef | None
    child_unique_reference_id: str | None = None
    charge_id: str | None = None
    split_line_group_id: str | None = None
    managed_by: str = "subscription"
    sync_ignore: bool = False
    deleted: bool = False
    revision: int = 0  # bumped on every write (stands in for updated_at)

    @property
    def is_flat(self) -> bool:
        return self.price.is_flat


@dataclass(frozen=True, slots=True)
class SplitLineGroup:
    id: str
    unique_reference_id: str
    currency: str
    service_period: Period
    price: Price
    subscription: SubscriptionRef | None
    deleted: bool = False
    revision: int = 0


@dataclass(frozen=True, slots=True)
class RealizationRun:
    """A part of a charge that went to a standard invoice (``line_id`` is that invoice's line)."""

    service_period: Period
    line_id: str | None = None


@dataclass(frozen=True, slots=True)
class Charge:
    id: str
    type: ChargeType
    unique_reference_id: str
    customer_id: str
    currency: str
    subscription: SubscriptionRef
    name: str
    price: Price  # flat: the rate-card amount before proration and the payment term
    service_period: Period
    full_service_period: Period
    billing_period: Period
    invoice_at: datetime
    settlement_mode: SettlementMode
    status: str = ChargeStatus.CREATED
    pro_rating: bool = True
    runs: tuple[RealizationRun, ...] = ()
    managed_by: str = "subscription"
    revision: int = 0

    @property
    def backend_type(self) -> LineEngine:
        if self.type is ChargeType.FLAT_FEE:
            return LineEngine.CHARGE_FLAT_FEE
        return LineEngine.CHARGE_USAGE_BASED

    @property
    def is_deleted(self) -> bool:
        return self.status == ChargeStatus.DELETED

    @property
    def meta_status(self) -> ChargeStatus:
        """``status`` holds upstream's detailed status; the API shows this one."""
        return meta_status(self.status)

    @property
    def amount_before_proration(self) -> Decimal | None:
        return self.price.amount if self.type is ChargeType.FLAT_FEE else None

    @property
    def amount_after_proration(self) -> Decimal | None:
        """Flat fees (§1.7): prorated by ``dur(SP)/dur(FSP)`` only when ``0 < dur(SP) < dur(FSP)``.

        The subscription-end proration mode is not consulted [faithful divergence].
        """
        if self.type is not ChargeType.FLAT_FEE:
            return None
        sp = self.service_period.duration.total_seconds()
        fsp = self.full_service_period.duration.total_seconds()
        if self.pro_rating and 0 < sp < fsp:
            return prorate(
                self.price.amount, Decimal(int(sp * 1_000_000)), Decimal(int(fsp * 1_000_000)), self.currency
            )
        return round_money(self.price.amount, self.currency)

    @property
    def amount(self) -> Decimal | None:
        """What a snapshot shows as the charge's amount: flat after proration, usage the unit amount."""
        if self.type is ChargeType.FLAT_FEE:
            return self.amount_after_proration
        return _usage_amount(self.price)

    @property
    def payment_term(self) -> PaymentTerm:
        return self.price.payment_term


def _usage_amount(price: Price) -> Decimal | None:
    if price.tiers:
        return None
    return price.amount


def line_amount(price: Price, amount: Decimal | None) -> Decimal | None:
    """The amount a line shows: the stored flat amount, or a usage price's unit amount."""
    if price.is_flat:
        return amount
    return _usage_amount(price)


@dataclass(frozen=True, slots=True)
class CustomerState:
    """Everything one customer has, by object id (sync states by subscription id); read-only views."""

    invoices: Mapping[str, Invoice] = field(default_factory=dict)
    lines: Mapping[str, InvoiceLine] = field(default_factory=dict)
    groups: Mapping[str, SplitLineGroup] = field(default_factory=dict)
    charges: Mapping[str, Charge] = field(default_factory=dict)
    sync_states: Mapping[str, SyncState] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("invoices", "lines", "groups", "charges", "sync_states"):
            value = getattr(self, name)
            if not isinstance(value, MappingProxyType):
                object.__setattr__(self, name, MappingProxyType(dict(value)))

    def gathering_invoices(self) -> Iterator[Invoice]:
        return (i for i in self.invoices.values() if i.is_gathering and not i.deleted)

    def live_lines(self, invoice_id: str) -> Iterator[InvoiceLine]:
        return (ln for ln in self.lines.values() if ln.invoice_id == invoice_id and not ln.deleted)


_EMPTY_CUSTOMER = CustomerState()


@dataclass(frozen=True, slots=True)
class EngineState:
    """The persisted state of one namespace; copy-on-write per customer.

    ``next_seq`` numbers new objects (their ids come from :func:`object_id`), so the engine is
    deterministic: the same steps give the same ids.
    """

    customers: Mapping[str, CustomerState] = field(default_factory=dict)
    next_seq: int = 1
    now: datetime | None = None  # the latest wall-clock time a step ran at (the engine's present)

    def __post_init__(self) -> None:
        if not isinstance(self.customers, MappingProxyType):
            object.__setattr__(self, "customers", MappingProxyType(dict(self.customers)))

    def customer(self, customer_id: str) -> CustomerState:
        return self.customers.get(customer_id, _EMPTY_CUSTOMER)

    def with_customer(
        self, customer_id: str, state: CustomerState, next_seq: int, now: datetime | None = None
    ) -> EngineState:
        """This state with one customer replaced; ``now`` (if given) becomes the engine's present."""
        customers = _copy(self.customers)
        customers[customer_id] = state
        return EngineState(MappingProxyType(customers), next_seq, now if now is not None else self.now)

    def sync_state(self, customer_id: str, subscription_id: str) -> SyncState | None:
        return self.customer(customer_id).sync_states.get(subscription_id)


def empty_state() -> EngineState:
    return EngineState()


_K = TypeVar("_K")
_V = TypeVar("_V")


def _copy(mapping: Mapping[_K, _V]) -> dict[_K, _V]:
    """A plain dict copy (fast for dicts and read-only dict views)."""
    if isinstance(mapping, dict | MappingProxyType):
        return mapping.copy()
    return dict(mapping)


class Workspace:
    """A mutable copy of one customer's state for one transaction; :meth:`freeze` commits it."""

    def __init__(self, customer_id: str, state: CustomerState, next_seq: int) -> None:
        self.customer_id = customer_id
        self.invoices: dict[str, Invoice] = _copy(state.invoices)
        self.lines: dict[str, InvoiceLine] = _copy(state.lines)
        self.groups: dict[str, SplitLineGroup] = _copy(state.groups)
        self.charges: dict[str, Charge] = _copy(state.charges)
        self.sync_states: dict[str, SyncState] = _copy(state.sync_states)
        self.next_seq = next_seq
        self._mirror_index: dict[str, str] | None = None  # charge id -> its gathering line id
        self._gathering: dict[str, str] = {}  # currency -> gathering invoice id

    # ids -------------------------------------------------------------------------------------
    def new_id(self) -> str:
        seq = self.next_seq
        self.next_seq += 1
        return object_id(seq)

    # invoices ----------------------------------------------------------------------------------
    def gathering_invoice(self, currency: str, *, create: bool) -> Invoice | None:
        cached = self._gathering.get(currency)
        if cached is not None:
            current = self.invoices.get(cached)
            if current is not None and not current.deleted:
                return current
        for invoice in self.invoices.values():
            if invoice.is_gathering and not invoice.deleted and invoice.currency == currency:
                self._gathering[currency] = invoice.id
                return invoice
        if not create:
            return None
        invoice = Invoice(self.new_id(), self.customer_id, currency, GATHERING)
        self.invoices[invoice.id] = invoice
        self._gathering[currency] = invoice.id
        return invoice

    def is_gathering(self, invoice_id: str) -> bool:
        invoice = self.invoices.get(invoice_id)
        return invoice is not None and invoice.is_gathering

    def is_mutable(self, invoice_id: str) -> bool:
        invoice = self.invoices.get(invoice_id)
        return invoice is not None and not invoice.immutable and not invoice.deleted

    def drop_empty_gathering_invoices(self) -> None:
        live = {ln.invoice_id for ln in self.lines.values() if not ln.deleted}
        for invoice in list(self.invoices.values()):
            if invoice.is_gathering and not invoice.deleted and invoice.id not in live:
                self.invoices[invoice.id] = replace(invoice, deleted=True)

    # lines -------------------------------------------------------------------------------------
    def put_line(self, line: InvoiceLine) -> InvoiceLine:
        old = self.lines.get(line.id)
        if old is not None:
            if old == line:
                return old
            line = replace(line, revision=old.revision + 1)
        self.lines[line.id] = line
        if line.charge_id is not None and self._mirror_index is not None:
            if not line.deleted and self.is_gathering(line.invoice_id):
                self._mirror_index[line.charge_id] = line.id
            elif self._mirror_index.get(line.charge_id) == line.id:
                del self._mirror_index[line.charge_id]
        return line

    def delete_line(self, line_id: str) -> None:
        line = self.lines[line_id]
        if not line.deleted:
            self.put_line(replace(line, deleted=True))

    def mirror_line(self, charge_id: str) -> InvoiceLine | None:
        """The charge's live line on a gathering invoice (its projection), if any."""
        if self._mirror_index is None:
            index: dict[str, str] = {}
            for ln in self.lines.values():
                if ln.charge_id is not None and not ln.deleted and self.is_gathering(ln.invoice_id):
                    index[ln.charge_id] = ln.id
            self._mirror_index = index
        line_id = self._mirror_index.get(charge_id)
        return self.lines[line_id] if line_id is not None else None

    # groups and charges ------------------------------------------------------------------------
    def put_group(self, group: SplitLineGroup) -> SplitLineGroup:
        old = self.groups.get(group.id)
        if old is not None:
            if old == group:
                return old
            group = replace(group, revision=old.revision + 1)
        self.groups[group.id] = group
        return group

    def put_charge(self, charge: Charge) -> Charge:
        old = self.charges.get(charge.id)
        if old is not None:
            if old == charge:
                return old
            charge = replace(charge, revision=old.revision + 1)
        self.charges[charge.id] = charge
        return charge

    def freeze(self) -> CustomerState:
        """The committed state (read-only views; the workspace must not be used afterwards)."""
        return CustomerState(
            MappingProxyType(self.invoices),
            MappingProxyType(self.lines),
            MappingProxyType(self.groups),
            MappingProxyType(self.charges),
            MappingProxyType(self.sync_states),
        )


# --------------------------------------------------------------------------------------------
# Loading (§3.1)


class ItemType(enum.StrEnum):
    INVOICE_LINE = "invoice_line"
    SPLIT_LINE_GROUP = "split_line_group"
    CHARGE_FLAT_FEE = "charge_flat_fee"
    CHARGE_USAGE_BASED = "charge_usage_based"


@dataclass(frozen=True, slots=True)
class PersistedItem:
    """One loaded artifact, keyed by its unique id; periods normalised to whole seconds."""

    unique_id: str
    type: ItemType
    service_period: Period
    line: InvoiceLine | None = None
    group: SplitLineGroup | None = None
    children: tuple[InvoiceLine, ...] = ()
    charge: Charge | None = None

    @property
    def backend(self) -> Backend:
        return Backend.CHARGE if self.charge is not None else Backend.LINE

    @property
    def object_id(self) -> str:
        if self.line is not None:
            return self.line.id
        if self.group is not None:
            return self.group.id
        assert self.charge is not None
        return self.charge.id


def _normalised_line(line: InvoiceLine) -> InvoiceLine:
    sub = line.subscription
    if sub is not None and sub.billing_period is not None:
        sub = replace(sub, billing_period=sub.billing_period.floor())
    return replace(
        line, service_period=line.service_period.floor(), invoice_at=floor_second(line.invoice_at), subscription=sub
    )


def load_for_subscription(
    state: CustomerState, subscription_id: str, *, charges_enabled: bool, include_charge_managed: bool
) -> dict[str, PersistedItem]:
    """The persisted items of one subscription by unique id (§3.1); raises :class:`SyncError`.

    * lines: top-level, of the subscription, not deleted (manually managed deleted lines are
      still loaded), on gathering or standard invoices; charge-managed lines only when
      ``include_charge_managed`` (the #4412 window); lines without a unique id are ignored;
    * split-line groups of the subscription, not deleted, each with its live children;
    * charges of the subscription that are not deleted, only when ``charges_enabled`` (no
      charges stack, no charges loaded);
    * a unique id held by a line (or group) and by a charge is an integrity error.
    """
    invoice_items: dict[str, list[PersistedItem]] = {}
    children_by_group: dict[str, list[InvoiceLine]] = {}
    for line in state.lines.values():
        if line.split_line_group_id is not None:
            if not line.deleted:
                children_by_group.setdefault(line.split_line_group_id, []).append(_normalised_line(line))
            continue
        if line.subscription is None or line.subscription.subscription_id != subscription_id:
            continue
        if line.deleted and line.managed_by != "manual":
            continue
        if line.charge_id is not None and not include_charge_managed:
            continue
        invoice = state.invoices.get(line.invoice_id)
        if invoice is None or (invoice.deleted and invoice.is_gathering):
            continue
        uid = line.child_unique_reference_id
        if uid is None:
            continue
        norm = _normalised_line(line)
        invoice_items.setdefault(uid, []).append(
            PersistedItem(uid, ItemType.INVOICE_LINE, norm.service_period, line=norm)
        )
    for group in state.groups.values():
        ref = group.subscription
        if group.deleted or ref is None or ref.subscription_id != subscription_id:
            continue
        children = tuple(sorted(children_by_group.get(group.id, ()), key=lambda ln: ln.service_period.start))
        invoice_items.setdefault(group.unique_reference_id, []).append(
            PersistedItem(
                group.unique_reference_id,
                ItemType.SPLIT_LINE_GROUP,
                group.service_period.floor(),
                group=group,
                children=children,
            )
        )
    by_id: dict[str, PersistedItem] = {}
    for uid in sorted(invoice_items):
        found = invoice_items[uid]
        if len(found) > 1:
            raise SyncError(
                f"duplicate unique id in persisted invoice items [unique_id={uid}, "
                f"existing_type={found[0].type.value}, duplicate_type={found[1].type.value}]"
            )
        by_id[uid] = found[0]
    if not charges_enabled:
        return by_id
    charges: dict[str, PersistedItem] = {}
    for charge in state.charges.values():
        if charge.is_deleted or charge.subscription.subscription_id != subscription_id:
            continue
        uid = charge.unique_reference_id
        if uid in charges:
            raise SyncError("duplicate unique ids in the existing charges")
        item_type = ItemType.CHARGE_FLAT_FEE if charge.type is ChargeType.FLAT_FEE else ItemType.CHARGE_USAGE_BASED
        charges[uid] = PersistedItem(uid, item_type, charge.service_period, charge=charge)
    for uid in sorted(charges):
        if uid in by_id:
            raise SyncError(DUPLICATE_ACROSS.format(id=uid))
        by_id[uid] = charges[uid]
    return by_id


__all__ = [
    "DRAFT",
    "DUPLICATE_ACROSS",
    "GATHERING",
    "Charge",
    "ChargeStatus",
    "ChargeType",
    "CustomerState",
    "EngineState",
    "Invoice",
    "InvoiceLine",
    "ItemType",
    "LineEngine",
    "PersistedItem",
    "Realization",
    "RealizationRun",
    "SplitLineGroup",
    "SubscriptionRef",
    "SyncError",
    "Workspace",
    "empty_state",
    "line_amount",
    "load_for_subscription",
    "meta_status",
    "object_id",
]
