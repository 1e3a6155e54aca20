"""``OpenMeterClient``: the typed, synchronous httpx client for OpenMeter's v1 and v3 APIs.

The client absorbs every v1/v3 and build difference the suite meets, so callers never see them:
camelCase vs snake_case, two pagination styles (walked to the end, bounded), 204 vs 202 on
ingest, the swapped subscription/item ids of v1 invoice lines, gathering invoices (v1 only),
charges (v3 only), and the #4412-window build's missing v3 ``settlement_mode`` (it falls back to
v1, remembers the capability, and says which path it took).

Calls have timeouts, each one deadline for the whole exchange (a server that drips its answer
byte by byte is cut off like one that says nothing). Only GETs are retried (small bounded
backoff), plus any request whose connection failed before it was sent; a POST/PATCH/PUT the
server may have seen is never repeated, and nothing is repeated after a server used up the
whole deadline. Every exchange can be recorded (:class:`~contract.client.recording.Recorder`) and
validated against the OpenAPI documents (:class:`~contract.client.validation.ResponseValidator`,
findings in :attr:`OpenMeterClient.findings`). The API key is sent as a bearer token when set and
masked everywhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx

from contract import __version__
from contract.client import _parse as p
from contract.client.deadline import DeadlineTransport
from contract.client.errors import (
    OpenMeterError,
    OpenMeterProblem,
    OpenMeterResponseError,
    OpenMeterUnreachable,
    parse_problem,
)
from contract.client.inputs import Amount, EditOp, Event, PlanInput, Timing, edit_ops_v1, timing_value
from contract.client.masking import ApiKey, mask_secrets
from contract.client.models import (
    ApiVersion,
    BillingProfile,
    ChangeResult,
    Charge,
    CreditBalances,
    CreditGrant,
    Customer,
    Feature,
    Invoice,
    Meter,
    Plan,
    ServerVersion,
    SubscriptionSummary,
    SubscriptionView,
)
from contract.client.recording import Recorder
from contract.errors import InputError
from contract.findings import Finding, FindingKind
from contract.limits import json_depth_exceeds
from contract.model.domain import SettlementMode
from contract.model.time import format_time, require_utc

if TYPE_CHECKING:
    from contract.client.validation import ResponseValidator

log = logging.getLogger("contract.client")
T = TypeVar("T")
ExchangeListener = Callable[[str, str, Any, "int | None"], None]

V3 = "/api/v3/openmeter"
CHARGE_STATUSES_ALL = ("created", "active", "final", "deleted")
_RETRY_STATUSES = frozenset({502, 503, 504})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_HUNG = (httpx.ReadTimeout, httpx.WriteTimeout)
#: Seconds for the exchanges that establish whether a server is usable (its OpenAPI documents).
PROBE_TIMEOUT_S = 3.0
_MAX_BACKOFF = 1.0


@dataclass(slots=True)
class Capabilities:
    """What this server accepts, learned from its answers (None: not tried yet)."""

    v3_plan_settlement_mode: bool | None = None
    v3_subscription_settlement_mode: bool | None = None
    v3_unschedule_cancelation: bool | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer: status, parsed body (JSON, ``""`` when empty, text otherwise), final URL."""

    status: int
    body: Any
    url: str
    elapsed_ms: float


_NO_BODY: Any = object()


#: JSON nested deeper than this is not an answer this client reads (json.loads recurses per level).
MAX_RESPONSE_NESTING = 200


def _parse_body(response: httpx.Response) -> Any:
    if not response.content:
        return ""
    text = response.text
    if json_depth_exceeds(text, MAX_RESPONSE_NESTING):
        return text  # not JSON this client can read: callers report the shape they got
    try:
        return json.loads(text)
    except ValueError:
        return text


def _rows(body: Any, key: str) -> list[Any]:
    return p.items(p.obj(body), key)


def _is_no_lines(err: OpenMeterProblem) -> bool:
    return (
        "invoice_create_no_lines" in err.codes
        or err.problem.mentions("invoice_create_no_lines")
        or (err.problem.mentions("would have no lines"))
    )


class OpenMeterClient:
    """Typed OpenMeter client. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | ApiKey | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        recorder: Recorder | None = None,
        validator: ResponseValidator | None = None,
        read_retries: int = 2,
        retry_backoff: float = 0.1,
        sleep: Callable[[float], None] | None = None,
        swap_v1_line_ids: bool = True,
        max_pages: int = 100,
    ) -> None:
        url = base_url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise InputError(f"not an http(s) URL: {base_url!r}", field="--openmeter-url")
        if timeout <= 0:
            raise InputError(f"timeout must be positive, got {timeout}", field="timeout")
        if read_retries < 0:
            raise InputError(f"read_retries must be >= 0, got {read_retries}", field="read_retries")
        self.base_url = url
        self._api_key = api_key if isinstance(api_key, ApiKey) or api_key is None else ApiKey(api_key)
        self.timeout = timeout
        self.read_retries = read_retries
        self.retry_backoff = retry_backoff
        self._sleep = sleep or time.sleep
        self.swap_v1_line_ids = swap_v1_line_ids
        self.max_pages = max_pages
        self.recorder = recorder
        if recorder is not None and self._api_key is not None:
            recorder.add_secret(self._api_key)
        self.validator = validator
        self.findings: list[Finding] = []
        self.capabilities = Capabilities()
        self.fallbacks: list[str] = []  # one sentence per time the client took a fallback path
        self.current_step: str | None = None
        self._listeners: list[ExchangeListener] = []
        self._plan_via: dict[str, ApiVersion] = {}
        headers = {"Accept": "application/json", "User-Agent": f"openmeter-contract/{__version__}"}
        if self._api_key is not None:
            headers["Authorization"] = self._api_key.authorization()
        self._http = httpx.Client(
            base_url=url,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            transport=transport if transport is not None else DeadlineTransport(),
        )

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def api_key(self) -> ApiKey | None:
        """The key this client sends (masked in every ``repr``), for a sibling client on the same server."""
        return self._api_key

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenMeterClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        key = "***" if self._api_key is not None else None
        return f"OpenMeterClient({self.base_url!r}, api_key={key}, timeout={self.timeout})"

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Name the step of the exchanges (and findings) that follow, for recordings and reports."""
        previous = self.current_step
        self.current_step = name
        try:
            yield
        finally:
            self.current_step = previous

    def mask(self, value: Any) -> Any:
        """``value`` with this client's API key (and any bearer token) replaced by ``***``."""
        return mask_secrets(value, [self._api_key])

    # -- transport ---------------------------------------------------------------------------

    def add_exchange_listener(self, listener: ExchangeListener) -> None:
        """Call ``listener(method, url, request_body, status)`` after every exchange (masked)."""
        self._listeners.append(listener)

    def remove_exchange_listener(self, listener: ExchangeListener) -> None:
        self._listeners.remove(listener)

    def _record(
        self,
        method: str,
        url: str,
        request_body: Any,
        status: int | None,
        elapsed_ms: float,
        response_body: Any,
        error: str | None = None,
    ) -> None:
        for listener in list(self._listeners):
            listener(method, self.mask(url), self.mask(request_body), status)
        if self.recorder is not None:
            self.recorder.record_http(
                step=self.current_step,
                method=method,
                url=url,
                request_body=request_body,
                status=status,
                elapsed_ms=elapsed_ms,
                response_body=response_body,
                error=error,
            )

    def _note(self, **fields: Any) -> None:
        if self.recorder is not None:
            self.recorder.note(self.current_step, **fields)

    def _fallback(self, message: str, **fields: Any) -> None:
        text = self.mask(message)
        self.fallbacks.append(text)
        log.info("%s", text)
        self._note(fallback=text, **fields)

    def _describe_failure(self, exc: httpx.HTTPError, sent: bool, limit: float | None = None) -> str:
        text = str(exc)
        limit = self.timeout if limit is None else limit
        if isinstance(exc, httpx.ConnectTimeout):
            return f"timed out connecting after {limit:g} s"
        if isinstance(exc, httpx.ConnectError):
            if "refused" in text.lower():
                return "connection refused"
            return f"could not connect ({text or type(exc).__name__})"
        if isinstance(exc, httpx.ReadTimeout):
            return f"got no complete answer within {limit:g} s"
        if isinstance(exc, httpx.TimeoutException):
            return f"timed out after {limit:g} s ({type(exc).__name__})"
        what = f"failed ({type(exc).__name__}: {text})" if text else f"failed ({type(exc).__name__})"
        return what + (" after the request was sent" if sent else "")

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str | int]] | None = None,
        json_body: Any = _NO_BODY,
        content_type: str | None = None,
        record_response: bool = True,
        validate: bool = True,
        timeout: float | None = None,
    ) -> Reply:
        """One call (with GET/connect retries); raise :class:`OpenMeterProblem` on HTTP errors.

        Lower level than the typed methods; use it for endpoints they do not cover.
        """
        method = method.upper()
        headers: dict[str, str] = {}
        content: bytes | None = None
        request_body: Any = None
        if json_body is not _NO_BODY:
            request_body = json_body
            content = json.dumps(json_body).encode()
            headers["Content-Type"] = content_type or "application/json"
        query: list[tuple[str, str | int | float | bool | None]] = list(params or ())
        request = self._http.build_request(
            method,
            path,
            params=query or None,
            content=content,
            headers=headers,
            timeout=httpx.Timeout(timeout) if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        url = str(request.url)
        shown_path = request.url.path
        retries = self.read_retries
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                response = self._http.send(request)
            except httpx.HTTPError as exc:
                elapsed = (time.perf_counter() - started) * 1000
                sent = not isinstance(exc, _NOT_SENT)
                what = self._describe_failure(exc, sent, timeout)
                self._record(method, url, request_body, None, elapsed, None, error=what)
                may_retry = (
                    (method == "GET" or not sent)
                    and isinstance(exc, httpx.TransportError)
                    and not isinstance(exc, _HUNG)  # it had the whole deadline: asking again waits as long
                )
                if may_retry and attempt <= retries:
                    self._backoff(attempt)
                    continue
                tries = f" ({attempt} attempts)" if attempt > 1 else ""
                caution = ""
                if sent and method != "GET":
                    caution = "; the server may have processed it, so it was not repeated"
                raise OpenMeterUnreachable(
                    self.mask(
                        f"cannot reach OpenMeter at {self.base_url}: {method} {shown_path} {what}{tries}"
                        f"{caution}; is OpenMeter running? pass --openmeter-url"
                    ),
                    method=method,
                    path=shown_path,
                ) from None
            elapsed = (time.perf_counter() - started) * 1000
            body = _parse_body(response)
            self._record(
                method,
                url,
                request_body,
                response.status_code,
                elapsed,
                body if record_response else f"<{len(response.content)} bytes, not recorded>",
            )
            if response.status_code in _RETRY_STATUSES and method == "GET" and attempt <= retries:
                self._backoff(attempt)
                continue
            break
        if validate and self.validator is not None:
            self._validate(method, url, response, body)
        if response.status_code >= 400:
            problem = parse_problem(response.status_code, self.mask(body), self.mask(response.text))
            raise OpenMeterProblem(method=method, path=shown_path, status=response.status_code, problem=problem)
        return Reply(status=response.status_code, body=body, url=url, elapsed_ms=elapsed)

    def _backoff(self, attempt: int) -> None:
        self._sleep(min(_MAX_BACKOFF, self.retry_backoff * (2 ** (attempt - 1))))

    def _validate(self, method: str, url: str, response: httpx.Response, body: Any) -> None:
        assert self.validator is not None
        try:
            found = self.validator.validate(
                method, url, response.status_code, body, content_type=response.headers.get("content-type")
            )
        except Exception as err:  # never let validation break a call
            found = [Finding(kind=FindingKind.SCHEMA, message=f"validation failed: {err}")]
        for finding in found:
            if finding.step is None and self.current_step is not None:
                finding = dataclasses.replace(finding, step=self.current_step)
            self.findings.append(
                dataclasses.replace(
                    finding,
                    message=self.mask(finding.message),
                    field=self.mask(finding.field),
                    expected=self.mask(finding.expected),
                    actual=self.mask(finding.actual),
                )
            )

    def _parsed(self, what: str, method: str, path: str, parse: Callable[[], T]) -> T:
        try:
            return parse()
        except p.ShapeError as err:
            raise OpenMeterResponseError(
                self.mask(f"{method} {path}: unexpected {what} response: {err}"), method=method, path=path
            ) from None

    def _get(self, path: str, params: Any = None) -> Any:
        return self.request("GET", path, params=params).body

    def _post(self, path: str, body: Any = _NO_BODY, params: Any = None) -> Any:
        return self.request("POST", path, json_body=body, params=params).body

    # -- pagination --------------------------------------------------------------------------

    def _v3_pages(self, path: str, params: Sequence[tuple[str, str | int]], size: int = 100) -> list[Any]:
        out: list[Any] = []
        page = 1
        while True:
            query: list[tuple[str, str | int]] = [("page[size]", size), *params]
            if page > 1:
                query.append(("page[number]", page))
            body = self._get(path, query)
            data = self._parsed("list", "GET", path, functools.partial(_rows, body, "data"))
            out.extend(data)
            meta = body.get("meta") if isinstance(body, Mapping) else None
            total = None
            if isinstance(meta, Mapping) and isinstance(meta.get("page"), Mapping):
                raw_total = meta["page"].get("total")
                total = int(raw_total) if isinstance(raw_total, int | float) else None
            if not data or (total is not None and len(out) >= total) or (total is None and len(data) < size):
                return out
            page += 1
            if page > self.max_pages:
                raise self._too_many_pages(path, size)

    def _v1_pages(self, path: str, params: Sequence[tuple[str, str | int]], size: int = 100) -> list[Any]:
        out: list[Any] = []
        page = 1
        while True:
            query: list[tuple[str, str | int]] = [*params, ("pageSize", size)]
            if page > 1:
                query.append(("page", page))
            body = self._get(path, query)
            rows = self._parsed("list", "GET", path, functools.partial(_rows, body, "items"))
            out.extend(rows)
            total = body.get("totalCount") if isinstance(body, Mapping) else None
            if (
                not rows
                or (isinstance(total, int) and len(out) >= total)
                or (not isinstance(total, int) and len(rows) < size)
            ):
                return out
            page += 1
            if page > self.max_pages:
                raise self._too_many_pages(path, size)

    def _too_many_pages(self, path: str, size: int) -> OpenMeterResponseError:
        return OpenMeterResponseError(
            f"GET {path}: more than {self.max_pages} pages of {size}; stopped", method="GET", path=path
        )

    # -- server ------------------------------------------------------------------------------

    def version(self) -> ServerVersion:
        """``GET /version`` (a build from source says ``"unknown"``)."""
        body = self._get("/version")
        return self._parsed("version", "GET", "/version", lambda: ServerVersion.from_api(body))

    def openapi_document(self, api: Literal["v1", "v3"]) -> dict[str, Any] | None:
        """The OpenAPI document the server serves (v1 ``/api/swagger.json``, v3 ``/api/v3/openapi.json``).

        None when the server does not serve it (404). The body is not recorded (it is ~1 MB).
        """
        path = "/api/swagger.json" if api == "v1" else "/api/v3/openapi.json"
        try:
            reply = self.request(
                "GET", path, record_response=False, validate=False, timeout=min(self.timeout, PROBE_TIMEOUT_S)
            )
        except OpenMeterProblem as err:
            if err.status in (404, 405):
                return None
            raise
        return reply.body if isinstance(reply.body, dict) else None

    # -- meters and features -------------------------------------------------------------------

    def create_meter(
        self, key: str, name: str, event_type: str, aggregation: str = "sum", value_property: str | None = "$.value"
    ) -> Meter:
        """v3 ``POST /meters``; ``value_property`` is omitted for ``count``."""
        body: dict[str, Any] = {"key": key, "name": name, "aggregation": aggregation.lower(), "event_type": event_type}
        if value_property is not None and aggregation.lower() != "count":
            body["value_property"] = value_property
        path = f"{V3}/meters"
        reply = self._post(path, body)
        return self._parsed("meter", "POST", path, lambda: Meter.from_v3(reply))

    def query_meter(
        self, meter_id: str, *, from_time: datetime | None = None, to_time: datetime | None = None
    ) -> Decimal | None:
        """v3 ``POST /meters/{id}/query``: the total over all rows; None when there is no row yet."""
        body: dict[str, Any] = {}
        if from_time is not None:
            body["from"] = format_time(require_utc(from_time, "from_time"))
        if to_time is not None:
            body["to"] = format_time(require_utc(to_time, "to_time"))
        path = f"{V3}/meters/{meter_id}/query"
        reply = self._post(path, body)

        def total() -> Decimal | None:
            rows = p.items(p.obj(reply), "data")
            if not rows:
                return None
            return sum(
                (
                    p.to_decimal(p.obj(r, f"data[{i}]").get("value", "0"), f"data[{i}].value")
                    for i, r in enumerate(rows)
                ),
                Decimal(0),
            )

        return self._parsed("meter query", "POST", path, total)

    def create_feature(self, key: str, name: str, meter_id: str) -> Feature:
        path = f"{V3}/features"
        reply = self._post(path, {"key": key, "name": name, "meter": {"id": meter_id}})
        return self._parsed("feature", "POST", path, lambda: Feature.from_v3(reply))

    # -- customers and billing profiles --------------------------------------------------------

    def create_customer(
        self, key: str, name: str, currency: str | None = None, subject_keys: Sequence[str] = ()
    ) -> Customer:
        body: dict[str, Any] = {"key": key, "name": name}
        if currency is not None:
            body["currency"] = currency
        if subject_keys:
            body["usage_attribution"] = {"subject_keys": list(subject_keys)}
        path = f"{V3}/customers"
        reply = self._post(path, body)
        return self._parsed("customer", "POST", path, lambda: Customer.from_v3(reply))

    def list_profiles(self) -> list[BillingProfile]:
        path = f"{V3}/profiles"
        rows = self._v3_pages(path, [])
        return [self._parsed("profile", "GET", path, functools.partial(BillingProfile.from_v3, r)) for r in rows]

    def default_profile(self) -> BillingProfile:
        """The profile marked ``default`` (the API server provisions ``openmeter-sandbox``)."""
        for profile in self.list_profiles():
            if profile.is_default:
                return profile
        raise OpenMeterResponseError(
            f"GET {V3}/profiles: no billing profile is marked default", method="GET", path=f"{V3}/profiles"
        )

    def create_profile_from_default(
        self,
        name: str,
        *,
        progressive_billing: bool | None = None,
        auto_advance: bool | None = None,
        end_proration: str | None = None,
    ) -> BillingProfile:
        """Clone the default profile (apps, supplier without its id, workflow) with edits; not default."""
        base = self.default_profile()
        raw = dict(base.raw or {})
        supplier = dict(raw.get("supplier") or {})
        supplier.pop("id", None)
        workflow = json.loads(json.dumps(raw.get("workflow") or {}))
        invoicing = workflow.setdefault("invoicing", {})
        if progressive_billing is not None:
            invoicing["progressive_billing"] = progressive_billing
        if auto_advance is not None:
            invoicing["auto_advance"] = auto_advance
        if end_proration is not None:
            invoicing["subscription_end_proration_mode"] = end_proration
        apps: dict[str, Any] = {}
        for role, ref in (raw.get("apps") or {}).items():
            apps[role] = {"id": ref["id"]} if isinstance(ref, Mapping) and "id" in ref else ref
        body = {"name": name, "supplier": supplier, "workflow": workflow, "apps": apps, "default": False}
        path = f"{V3}/profiles"
        reply = self._post(path, body)
        return self._parsed("profile", "POST", path, lambda: BillingProfile.from_v3(reply))

    def set_customer_profile(self, customer_id: str, profile_id: str) -> None:
        """Pin the customer to a billing profile (v3 ``PUT /customers/{id}/billing``)."""
        self.request("PUT", f"{V3}/customers/{customer_id}/billing", json_body={"billing_profile": {"id": profile_id}})

    # -- credits -------------------------------------------------------------------------------

    def create_credit_grant(
        self, customer_id: str, amount: Amount, currency: str, name: str, funding_method: str = "none"
    ) -> CreditGrant:
        body = {
            "name": name,
            "funding_method": funding_method,
            "currency": currency,
            "amount": p.format_numeric(amount),
        }
        path = f"{V3}/customers/{customer_id}/credits/grants"
        reply = self._post(path, body)
        return self._parsed("credit grant", "POST", path, lambda: CreditGrant.from_v3(reply))

    def credit_balance(self, customer_id: str) -> CreditBalances:
        """Balances per currency: HEAD ``{live, settled, pending}``, #4412 window ``{available, pending}``."""
        path = f"{V3}/customers/{customer_id}/credits/balance"
        body = self._get(path)
        return self._parsed("credit balance", "GET", path, lambda: CreditBalances.from_v3(body))

    # -- plans ---------------------------------------------------------------------------------

    def create_plan(self, plan: PlanInput) -> Plan:
        """v3 ``POST /plans``; when a ``settlement_mode`` is wanted and v3 refuses the field (the
        #4412-window build, and HEAD, where it is read-only), v1 ``POST /api/v1/plans`` with
        ``settlementMode``. :attr:`Plan.created_via` says which path was used."""
        want_mode = plan.settlement_mode is not None
        if want_mode and self.capabilities.v3_plan_settlement_mode is False:
            return self._create_plan_v1(plan, "v3 plan create takes no settlement_mode on this server")
        path = f"{V3}/plans"
        try:
            reply = self._post(path, plan.v3(with_settlement_mode=want_mode))
        except OpenMeterProblem as err:
            if want_mode and err.status == 400 and err.problem.mentions("settlement_mode"):
                self.capabilities.v3_plan_settlement_mode = False
                return self._create_plan_v1(plan, f"v3 refused settlement_mode ({err.problem.summary()})")
            raise
        if want_mode:
            self.capabilities.v3_plan_settlement_mode = True
        created = self._parsed("plan", "POST", path, lambda: Plan.from_v3(reply))
        self._plan_via[created.id] = "v3"
        return created

    def _create_plan_v1(self, plan: PlanInput, reason: str) -> Plan:
        self._fallback(
            f"plan {plan.key}: created through v1 POST /api/v1/plans: {reason}", path_used="v1", operation="create_plan"
        )
        path = "/api/v1/plans"
        reply = self._post(path, plan.v1())
        created = self._parsed("plan", "POST", path, lambda: Plan.from_v1(reply))
        self._plan_via[created.id] = "v1"
        return created

    def publish_plan(self, plan_id: str) -> Plan:
        path = f"{V3}/plans/{plan_id}/publish"
        reply = self._post(path)
        via = self._plan_via.get(plan_id, "v3")
        return self._parsed("plan", "POST", path, lambda: Plan.from_v3(reply, created_via=via))

    def get_plan(self, plan_id: str) -> Plan:
        path = f"{V3}/plans/{plan_id}"
        body = self._get(path)
        via = self._plan_via.get(plan_id, "v3")
        return self._parsed("plan", "GET", path, lambda: Plan.from_v3(body, created_via=via))

    # -- subscriptions -------------------------------------------------------------------------

    def _plan_ref_v1(self, plan_id: str | None, plan_key: str | None, plan_version: int | None) -> dict[str, Any]:
        if plan_key is None:
            assert plan_id is not None
            plan = self.get_plan(plan_id)
            plan_key, plan_version = plan.key, plan_version or plan.version
        ref: dict[str, Any] = {"key": plan_key}
        if plan_version is not None:
            ref["version"] = plan_version
        return ref

    def _post_v3_subscription(
        self, path: str, body: dict[str, Any], mode: SettlementMode | None, billing_anchor: datetime | None
    ) -> tuple[Any, str | None]:
        """POST a v3 subscription body that may carry ``settlement_mode`` and ``billing_anchor``.

        Returns ``(reply, None)``, or ``(None, why)`` when the server refuses ``settlement_mode``
        (#4412-window builds): the caller then takes the v1 path. The capability is remembered."""
        if mode is not None:
            body["settlement_mode"] = mode.value
        if billing_anchor is not None:
            body["billing_anchor"] = format_time(require_utc(billing_anchor, "billing_anchor"))
        try:
            reply = self._post(path, body)
        except OpenMeterProblem as err:
            if not (mode is not None and err.status == 400 and err.problem.mentions("settlement_mode")):
                raise
            self.capabilities.v3_subscription_settlement_mode = False
            return None, f"v3 refused settlement_mode ({err.problem.summary()})"
        if mode is not None:
            self.capabilities.v3_subscription_settlement_mode = True
        return reply, None

    def create_subscription(
        self,
        customer_id: str,
        *,
        plan_id: str | None = None,
        plan_key: str | None = None,
        plan_version: int | None = None,
        settlement_mode: SettlementMode | str | None = None,
        billing_anchor: datetime | None = None,
        timing: Timing | None = None,
    ) -> SubscriptionSummary:
        """Subscribe a customer to a plan (by id, or key and optional version).

        v3 ``POST /subscriptions`` (it always starts now). v1 ``POST /api/v1/subscriptions`` when
        a ``timing`` other than ``immediate`` is given, or when v3 refuses ``settlement_mode``
        (#4412-window builds). :attr:`SubscriptionSummary.via` says which.
        """
        if plan_id is None and plan_key is None:
            raise ValueError("create_subscription needs plan_id or plan_key")
        mode = SettlementMode(settlement_mode) if settlement_mode is not None else None
        reason = None
        if timing is not None and timing != "immediate":
            reason = "v3 cannot set a subscription's start timing"
        elif mode is not None and self.capabilities.v3_subscription_settlement_mode is False:
            reason = "v3 subscription create takes no settlement_mode on this server"
        if reason is None:
            plan_ref: dict[str, Any] = {"id": plan_id} if plan_id else {"key": plan_key}
            if plan_id is None and plan_version is not None:
                plan_ref["version"] = plan_version
            body: dict[str, Any] = {"customer": {"id": customer_id}, "plan": plan_ref}
            path = f"{V3}/subscriptions"
            reply, reason = self._post_v3_subscription(path, body, mode, billing_anchor)
            if reason is None:
                return self._parsed("subscription", "POST", path, lambda: SubscriptionSummary.from_v3(reply))
        self._fallback(
            f"subscription for customer {customer_id}: created through v1 POST /api/v1/subscriptions: {reason}",
            path_used="v1",
            operation="create_subscription",
        )
        v1_body: dict[str, Any] = {
            "customerId": customer_id,
            "plan": self._plan_ref_v1(plan_id, plan_key, plan_version),
            "timing": timing_value(timing if timing is not None else "immediate"),
        }
        if billing_anchor is not None:
            v1_body["billingAnchor"] = format_time(require_utc(billing_anchor, "billing_anchor"))
        if mode is not None:
            v1_body["settlementMode"] = mode.value
        path = "/api/v1/subscriptions"
        reply = self._post(path, v1_body)
        return self._parsed("subscription", "POST", path, lambda: SubscriptionSummary.from_v1(reply))

    def get_subscription(self, subscription_id: str) -> SubscriptionView:
        """v1 ``GET /api/v1/subscriptions/{id}`` (both builds): phases, item timelines, µs timestamps."""
        path = f"/api/v1/subscriptions/{subscription_id}"
        body = self._get(path)
        return self._parsed("subscription", "GET", path, lambda: SubscriptionView.from_v1(body))

    def subscription_summary(self, subscription_id: str) -> SubscriptionSummary:
        """v3 ``GET /subscriptions/{id}`` (status; the #4412-window build omits ``active_from/to``)."""
        path = f"{V3}/subscriptions/{subscription_id}"
        body = self._get(path)
        return self._parsed("subscription", "GET", path, lambda: SubscriptionSummary.from_v3(body))

    def cancel_subscription(self, subscription_id: str, timing: Timing = "immediate") -> SubscriptionSummary:
        """v3 cancel: ``immediate`` | ``next_billing_cycle`` | an aligned period boundary (datetime)."""
        path = f"{V3}/subscriptions/{subscription_id}/cancel"
        reply = self._post(path, {"timing": timing_value(timing)})
        return self._parsed("subscription", "POST", path, lambda: SubscriptionSummary.from_v3(reply))

    def edit_subscription(
        self, subscription_id: str, customizations: Sequence[EditOp | Mapping[str, Any]], timing: Timing = "immediate"
    ) -> SubscriptionSummary:
        """v1 ``PATCH /api/v1/subscriptions/{id}`` with ``add_item`` / ``remove_item`` (or raw) ops."""
        path = f"/api/v1/subscriptions/{subscription_id}"
        reply = self.request(
            "PATCH", path, json_body={"customizations": edit_ops_v1(customizations), "timing": timing_value(timing)}
        ).body
        return self._parsed("subscription", "PATCH", path, lambda: SubscriptionSummary.from_v1(reply))

    def change_subscription(
        self,
        subscription_id: str,
        customer_id: str,
        plan_id: str,
        timing: Timing = "immediate",
        *,
        settlement_mode: SettlementMode | str | None = None,
        billing_anchor: datetime | None = None,
    ) -> ChangeResult:
        """v3 ``POST /subscriptions/{id}/change``: ``current`` ends, ``next`` (new id) starts.

        Falls back to v1 ``/change`` when v3 refuses ``settlement_mode``.
        """
        mode = SettlementMode(settlement_mode) if settlement_mode is not None else None
        reason = None
        if mode is not None and self.capabilities.v3_subscription_settlement_mode is False:
            reason = "v3 subscription change takes no settlement_mode on this server"
        if reason is None:
            body: dict[str, Any] = {
                "customer": {"id": customer_id},
                "plan": {"id": plan_id},
                "timing": timing_value(timing),
            }
            path = f"{V3}/subscriptions/{subscription_id}/change"
            reply, reason = self._post_v3_subscription(path, body, mode, billing_anchor)
            if reason is None:
                return self._parsed(
                    "change",
                    "POST",
                    path,
                    lambda: ChangeResult(
                        current=SubscriptionSummary.from_v3(p.obj(reply).get("current"), "current"),
                        next=SubscriptionSummary.from_v3(p.obj(reply).get("next"), "next"),
                    ),
                )
        self._fallback(
            f"subscription {subscription_id}: plan change through v1 /change: {reason}",
            path_used="v1",
            operation="change_subscription",
        )
        v1_body: dict[str, Any] = {"timing": timing_value(timing), "plan": self._plan_ref_v1(plan_id, None, None)}
        if mode is not None:
            v1_body["settlementMode"] = mode.value
        if billing_anchor is not None:
            v1_body["billingAnchor"] = format_time(require_utc(billing_anchor, "billing_anchor"))
        path = f"/api/v1/subscriptions/{subscription_id}/change"
        reply = self._post(path, v1_body)
        return self._parsed(
            "change",
            "POST",
            path,
            lambda: ChangeResult(
                current=SubscriptionSummary.from_v1(p.obj(reply).get("current"), "current"),
                next=SubscriptionSummary.from_v1(p.obj(reply).get("next"), "next"),
            ),
        )

    def continue_subscription(self, subscription_id: str) -> SubscriptionSummary:
        """Undo a scheduled cancel (v3 ``unschedule-cancelation``; v1 when v3 lacks the route)."""
        if self.capabilities.v3_unschedule_cancelation is not False:
            path = f"{V3}/subscriptions/{subscription_id}/unschedule-cancelation"
            try:
                reply = self._post(path)
            except OpenMeterProblem as err:
                route_missing = err.status in (405, 501) or (err.status == 404 and err.problem.mentions("route"))
                if not route_missing:
                    raise
                self.capabilities.v3_unschedule_cancelation = False
            else:
                self.capabilities.v3_unschedule_cancelation = True
                return self._parsed("subscription", "POST", path, lambda: SubscriptionSummary.from_v3(reply))
        self._fallback(
            f"subscription {subscription_id}: continue through v1 (no v3 unschedule-cancelation)",
            path_used="v1",
            operation="continue_subscription",
        )
        path = f"/api/v1/subscriptions/{subscription_id}/unschedule-cancelation"
        reply = self._post(path)
        return self._parsed("subscription", "POST", path, lambda: SubscriptionSummary.from_v1(reply))

    def restore_subscription(self, subscription_id: str) -> SubscriptionSummary:
        """v1 ``restore``: continue a canceled subscription and drop any scheduled successor."""
        path = f"/api/v1/subscriptions/{subscription_id}/restore"
        reply = self._post(path)
        return self._parsed("subscription", "POST", path, lambda: SubscriptionSummary.from_v1(reply))

    # -- usage ---------------------------------------------------------------------------------

    def ingest(self, events: Sequence[Event], *, batch: bool = True) -> int:
        """v1 ``POST /api/v1/events`` (204; 202 from newer routes is accepted too).

        ``batch``: one ``application/cloudevents-batch+json`` request; otherwise one
        ``application/cloudevents+json`` request per event. Returns the number of events sent.
        """
        if not events:
            return 0
        path = "/api/v1/events"
        if batch:
            self._expect_accepted(
                self.request(
                    "POST",
                    path,
                    json_body=[e.cloudevent() for e in events],
                    content_type="application/cloudevents-batch+json",
                ),
                path,
            )
        else:
            for event in events:
                self._expect_accepted(
                    self.request(
                        "POST", path, json_body=event.cloudevent(), content_type="application/cloudevents+json"
                    ),
                    path,
                )
        return len(events)

    @staticmethod
    def _expect_accepted(reply: Reply, path: str) -> None:
        if reply.status not in (200, 202, 204):
            raise OpenMeterResponseError(
                f"POST {path}: expected 204 or 202, got {reply.status}", method="POST", path=path, status=reply.status
            )

    # -- invoices ------------------------------------------------------------------------------

    def list_invoices(
        self, customer_id: str, include_deleted: bool = False, statuses: Sequence[str] | None = None
    ) -> list[Invoice]:
        """Every invoice of the customer, lines expanded (v1; the only API with gathering invoices)."""
        path = "/api/v1/billing/invoices"
        params: list[tuple[str, str | int]] = [("customers", customer_id), ("expand", "lines")]
        for status in statuses or ():
            params.append(("statuses", status))
        if include_deleted:
            params.append(("includeDeleted", "true"))
        rows = self._v1_pages(path, params)
        swap = self.swap_v1_line_ids
        return [
            self._parsed(
                "invoice", "GET", path, functools.partial(Invoice.from_v1, r, f"items[{i}]", swap_subscription_ids=swap)
            )
            for i, r in enumerate(rows)
        ]

    def get_invoice(self, invoice_id: str, *, include_deleted_lines: bool = False) -> Invoice:
        path = f"/api/v1/billing/invoices/{invoice_id}"
        params: list[tuple[str, str | int]] = [("expand", "lines")]
        if include_deleted_lines:
            params.append(("includeDeletedLines", "true"))
        body = self._get(path, params)
        swap = self.swap_v1_line_ids
        return self._parsed("invoice", "GET", path, lambda: Invoice.from_v1(body, swap_subscription_ids=swap))

    def gathering_invoice(self, customer_id: str, currency: str) -> Invoice | None:
        """The customer's live gathering invoice in ``currency`` (None when there is none)."""
        for invoice in self.list_invoices(customer_id, statuses=["gathering"]):
            if invoice.is_gathering and invoice.currency == currency and not invoice.is_deleted:
                return invoice
        return None

    def invoice_pending_lines(
        self, customer_id: str, as_of: datetime | None = None, *, progressive: bool | None = None
    ) -> list[Invoice]:
        """v1 ``POST /billing/invoices/invoice``; nothing due (``invoice_create_no_lines``) is ``[]``.

        ``progressive`` sends ``progressiveBillingOverride`` (None: the billing profile decides)."""
        body: dict[str, Any] = {"customerId": customer_id}
        if as_of is not None:
            body["asOf"] = format_time(require_utc(as_of, "as_of"))
        if progressive is not None:
            body["progressiveBillingOverride"] = progressive
        path = "/api/v1/billing/invoices/invoice"
        try:
            reply = self._post(path, body)
        except OpenMeterProblem as err:
            if err.status == 400 and _is_no_lines(err):
                return []
            raise
        swap = self.swap_v1_line_ids
        return self._parsed(
            "invoice list",
            "POST",
            path,
            lambda: [
                Invoice.from_v1(r, f"[{i}]", swap_subscription_ids=swap)
                for i, r in enumerate(reply if isinstance(reply, list) else p.items(p.obj(reply), "items"))
            ],
        )

    # -- charges -------------------------------------------------------------------------------

    def list_charges(self, customer_id: str, include_deleted: bool = True) -> list[Charge]:
        """Every charge of the customer (v3; all pages, ordered by service period start)."""
        path = f"{V3}/customers/{customer_id}/charges"
        params: list[tuple[str, str | int]] = []
        if include_deleted:
            params.append(("filter[status][oeq]", ",".join(CHARGE_STATUSES_ALL)))
        params.append(("sort", "service_period.from"))
        rows = self._v3_pages(path, params)
        return [
            self._parsed("charge", "GET", path, functools.partial(Charge.from_v3, r, f"data[{i}]"))
            for i, r in enumerate(rows)
        ]


__all__ = ["CHARGE_STATUSES_ALL", "Capabilities", "OpenMeterClient", "OpenMeterError", "Reply"]
