"""Meters, features and usage events of the offline OpenMeter: parsed strictly from the request
body they are created with, rendered the way the live server answers, and a meter's value over
events (the aggregations OpenMeter's meter queries compute).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from contract.model.time import Period, floor_second
from contract.offline.catalog.common import RESOURCE_FIELDS, resource
from contract.offline.problems import ApiError, Fields

__all__ = ["AGGREGATIONS", "Feature", "Meter", "UsageEvent", "aggregate", "parse_event", "parse_feature", "parse_meter"]

AGGREGATIONS = ("sum", "count", "unique_count", "avg", "min", "max", "latest")


# ------------------------------------------------------------------------------ meters, features


@dataclass(frozen=True, slots=True)
class Meter:
    id: str
    key: str
    name: str
    aggregation: str
    event_type: str
    value_property: str | None
    created_at: datetime

    def v3(self) -> dict[str, Any]:
        body = resource("v3", id=self.id, key=self.key, name=self.name, created_at=self.created_at)
        body.update(aggregation=self.aggregation, dimensions=None, event_type=self.event_type)
        if self.value_property is not None:
            body["value_property"] = self.value_property
        return body


def parse_meter(body: Any, *, new_id: str, now: datetime) -> Meter:
    allowed = (*RESOURCE_FIELDS, "key", "aggregation", "event_type", "events_from", "value_property", "dimensions")
    f = Fields(body, allowed=allowed)
    key = f.key("key")
    aggregation = f.req_str("aggregation")
    if aggregation not in AGGREGATIONS:
        raise ApiError.bad_field(f.at("aggregation"), f"must be one of {', '.join(AGGREGATIONS)}", "enum")
    value_property = f.opt_str("value_property")
    if aggregation != "count" and value_property is None:
        raise ApiError.bad_field(f.at("value_property"), f"required for {aggregation} meters", "required")
    if value_property is not None and not value_property.startswith("$"):
        raise ApiError.bad_field(f.at("value_property"), "must be a JSONPath starting with $", "pattern")
    return Meter(new_id, key, f.req_str("name"), aggregation, f.req_str("event_type"), value_property, now)


@dataclass(frozen=True, slots=True)
class Feature:
    id: str
    key: str
    name: str
    meter_id: str | None
    created_at: datetime

    def v3(self) -> dict[str, Any]:
        body = resource("v3", id=self.id, key=self.key, name=self.name, created_at=self.created_at)
        if self.meter_id is not None:
            body["meter"] = {"id": self.meter_id}
        return body

    def v1(self, meter: Meter | None) -> dict[str, Any]:
        """v1 names the meter by its key (``meterSlug``)."""
        body = resource("v1", id=self.id, key=self.key, name=self.name, created_at=self.created_at)
        if meter is not None:
            body["meterSlug"] = meter.key
        return body


def parse_feature(body: Any, *, new_id: str, now: datetime) -> tuple[Feature, str | None]:
    """The feature and the meter id it references (the caller checks that meter exists)."""
    f = Fields(body, allowed=(*RESOURCE_FIELDS, "key", "meter", "unit_cost"))
    key = f.key("key")
    meter = f.opt_obj("meter", allowed=("id", "filters"))
    meter_id = meter.req_str("id") if meter is not None else None
    return Feature(new_id, key, f.req_str("name"), meter_id, now), meter_id


# ------------------------------------------------------------------------------ usage events


@dataclass(frozen=True, slots=True)
class UsageEvent:
    id: str
    source: str
    type: str
    subject: str
    time: datetime
    data: Mapping[str, Any] = field(hash=False)


def parse_event(raw: Any, path: str, *, now: datetime) -> UsageEvent:
    """One CloudEvent; without ``time`` it happened ``now`` (when it was received)."""
    f = Fields(raw, path)
    spec = f.req_str("specversion")
    if spec != "1.0":
        raise ApiError.bad_field(f.at("specversion"), "must be 1.0", "enum")
    time = f.opt_time("time")
    data = f.raw("data")
    if data is not None and not isinstance(data, Mapping):
        raise ApiError.bad_field(f.at("data"), "expected an object", "type")
    return UsageEvent(
        f.req_str("id"),
        f.req_str("source"),
        f.req_str("type"),
        f.req_str("subject"),
        time if time is not None else now,
        MappingProxyType(dict(data or {})),
    )


def _json_path(data: Mapping[str, Any], path: str) -> Any:
    """``$.a.b`` lookups (the value properties meters use)."""
    value: Any = data
    for part in path.removeprefix("$").strip(".").split("."):
        if not part:
            continue
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _event_value(event: UsageEvent, meter: Meter) -> Decimal | None:
    if meter.value_property is None:
        return Decimal(1)
    raw = _json_path(event.data, meter.value_property)
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        return Decimal(raw if isinstance(raw, str) else str(raw))
    except ArithmeticError:
        return None


def aggregate(
    meter: Meter,
    events: Sequence[UsageEvent],
    *,
    subjects: frozenset[str] | None = None,
    period: Period | None = None,
) -> tuple[Decimal, Period] | None:
    """The meter's value over ``events`` (its event type; optional subjects and ``[from, to)``), and
    the minute-aligned window the rows cover; None when no event counts."""
    values: list[tuple[datetime, Decimal]] = []
    for event in events:
        if event.type != meter.event_type:
            continue
        if subjects is not None and event.subject not in subjects:
            continue
        if period is not None and not period.start <= event.time < period.end:
            continue
        if meter.aggregation == "count":
            values.append((event.time, Decimal(1)))
            continue
        value = _event_value(event, meter)
        if value is not None and value.is_finite():
            values.append((event.time, value))
    if not values:
        return None
    amounts = [v for _, v in values]
    match meter.aggregation:
        case "count" | "sum":
            total = sum(amounts, Decimal(0))
        case "min":
            total = min(amounts)
        case "max":
            total = max(amounts)
        case "avg":
            total = sum(amounts, Decimal(0)) / len(amounts)
        case "latest":
            total = max(values, key=lambda tv: tv[0])[1]
        case _:  # unique_count
            total = Decimal(len(set(amounts)))
    first = floor_second(min(t for t, _ in values)).replace(second=0)
    last = floor_second(max(t for t, _ in values)).replace(second=0) + timedelta(minutes=1)
    return total, Period(first, last)
