"""Scenario YAML -> typed :class:`~contract.scenario.model.Scenario`, with one-line errors.

Every problem in a scenario file is an :class:`~contract.errors.InputError` whose text reads
``file:line: field: reason``: the line of the offending YAML node (taken from the composed node
tree, so it points at the key or value that is wrong) and the dotted field path
(``steps[3].cancel.timing``). The loader never returns a half-built scenario.

Public entry points: :func:`load_scenario`, :func:`load_scenarios`, :func:`select`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from contract.errors import InputError
from contract.limits import (
    MAX_NESTING,
    MAX_SCENARIO_BYTES,
    decimal_problem,
    decode_utf8,
    duration_problem,
    missing,
    read_input,
)
from contract.model.domain import EndProrationMode, PaymentTerm, SettlementMode
from contract.model.time import Duration, cadences_align
from contract.oracle.expect import parse_expect
from contract.oracle.located import from_node
from contract.scenario.model import (
    DEFAULT_WAIT_MAX,
    EXPECT_KEYS,
    IMMEDIATE,
    KEY_PATTERN,
    MAX_LOGICAL_KEY_LENGTH,
    STEP_KINDS,
    Aggregation,
    CancelStep,
    ChangePlanStep,
    ContinueStep,
    CustomerSpec,
    EditStep,
    Expectation,
    FeatureSpec,
    GrantSpec,
    IngestStep,
    InvoiceStep,
    MeterSpec,
    PhaseSpec,
    PlanSpec,
    PriceKind,
    PriceSpec,
    Profile,
    RateCardSpec,
    Refusal,
    Requires,
    RestoreStep,
    ResyncStep,
    Scenario,
    Setup,
    Step,
    SubscribeStep,
    TierSpec,
    Timing,
    TimingKind,
    WaitStep,
)
from contract.scenario.timeexpr import NOW, TimeBase, TimeExpr, TimeExprError, parse_time_expr
from contract.yamlbounds import compose as bounded_compose

#: Plan billing cadences OpenMeter accepts (``plan_billing_cadence_invalid`` otherwise).
PLAN_CADENCES: tuple[str, ...] = ("P1W", "P2W", "P4W", "P1M", "P3M", "P6M", "P12M", "P1Y")
#: The longest a ``wait`` step may be allowed to wait (its ``max``).
MAX_WAIT = Duration(minutes=30)
MAX_EVENTS_PER_STEP = 1000

_T = "tag:yaml.org,2002:"
_TYPE_NAMES = {
    _T + "map": "a mapping",
    _T + "seq": "a list",
    _T + "str": "a string",
    _T + "int": "an integer",
    _T + "float": "a number",
    _T + "bool": "a boolean",
    _T + "null": "null",
    _T + "timestamp": "a timestamp",
}
_NUMERIC = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_ISSUE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+#[0-9]+$")
_SCALARS = yaml.constructor.SafeConstructor()
_QUOTE = 'write decimals as quoted strings: "{raw}", not {raw} (YAML numbers lose precision)'


# --------------------------------------------------------------------------- node access


class _N:
    """A YAML node with its file and dotted field path; every accessor fails with InputError."""

    __slots__ = ("file", "node", "path")

    def __init__(self, node: yaml.Node, path: str, file: str) -> None:
        self.node = node
        self.path = path
        self.file = file

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def error(self, reason: str, path: str | None = None) -> InputError:
        where = path if path is not None else self.path
        return InputError(reason, file=self.file, line=self.line, field=where or None)

    def sub(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    @property
    def tag(self) -> str:
        return str(self.node.tag)

    @property
    def is_null(self) -> bool:
        return self.tag == _T + "null"

    def kind_name(self) -> str:
        return _TYPE_NAMES.get(self.tag, f"a value tagged {self.tag}")

    def _expect(self, what: str) -> InputError:
        return self.error(f"expected {what}, got {self.kind_name()}")

    # -- containers

    def mapping(self, allowed: Sequence[str], required: Sequence[str] = (), what: str = "key") -> dict[str, _N]:
        """The mapping's values by key; unknown, duplicate and missing keys are errors."""
        if self.is_null:
            node = yaml.MappingNode(_T + "map", [], start_mark=self.node.start_mark)
            return _N(node, self.path, self.file).mapping(allowed, required, what)
        if not isinstance(self.node, yaml.MappingNode):
            raise self._expect("a mapping")
        out: dict[str, _N] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in self.node.value:
            key = _N(key_node, self.path, self.file)
            if not isinstance(key_node, yaml.ScalarNode) or key.tag != _T + "str":
                raise key.error(f"keys must be strings, got {key.kind_name()}")
            name = str(key_node.value)
            if name in out:
                raise key.error(f"duplicate key (first at line {first_line[name]})", self.sub(name))
            if name not in allowed:
                raise key.error(_unknown(what, name, allowed), self.sub(name))
            out[name] = _N(value_node, self.sub(name), self.file)
            first_line[name] = key.line
        for name in required:
            if name not in out:
                raise self.error("required field missing", self.sub(name))
        return out

    def seq(self) -> list[_N]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise self._expect("a list")
        return [_N(n, f"{self.path}[{i}]", self.file) for i, n in enumerate(self.node.value)]

    # -- scalars

    def _scalar(self, tags: Iterable[str], what: str) -> str:
        if not isinstance(self.node, yaml.ScalarNode) or self.tag not in {_T + t for t in tags}:
            raise self._expect(what)
        return str(self.node.value)

    def text(self) -> str:
        value = self._scalar(("str",), "a string")
        if not value.strip():
            raise self.error("must not be empty")
        return value

    def boolean(self) -> bool:
        self._scalar(("bool",), "true or false")
        assert isinstance(self.node, yaml.ScalarNode)
        return bool(_SCALARS.construct_yaml_bool(self.node))

    def integer(self) -> int:
        self._scalar(("int",), "an integer")
        assert isinstance(self.node, yaml.ScalarNode)
        return int(_SCALARS.construct_yaml_int(self.node))

    def decimal(self, *, positive: bool = False) -> Decimal:
        """A decimal written as a quoted string; YAML numbers are refused (they lose precision)."""
        if isinstance(self.node, yaml.ScalarNode) and self.tag in (_T + "int", _T + "float"):
            raw = str(self.node.value)
            raise self.error(_QUOTE.format(raw=raw))
        value = self._scalar(("str",), 'a quoted decimal string (e.g. "0.10")')
        if not _NUMERIC.match(value):
            raise self.error(f'not a decimal number: {value!r} (write digits, e.g. "10" or "0.10")')
        if (problem := decimal_problem(value)) is not None:
            raise self.error(problem)
        number = Decimal(value)
        if number < 0:
            raise self.error(f"must not be negative, got {value}")
        if positive and number == 0:
            raise self.error("must be greater than zero")
        return number

    def duration(self, *, positive: bool = True) -> Duration:
        value = self._scalar(("str",), "an ISO-8601 duration (e.g. P1M)")
        try:
            d = Duration.parse(value)
        except ValueError:
            raise self.error(f"not an ISO-8601 duration: {value!r} (e.g. P1M, P1W, PT30S)") from None
        negative = any(
            v < 0 for v in (d.years, d.months, d.weeks, d.days, d.hours, d.minutes, d.seconds, d.microseconds)
        )
        if negative or (positive and d.is_zero):
            raise self.error(
                f"must be a positive duration, got {value}" if positive else f"must not be negative, got {value}"
            )
        problem = duration_problem(value, d)
        if problem is not None:
            raise self.error(problem)
        return d

    def time(self) -> TimeExpr:
        value = self._scalar(("str", "timestamp"), "a time expression (e.g. now, now-P1W+PT30S)")
        try:
            return parse_time_expr(value)
        except TimeExprError as err:
            raise self.error(str(err)) from None

    def choice(self, options: Sequence[str], what: str) -> str:
        value = self._scalar(("str",), f"one of {', '.join(options)}")
        if value not in options:
            raise self.error(_unknown(what, value, options))
        return value

    def key(self) -> str:
        """A logical key: OpenMeter's key pattern, short enough for the run suffix."""
        value = self._scalar(("str",), "a key (e.g. api_calls)")
        if not KEY_PATTERN.match(value):
            raise self.error(
                f"key {value!r} must match {KEY_PATTERN.pattern} (lowercase letters and digits, single underscores)"
            )
        if len(value) > MAX_LOGICAL_KEY_LENGTH:
            raise self.error(
                f"key {value!r} has {len(value)} characters; at most {MAX_LOGICAL_KEY_LENGTH} "
                "(the run id is appended to make it unique)"
            )
        return value


def _unknown(what: str, name: str, allowed: Sequence[str]) -> str:
    if not allowed:
        return f"unknown {what} {name!r} (none are allowed)"
    return f"unknown {what} {name!r}{_hint(name, allowed)} (allowed: {', '.join(allowed)})"


def _hint(name: str, known: Iterable[str]) -> str:
    names = list(known)
    same_case = [k for k in names if k.lower() == name.lower()]
    close = same_case or difflib.get_close_matches(name, names, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _opt(m: dict[str, _N], key: str) -> _N | None:
    """The value at ``key`` unless absent or null."""
    n = m.get(key)
    return None if n is None or n.is_null else n


def _opt_text(m: dict[str, _N], key: str) -> str | None:
    n = _opt(m, key)
    return n.text() if n is not None else None


# --------------------------------------------------------------------------- setup parsing


_TOP_KEYS = (
    "id",
    "title",
    "provenance",
    "description",
    "technique",
    "requires",
    "known_issues",
    "profile",
    "setup",
    "steps",
)
_TOP_REQUIRED = ("id", "title", "provenance", "description", "setup", "steps")


def _currency(n: _N) -> str:
    value = n._scalar(("str",), "a currency code (e.g. USD)")
    if not _CURRENCY.match(value):
        raise n.error(f"currency {value!r} must be a 3-letter ISO 4217 code in capitals (e.g. USD)")
    return value


def _features(n: _N | None) -> tuple[FeatureSpec, ...]:
    if n is None:
        return ()
    out: list[FeatureSpec] = []
    seen: dict[str, int] = {}
    for item in n.seq():
        m = item.mapping(("key", "name", "meter"), ("key", "meter"))
        key = m["key"].key()
        if key in seen:
            raise m["key"].error(f"duplicate feature key {key!r} (first at line {seen[key]})")
        seen[key] = m["key"].line
        mm = m["meter"].mapping(("aggregation", "value_property"), ("aggregation",))
        aggregation = Aggregation(mm["aggregation"].choice([a.value for a in Aggregation], "aggregation"))
        value_property = _opt_text(mm, "value_property")
        if value_property is None and aggregation is not Aggregation.COUNT:
            raise m["meter"].error(
                f'value_property is required for aggregation {aggregation.value} (e.g. "$.value")',
                m["meter"].sub("value_property"),
            )
        out.append(FeatureSpec(key, _opt_text(m, "name") or key, MeterSpec(aggregation, value_property)))
    return tuple(out)


def _customer(n: _N) -> CustomerSpec:
    m = n.mapping(("currency", "name"), ("currency",))
    return CustomerSpec(currency=_currency(m["currency"]), name=_opt_text(m, "name"))


def _grants(n: _N | None, customer: CustomerSpec, requires: Requires) -> tuple[GrantSpec, ...]:
    if n is None:
        return ()
    out: list[GrantSpec] = []
    for item in n.seq():
        if not requires.credits:
            raise item.error(
                "credit grants need requires.credits: true (without credits OpenMeter wires "
                "the grant endpoints to no-op services)"
            )
        m = item.mapping(("amount", "currency", "name", "priority"), ("amount",))
        priority = _opt(m, "priority")
        prio = priority.integer() if priority is not None else None
        if prio is not None and prio < 1:
            raise m["priority"].error(f"must be at least 1, got {prio}")
        currency = _opt(m, "currency")
        out.append(
            GrantSpec(
                amount=m["amount"].decimal(positive=True),
                currency=_currency(currency) if currency is not None else customer.currency,
                name=_opt_text(m, "name"),
                priority=prio,
            )
        )
    return tuple(out)


_PRICE_KEYS: dict[PriceKind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    PriceKind.FLAT: (("type", "amount", "payment_term"), ("amount",)),
    PriceKind.UNIT: (("type", "amount", "payment_term"), ("amount",)),
    PriceKind.GRADUATED: (("type", "tiers", "payment_term"), ("tiers",)),
    PriceKind.VOLUME: (("type", "tiers", "payment_term"), ("tiers",)),
}


def _price(n: _N) -> PriceSpec:
    if not isinstance(n.node, yaml.MappingNode):
        raise n.error(f"expected a mapping (or null for an unpriced rate card), got {n.kind_name()}")
    type_node = next(
        (_N(v, n.sub("type"), n.file) for k, v in n.node.value if isinstance(k, yaml.ScalarNode) and k.value == "type"),
        None,
    )
    if type_node is None:
        raise n.error("required field missing", n.sub("type"))
    kind = PriceKind(type_node.choice([k.value for k in PriceKind], "price type"))
    allowed, required = _PRICE_KEYS[kind]
    m = n.mapping(allowed, required, what=f"key for a {kind.value} price")
    term_node = _opt(m, "payment_term")
    if kind is PriceKind.FLAT:
        term = (
            PaymentTerm(term_node.choice([t.value for t in PaymentTerm], "payment term"))
            if term_node is not None
            else PaymentTerm.IN_ADVANCE
        )
    else:
        term = PaymentTerm.IN_ARREARS
        terms = [t.value for t in PaymentTerm]
        if term_node is not None and term_node.choice(terms, "payment term") != "in_arrears":
            raise term_node.error(f"{kind.value} prices are always in arrears")
    if "amount" in m:
        return PriceSpec(kind, amount=m["amount"].decimal(), payment_term=term)
    return PriceSpec(kind, payment_term=term, tiers=_tiers(m["tiers"]))


def _tiers(n: _N) -> tuple[TierSpec, ...]:
    items = n.seq()
    if not items:
        raise n.error("a tiered price needs at least one tier")
    out: list[TierSpec] = []
    previous: Decimal | None = None
    for i, item in enumerate(items):
        m = item.mapping(("up_to", "unit_amount", "flat_amount"))
        last = i == len(items) - 1
        up_node = _opt(m, "up_to")
        up_to = up_node.decimal(positive=True) if up_node is not None else None
        if up_to is None and not last:
            raise item.error("every tier but the last needs up_to", item.sub("up_to"))
        if up_to is not None and last:
            raise (up_node or item).error("the last tier must not have up_to (it is open-ended)")
        if up_to is not None and previous is not None and up_to <= previous:
            raise (up_node or item).error(f"up_to must increase from tier to tier ({up_to} <= {previous})")
        previous = up_to if up_to is not None else previous
        unit = _opt(m, "unit_amount")
        flat = _opt(m, "flat_amount")
        if unit is None and flat is None:
            raise item.error("a tier needs unit_amount, flat_amount or both")
        out.append(
            TierSpec(
                up_to=up_to,
                unit_amount=unit.decimal() if unit is not None else None,
                flat_amount=flat.decimal() if flat is not None else None,
            )
        )
    return tuple(out)


def _rate_card(n: _N, features: dict[str, FeatureSpec], plan_cadence: Duration, plan_cadence_text: str) -> RateCardSpec:
    m = n.mapping(("key", "name", "feature", "billing_cadence", "price"))
    feature_node = _opt(m, "feature")
    feature: str | None = None
    if feature_node is not None:
        feature = feature_node.key()
        if feature not in features:
            raise feature_node.error(_missing_ref("feature", feature, features))
    key_node = _opt(m, "key")
    if key_node is None:
        if feature is None:
            raise n.error("required field missing (a rate card without a feature needs a key)", n.sub("key"))
        key = feature
    else:
        key = key_node.key()
        if feature is not None and key != feature:
            raise key_node.error(
                f"a rate card with a feature must use the feature's key: key {key!r} != "
                f"feature {feature!r} (OpenMeter: rate_card_key_feature_key_mismatch)"
            )
        if feature is None and key in features:
            raise key_node.error(f"{key!r} is a feature key: reference it with feature: {key}")
    price_node = _opt(m, "price")
    price = _price(price_node) if price_node is not None else None
    cadence_node = _opt(m, "billing_cadence")
    cadence: Duration | None = None
    if cadence_node is not None:
        cadence = cadence_node.duration()
        if not cadences_align(plan_cadence, cadence):
            raise cadence_node.error(
                f"rate-card billing cadence {cadence_node.node.value} is not aligned with the plan's billing "
                f"cadence {plan_cadence_text} (it must equal, divide or be a multiple of it)"
            )
    if price is not None and price.kind.is_usage:
        if feature is None:
            raise n.error(f"a {price.kind.value} (usage) price needs a feature", n.sub("feature"))
        if cadence is None:
            raise n.error(
                f"a {price.kind.value} (usage) price needs a billing_cadence (only flat prices may be one-time)",
                n.sub("billing_cadence"),
            )
    return RateCardSpec(
        key=key, name=_opt_text(m, "name") or key, feature=feature, billing_cadence=cadence, price=price
    )


def _missing_ref(what: str, name: str, defined: Iterable[str]) -> str:
    names = list(defined)
    return f"unknown {what} {name!r}{_hint(name, names)} (defined: {', '.join(names) or 'none'})"


_PLAN_KEYS = ("key", "name", "currency", "billing_cadence", "pro_rating", "settlement_mode", "phases")


def _plans(n: _N, features: dict[str, FeatureSpec], customer: CustomerSpec) -> tuple[PlanSpec, ...]:
    items = n.seq()
    if not items:
        raise n.error("at least one plan is required")
    out: list[PlanSpec] = []
    seen: dict[str, int] = {}
    for item in items:
        m = item.mapping(_PLAN_KEYS, ("key", "currency", "billing_cadence", "phases"))
        key = m["key"].key()
        if key in seen:
            raise m["key"].error(f"duplicate plan key {key!r} (first at line {seen[key]})")
        seen[key] = m["key"].line
        currency = _currency(m["currency"])
        if currency != customer.currency:
            raise m["currency"].error(f"plan currency {currency} differs from the customer's {customer.currency}")
        cadence_node = m["billing_cadence"]
        cadence = cadence_node.duration()
        cadence_text = str(cadence_node.node.value)
        if cadence not in {Duration.parse(c) for c in PLAN_CADENCES}:
            raise cadence_node.error(
                f"plan billing cadence {cadence_text} is not one OpenMeter accepts "
                f"(allowed: {', '.join(PLAN_CADENCES)})"
            )
        pro_rating = m["pro_rating"].boolean() if _opt(m, "pro_rating") is not None else True
        mode_node = _opt(m, "settlement_mode")
        mode = (
            SettlementMode(mode_node.choice([s.value for s in SettlementMode], "settlement mode"))
            if mode_node is not None
            else None
        )
        phases = _phases(m["phases"], features, cadence, cadence_text)
        out.append(
            PlanSpec(
                key=key,
                name=_opt_text(m, "name") or key,
                currency=currency,
                billing_cadence=cadence,
                phases=phases,
                pro_rating=pro_rating,
                settlement_mode=mode,
            )
        )
    return tuple(out)


def _phases(n: _N, features: dict[str, FeatureSpec], cadence: Duration, cadence_text: str) -> tuple[PhaseSpec, ...]:
    items = n.seq()
    if not items:
        raise n.error("a plan needs at least one phase")
    out: list[PhaseSpec] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        m = item.mapping(("key", "name", "duration", "rate_cards"), ("key",))
        key = m["key"].key()
        if key in seen:
            raise m["key"].error(f"duplicate phase key {key!r} (first at line {seen[key]})")
        seen[key] = m["key"].line
        duration_node = _opt(m, "duration")
        if duration_node is None and i < len(items) - 1:
            raise item.error("only the last phase may be open-ended: set duration (e.g. P1M)", item.sub("duration"))
        duration = duration_node.duration() if duration_node is not None else None
        cards: list[RateCardSpec] = []
        card_lines: dict[str, int] = {}
        rc_node = _opt(m, "rate_cards")
        for rc_item in rc_node.seq() if rc_node is not None else []:
            rc = _rate_card(rc_item, features, cadence, cadence_text)
            if rc.key in card_lines:
                raise rc_item.error(
                    f"duplicate rate-card key {rc.key!r} in phase {key!r} (first at line {card_lines[rc.key]})"
                )
            card_lines[rc.key] = rc_item.line
            cards.append(rc)
        if not cards:  # OpenMeter refuses to publish such a plan: plan_phase_has_no_rate_cards (seen live)
            raise item.error(
                f"phase {key!r} has no rate cards; OpenMeter refuses to publish such a plan "
                "(plan_phase_has_no_rate_cards): give a free trial an unpriced item",
                item.sub("rate_cards"),
            )
        out.append(PhaseSpec(key=key, name=_opt_text(m, "name") or key, duration=duration, rate_cards=tuple(cards)))
    return tuple(out)


def _requires(n: _N | None) -> Requires:
    if n is None:
        return Requires()
    m = n.mapping(("credits", "credit_then_invoice"))
    credits = m["credits"].boolean() if _opt(m, "credits") is not None else True
    cti = m["credit_then_invoice"].boolean() if _opt(m, "credit_then_invoice") is not None else credits
    if cti and not credits:
        raise m.get("credit_then_invoice", n).error(
            "credit_then_invoice: true needs credits: true (lines become charges only when both are on)"
        )
    return Requires(credits=credits, credit_then_invoice=cti)


def _profile(n: _N | None) -> Profile:
    if n is None:
        return Profile()
    m = n.mapping(("progressive_billing", "end_proration"))
    progressive = _opt(m, "progressive_billing")
    proration = _opt(m, "end_proration")
    modes = [e.value for e in EndProrationMode]
    return Profile(
        progressive_billing=progressive.boolean() if progressive is not None else None,
        end_proration=(EndProrationMode(proration.choice(modes, "end proration")) if proration is not None else None),
    )


def _known_issues(n: _N | None) -> tuple[str, ...]:
    if n is None:
        return ()
    out: list[str] = []
    for item in n.seq():
        value = item.text()
        if not _ISSUE.match(value):
            raise item.error(f"known issue {value!r} must read owner/repo#number (e.g. openmeterio/openmeter#4412)")
        out.append(value)
    return tuple(out)


# --------------------------------------------------------------------------- expectations


def _expect(n: _N) -> tuple[Expectation | None, Refusal | None]:
    m = n.mapping(EXPECT_KEYS, what="expect key")
    if "refused" in m:
        others = [k for k in m if k != "refused"]
        if others:
            raise m[others[0]].error(
                f"a step that expects a refusal expects nothing else (remove {', '.join(others)})", n.path
            )
        r = m["refused"].mapping(("status", "code"), ("status",))
        status = r["status"].integer()
        if not 400 <= status <= 499:
            raise r["status"].error(f"a refusal is a 4xx HTTP status, got {status}")
        return None, Refusal(status=status, code=_opt_text(r, "code"))
    data = _plain(n)
    assert isinstance(data, dict)
    # Check the block now, with the oracle's parser, so a typo (``backend: chrage``) is named at its
    # own line before any step has created objects in OpenMeter. The runner parses it again once
    # the logical ids are replaced by the run's real ones.
    checked = {k: v for k, v in m.items() if k != "refused"}
    if checked:
        parse_expect(from_node(n.node, file=n.file, path=n.path))
    return Expectation(data=data, file=n.file, line=n.line, field=n.path), None


def _plain(n: _N) -> Any:
    """The node as ``yaml.safe_load`` would give it, except: floats are refused, timestamps stay text."""
    if isinstance(n.node, yaml.MappingNode):
        keys = n.mapping([str(k.value) for k, _ in n.node.value], what="key")
        return {k: _plain(v) for k, v in keys.items()}
    if isinstance(n.node, yaml.SequenceNode):
        return [_plain(item) for item in n.seq()]
    tag = n.tag
    if tag == _T + "float":
        raise n.error(
            f'write decimals as quoted strings: "{n.node.value}", not {n.node.value} (YAML numbers lose precision)'
        )
    if tag in (_T + "str", _T + "timestamp"):
        return str(n.node.value)
    if tag == _T + "int":
        return n.integer()
    if tag == _T + "bool":
        return n.boolean()
    if tag == _T + "null":
        return None
    raise n.error(f"unsupported YAML value ({n.kind_name()})")


# --------------------------------------------------------------------------- steps


_STEP_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "subscribe": (("plan", "billing_anchor", "timing", "settlement_mode"), ("plan",)),
    "ingest": (("feature", "events", "value", "values", "at"), ("feature",)),
    "cancel": (("timing",), ()),
    "edit": (("add", "remove", "phase", "timing"), ()),
    "change_plan": (("plan", "timing", "settlement_mode"), ("plan",)),
    "continue": ((), ()),
    "restore": ((), ()),
    "invoice": (("as_of", "progressive"), ()),
    "wait": (("until", "plus", "max"), ("until",)),
    "resync": (("force",), ()),
}
_STEP_CLASSES = (
    SubscribeStep,
    IngestStep,
    CancelStep,
    EditStep,
    ChangePlanStep,
    ContinueStep,
    RestoreStep,
    InvoiceStep,
    WaitStep,
    ResyncStep,
)
_UNREFUSABLE = {"wait": "a wait makes no request", "resync": "a resync runs the jobs command, not a request"}


@dataclass(slots=True)
class _Life:
    """What the loader knows of the subscription at a step (for reference and state checks)."""

    state: str = "none"  # none | active | canceled (end scheduled) | inactive (ended)
    plan: PlanSpec | None = None
    added: dict[str, RateCardSpec] = field(default_factory=dict)  # item key -> rate card added by edits
    replaced: _Life | None = None  # a plan change scheduled for later: the subscription it replaces

    def describe(self) -> str:
        return {
            "none": "there is no subscription yet",
            "active": "the subscription is active and not canceled",
            "canceled": "the subscription's cancel is scheduled",
            "inactive": "the subscription has ended",
        }[self.state]


def _timing(n: _N | None, allow_at: bool = True) -> Timing:
    if n is None:
        return IMMEDIATE
    value = n._scalar(("str", "timestamp"), "immediate, next_billing_cycle or a time expression")
    if value in (TimingKind.IMMEDIATE.value, TimingKind.NEXT_BILLING_CYCLE.value):
        return Timing(TimingKind(value))
    if not allow_at:
        raise n.error(
            f"bad timing {value!r}: edits take immediate or next_billing_cycle "
            "(OpenMeter rejects custom instants for edits)"
        )
    try:
        return Timing(TimingKind.AT, parse_time_expr(value))
    except TimeExprError as err:
        raise n.error(
            f"bad timing {value!r}: expected immediate, next_billing_cycle or a time expression; {err}"
        ) from None


def _settlement(m: dict[str, _N]) -> SettlementMode | None:
    node = _opt(m, "settlement_mode")
    if node is None:
        return None
    return SettlementMode(node.choice([s.value for s in SettlementMode], "settlement mode"))


class _StepParser:
    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.features = {f.key: f for f in setup.features}
        self.plans = {p.key: p for p in setup.plans}
        self.life = _Life()

    def plan_ref(self, n: _N) -> PlanSpec:
        key = n.key()
        if key not in self.plans:
            raise n.error(_missing_ref("plan", key, self.plans))
        return self.plans[key]

    def step(self, index: int, n: _N) -> Step:
        if not isinstance(n.node, yaml.MappingNode):
            raise n.error(f"a step is a mapping with one action ({', '.join(STEP_KINDS)}), got {n.kind_name()}")
        names = [str(k.value) for k, _ in n.node.value]
        actions = [k for k in names if k in STEP_KINDS]
        extra = [k for k in names if k not in STEP_KINDS and k not in ("name", "expect")]
        if len(actions) > 1:
            raise n.error(f"a step has exactly one action, found {len(actions)}: {', '.join(actions)}")
        if not actions:
            if extra:
                key_node = next(k for k, _ in n.node.value if k.value == extra[0])
                key_n = _N(key_node, n.path, n.file)
                raise key_n.error(_unknown("step", extra[0], STEP_KINDS), n.sub(extra[0]))
            raise n.error(f"a step needs an action (valid steps: {', '.join(STEP_KINDS)})")
        kind = actions[0]
        m = n.mapping((kind, "name", "expect"), what="step key")
        name = _opt_text(m, "name")
        expect, refused = _expect(m["expect"]) if _opt(m, "expect") is not None else (None, None)
        action = m[kind]
        if refused is not None and kind in _UNREFUSABLE:
            raise m["expect"].error(f"{_UNREFUSABLE[kind]} and cannot be refused")
        allowed, required = _STEP_KEYS[kind]
        body = action.mapping(allowed, required, what=f"{kind} field")
        common: dict[str, Any] = {
            "index": index,
            "line": action.line,
            "name": name,
            "expect": expect,
            "refused": refused,
        }
        step = getattr(self, "_" + kind)(action, body, common, refused is not None)
        assert isinstance(step, _STEP_CLASSES)
        return step

    # -- state helpers

    def _need_subscription(self, n: _N, kind: str) -> None:
        if self.life.state == "none":
            raise n.error(f"{kind} needs a subscription: add a subscribe step before it")

    def _check_instants(self, node: _N, expr: TimeExpr | None) -> None:
        if expr is None or expr.base is not TimeBase.NAMED:
            return
        if self.life.state == "none":
            raise node.error(f"{expr.name} needs a subscription: add a subscribe step before it")
        if expr.name in ("current_period_end", "current_period_start") and self.life.state == "inactive":
            raise node.error(f"{expr.name} exists only while the subscription runs, and it has ended")

    def _timed(self, m: dict[str, _N], key: str) -> TimeExpr | None:
        node = _opt(m, key)
        if node is None:
            return None
        expr = node.time()
        self._check_instants(node, expr)
        return expr

    # -- one method per step kind

    def _subscribe(self, n: _N, m: dict[str, _N], common: dict[str, Any], refused: bool) -> SubscribeStep:
        plan = self.plan_ref(m["plan"])
        if self.life.state in ("active", "canceled") and not refused:
            raise n.error(
                "the customer already has a subscription and OpenMeter allows one at a time (a "
                "second create is refused with 409): cancel it first, or expect: "
                "{refused: {status: 409}}"
            )
        anchor = self._timed(m, "billing_anchor")
        timing = self._timed(m, "timing") or NOW
        step = SubscribeStep(
            plan=plan.key, billing_anchor=anchor, timing=timing, settlement_mode=_settlement(m), **common
        )
        if not refused:
            self.life = _Life(state="active", plan=plan)
        return step

    def _ingest(self, n: _N, m: dict[str, _N], common: dict[str, Any], refused: bool) -> IngestStep:
        feature = m["feature"].key()
        if feature not in self.features:
            raise m["feature"].error(_missing_ref("feature", feature, self.features))
        values_node = _opt(m, "values")
        if values_node is not None:
            for other in ("events", "value"):
                if other in m:
                    raise m[other].error(f"give either values or {other}, not both")
            items = values_node.seq()
            if not items:
                raise values_node.error("values needs at least one value")
            values = tuple(v.decimal() for v in items)
        else:
            events_node = _opt(m, "events")
            events = events_node.integer() if events_node is not None else 1
            if events_node is not None and not 1 <= events <= MAX_EVENTS_PER_STEP:
                raise events_node.error(f"events must be between 1 and {MAX_EVENTS_PER_STEP}, got {events}")
            value_node = _opt(m, "value")
            value = value_node.decimal() if value_node is not None else Decimal(1)
            values = (value,) * events
        if len(values) > MAX_EVENTS_PER_STEP:
            raise n.error(f"at most {MAX_EVENTS_PER_STEP} events per step, got {len(values)}")
        return IngestStep(feature=feature, values=values, at=self._timed(m, "at") or NOW, **common)

    def _cancel(self, n: _N, m: dict[str, _N], common: dict[str, Any], refused: bool) -> CancelStep:
        self._need_subscription(n, "cancel")
        timing = _timing(_opt(m, "timing"))
        if timing.at is not None:
            self._check_instants(m["timing"], timing.at)
        if self.life.state != "active" and not refused:
            raise n.error(
                f"OpenMeter cancels only active subscriptions (403 otherwise), and "
                f"{self.life.describe()}; to test the refusal, "
                "expect: {refused: {status: 403}}"
            )
        step = CancelStep(timing=timing, **common)
        if not refused:
            ended = timing.kind is TimingKind.IMMEDIATE or (timing.at is not None and _not_after_now(timing.at))
            self.life.state = "inactive" if ended else "canceled"
        return step

    def _edit(self, n: _N, m: dict[str, _N], common: dict[str, Any], refused: bool) -> EditStep:
        self._need_subscription(n, "edit")
        plan = self.life.plan
        assert plan is not None
        if self.life.state != "active" and not refused:
            raise n.error(
                f"OpenMeter edits only active subscriptions, and {self.life.describe()}; "
                "to test the refusal, expect: {refused: {status: 403}}"
            )
        phase_node = _opt(m, "phase")
        phase = None
        if phase_node is not None:
            phase = phase_node.key()
            if plan.phase(phase) is None:
                raise phase_node.error(
                    _missing_ref(f"phase of plan {plan.key!r}:", phase, [p.key for p in plan.phases])
                )
        add_node = _opt(m, "add")
        remove_node = _opt(m, "remove")
        adds = tuple(
            _rate_card(item, self.features, plan.billing_cadence, str(plan.billing_cadence))
            for item in (add_node.seq() if add_node is not None else [])
        )
        existing = self._items(plan, phase)
        removes: list[str] = []
        for item in remove_node.seq() if remove_node is not None else []:
            key = item.key()
            if key not in existing:
                raise item.error(_missing_ref("item to remove", key, existing))
            removes.append(key)
        if not adds and not removes:
            raise n.error("an edit needs add or remove (at least one rate card)")
        timing = _timing(_opt(m, "timing"), allow_at=False)
        step = EditStep(add=adds, remove=tuple(removes), phase=phase, timing=timing, **common)
        if not refused:
            for rc in adds:
                self.life.added[rc.key] = rc
        return step

    def _items(self, plan: PlanSpec, phase: str | None) -> list[str]:
        keys: list[str] = []
        for p in plan.phases:
            if phase is None or p.key == phase:
                keys.extend(rc.key for rc in p.rate_cards if rc.key not in keys)
        keys.extend(k for k in self.life.added if k not in keys)
        return keys

    def _change_plan(self, n: _N, m: dict[str, _N], common: dict[str, Any], refused: bool) -> ChangePlanStep:
        self._need_subscription(n, "change_plan")
        plan = self.plan_ref(m["plan"])
        if self.life.state == "inactive" and not refused:
            raise n.error("change_plan needs a running subscription, and the subscription has ended")
        timing = _timing(_opt(m, "timing"))
        if timing.at is not None:
            self._check_instants(m["timing"], timing.at)
        step = ChangePlanStep(plan=plan.key, timing=timing, settlement_mode=_settlement(m), **common)
        if not refused:
            later = timing.kind is not TimingKind.IMMEDIATE
            self.life = _Life(state="active", plan=plan, replaced=self.life if later else None)
        return step

    def _restore(self, n: _N, m: dict[str, _N], common: dict[str, Any], refused: bool) -> RestoreStep:
        self._need_subscription(n, "restore")
        if self.life.replaced is None and not refused:
            raise n.error(
                "restore needs a plan change scheduled for later (change_plan with timing "
                f"next_billing_cycle first): it deletes that successor; here {self.life.describe()}"
            )
        if not refused and self.life.replaced is not None:
            self.life = self.life.replaced
            self.life.state = "active"
        return RestoreStep(**common)

    def _continue(self, n: _N, m: dict[str, _N], common: dict[str, Any], refused: bool) -> ContinueStep:
        self._need_subscription(n, "continue")
        if self.life.state != "canceled" and not refused:
            raise n.error(
                f"continue needs a cancel scheduled for later (cancel with timing "
                f"next_billing_cycle first), but {self.life.describe()}; OpenMeter refuses "
                "continue then (403) - to test that, expect: {refused: {status: 403}}"
            )
        if not refused:
            self.life.state = "active"
        return ContinueStep(**common)

    def _invoice(self, n: _N, m: dict[str, _N], common: dict[str, Any], refused: bool) -> InvoiceStep:
        progressive = _opt(m, "progressive")
        return InvoiceStep(
            as_of=self._timed(m, "as_of"),
            progressive=progressive.boolean() if progressive is not None else None,
            **common,
        )

    def _wait(self, n: _N, m: dict[str, _N], common: dict[str, Any], refused: bool) -> WaitStep:
        until = self._timed(m, "until")
        assert until is not None
        plus = m["plus"].duration(positive=False) if _opt(m, "plus") is not None else Duration()
        limit = m["max"].duration() if _opt(m, "max") is not None else DEFAULT_WAIT_MAX
        if limit.approx_seconds() > MAX_WAIT.approx_seconds():
            raise m["max"].error(f"a wait may last at most {MAX_WAIT}, got {m['max'].node.value}")
        ahead = sum(o.approx_seconds() for o in until.offsets) + plus.approx_seconds()
        if until.base is TimeBase.NOW and ahead > limit.approx_seconds():
            raise m["until"].error(
                f"this wait would last longer than its max {limit}: raise max (at most {MAX_WAIT}) or wait less"
            )
        if until.name == "current_period_end" and self.life.state == "canceled":
            self.life.state = "inactive"  # a scheduled cancel takes effect at the period end
        return WaitStep(until=until, plus=plus, max=limit, **common)

    def _resync(self, n: _N, m: dict[str, _N], common: dict[str, Any], refused: bool) -> ResyncStep:
        self._need_subscription(n, "resync")
        force = _opt(m, "force")
        return ResyncStep(force=force.boolean() if force is not None else False, **common)


def _not_after_now(expr: TimeExpr) -> bool:
    """``now`` or ``now`` minus something: the cancel ends the subscription at once."""
    return expr.base is TimeBase.NOW and sum(o.approx_seconds() for o in expr.offsets) <= 0


# --------------------------------------------------------------------------- documents


def _read(path: Path) -> tuple[_N, str]:
    file = str(path)
    text = decode_utf8(read_input(path, limit=MAX_SCENARIO_BYTES, what="scenario file"), file)
    try:
        node = bounded_compose(text, file)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "invalid YAML"
        raise InputError(
            f"invalid YAML: {problem}", file=file, line=int(mark.line) + 1 if mark is not None else None
        ) from None
    except yaml.YAMLError as err:
        raise InputError(f"invalid YAML: {err}", file=file) from None
    if node is None:
        raise InputError("empty file: expected a scenario (a mapping with id, title, provenance, ...)", file=file)
    return _N(node, "", file), file


def _parse(path: Path) -> tuple[Scenario, int]:
    root, file = _read(path)
    m = root.mapping(_TOP_KEYS, _TOP_REQUIRED)
    id_node = m["id"]
    scenario_id = id_node._scalar(("str",), "a string")
    if not _ID.match(scenario_id):
        raise id_node.error(f"id {scenario_id!r} must be lowercase letters, digits, '.', '_' or '-'")
    if scenario_id != path.stem:
        raise id_node.error(f"id {scenario_id!r} must equal the file name stem {path.stem!r}")
    requires = _requires(_opt(m, "requires"))
    setup_m = m["setup"].mapping(("features", "customer", "grants", "plans"), ("customer", "plans"))
    features = _features(_opt(setup_m, "features"))
    customer = _customer(setup_m["customer"])
    feature_map = {f.key: f for f in features}
    setup = Setup(
        features=features,
        customer=customer,
        plans=_plans(setup_m["plans"], feature_map, customer),
        grants=_grants(_opt(setup_m, "grants"), customer, requires),
    )
    step_nodes = m["steps"].seq()
    if not step_nodes:
        raise m["steps"].error("a scenario needs at least one step")
    parser = _StepParser(setup)
    steps = tuple(parser.step(i, n) for i, n in enumerate(step_nodes))
    scenario = Scenario(
        id=scenario_id,
        title=m["title"].text(),
        provenance=m["provenance"].text(),
        description=m["description"].text(),
        setup=setup,
        steps=steps,
        source=file,
        requires=requires,
        profile=_profile(_opt(m, "profile")),
        technique=_opt_text(m, "technique"),
        known_issues=_known_issues(_opt(m, "known_issues")),
    )
    return scenario, id_node.line


# --------------------------------------------------------------------------- public API


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate one scenario file; raise :class:`InputError` (``file:line: field: reason``)."""
    return _parse(Path(path))[0]


def scenario_files(paths: Sequence[str | Path]) -> list[Path]:
    """The scenario files named by ``paths``: files as given, folders as their ``*.yaml`` sorted by name."""
    out: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(c for c in p.iterdir() if c.is_file() and c.suffix == ".yaml")
            if not found:
                raise InputError("no scenario files (*.yaml) in this folder", file=str(p))
        elif p.exists():
            found = [p]
        else:
            raise InputError(missing(p), file=str(p))
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def load_scenarios(paths: Sequence[str | Path]) -> list[Scenario]:
    """Load every scenario in ``paths`` (files, or folders of ``*.yaml``); ids must be unique."""
    out: list[Scenario] = []
    first: dict[str, Scenario] = {}
    for f in scenario_files(paths):
        scenario, id_line = _parse(f)
        if scenario.id in first:
            raise InputError(
                f"duplicate scenario id {scenario.id!r} (also in {first[scenario.id].source})",
                file=scenario.source,
                line=id_line,
                field="id",
            )
        first[scenario.id] = scenario
        out.append(scenario)
    return out


# --------------------------------------------------------------------------- selection


_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")
_Pred = Callable[[str], bool]


def select(scenarios: Sequence[Scenario], k_expression: str | None) -> list[Scenario]:
    """Scenarios whose id matches a ``-k`` expression, in their order.

    A word matches when it is a case-insensitive substring of the id; words combine with
    ``not``, ``and``, ``or`` (that precedence) and parentheses. An empty expression selects all.
    """
    if k_expression is None or not k_expression.strip():
        return list(scenarios)
    predicate = _KParser(k_expression).parse()
    return [s for s in scenarios if predicate(s.id.lower())]


class _KParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _TOKEN.findall(text)
        self.pos = 0
        self.depth = 0

    def error(self, reason: str) -> InputError:
        shown = self.text if len(self.text) <= 80 else self.text[:77] + "..."
        return InputError(f"bad selection {shown!r}: {reason}", field="-k")

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end (expected a word, 'not' or '(')")
        self.pos += 1
        return token

    def parse(self) -> _Pred:
        predicate = self.or_()
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()!r}")
        return predicate

    def or_(self) -> _Pred:
        left = self.and_()
        while self.peek() == "or":
            self.take()
            right, prev = self.and_(), left
            left = _either(prev, right)
        return left

    def and_(self) -> _Pred:
        left = self.not_()
        while self.peek() == "and":
            self.take()
            right, prev = self.not_(), left
            left = _both(prev, right)
        return left

    def not_(self) -> _Pred:
        token = self.take()
        if token in ("not", "("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.error(f"more than {MAX_NESTING} nested 'not's and parentheses")
        if token == "not":
            inner = self.not_()
            self.depth -= 1
            return lambda s: not inner(s)
        if token == "(":
            inner = self.or_()
            if self.take() != ")":
                raise self.error("expected ')'")
            self.depth -= 1
            return inner
        if token in ("and", "or", ")"):
            raise self.error(f"unexpected {token!r} (expected a word, 'not' or '(')")
        word = token.lower()
        return lambda s: word in s


def _either(a: _Pred, b: _Pred) -> _Pred:
    return lambda s: a(s) or b(s)


def _both(a: _Pred, b: _Pred) -> _Pred:
    return lambda s: a(s) and b(s)


__all__ = ["PLAN_CADENCES", "load_scenario", "load_scenarios", "scenario_files", "select"]
