"""``OfflineOpenMeter``: OpenMeter's public HTTP API served by a respx router over the reference engine.

Routes are data (``router.route(method=..., path__regex=...)``, each with a ``side_effect``
handler); a client reaches them through :attr:`OfflineOpenMeter.transport`::

    fake = OfflineOpenMeter(Behaviour.HEAD, clock=VirtualClock(start))
    client = OpenMeterClient(fake.base_url, transport=fake.transport)

State lives in memory: the catalog (meters, features, customers, profiles, grants, plans, usage
events), the subscriptions (:mod:`contract.offline.subscriptions`) and the engine's persisted state
(charges, invoices, lines). Every subscription mutation publishes an event; the fake's billing
worker handles it with ``Engine.sync_and_invoice`` (``as_of`` = ``activeTo`` for a cancel, the
clock's now otherwise; ``now`` = the clock's now):

* eventual consistency — after an event is published, ``sync_after_reads`` reads of charges or
  invoices (v3 charges, v1 invoice list or invoice) still show the state before it; the next read
  handles it first. :meth:`OfflineOpenMeter.force_sync` and invoicing handle pending events first;
* a failing sync changes nothing and logs the retries and the DLQ line (:mod:`contract.offline.
  worker`) — what a #4412-window build did after an immediate cancel.

Time: every request takes ``latency`` of (virtual) time — ``clock.sleep`` — so a subscribe and the
worker's sync are not at the very same instant (a sync exactly at ``activeFrom`` is on a period
boundary, where nothing in arrears is due yet); ingested events become visible to meter queries
and rating ``ingest_delay`` after they were received (the sink worker's commit wait).

This is not evidence about OpenMeter: it is the engine behind OpenMeter's API shapes, for testing
the suite (client, runner, reports) end to end without a server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import httpx
import respx

from contract.clock import Clock
from contract.model.domain import SettlementMode, SyncConfig
from contract.model.engine import Behaviour, Engine
from contract.model.persisted import ChargeStatus, EngineState, empty_state
from contract.model.time import Period, format_time, parse_time
from contract.offline import subscriptions as subs
from contract.offline.billing import Ledger, charge_v3, invoice_v1
from contract.offline.catalog import (
    Customer,
    Feature,
    Grant,
    Meter,
    Plan,
    PlanRateCard,
    Profile,
    UsageEvent,
    aggregate,
    default_profile,
    invoice_workflow_v1,
    parse_customer,
    parse_event,
    parse_feature,
    parse_grant,
    parse_meter,
    parse_plan_v1,
    parse_plan_v3,
    parse_profile,
    validate_plan,
)
from contract.offline.ids import IdFactory, Kind
from contract.offline.prices import numeric
from contract.offline.problems import ApiError, Fields, Issue, api_of, json_body, problem_response
from contract.offline.subscriptions import SubscriptionSpec
from contract.offline.worker import EventType, SubscriptionEvent, WorkerLog
from contract.worklog.source import LogSource

__all__ = [
    "BASE_URL",
    "DEFAULT_INGEST_DELAY",
    "DEFAULT_LATENCY",
    "OfflineOpenMeter",
    "OfflineSyncState",
    "SyncStates",
]

BASE_URL = "http://offline.openmeter.invalid"
V3 = "/api/v3/openmeter"
_ID = r"(?P<{}>[^/]+)"
_V1_MAX_PAGE_SIZE = 1000
_V3_MAX_PAGE_SIZE = 1000
_CHARGE_STATUSES = tuple(s.value for s in ChargeStatus)
_TIMING_PAST_TOLERANCE = timedelta(minutes=2)
_FORCE_SYNC_LOOKBACK = timedelta(hours=24)
#: How much (virtual) time one request takes; a fake whose clock never moves between a subscribe
#: and the worker would sync exactly at ``activeFrom``, where nothing in arrears is due yet.
DEFAULT_LATENCY = timedelta(milliseconds=5)
#: How long ingested events take to become visible to meter queries and rating (the sink worker's
#: ``maxCommitWait`` in upstream's e2e config).
DEFAULT_INGEST_DELAY = timedelta(seconds=1)

Reply = tuple[int, Any]
Handler = Callable[..., Reply]


@dataclass(frozen=True, slots=True)
class OfflineSyncState:
    """A row of the fake's ``subscription_billing_sync_states`` (``synced_at``: last successful sync)."""

    subscription_id: str
    synced_at: datetime | None
    next_sync_after: datetime | None
    has_billables: bool


class SyncStates:
    """``get(subscription_id)`` like the live sync-state reader (the runner's ``sync_states``)."""

    def __init__(self, fake: OfflineOpenMeter) -> None:
        self._fake = fake

    def get(self, subscription_id: str) -> OfflineSyncState | None:
        return self._fake.sync_state(subscription_id)


class OfflineOpenMeter:
    """The offline OpenMeter; see the module docstring.

    ``v3_plan_settlement_mode``: accept ``settlement_mode`` on v3 plan create (default). HEAD's v3
    schema has it read-only and answers 400, which makes the client fall back to v1 — pass False
    to get that behaviour.
    """

    def __init__(
        self,
        behaviour: Behaviour = Behaviour.HEAD,
        *,
        config: SyncConfig | None = None,
        clock: Clock,
        sync_after_reads: int = 1,
        v3_plan_settlement_mode: bool = True,
        latency: timedelta = DEFAULT_LATENCY,
        ingest_delay: timedelta = DEFAULT_INGEST_DELAY,
    ) -> None:
        if sync_after_reads < 0:
            raise ValueError(f"sync_after_reads must be 0 or more, got {sync_after_reads}")
        if latency < timedelta(0):
            raise ValueError(f"latency must not be negative, got {latency}")
        if ingest_delay < timedelta(0):
            raise ValueError(f"ingest_delay must not be negative, got {ingest_delay}")
        self.latency = latency
        self.ingest_delay = ingest_delay
        self.behaviour = behaviour
        self.config = config if config is not None else SyncConfig()
        self.clock = clock
        self.sync_after_reads = sync_after_reads
        self.v3_plan_settlement_mode = v3_plan_settlement_mode
        self.base_url = BASE_URL
        self.state: EngineState = empty_state()
        self._ids = IdFactory()
        self._requests = 0
        self._ledger = Ledger()
        self._meters: dict[str, Meter] = {}
        self._features: dict[str, Feature] = {}
        self._customers: dict[str, Customer] = {}
        self._profiles: dict[str, Profile] = {}
        self._grants: dict[str, Grant] = {}
        self._plans: dict[str, Plan] = {}
        self._subscriptions: dict[str, SubscriptionSpec] = {}
        self._items: dict[str, PlanRateCard] = {}  # every item id ever shown -> its rate card
        self._events: list[tuple[datetime, UsageEvent]] = []  # (received at, event)
        self._event_keys: set[tuple[str, str]] = set()
        self._queue: list[SubscriptionEvent] = []
        self._reads = 0
        self._synced_at: dict[str, datetime] = {}
        self.last_sync_output = ""  # the log lines the last force_sync wrote
        now = clock.now()
        self._started_at = now  # when the sandbox app and the default profile were provisioned
        self._app_id = self._ids.new(Kind.APP)
        self._tax_code_id = self._ids.new(Kind.TAX_CODE)
        default = default_profile(
            self.config,
            profile_id=self._ids.new(Kind.PROFILE),
            app_id=self._app_id,
            supplier_id=self._ids.new(Kind.PROFILE),
            now=now,
        )
        self._profiles[default.id] = default
        self._log = WorkerLog(f"offline-{behaviour.value}")
        self.logs: LogSource = self._log.source
        self.sync_states = SyncStates(self)
        self.router = respx.Router(assert_all_called=False, assert_all_mocked=True)
        self._register_routes()
        self.transport = httpx.MockTransport(self.router.handler)

    def __repr__(self) -> str:
        return f"OfflineOpenMeter(behaviour={self.behaviour.value!r}, base_url={self.base_url!r})"

    # ---------------------------------------------------------------- public helpers

    @property
    def server_config(self) -> dict[str, bool]:
        """What a runner's ``Environment.server_config`` needs: credits and credit_then_invoice."""
        return {
            "credits": self.config.credits_enabled,
            "credit_then_invoice": self.config.credit_then_invoice,
        }

    @property
    def log_lines(self) -> tuple[str, ...]:
        """The fake billing worker's log lines so far (JSON)."""
        return self._log.lines

    @property
    def pending_events(self) -> int:
        """Subscription events published but not handled yet."""
        return len(self._queue)

    def force_sync(self, customer_id: str) -> bool:
        """``openmeter-jobs billing subscriptionsync all --c <customer>``: handle pending events, then
        sync every subscription of the customer (started, not ended more than a day ago) at now —
        sync only, no invoicing (public-api.md §2.15: the ended period's charge stays ``created``).

        False when the customer is unknown or a sync failed (logged as ``failed to reconcile
        subscription``). :attr:`last_sync_output` holds the log lines this call wrote.
        """
        mark = len(self._log.lines)
        try:
            if customer_id not in self._customers:
                return False
            self._flush()
            ok = True
            for sub in [s for s in self._subscriptions.values() if s.customer_id == customer_id]:
                now = self.clock.now()
                if now < sub.active_from or (sub.active_to is not None and sub.active_to < now - _FORCE_SYNC_LOOKBACK):
                    continue
                error = self._sync(sub, as_of=now, now=now, invoice=False)
                if error is not None:
                    ok = False
                    self._log.reconcile_failed(sub.id, error, now)
            return ok
        finally:
            self.last_sync_output = "".join(line + "\n" for line in self._log.lines[mark:])

    def sync_state(self, subscription_id: str) -> OfflineSyncState | None:
        sub = self._subscriptions.get(subscription_id)
        if sub is None:
            return None
        state = self.state.sync_state(sub.customer_id, subscription_id)
        if state is None:
            return None
        return OfflineSyncState(
            subscription_id, self._synced_at.get(subscription_id), state.next_sync_after, state.has_billables
        )

    # ---------------------------------------------------------------- the worker

    def _publish(self, kind: EventType, sub: SubscriptionSpec) -> None:
        now = self.clock.now()
        data = {
            "subscription": {
                "namespace": "default",
                "id": sub.id,
                "customerId": sub.customer_id,
                "activeFrom": format_time(sub.active_from),
                "activeTo": format_time(sub.active_to) if sub.active_to else None,
                "billingAnchor": format_time(sub.billing_anchor),
                "billing_cadence": str(sub.billing_cadence),
                "currency": sub.currency,
                "name": sub.name,
                "settlement_mode": sub.settlement_mode.value,
            },
            "customer": {"namespace": "default", "id": sub.customer_id},
        }
        self._queue.append(
            SubscriptionEvent(self._ids.new(Kind.MESSAGE), kind, sub.id, sub.customer_id, now, self._reads, data)
        )

    def _note_read(self) -> None:
        """A read of charges or invoices: handle the events it makes due (see the module docstring)."""
        self._reads += 1
        while self._queue and self._reads - self._queue[0].reads_at > self.sync_after_reads:
            self._handle(self._queue.pop(0))

    def _flush(self) -> None:
        while self._queue:
            self._handle(self._queue.pop(0))

    def _handle(self, event: SubscriptionEvent) -> None:
        sub = self._subscriptions.get(event.subscription_id)
        if sub is None:
            return
        now = self.clock.now()
        as_of = now
        if event.type is EventType.CANCELLED and sub.active_to is not None:
            as_of = sub.active_to
        trace = self._ids.trace_id()
        error = self._sync(sub, as_of=as_of, now=now)
        if error is not None:
            self._log.failed(event, error, now, trace)
        else:
            self._log.synced(event, now, trace, as_of=format_time(as_of))

    def _sync(self, sub: SubscriptionSpec, *, as_of: datetime, now: datetime, invoice: bool = True) -> str | None:
        """One sync (the worker: then invoice what is due, as ``sync_and_invoice``); the error or None.

        A failing sync leaves the state as it was. When only the worker's follow-up sync fails
        (after invoicing), the first sync and the invoicing are kept, as upstream commits them in
        their own transactions; ``synced_at`` then records the first sync.
        """
        engine = Engine(self._config_for(sub.customer_id), self.behaviour)
        target = subs.engine_subscription(sub)
        before = self.state
        if invoice:
            result = engine.sync_and_invoice(before, target, as_of, now)
        else:
            result = engine.sync(before, target, as_of, now=now)
        self._commit(result.state, now)
        if result.error is None or result.state is not before:
            self._synced_at[sub.id] = now
        return result.error

    def _commit(self, state: EngineState, now: datetime) -> None:
        before = {i for c in self.state.customers.values() for i in c.invoices}
        self.state = state
        self._ledger.observe(state, now, self._customer_key)
        for cust in state.customers.values():
            for invoice in cust.invoices.values():
                if invoice.id not in before and not invoice.is_gathering:
                    self._log.invoice_advanced(invoice.id, now)

    def _config_for(self, customer_id: str) -> SyncConfig:
        return self._effective_profile(customer_id).sync_config(self.config)

    def _default_profile(self) -> Profile:
        return next(p for p in self._profiles.values() if p.default)

    # ---------------------------------------------------------------- lookups

    def _customer_key(self, customer_id: str) -> str:
        customer = self._customers.get(customer_id)
        return customer.key if customer is not None else customer_id

    def _customer(self, customer_id: str) -> Customer:
        customer = self._customers.get(customer_id)
        if customer is None:
            raise ApiError.not_found("customer", customer_id)
        return customer

    def _subscription(self, subscription_id: str) -> SubscriptionSpec:
        sub = self._subscriptions.get(subscription_id)
        if sub is None:
            raise ApiError.not_found("subscription", subscription_id)
        return sub

    def _feature_by_key(self, key: str) -> Feature | None:
        return next((f for f in self._features.values() if f.key == key), None)

    def _feature_info(self, key: str) -> tuple[Feature, Meter | None] | None:
        feature = self._feature_by_key(key)
        if feature is None:
            return None
        return feature, self._meters.get(feature.meter_id) if feature.meter_id else None

    def _feature_of_item(self, item_id: str) -> tuple[str | None, str | None]:
        rate_card = self._items.get(item_id)
        if rate_card is None or rate_card.feature_key is None:
            return None, None
        feature = self._feature_by_key(rate_card.feature_key)
        return rate_card.feature_key, feature.id if feature is not None else rate_card.feature_id

    def _usage(self, feature_key: str | None, customer_id: str, period: Period) -> Decimal:
        if feature_key is None:
            return Decimal(0)
        info = self._feature_info(feature_key)
        customer = self._customers.get(customer_id)
        if info is None or info[1] is None or customer is None:
            return Decimal(0)
        found = aggregate(info[1], self._visible_events(), subjects=customer.usage_subjects(), period=period)
        return found[0] if found is not None else Decimal(0)

    def _visible_events(self) -> list[UsageEvent]:
        """Events the sink has flushed by now (``ingest_delay`` after they were received)."""
        cutoff = self._now() - self.ingest_delay
        return [event for received, event in self._events if received <= cutoff]

    def _store(self, sub: SubscriptionSpec) -> SubscriptionSpec:
        self._subscriptions[sub.id] = sub
        for phase in sub.phases:
            for item in phase.items:
                self._items[item.id] = item.rate_card
        return sub

    def _plan_ref(self, ref: Fields, *, version_key: str = "version") -> Plan:
        plan_id = ref.opt_str("id")
        if plan_id is not None:
            plan = self._plans.get(plan_id)
            if plan is None:
                raise ApiError.not_found("plan", plan_id)
            if plan.status != "active":
                raise ApiError(400, f"plan {plan_id} is not active (status {plan.status}): publish it first")
            return plan
        key = ref.req_str("key")
        version = ref.opt_int(version_key)
        candidates = [
            p
            for p in self._plans.values()
            if p.key == key and p.status != "draft" and (version is None or p.version == version)
        ]
        if version is None:
            candidates = [p for p in candidates if p.status == "active"]
        if not candidates:
            what = f"{key} version {version}" if version is not None else key
            raise ApiError(404, f"plan {what} not found (or not published)")
        return max(candidates, key=lambda p: p.version)

    def _check_single(self, customer_id: str, starts: datetime, api: str, *, ignore: str | None = None) -> None:
        for other in self._subscriptions.values():
            if other.customer_id != customer_id or other.id == ignore:
                continue
            if other.active_to is None or other.active_to > starts:
                message = "only single subscription is allowed per customer at a time"
                raise ApiError(
                    409,
                    message,
                    issues=(
                        Issue(
                            "only_single_subscription_allowed_per_customer_at_a_time",
                            message,
                            None if api == "v3" else "customerId",
                        ),
                    ),
                )

    # ---------------------------------------------------------------- routing

    def _register_routes(self) -> None:
        sid, cid, pid, mid, iid = (_ID.format(n) for n in ("sid", "cid", "pid", "mid", "iid"))
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/version", self._version),
            ("POST", f"{V3}/meters", self._create_meter),
            ("GET", f"{V3}/meters/{mid}", self._get_meter),
            ("POST", f"{V3}/meters/{mid}/query", self._query_meter),
            ("POST", f"{V3}/features", self._create_feature),
            ("GET", f"{V3}/features/{_ID.format('fid')}", self._get_feature),
            ("POST", f"{V3}/customers", self._create_customer),
            ("GET", f"{V3}/customers/{cid}", self._get_customer),
            ("GET", f"{V3}/customers/{cid}/billing", self._get_customer_billing),
            ("PUT", f"{V3}/customers/{cid}/billing", self._put_customer_billing),
            ("GET", f"{V3}/customers/{cid}/charges", self._list_charges),
            ("POST", f"{V3}/customers/{cid}/credits/grants", self._create_grant),
            ("GET", f"{V3}/customers/{cid}/credits/grants", self._list_grants),
            ("GET", f"{V3}/customers/{cid}/credits/balance", self._balance),
            ("GET", f"{V3}/profiles", self._list_profiles),
            ("POST", f"{V3}/profiles", self._create_profile),
            ("GET", f"{V3}/profiles/{_ID.format('bid')}", self._get_profile),
            ("POST", f"{V3}/plans", self._create_plan_v3),
            ("GET", f"{V3}/plans/{pid}", self._get_plan_v3),
            ("POST", f"{V3}/plans/{pid}/publish", self._publish_plan_v3),
            ("POST", "/api/v1/plans", self._create_plan_v1),
            ("GET", f"/api/v1/plans/{pid}", self._get_plan_v1),
            ("POST", f"/api/v1/plans/{pid}/publish", self._publish_plan_v1),
            ("POST", f"{V3}/subscriptions", self._create_subscription_v3),
            ("GET", f"{V3}/subscriptions/{sid}", self._get_subscription_v3),
            ("POST", f"{V3}/subscriptions/{sid}/cancel", self._cancel_v3),
            ("POST", f"{V3}/subscriptions/{sid}/change", self._change_v3),
            ("POST", f"{V3}/subscriptions/{sid}/unschedule-cancelation", self._continue_v3),
            ("POST", "/api/v1/subscriptions", self._create_subscription_v1),
            ("GET", f"/api/v1/subscriptions/{sid}", self._get_subscription_v1),
            ("PATCH", f"/api/v1/subscriptions/{sid}", self._edit_v1),
            ("POST", f"/api/v1/subscriptions/{sid}/cancel", self._cancel_v1),
            ("POST", f"/api/v1/subscriptions/{sid}/change", self._change_v1),
            ("POST", f"/api/v1/subscriptions/{sid}/unschedule-cancelation", self._continue_v1),
            ("POST", f"/api/v1/subscriptions/{sid}/restore", self._restore_v1),
            ("POST", "/api/v1/events", self._ingest_v1),
            ("POST", f"{V3}/events", self._ingest_v3),
            ("GET", "/api/v1/billing/invoices", self._list_invoices),
            ("POST", "/api/v1/billing/invoices/invoice", self._invoice_pending),
            ("GET", f"/api/v1/billing/invoices/{iid}", self._get_invoice),
        ]
        for method, pattern, handler in routes:
            self.router.route(method=method, path__regex=f"^{pattern}$").mock(side_effect=self._wrap(handler))
        self.router.route().mock(side_effect=self._wrap(self._unknown_route))

    def _wrap(self, handler: Handler) -> Callable[..., httpx.Response]:
        def side_effect(request: httpx.Request, **params: str) -> httpx.Response:
            self._requests += 1
            request_id = f"offline-{self._requests:06d}"
            api = api_of(request.url.path)
            try:
                status, body = handler(request, **params)
            except ApiError as err:
                return problem_response(err, api, request_id)
            except Exception as err:  # a bug in the fake: answer like a server would, with the reason
                return problem_response(
                    ApiError(500, f"offline OpenMeter failed: {type(err).__name__}: {err}"), api, request_id
                )
            finally:
                if self.latency:  # the round trip takes a moment of (virtual) time
                    self.clock.sleep(self.latency.total_seconds())
            if status == 204:
                return httpx.Response(204)
            return httpx.Response(
                status, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
            )

        return side_effect

    def _unknown_route(self, request: httpx.Request) -> Reply:
        raise ApiError(404, f"route not found: {request.method} {request.url.path}")

    def _now(self) -> datetime:
        return self.clock.now()

    # ---------------------------------------------------------------- server, meters, features

    def _version(self, request: httpx.Request) -> Reply:
        return 200, {"version": f"offline-{self.behaviour.value}", "os": "offline", "arch": "engine"}

    def _create_meter(self, request: httpx.Request) -> Reply:
        meter = parse_meter(json_body(request), new_id=self._ids.new(Kind.METER), now=self._now())
        if any(m.key == meter.key for m in self._meters.values()):
            raise ApiError(409, f"meter with key {meter.key} already exists")
        self._meters[meter.id] = meter
        return 201, meter.v3()

    def _meter(self, meter_id: str) -> Meter:
        meter = self._meters.get(meter_id) or next((m for m in self._meters.values() if m.key == meter_id), None)
        if meter is None:
            raise ApiError.not_found("meter", meter_id)
        return meter

    def _get_meter(self, request: httpx.Request, mid: str) -> Reply:
        return 200, self._meter(mid).v3()

    def _query_meter(self, request: httpx.Request, mid: str) -> Reply:
        meter = self._meter(mid)
        body = json_body(request, required=False)
        f = Fields(
            body if body is not None else {},
            allowed=("from", "to", "granularity", "time_zone", "group_by_dimensions", "filters"),
        )
        start, end = f.opt_time("from"), f.opt_time("to")
        period = None
        if start is not None or end is not None:
            period = Period(start or datetime.min.replace(tzinfo=UTC), end or datetime.max.replace(tzinfo=UTC))
        found = aggregate(meter, self._visible_events(), period=period)
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

    def _create_feature(self, request: httpx.Request) -> Reply:
        feature, meter_id = parse_feature(json_body(request), new_id=self._ids.new(Kind.FEATURE), now=self._now())
        if meter_id is not None and meter_id not in self._meters:
            raise ApiError.bad_field("meter.id", f"meter {meter_id} not found")
        if self._feature_by_key(feature.key) is not None:
            raise ApiError(409, f"feature with key {feature.key} already exists")
        self._features[feature.id] = feature
        return 201, feature.v3()

    def _get_feature(self, request: httpx.Request, fid: str) -> Reply:
        feature = self._features.get(fid)
        if feature is None:
            raise ApiError.not_found("feature", fid)
        return 200, feature.v3()

    # ---------------------------------------------------------------- customers, profiles, credits

    def _create_customer(self, request: httpx.Request) -> Reply:
        customer = parse_customer(json_body(request), new_id=self._ids.new(Kind.CUSTOMER), now=self._now())
        for other in self._customers.values():
            if other.key == customer.key:
                raise ApiError(409, f"customer with key {customer.key} already exists")
            taken = set(other.subject_keys) & set(customer.subject_keys)
            if taken:
                raise ApiError(409, f"subject key {sorted(taken)[0]} is already used by customer {other.id}")
        self._customers[customer.id] = customer
        return 201, customer.v3()

    def _get_customer(self, request: httpx.Request, cid: str) -> Reply:
        return 200, self._customer(cid).v3()

    def _get_customer_billing(self, request: httpx.Request, cid: str) -> Reply:
        customer = self._customer(cid)
        profile_id = customer.profile_id or self._default_profile().id
        return 200, {"billing_profile": {"id": profile_id}, "app_data": {}}

    def _put_customer_billing(self, request: httpx.Request, cid: str) -> Reply:
        customer = self._customer(cid)
        f = Fields(json_body(request), allowed=("billing_profile", "app_data"))
        ref = f.opt_obj("billing_profile", allowed=("id",))
        profile_id = ref.req_str("id") if ref is not None else None
        if profile_id is not None and profile_id not in self._profiles:
            raise ApiError.bad_field("billing_profile.id", f"billing profile {profile_id} not found")
        self._customers[cid] = replace(customer, profile_id=profile_id)
        return 200, {"billing_profile": {"id": profile_id or self._default_profile().id}, "app_data": {}}

    def _list_profiles(self, request: httpx.Request) -> Reply:
        return 200, _v3_page(request, [p.v3() for p in self._profiles.values()], default_size=20)

    def _get_profile(self, request: httpx.Request, bid: str) -> Reply:
        profile = self._profiles.get(bid)
        if profile is None:
            raise ApiError.not_found("billing profile", bid)
        return 200, profile.v3()

    def _create_profile(self, request: httpx.Request) -> Reply:
        profile = parse_profile(
            json_body(request),
            new_id=self._ids.new(Kind.PROFILE),
            now=self._now(),
            known_apps=(self._app_id,),
        )
        if profile.default:
            for other in list(self._profiles.values()):
                if other.default:
                    self._profiles[other.id] = replace(other, default=False)
        self._profiles[profile.id] = profile
        return 201, profile.v3()

    def _require_credits(self) -> None:
        if not self.config.credits_enabled:
            raise ApiError(501, "credits are not enabled on this OpenMeter (credits.enabled: false)")

    def _create_grant(self, request: httpx.Request, cid: str) -> Reply:
        self._require_credits()
        self._customer(cid)
        grant = parse_grant(json_body(request), new_id=self._ids.new(Kind.GRANT), customer_id=cid, now=self._now())
        if grant.key is not None and any(g.customer_id == cid and g.key == grant.key for g in self._grants.values()):
            raise ApiError(409, f"credit grant with key {grant.key} already exists for customer {cid}")
        self._grants[grant.id] = grant
        return 201, grant.v3(self._tax_code_id)

    def _list_grants(self, request: httpx.Request, cid: str) -> Reply:
        self._require_credits()
        self._customer(cid)
        rows = [g.v3(self._tax_code_id) for g in self._grants.values() if g.customer_id == cid]
        return 200, _v3_page(request, rows, default_size=20)

    def _balance(self, request: httpx.Request, cid: str) -> Reply:
        """HEAD shape; nothing is booked against credits before collection, so live = settled = granted."""
        self._require_credits()
        customer = self._customer(cid)
        totals: dict[str, Decimal] = {}
        if customer.currency is not None:
            totals[customer.currency] = Decimal(0)
        for grant in self._grants.values():
            if grant.customer_id == cid:
                totals[grant.currency] = totals.get(grant.currency, Decimal(0)) + grant.amount
        balances = [
            {"currency": cur, "live": numeric(amount), "pending": "0", "settled": numeric(amount)}
            for cur, amount in totals.items()
        ]
        return 200, {"balances": balances, "retrieved_at": format_time(self._now())}

    # ---------------------------------------------------------------- plans

    def _next_version(self, key: str) -> int:
        return 1 + max((p.version for p in self._plans.values() if p.key == key), default=0)

    def _create_plan_v3(self, request: httpx.Request) -> Reply:
        body = json_body(request)
        key = body.get("key") if isinstance(body, dict) else None
        plan = parse_plan_v3(
            body,
            new_id=self._ids.new(Kind.PLAN),
            version=self._next_version(key) if isinstance(key, str) else 1,
            now=self._now(),
            feature_by_id=self._features.get,
            accept_settlement_mode=self.v3_plan_settlement_mode,
        )
        self._plans[plan.id] = plan
        return 201, plan.v3()

    def _create_plan_v1(self, request: httpx.Request) -> Reply:
        body = json_body(request)
        key = body.get("key") if isinstance(body, dict) else None
        plan = parse_plan_v1(
            body,
            new_id=self._ids.new(Kind.PLAN),
            version=self._next_version(key) if isinstance(key, str) else 1,
            now=self._now(),
            feature_by_key=self._feature_by_key,
        )
        self._plans[plan.id] = plan
        return 201, plan.v1()

    def _plan(self, plan_id: str) -> Plan:
        plan = self._plans.get(plan_id)
        if plan is None:
            raise ApiError.not_found("plan", plan_id)
        return plan

    def _get_plan_v3(self, request: httpx.Request, pid: str) -> Reply:
        return 200, self._plan(pid).v3()

    def _get_plan_v1(self, request: httpx.Request, pid: str) -> Reply:
        return 200, self._plan(pid).v1()

    def _publish_plan(self, plan_id: str) -> Plan:
        plan = self._plan(plan_id)
        if plan.status != "draft":
            raise ApiError(400, f"plan {plan_id} cannot be published: its status is {plan.status}, not draft")
        issues = validate_plan(plan)
        if issues:
            raise ApiError(400, "invalid plan: " + "; ".join(f"{i.field}: {i.message}" for i in issues), issues=issues)
        now = self._now()
        for other in list(self._plans.values()):
            if other.key == plan.key and other.status == "active":
                self._plans[other.id] = replace(other, status="archived", updated_at=now)
        published = replace(plan, status="active", effective_from=now, updated_at=now)
        self._plans[plan.id] = published
        return published

    def _publish_plan_v3(self, request: httpx.Request, pid: str) -> Reply:
        return 200, self._publish_plan(pid).v3()

    def _publish_plan_v1(self, request: httpx.Request, pid: str) -> Reply:
        return 200, self._publish_plan(pid).v1()

    # ---------------------------------------------------------------- subscriptions

    def _render(self, sub: SubscriptionSpec, api: Literal["v1", "v3"], *, expanded: bool = False) -> Any:
        now = self._now()
        if api == "v3":
            return subs.render_v3(sub, now, self._feature_info)
        return subs.render_v1(sub, now, self._feature_info, expanded=expanded)

    @staticmethod
    def _settlement(value: str | None, field: str, plan: Plan) -> SettlementMode:
        if value is None:
            return plan.settlement_mode
        try:
            return SettlementMode(value)
        except ValueError:
            raise ApiError.bad_field(field, "must be credit_then_invoice or credit_only", "enum") from None

    def _new_subscription(
        self,
        plan: Plan,
        customer: Customer,
        *,
        active_from: datetime,
        anchor: datetime | None,
        settlement: SettlementMode,
        api: str,
    ) -> SubscriptionSpec:
        self._check_single(customer.id, active_from, api)
        sub = subs.create_from_plan(
            plan,
            subscription_id=self._ids.new(Kind.SUBSCRIPTION),
            customer_id=customer.id,
            active_from=active_from,
            billing_anchor=anchor or active_from,
            settlement_mode=settlement,
            ids=self._ids,
            now=self._now(),
        )
        self._store(sub)
        self._publish(EventType.CREATED, sub)
        return sub

    def _create_subscription_v3(self, request: httpx.Request) -> Reply:
        f = Fields(
            json_body(request),
            allowed=("labels", "settlement_mode", "customer", "plan", "billing_anchor", "cost_basis_mode"),
        )
        cref = f.obj("customer", allowed=("id", "key"))
        customer_id = cref.opt_str("id")
        customer = (
            self._customer(customer_id) if customer_id is not None else self._customer_by_key(cref.req_str("key"))
        )
        plan = self._plan_ref(f.obj("plan", allowed=("id", "key", "version")))
        sub = self._new_subscription(
            plan,
            customer,
            active_from=self._now(),
            anchor=f.opt_time("billing_anchor"),
            settlement=self._settlement(f.opt_str("settlement_mode"), "settlement_mode", plan),
            api="v3",
        )
        return 201, self._render(sub, "v3")

    def _customer_by_key(self, key: str) -> Customer:
        found = next((c for c in self._customers.values() if c.key == key), None)
        if found is None:
            raise ApiError.not_found("customer", key)
        return found

    def _start_time(self, raw: str | None, field: str) -> datetime:
        now = self._now()
        if raw is None or raw == "immediate":
            return now
        try:
            at = parse_time(raw)
        except ValueError:
            raise ApiError.bad_field(field, f"must be immediate or an RFC 3339 time, got {raw!r}") from None
        if at < now - _TIMING_PAST_TOLERANCE:
            raise ApiError.bad_field(field, "a subscription cannot start more than 2 minutes in the past")
        return at

    def _create_subscription_v1(self, request: httpx.Request) -> Reply:
        f = Fields(json_body(request))
        if f.has("customPlan"):
            raise ApiError(400, "custom-plan subscriptions are not supported by the offline OpenMeter")
        customer_id = f.opt_str("customerId")
        customer = (
            self._customer(customer_id) if customer_id is not None else self._customer_by_key(f.req_str("customerKey"))
        )
        plan = self._plan_ref(f.obj("plan"))
        sub = self._new_subscription(
            plan,
            customer,
            active_from=self._start_time(f.opt_str("timing"), "timing"),
            anchor=f.opt_time("billingAnchor"),
            settlement=self._settlement(f.opt_str("settlementMode"), "settlementMode", plan),
            api="v1",
        )
        return 201, self._render(sub, "v1")

    def _get_subscription_v3(self, request: httpx.Request, sid: str) -> Reply:
        return 200, self._render(self._subscription(sid), "v3")

    def _get_subscription_v1(self, request: httpx.Request, sid: str) -> Reply:
        return 200, self._render(self._subscription(sid), "v1", expanded=True)

    @staticmethod
    def _timing(raw: Any, field: str = "timing") -> str | datetime:
        if raw is None:
            return "immediate"
        if not isinstance(raw, str):
            raise ApiError.bad_field(field, "expected immediate, next_billing_cycle or an RFC 3339 time", "type")
        if raw in ("immediate", "next_billing_cycle"):
            return raw
        try:
            return parse_time(raw)
        except ValueError:
            raise ApiError.bad_field(
                field, f"expected immediate, next_billing_cycle or an RFC 3339 time, got {raw!r}"
            ) from None

    def _cancel(self, request: httpx.Request, sid: str, api: Literal["v1", "v3"]) -> Reply:
        sub = self._subscription(sid)
        body = json_body(request, required=False)
        f = Fields(body if body is not None else {}, allowed=("timing",) if api == "v3" else None)
        cancelled = self._store(subs.cancel(sub, self._timing(f.raw("timing")), ids=self._ids, now=self._now()))
        self._publish(EventType.CANCELLED, cancelled)
        return 200, self._render(cancelled, api)

    def _cancel_v3(self, request: httpx.Request, sid: str) -> Reply:
        return self._cancel(request, sid, "v3")

    def _cancel_v1(self, request: httpx.Request, sid: str) -> Reply:
        return self._cancel(request, sid, "v1")

    def _continue(self, sid: str, api: Literal["v1", "v3"]) -> Reply:
        continued = self._store(subs.continue_(self._subscription(sid), ids=self._ids, now=self._now()))
        self._publish(EventType.CONTINUED, continued)
        return 200, self._render(continued, api)

    def _continue_v3(self, request: httpx.Request, sid: str) -> Reply:
        return self._continue(sid, "v3")

    def _continue_v1(self, request: httpx.Request, sid: str) -> Reply:
        return self._continue(sid, "v1")

    def _restore_v1(self, request: httpx.Request, sid: str) -> Reply:
        """v1 ``restore``: delete the scheduled successor (its sync then leaves nothing behind: a
        deleted subscription's target is empty) and let this subscription go on."""
        sub = self._subscription(sid)
        now = self._now()
        if sub.active_to is None:
            raise ApiError(400, f"subscription {sid} has no successor to restore from")
        for other in list(self._subscriptions.values()):
            if other.customer_id == sub.customer_id and other.id != sub.id and other.active_from == sub.active_to:
                gone = self._store(subs.end_at(other, other.active_from, ids=self._ids, now=now))
                self._publish(EventType.CANCELLED, gone)
        restored = self._store(replace(sub, active_to=None, updated_at=now))
        self._publish(EventType.CONTINUED, restored)
        return 200, self._render(restored, "v1")

    def _edit_v1(self, request: httpx.Request, sid: str) -> Reply:
        sub = self._subscription(sid)
        f = Fields(json_body(request), allowed=("customizations", "timing"))
        timing = self._timing(f.raw("timing"))
        now = self._now()
        if isinstance(timing, datetime):
            raise ApiError.bad_field(
                "timing", "custom timing is not supported for edits: use immediate or next_billing_cycle"
            )
        subs.require_active(sub, "update", now)
        at = now if timing == "immediate" else subs.change_time(sub, now, timing)
        edited = self._store(
            subs.edit(
                sub,
                f.items("customizations", required=True),
                at,
                ids=self._ids,
                now=now,
                feature_by_key=self._feature_by_key,
            )
        )
        self._publish(EventType.UPDATED, edited)
        return 200, self._render(edited, "v1")

    def _change(
        self,
        sid: str,
        *,
        timing: str | datetime,
        plan: Plan,
        settlement: SettlementMode,
        anchor: datetime | None,
    ) -> tuple[SubscriptionSpec, SubscriptionSpec]:
        sub = self._subscription(sid)
        now = self._now()
        subs.require_active(sub, "cancel", now)
        at = subs.change_time(sub, now, timing)
        customer = self._customer(sub.customer_id)
        self._check_single(customer.id, at, "v3", ignore=sub.id)
        ended = self._store(subs.end_at(sub, at, ids=self._ids, now=now))
        self._publish(EventType.CANCELLED, ended)
        successor = self._new_subscription(
            plan,
            customer,
            active_from=at,
            anchor=anchor or sub.billing_anchor,
            settlement=settlement,
            api="v3",
        )
        return ended, successor

    def _change_v3(self, request: httpx.Request, sid: str) -> Reply:
        f = Fields(
            json_body(request),
            allowed=(
                "labels",
                "settlement_mode",
                "customer",
                "plan",
                "billing_anchor",
                "cost_basis_mode",
                "timing",
            ),
        )
        f.obj("customer", allowed=("id", "key"))  # required, ignored (as upstream's handler does)
        if not f.has("timing"):
            raise ApiError.bad_field("timing", "required", "required")
        plan = self._plan_ref(f.obj("plan", allowed=("id", "key", "version")))
        current, successor = self._change(
            sid,
            timing=self._timing(f.raw("timing")),
            plan=plan,
            settlement=self._settlement(f.opt_str("settlement_mode"), "settlement_mode", plan),
            anchor=f.opt_time("billing_anchor"),
        )
        return 200, {"current": self._render(current, "v3"), "next": self._render(successor, "v3")}

    def _change_v1(self, request: httpx.Request, sid: str) -> Reply:
        f = Fields(json_body(request))
        if not f.has("timing"):
            raise ApiError.bad_field("timing", "required", "required")
        plan = self._plan_ref(f.obj("plan"))
        current, successor = self._change(
            sid,
            timing=self._timing(f.raw("timing")),
            plan=plan,
            settlement=self._settlement(f.opt_str("settlementMode"), "settlementMode", plan),
            anchor=f.opt_time("billingAnchor"),
        )
        return 200, {"current": self._render(current, "v1"), "next": self._render(successor, "v1")}

    # ---------------------------------------------------------------- usage

    def _ingest(self, request: httpx.Request) -> None:
        body = json_body(request)
        rows = body if isinstance(body, list) else [body]
        now = self._now()
        parsed = [parse_event(raw, f"[{i}]" if isinstance(body, list) else "", now=now) for i, raw in enumerate(rows)]
        for event in parsed:
            key = (event.source, event.id)
            if key in self._event_keys:
                continue  # deduplicated on (source, id), as the sink worker does
            self._event_keys.add(key)
            self._events.append((now, event))

    def _ingest_v1(self, request: httpx.Request) -> Reply:
        self._ingest(request)
        return 204, None

    def _ingest_v3(self, request: httpx.Request) -> Reply:
        self._ingest(request)
        return 202, {}

    # ---------------------------------------------------------------- charges and invoices

    def _list_charges(self, request: httpx.Request, cid: str) -> Reply:
        self._customer(cid)
        self._note_read()
        params = request.url.params
        raw_status = (
            params.get("filter[status][oeq]") or params.get("filter[status][eq]") or params.get("filter[status]")
        )
        wanted = {s for s in _CHARGE_STATUSES if s != ChargeStatus.DELETED.value}
        if raw_status:
            wanted = {s.strip() for s in raw_status.split(",") if s.strip()}
            unknown = sorted(wanted - set(_CHARGE_STATUSES))
            if unknown:
                raise ApiError.bad_field(
                    "filter[status]",
                    f"unknown charge status {unknown[0]!r} (one of {', '.join(_CHARGE_STATUSES)})",
                    "enum",
                )
        charges = [c for c in self.state.customer(cid).charges.values() if c.meta_status.value in wanted]
        sort = params.get("sort")
        if sort:
            field, _, direction = sort.partition(" ")
            keys: dict[str, Callable[[Any], Any]] = {
                "service_period.from": lambda c: (c.service_period.start, c.id),
                "invoice_at": lambda c: (c.invoice_at, c.id),
                "created_at": lambda c: (self._ledger.stamp(c.id, self._now()).created, c.id),
                "id": lambda c: c.id,
            }
            if field not in keys or direction not in ("", "asc", "desc"):
                raise ApiError.bad_field(
                    "sort",
                    f"cannot sort by {sort!r} (one of {', '.join(keys)}, optionally followed by ' desc')",
                    "enum",
                )
            charges.sort(key=keys[field], reverse=direction == "desc")
        rows = []
        for charge in charges:
            feature_key, feature_id = self._feature_of_item(charge.subscription.item_id)
            rows.append(
                charge_v3(
                    charge,
                    self._ledger.stamp(charge.id, self._now()),
                    feature_key=feature_key,
                    feature_id=feature_id,
                    tax_code_id=self._tax_code_id,
                )
            )
        return 200, _v3_page(request, rows, default_size=20)

    def _effective_profile(self, customer_id: str) -> Profile:
        customer = self._customers.get(customer_id)
        profile = self._profiles.get(customer.profile_id) if customer and customer.profile_id else None
        return profile if profile is not None else self._default_profile()

    def _render_invoice(
        self, invoice_id: str, customer_id: str, *, with_lines: bool, include_deleted_lines: bool = False
    ) -> dict[str, Any]:
        cust = self.state.customer(customer_id)
        return invoice_v1(
            cust.invoices[invoice_id],
            cust,
            self._customers.get(customer_id),
            self._ledger,
            self._now(),
            with_lines=with_lines,
            include_deleted_lines=include_deleted_lines,
            feature_of=self._feature_of_item,
            usage=self._usage,
            tax_code_id=self._tax_code_id,
            workflow=invoice_workflow_v1(self._effective_profile(customer_id), self._started_at),
        )

    def _list_invoices(self, request: httpx.Request) -> Reply:
        self._note_read()
        params = request.url.params
        customers = set(params.get_list("customers"))
        statuses = set(params.get_list("statuses"))
        with_lines = "lines" in params.get_list("expand")
        include_deleted = _bool_param(params.get("includeDeleted"), "includeDeleted")
        found: list[tuple[datetime, str, str]] = []
        for customer_id, cust in self.state.customers.items():
            if customers and customer_id not in customers:
                continue
            for invoice in cust.invoices.values():
                if invoice.deleted and not include_deleted:
                    continue
                if statuses and invoice.status not in statuses:
                    continue
                found.append((self._ledger.stamp(invoice.id, self._now()).created, invoice.id, customer_id))
        found.sort()
        page, size = _v1_paging(params.get("page"), params.get("pageSize"))
        chosen = found[(page - 1) * size : page * size]
        items = [self._render_invoice(iid, cid, with_lines=with_lines) for _, iid, cid in chosen]
        return 200, {"items": items, "page": page, "pageSize": size, "totalCount": len(found)}

    def _get_invoice(self, request: httpx.Request, iid: str) -> Reply:
        self._note_read()
        params = request.url.params
        for customer_id, cust in self.state.customers.items():
            if iid in cust.invoices:
                return 200, self._render_invoice(
                    iid,
                    customer_id,
                    with_lines="lines" in params.get_list("expand"),
                    include_deleted_lines=_bool_param(params.get("includeDeletedLines"), "includeDeletedLines"),
                )
        raise ApiError.not_found("invoice", iid)

    def _invoice_pending(self, request: httpx.Request) -> Reply:
        f = Fields(json_body(request), allowed=("customerId", "asOf", "filters", "progressiveBillingOverride"))
        customer = self._customer(f.req_str("customerId"))
        if f.has("filters"):
            raise ApiError(400, "filters are not supported by the offline OpenMeter: invoice all due lines")
        self._flush()
        now = self._now()
        as_of = f.opt_time("asOf") or now
        override = f.opt_bool("progressiveBillingOverride")
        progressive = override if override is not None else self._config_for(customer.id).progressive_billing
        engine = Engine(self._config_for(customer.id), self.behaviour)
        result = engine.invoice(self.state, customer.id, now, as_of, progressive)
        if not result.invoice_ids:
            message = "the new invoice would have no lines"
            raise ApiError(400, message, issues=(Issue("invoice_create_no_lines", message),))
        self._commit(result.state, now)
        return 201, [self._render_invoice(iid, customer.id, with_lines=True) for iid in result.invoice_ids]


# ------------------------------------------------------------------------------ paging


def _positive_int(raw: str | None, field: str, default: int, maximum: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError.bad_field(field, f"expected an integer, got {raw!r}", "type") from None
    if value < 1 or value > maximum:
        raise ApiError.bad_field(field, f"must be between 1 and {maximum}", "minimum" if value < 1 else "maximum")
    return value


def _bool_param(raw: str | None, field: str) -> bool:
    if raw is None:
        return False
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ApiError.bad_field(field, f"expected true or false, got {raw!r}", "type")


def _v1_paging(page: str | None, size: str | None) -> tuple[int, int]:
    return (
        _positive_int(page, "page", 1, 1_000_000),
        _positive_int(size, "pageSize", 100, _V1_MAX_PAGE_SIZE),
    )


def _v3_page(request: httpx.Request, rows: Iterable[Any], *, default_size: int) -> dict[str, Any]:
    """A v3 page: ``{data, meta: {page: {number, size, total}}}``; an empty page has ``data: null``
    (Go's nil slice, as observed live)."""
    params = request.url.params
    number = _positive_int(params.get("page[number]"), "page[number]", 1, 1_000_000)
    size = _positive_int(params.get("page[size]"), "page[size]", default_size, _V3_MAX_PAGE_SIZE)
    everything = list(rows)
    chosen = everything[(number - 1) * size : number * size]
    return {
        "data": chosen or None,
        "meta": {"page": {"size": size, "number": number, "total": len(everything)}},
    }
