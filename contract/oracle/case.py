"""Oracle cases: read a case YAML (shared/oracle/FORMAT.md) into typed inputs and expectations.

A case is a subscription (:class:`SubscriptionSpec`: phases, items, versions with offsets), a
deployment config (:class:`~contract.model.domain.SyncConfig`) and steps (:data:`Step`), each
optionally with an :class:`~contract.compare.expectation.Expectation`. Every problem is one
:class:`~contract.errors.InputError` reading ``file:line: field: reason``.

Item versions keep their offsets from the phase start; :meth:`SubscriptionSpec.build` turns
them into absolute times for a given ``activeTo`` (the engine clips them to the phase, as
upstream does), so a cancel or a continue only changes ``activeTo``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from contract.compare.expectation import Expectation
from contract.errors import InputError
from contract.limits import MAX_CASE_BYTES, decode_utf8, missing, read_input
from contract.model.domain import (
    EndProrationMode,
    ItemVersion,
    PaymentTerm,
    Phase,
    Price,
    PriceType,
    RateCard,
    SettlementMode,
    Subscription,
    SyncConfig,
    Tier,
)
from contract.model.time import Duration, add
from contract.oracle.expect import parse_expect
from contract.yamlread import Located, parse_yaml

CASE_KEYS = ("id", "source", "note", "config", "subscription", "steps")
CONFIG_KEYS = ("credits_enabled", "credit_then_invoice", "subscription_end_proration")
SUBSCRIPTION_KEYS = (
    "id",
    "customer_id",
    "currency",
    "active_from",
    "active_to",
    "billing_anchor",
    "billing_cadence",
    "pro_rating",
    "settlement_mode",
    "phases",
)
PHASE_KEYS = ("key", "start_after", "items")
ITEM_KEYS = ("key", "rate_card", "versions")
VERSION_KEYS = ("start_after", "end_after", "rate_card")
RATE_CARD_KEYS = ("name", "feature_key", "price", "billing_cadence")
PRICE_KEYS = ("type", "amount", "payment_term", "mode", "tiers")
TIER_KEYS = ("up_to", "flat_amount", "unit_amount")
STEP_KINDS = ("generate", "sync", "cancel", "update", "invoice")

DEFAULT_CUSTOMER = "C"


@dataclass(frozen=True, slots=True)
class VersionSpec:
    rate_card: RateCard
    start_after: Duration | None = None  # from the phase start; None: the phase start
    end_after: Duration | None = None  # from the phase start; None: open (the phase end)


@dataclass(frozen=True, slots=True)
class ItemSpec:
    key: str
    versions: tuple[VersionSpec, ...]


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    key: str
    start_after: Duration
    items: tuple[ItemSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    id: str
    customer_id: str
    currency: str
    active_from: datetime
    billing_anchor: datetime
    billing_cadence: Duration | None
    phases: tuple[PhaseSpec, ...]
    active_to: datetime | None = None
    pro_rating: bool = True
    settlement_mode: SettlementMode = SettlementMode.CREDIT_THEN_INVOICE

    def with_active_to(self, active_to: datetime | None) -> SubscriptionSpec:
        return replace(self, active_to=active_to)

    def build(self) -> Subscription:
        """The engine's :class:`~contract.model.domain.Subscription` (ids derived from keys)."""
        phases = []
        for phase in self.phases:
            start = add(self.active_from, phase.start_after)
            items: dict[str, tuple[ItemVersion, ...]] = {}
            for item in phase.items:
                versions = []
                for n, v in enumerate(item.versions):
                    v_from = add(start, v.start_after) if v.start_after is not None else start
                    v_to = add(start, v.end_after) if v.end_after is not None else None
                    versions.append(
                        ItemVersion(
                            key=item.key,
                            active_from=v_from,
                            active_to=v_to,
                            rate_card=v.rate_card,
                            id=f"{self.id}-{phase.key}-{item.key}-v{n}",
                        )
                    )
                items[item.key] = tuple(versions)
            phases.append(Phase(key=phase.key, start_after=phase.start_after, items=items, id=f"{self.id}-{phase.key}"))
        return Subscription(
            id=self.id,
            customer_id=self.customer_id,
            currency=self.currency,
            active_from=self.active_from,
            billing_anchor=self.billing_anchor,
            billing_cadence=self.billing_cadence,
            phases=tuple(phases),
            active_to=self.active_to,
            pro_rating=self.pro_rating,
            settlement_mode=self.settlement_mode,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StepBase:
    index: int  # 0-based position in ``steps``
    line: int
    expect: Expectation | None = None

    kind = ""

    @property
    def label(self) -> str:
        return f"step {self.index + 1} ({self.kind})"


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerateStep(StepBase):
    """Phase-iterator level: every target of ``phase`` whose invoice_at <= ``until`` (widened)."""

    phase: str
    until: datetime
    kind = "generate"


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncStep(StepBase):
    as_of: datetime
    config: SyncConfig | None = None  # this step's config (the case config with overrides), if overridden
    kind = "sync"


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelStep(StepBase):
    at: datetime
    timing: str | datetime  # "immediate", "next_billing_cycle" or a custom instant
    kind = "cancel"


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateStep(StepBase):
    subscription: SubscriptionSpec
    kind = "update"


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceStep(StepBase):
    at: datetime
    as_of: datetime | None = None
    progressive: bool = False
    kind = "invoice"


Step = GenerateStep | SyncStep | CancelStep | UpdateStep | InvoiceStep


@dataclass(frozen=True, slots=True)
class OracleCase:
    id: str
    source: str
    note: str
    config: SyncConfig
    subscription: SubscriptionSpec
    steps: tuple[Step, ...]
    file: str = field(default="")


# --------------------------------------------------------------------------------------------
# Parsing


def _config(node: Located, base: SyncConfig) -> SyncConfig:
    f = node.mapping(CONFIG_KEYS)
    cfg = base
    if "credits_enabled" in f:
        cfg = replace(cfg, credits_enabled=f["credits_enabled"].boolean())
    if "credit_then_invoice" in f:
        cfg = replace(cfg, credit_then_invoice=f["credit_then_invoice"].boolean())
    if "subscription_end_proration" in f:
        text = f["subscription_end_proration"].text()
        try:
            cfg = replace(cfg, end_proration=EndProrationMode(text))
        except ValueError:
            raise f["subscription_end_proration"].error(
                f"unknown mode {text!r} (bill_actual_period or bill_full_period)"
            ) from None
    return cfg


def _opt_decimal(fields: dict[str, Located], key: str) -> Decimal | None:
    node = fields.get(key)
    return None if node is None or node.is_null else node.decimal(negative=False)


def _price(node: Located) -> Price | None:
    if node.is_null:
        return None
    f = node.mapping(PRICE_KEYS, required=("type",))
    type_text = f["type"].text()
    try:
        ptype = PriceType(type_text)
    except ValueError:
        valid = ", ".join(t.value for t in PriceType)
        raise f["type"].error(f"unknown price type {type_text!r} (valid: {valid})") from None
    if ptype in (PriceType.FLAT, PriceType.UNIT) and "amount" not in f:
        raise node.error(f"a {ptype.value} price needs an amount")
    amount = f["amount"].decimal(negative=False) if "amount" in f else Decimal(0)
    term = PaymentTerm.IN_ADVANCE if ptype is PriceType.FLAT else PaymentTerm.IN_ARREARS
    if "payment_term" in f:
        text = f["payment_term"].text()
        try:
            term = PaymentTerm(text)
        except ValueError:
            raise f["payment_term"].error(f"unknown payment term {text!r} (in_advance or in_arrears)") from None
        if ptype is not PriceType.FLAT and term is PaymentTerm.IN_ADVANCE:
            raise f["payment_term"].error("usage prices are always in arrears")
    tiers: tuple[Tier, ...] = ()
    if "tiers" in f:
        parsed = []
        for t in f["tiers"].seq():
            tf = t.mapping(TIER_KEYS)
            parsed.append(
                Tier(
                    up_to=_opt_decimal(tf, "up_to"),
                    flat_amount=_opt_decimal(tf, "flat_amount"),
                    unit_amount=_opt_decimal(tf, "unit_amount"),
                )
            )
        tiers = tuple(parsed)
    mode = f["mode"].text() if "mode" in f else None
    return Price(ptype, amount, term, mode, tiers)


def _rate_card(node: Located) -> RateCard:
    f = node.mapping(RATE_CARD_KEYS, required=("price",))
    price = _price(f["price"])
    cadence = None
    if "billing_cadence" in f and not f["billing_cadence"].is_null:
        cadence = f["billing_cadence"].duration()
        if cadence.approx_seconds() <= 0:
            raise f["billing_cadence"].error("a billing cadence must be positive")
    if price is not None and not price.is_flat and cadence is None:
        raise node.error("usage-priced rate cards need a billing_cadence")
    return RateCard(
        name=f["name"].text() if "name" in f else "",
        feature_key=f["feature_key"].text() if "feature_key" in f else None,
        price=price,
        billing_cadence=cadence,
    )


def _item(node: Located) -> ItemSpec:
    f = node.mapping(ITEM_KEYS, required=("key",))
    key = f["key"].text()
    if ("rate_card" in f) == ("versions" in f):
        raise node.error("an item needs either rate_card or versions (not both)")
    if "rate_card" in f:
        return ItemSpec(key, (VersionSpec(_rate_card(f["rate_card"])),))
    versions = []
    for v in f["versions"].seq():
        vf = v.mapping(VERSION_KEYS, required=("rate_card",))
        start = vf["start_after"].duration() if "start_after" in vf else None
        end = vf["end_after"].duration() if "end_after" in vf else None
        if start is not None and end is not None and end.approx_seconds() < start.approx_seconds():
            raise vf["end_after"].error("end_after is before start_after")
        versions.append(VersionSpec(_rate_card(vf["rate_card"]), start, end))
    if not versions:
        raise f["versions"].error("an item needs at least one version")
    return ItemSpec(key, tuple(versions))


def _phase(node: Located) -> PhaseSpec:
    f = node.mapping(PHASE_KEYS, required=("key",))
    items = []
    seen: set[str] = set()
    if "items" in f and not f["items"].is_null:
        for n in f["items"].seq():
            item = _item(n)
            if item.key in seen:
                raise n.error(f"item key {item.key!r} is listed twice in the phase")
            seen.add(item.key)
            items.append(item)
    start = f["start_after"].duration() if "start_after" in f else Duration()
    return PhaseSpec(f["key"].text(), start, tuple(items))


def parse_subscription(node: Located) -> SubscriptionSpec:
    f = node.mapping(SUBSCRIPTION_KEYS, required=("id", "active_from", "billing_cadence", "phases"))
    active_from = f["active_from"].time()
    active_to = None if "active_to" not in f or f["active_to"].is_null else f["active_to"].time()
    if active_to is not None and active_to < active_from:
        raise f["active_to"].error("active_to is before active_from")
    anchor = f["billing_anchor"].time() if "billing_anchor" in f and not f["billing_anchor"].is_null else active_from
    cadence = None if f["billing_cadence"].is_null else f["billing_cadence"].duration()
    if cadence is not None and cadence.approx_seconds() <= 0:
        raise f["billing_cadence"].error("a billing cadence must be positive")
    mode = SettlementMode.CREDIT_THEN_INVOICE
    if "settlement_mode" in f:
        text = f["settlement_mode"].text()
        try:
            mode = SettlementMode(text)
        except ValueError:
            raise f["settlement_mode"].error(
                f"unknown settlement mode {text!r} (credit_then_invoice or credit_only)"
            ) from None
    phases = []
    seen: set[str] = set()
    for n in f["phases"].seq():
        phase = _phase(n)
        if phase.key in seen:
            raise n.error(f"phase key {phase.key!r} is listed twice")
        seen.add(phase.key)
        phases.append(phase)
    if not phases:
        raise f["phases"].error("a subscription needs at least one phase")
    spec = SubscriptionSpec(
        id=f["id"].text(),
        customer_id=f["customer_id"].text() if "customer_id" in f else DEFAULT_CUSTOMER,
        currency=f["currency"].text().upper() if "currency" in f else "USD",
        active_from=active_from,
        billing_anchor=anchor,
        billing_cadence=cadence,
        phases=tuple(phases),
        active_to=active_to,
        pro_rating=f["pro_rating"].boolean() if "pro_rating" in f else True,
        settlement_mode=mode,
    )
    try:
        spec.build()
    except ValueError as err:
        raise node.error(str(err)) from None
    return spec


def _step(node: Located, index: int, case_config: SyncConfig, sub: SubscriptionSpec) -> Step:
    f = node.mapping((*STEP_KINDS, "expect"))
    kinds = [k for k in STEP_KINDS if k in f]
    if len(kinds) != 1:
        raise node.error(f"a step needs exactly one of {', '.join(STEP_KINDS)}")
    kind = kinds[0]
    body = f[kind]
    expect = parse_expect(f["expect"]) if "expect" in f and not f["expect"].is_null else None
    line = node.line
    if kind == "generate":
        g = body.mapping(("phase", "until"), required=("phase", "until"))
        phase = g["phase"].text()
        if phase not in {p.key for p in sub.phases}:
            raise g["phase"].error(f"no phase {phase!r} in the subscription")
        return GenerateStep(phase=phase, until=g["until"].time(), index=index, line=line, expect=expect)
    if kind == "sync":
        s = body.mapping(("as_of", "config"), required=("as_of",))
        cfg = _config(s["config"], case_config) if "config" in s else None
        return SyncStep(as_of=s["as_of"].time(), config=cfg, index=index, line=line, expect=expect)
    if kind == "cancel":
        if expect is not None:
            raise f["expect"].error("cancel steps do not sync; put the expectation on the next sync step")
        c = body.mapping(("at", "timing"), required=("at",))
        timing: str | datetime = "immediate"
        if "timing" in c:
            raw = c["timing"].value
            timing = raw if isinstance(raw, str) and raw in ("immediate", "next_billing_cycle") else c["timing"].time()
        return CancelStep(at=c["at"].time(), timing=timing, index=index, line=line, expect=expect)
    if kind == "update":
        if expect is not None:
            raise f["expect"].error("update steps do not sync; put the expectation on the next sync step")
        u = body.mapping(("subscription",), required=("subscription",))
        return UpdateStep(subscription=parse_subscription(u["subscription"]), index=index, line=line, expect=expect)
    i = body.mapping(("at", "as_of", "progressive"), required=("at",))
    return InvoiceStep(
        at=i["at"].time(),
        as_of=i["as_of"].time() if "as_of" in i and not i["as_of"].is_null else None,
        progressive=i["progressive"].boolean() if "progressive" in i else False,
        index=index,
        line=line,
        expect=expect,
    )


def parse_case(root: Located) -> OracleCase:
    f = root.mapping(CASE_KEYS, required=("id", "subscription", "steps"))
    config = _config(f["config"], SyncConfig()) if "config" in f and not f["config"].is_null else SyncConfig()
    sub = parse_subscription(f["subscription"])
    steps_node = f["steps"]
    steps = tuple(_step(n, i, config, sub) for i, n in enumerate(steps_node.seq()))
    if not steps:
        raise steps_node.error("a case needs at least one step")
    return OracleCase(
        id=f["id"].text(),
        source=f["source"].text() if "source" in f else "",
        note=f["note"].text() if "note" in f else "",
        config=config,
        subscription=sub,
        steps=steps,
        file=root.file,
    )


def load_case(path: str | Path) -> OracleCase:
    """Read one case file; every problem is an :class:`InputError` (``file:line: field: reason``)."""
    p = Path(path)
    text = decode_utf8(read_input(p, limit=MAX_CASE_BYTES, what="case file"), str(p))
    return parse_case(parse_yaml(text, str(p)))


def case_paths(paths: list[str | Path]) -> list[Path]:
    """Files as given plus every ``*.yaml``/``*.yml`` in given folders (sorted), in order."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
            if not found:
                raise InputError("no *.yaml case files in this folder", file=str(p))
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise InputError(missing(p), file=str(p))
    return out


def load_cases(paths: list[str | Path]) -> list[OracleCase]:
    """Load every case under ``paths``; duplicate case ids are an error."""
    cases: list[OracleCase] = []
    seen: dict[str, str] = {}
    for p in case_paths(paths):
        case = load_case(p)
        if case.id in seen and seen[case.id] != str(p):
            raise InputError(f"case id {case.id!r} also used by {seen[case.id]}", file=str(p), field="id")
        seen[case.id] = str(p)
        cases.append(case)
    return cases


__all__ = [
    "CancelStep",
    "GenerateStep",
    "InvoiceStep",
    "ItemSpec",
    "OracleCase",
    "PhaseSpec",
    "Step",
    "SubscriptionSpec",
    "SyncStep",
    "UpdateStep",
    "VersionSpec",
    "case_paths",
    "load_case",
    "load_cases",
    "parse_case",
    "parse_subscription",
]
