"""Routes of what is metered: meters (create, get, query), features, and usage event ingestion.

Ingested events are deduplicated on ``(source, id)``, as the sink worker does, and become visible
to meter queries ``ingest_delay`` after they were received (:meth:`OfflineState.visible_events`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from contract.model.time import Period, format_time
from contract.offline.catalog import Meter, aggregate, parse_event, parse_feature, parse_meter
from contract.offline.ids import Kind
from contract.offline.prices import numeric
from contract.offline.problems import Api, ApiError, Fields, json_body
from contract.offline.routing import V1, V3, Reply, Router
from contract.offline.state import OfflineState
from contract.offline.store import require

__all__ = ["ROUTER"]

ROUTER = Router("usage")


@ROUTER.post(f"{V3}/meters")
def create_meter(s: OfflineState, request: httpx.Request) -> Reply:
    meter = parse_meter(json_body(request), new_id=s.ids.new(Kind.METER), now=s.now())
    if any(m.key == meter.key for m in s.store.meters.values()):
        raise ApiError(409, f"meter with key {meter.key} already exists")
    s.store.meters[meter.id] = meter
    return 201, meter.v3()


def _meter(s: OfflineState, meter_id: str) -> Meter:
    meters = s.store.meters
    meter = meters.get(meter_id) or next((m for m in meters.values() if m.key == meter_id), None)
    if meter is None:
        raise ApiError.not_found("meter", meter_id)
    return meter


@ROUTER.get(f"{V3}/meters/{{mid}}")
def get_meter(s: OfflineState, request: httpx.Request, mid: str) -> Reply:
    return 200, _meter(s, mid).v3()


@ROUTER.post(f"{V3}/meters/{{mid}}/query")
def query_meter(s: OfflineState, request: httpx.Request, mid: str) -> Reply:
    meter = _meter(s, mid)
    body = json_body(request, required=False)
    f = Fields(
        body if body is not None else {},
        allowed=("from", "to", "granularity", "time_zone", "group_by_dimensions", "filters"),
    )
    start, end = f.opt_time("from"), f.opt_time("to")
    period = None
    if start is not None or end is not None:
        period = Period(start or datetime.min.replace(tzinfo=UTC), end or datetime.max.replace(tzinfo=UTC))
    found = aggregate(meter, s.visible_events(), period=period)
    out: dict[str, Any] = {"data": []}
    if start is not None:
        out["from"] = format_time(start)
    if end is not None:
        out["to"] = format_time(end)
    if found is not None:
        value, window = found
        out["data"] = [
            {
                "dimensions": {},
                "from": format_time(window.start),
                "to": format_time(window.end),
                "value": numeric(value),
            }
        ]
    return 200, out


@ROUTER.post(f"{V3}/features")
def create_feature(s: OfflineState, request: httpx.Request) -> Reply:
    feature, meter_id = parse_feature(json_body(request), new_id=s.ids.new(Kind.FEATURE), now=s.now())
    if meter_id is not None and meter_id not in s.store.meters:
        raise ApiError.bad_field("meter.id", f"meter {meter_id} not found")
    if s.store.feature_by_key(feature.key) is not None:
        raise ApiError(409, f"feature with key {feature.key} already exists")
    s.store.features[feature.id] = feature
    return 201, feature.v3()


@ROUTER.get(f"{V3}/features/{{fid}}")
def get_feature(s: OfflineState, request: httpx.Request, fid: str) -> Reply:
    return 200, require(s.store.features, fid, "feature").v3()


@ROUTER.post(f"{V1}/events", api="v1")
@ROUTER.post(f"{V3}/events", api="v3")
def ingest(s: OfflineState, request: httpx.Request, api: Api) -> Reply:
    """Keep new events; v1 answers 204, v3 202 with an empty object."""
    body = json_body(request)
    rows = body if isinstance(body, list) else [body]
    now = s.now()
    parsed = [parse_event(raw, f"[{i}]" if isinstance(body, list) else "", now=now) for i, raw in enumerate(rows)]
    for event in parsed:
        key = (event.source, event.id)
        if key in s.store.event_keys:
            continue  # deduplicated on (source, id), as the sink worker does
        s.store.event_keys.add(key)
        s.store.events.append((now, event))
    return (202, {}) if api == "v3" else (204, None)
