"""The client's core: configuration, one :meth:`ClientCore.request`, pagination, shared helpers.

A call is sent through the transport chain of :mod:`contract.client.transports` (validation,
retries, recording, listeners), then parsed, and HTTP errors become typed errors
(:mod:`contract.client.errors`). The typed calls (:class:`~contract.client.client.OpenMeterClient`)
build on these few methods.

Errors name the client's own parameters (``base_url``); a caller whose user knows them by other
names (the CLI's ``--openmeter-url``) passes ``names`` and the messages use those.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import httpx

from contract import __version__
from contract.client.deadline import DeadlineTransport
from contract.client.errors import OpenMeterProblem, OpenMeterResponseError, OpenMeterUnreachable, parse_problem
from contract.client.masking import ApiKey, mask_secrets
from contract.client.models import ApiVersion
from contract.client.recording import Recorder
from contract.client.transports import (
    ATTEMPTS,
    ELAPSED_MS,
    FINDINGS,
    RECORD_RESPONSE,
    STEP,
    VALIDATE,
    ExchangeListener,
    Validator,
    build_chain,
    describe_failure,
    response_body,
    timeout_of,
    was_sent,
)
from contract.errors import InputError
from contract.findings import Finding
from contract.wire import read as p

log = logging.getLogger("contract.client")
T = TypeVar("T")

V3 = "/api/v3/openmeter"
#: Seconds for the exchanges that establish whether a server is usable (its OpenAPI documents).
PROBE_TIMEOUT_S = 3.0


@dataclass(slots=True)
class Capabilities:
    """What this server accepts, learned from its answers (None: not tried yet)."""

    v3_plan_settlement_mode: bool | None = None
    v3_subscription_settlement_mode: bool | None = None
    v3_unschedule_cancelation: bool | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer: status, parsed body (JSON, ``""`` when empty, text otherwise), final URL,
    and the schema findings of this response (empty without a validator)."""

    status: int
    body: Any
    url: str
    elapsed_ms: float
    findings: tuple[Finding, ...] = ()


_NO_BODY: Any = object()


def _rows(body: Any, key: str) -> list[Any]:
    return p.items(p.obj(body), key)


def _v3_total(body: Any) -> int | None:
    meta = body.get("meta") if isinstance(body, Mapping) else None
    if isinstance(meta, Mapping) and isinstance(meta.get("page"), Mapping):
        raw_total = meta["page"].get("total")
        return int(raw_total) if isinstance(raw_total, int | float) else None
    return None


def _v1_total(body: Any) -> int | None:
    total = body.get("totalCount") if isinstance(body, Mapping) else None
    return total if isinstance(total, int) else None


class ClientCore:
    """Configuration, the transport chain and :meth:`request`; see :class:`OpenMeterClient`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | ApiKey | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        recorder: Recorder | None = None,
        validator: Validator | None = None,
        read_retries: int = 2,
        retry_backoff: float = 0.1,
        sleep: Callable[[float], None] | None = None,
        swap_v1_line_ids: bool = True,
        max_pages: int = 100,
        names: Mapping[str, str] | None = None,
    ) -> None:
        self.names: Mapping[str, str] = dict(names or {})
        url = base_url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise InputError(f"not an http(s) URL: {base_url!r}", field=self._name("base_url"))
        if timeout <= 0:
            raise InputError(f"timeout must be positive, got {timeout}", field=self._name("timeout"))
        if read_retries < 0:
            raise InputError(f"read_retries must be >= 0, got {read_retries}", field=self._name("read_retries"))
        self.base_url = url
        self._api_key = api_key if isinstance(api_key, ApiKey) or api_key is None else ApiKey(api_key)
        self.timeout = timeout
        self.swap_v1_line_ids = swap_v1_line_ids
        self.max_pages = max_pages
        if recorder is not None and self._api_key is not None:
            recorder.add_secret(self._api_key)
        self.capabilities = Capabilities()
        self.fallbacks: list[str] = []  # one sentence per time the client took a fallback path
        self.current_step: str | None = None
        self._collectors: list[list[Finding]] = []
        self._plan_via: dict[str, ApiVersion] = {}
        self._chain = build_chain(
            transport if transport is not None else DeadlineTransport(),
            retries=read_retries,
            backoff=retry_backoff,
            sleep=sleep or time.sleep,
            recorder=recorder,
            validator=validator,
            secrets=[self._api_key],
        )
        headers = {"Accept": "application/json", "User-Agent": f"openmeter-contract/{__version__}"}
        if self._api_key is not None:
            headers["Authorization"] = self._api_key.authorization()
        self._http = httpx.Client(
            base_url=url, headers=headers, timeout=httpx.Timeout(timeout), transport=self._chain.outer
        )

    def _name(self, parameter: str) -> str:
        """How the caller's user names one of this client's parameters (default: its own name)."""
        return self.names.get(parameter, parameter)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def api_key(self) -> ApiKey | None:
        """The key this client sends (masked in every ``repr``), for a sibling client on the same server."""
        return self._api_key

    @property
    def recorder(self) -> Recorder | None:
        """Where every exchange is written (None: not recorded)."""
        return self._chain.recording.recorder if self._chain.recording is not None else None

    @property
    def validator(self) -> Validator | None:
        """What checks responses against the OpenAPI documents (None: nothing); may be replaced."""
        return self._chain.outer.validator

    @validator.setter
    def validator(self, validator: Validator | None) -> None:
        self._chain.outer.validator = validator

    @property
    def read_retries(self) -> int:
        return self._chain.retry.retries

    @property
    def retry_backoff(self) -> float:
        return self._chain.retry.backoff

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
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

    @contextlib.contextmanager
    def collect_findings(self) -> Iterator[list[Finding]]:
        """A list that fills with the schema findings of every response received inside the block
        (each call's own are also on its :class:`Reply`). Blocks may nest; each sees its calls."""
        found: list[Finding] = []
        self._collectors.append(found)
        try:
            yield found
        finally:
            self._collectors.remove(found)

    def mask(self, value: Any) -> Any:
        """``value`` with this client's API key (and any bearer token) replaced by ``***``."""
        return mask_secrets(value, [self._api_key])

    # -- transport ---------------------------------------------------------------------------

    def add_exchange_listener(self, listener: ExchangeListener) -> None:
        """Call ``listener(method, url, request_body, status)`` after every exchange (masked)."""
        self._chain.listening.listeners.append(listener)

    def remove_exchange_listener(self, listener: ExchangeListener) -> None:
        self._chain.listening.listeners.remove(listener)

    def _note(self, **fields: Any) -> None:
        if self.recorder is not None:
            self.recorder.note(self.current_step, **fields)

    def _fallback(self, message: str, **fields: Any) -> None:
        text = self.mask(message)
        self.fallbacks.append(text)
        log.info("%s", text)
        self._note(fallback=text, **fields)

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
        if json_body is not _NO_BODY:
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
            extensions={STEP: self.current_step, RECORD_RESPONSE: record_response, VALIDATE: validate},
        )
        shown_path = request.url.path
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            raise self._unreachable(request, exc) from None
        findings: tuple[Finding, ...] = response.extensions.get(FINDINGS, ())
        for collected in self._collectors:
            collected.extend(findings)
        body = response_body(response)
        if response.status_code >= 400:
            problem = parse_problem(response.status_code, self.mask(body), self.mask(response.text))
            raise OpenMeterProblem(method=method, path=shown_path, status=response.status_code, problem=problem)
        elapsed = float(response.extensions.get(ELAPSED_MS, 0.0))
        return Reply(
            status=response.status_code, body=body, url=str(request.url), elapsed_ms=elapsed, findings=findings
        )

    def _unreachable(self, request: httpx.Request, exc: httpx.HTTPError) -> OpenMeterUnreachable:
        method, shown_path = request.method, request.url.path
        attempts = int(request.extensions.get(ATTEMPTS, 1))
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        caution = ""
        if was_sent(exc) and method != "GET":
            caution = "; the server may have processed it, so it was not repeated"
        what = describe_failure(exc, timeout_of(request))
        return OpenMeterUnreachable(
            self.mask(
                f"cannot reach OpenMeter at {self.base_url}: {method} {shown_path} {what}{tries}"
                f"{caution}; is OpenMeter running? pass {self._name('base_url')}"
            ),
            method=method,
            path=shown_path,
        )

    def _parsed(self, what: str, method: str, path: str, parse: Callable[[], T]) -> T:
        try:
            return parse()
        except p.ShapeError as err:
            raise OpenMeterResponseError(
                self.mask(f"{method} {path}: unexpected {what} response: {err}"), method=method, path=path
            ) from None

    def _get_parsed(self, what: str, path: str, parse: Callable[[Any], T], params: Any = None) -> T:
        """GET ``path`` and parse the body, or :class:`OpenMeterResponseError` naming ``what``."""
        body = self._get(path, params)
        return self._parsed(what, "GET", path, lambda: parse(body))

    def _post_parsed(self, what: str, path: str, parse: Callable[[Any], T], body: Any = _NO_BODY) -> T:
        """POST ``body`` to ``path`` and parse the answer, or :class:`OpenMeterResponseError` naming ``what``."""
        reply = self._post(path, body)
        return self._parsed(what, "POST", path, lambda: parse(reply))

    def _get(self, path: str, params: Any = None) -> Any:
        return self.request("GET", path, params=params).body

    def _post(self, path: str, body: Any = _NO_BODY, params: Any = None) -> Any:
        return self.request("POST", path, json_body=body, params=params).body

    # -- pagination --------------------------------------------------------------------------

    def _v3_pages(self, path: str, params: Sequence[tuple[str, str | int]], size: int = 100) -> list[Any]:
        """Every ``data`` row over v3's ``page[size]``/``page[number]`` pages (``meta.page.total``)."""

        def query(page: int) -> list[tuple[str, str | int]]:
            return [("page[size]", size), *params, *([("page[number]", page)] if page > 1 else [])]

        return self._pages(path, size, query, "data", _v3_total)

    def _v1_pages(self, path: str, params: Sequence[tuple[str, str | int]], size: int = 100) -> list[Any]:
        """Every ``items`` row over v1's ``pageSize``/``page`` pages (``totalCount``)."""

        def query(page: int) -> list[tuple[str, str | int]]:
            return [*params, ("pageSize", size), *([("page", page)] if page > 1 else [])]

        return self._pages(path, size, query, "items", _v1_total)

    def _pages(
        self,
        path: str,
        size: int,
        query: Callable[[int], list[tuple[str, str | int]]],
        key: str,
        total_of: Callable[[Any], int | None],
    ) -> list[Any]:
        """Walk the pages until the total (when the server says it) or a short page; at most ``max_pages``."""
        out: list[Any] = []
        page = 1
        while True:
            body = self._get(path, query(page))
            rows = self._parsed("list", "GET", path, functools.partial(_rows, body, key))
            out.extend(rows)
            total = total_of(body)
            if not rows or (total is not None and len(out) >= total) or (total is None and len(rows) < size):
                return out
            page += 1
            if page > self.max_pages:
                raise self._too_many_pages(path, size)

    def _too_many_pages(self, path: str, size: int) -> OpenMeterResponseError:
        return OpenMeterResponseError(
            f"GET {path}: more than {self.max_pages} pages of {size}; stopped", method="GET", path=path
        )


__all__ = ["PROBE_TIMEOUT_S", "V3", "Capabilities", "ClientCore", "Reply"]
