"""The client's exchange machinery as httpx transports, one job each, composed in a chain.

Each transport wraps an inner :class:`httpx.BaseTransport` and passes requests on, so the chain
the client builds (:func:`build_chain`) reads outermost first::

    ValidatingTransport   checks the final response against the OpenAPI documents
    RetryTransport        repeats GETs (and requests never sent) with a bounded backoff
    RecordingTransport    writes every attempt to a Recorder (what ReplayTransport reads back)
    ListeningTransport    tells exchange listeners about every attempt (masked)
    <base>                DeadlineTransport on the network, or a replay / respx / offline fake

Per-request settings travel in the request's extensions (:data:`STEP`, :data:`RECORD_RESPONSE`,
:data:`VALIDATE`); what the chain learns travels back in the response's extensions
(:data:`FINDINGS`, :data:`ELAPSED_MS`) and, for the attempts made, the request's
(:data:`ATTEMPTS`). Bodies are read inside the chain, so a server that drips its answer fails
the attempt that waited for it, exactly as the network saw it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import httpx

from contract.client.masking import ApiKey, mask_secrets
from contract.client.recording import Recorder
from contract.findings import Finding, FindingKind
from contract.limits import json_depth_exceeds

#: Request extension: the step the exchange belongs to (recordings, findings).
STEP = "contract.step"
#: Request extension: False to record ``<n bytes, not recorded>`` instead of the response body.
RECORD_RESPONSE = "contract.record_response"
#: Request extension: False to skip the schema check of the response.
VALIDATE = "contract.validate"
#: Request extension set by :class:`RetryTransport`: the attempts made so far.
ATTEMPTS = "contract.attempts"
#: Response extension set by :class:`ValidatingTransport`: the response's schema findings (a tuple).
FINDINGS = "contract.findings"
#: Response extension set by the observing transports: the milliseconds of the attempt.
ELAPSED_MS = "contract.elapsed_ms"
_BODY = "contract.body"

RETRY_STATUSES = frozenset({502, 503, 504})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_HUNG = (httpx.ReadTimeout, httpx.WriteTimeout)
MAX_BACKOFF = 1.0
#: JSON nested deeper than this is not an answer this client reads (json.loads recurses per level).
MAX_RESPONSE_NESTING = 200

#: ``listener(method, url, request_body, status)``, called after every attempt (masked).
ExchangeListener = Callable[[str, str, Any, "int | None"], None]


class Validator(Protocol):
    """What :class:`ValidatingTransport` needs (:class:`~contract.client.validation.ResponseValidator`)."""

    def validate(
        self, method: str, url: str, status: int, body: Any, *, content_type: str | None = None
    ) -> list[Finding]: ...


def response_body(response: httpx.Response) -> Any:
    """The parsed body of a read response: JSON, ``""`` when empty, the text otherwise (cached)."""
    if _BODY not in response.extensions:
        response.extensions[_BODY] = _parse_body(response)
    return response.extensions[_BODY]


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


def request_body(request: httpx.Request) -> Any:
    """The JSON the request carries (None without a body; the text when it is not JSON)."""
    content = request.read()
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return content.decode("utf-8", "replace")


def timeout_of(request: httpx.Request) -> float | None:
    """The request's deadline in seconds (its read timeout), for messages."""
    read = (request.extensions.get("timeout") or {}).get("read")
    return float(read) if isinstance(read, int | float) else None


def describe_failure(exc: httpx.HTTPError, limit: float | None) -> str:
    """What went wrong with an attempt, in the words of the client's messages."""
    text = str(exc)
    within = f"{limit:g} s" if limit is not None else "the deadline"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out connecting after {within}"
    if isinstance(exc, httpx.ConnectError):
        if "refused" in text.lower():
            return "connection refused"
        return f"could not connect ({text or type(exc).__name__})"
    if isinstance(exc, httpx.ReadTimeout):
        return f"got no complete answer within {within}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {within} ({type(exc).__name__})"
    what = f"failed ({type(exc).__name__}: {text})" if text else f"failed ({type(exc).__name__})"
    return what + (" after the request was sent" if was_sent(exc) else "")


def was_sent(exc: httpx.HTTPError) -> bool:
    """Whether the server may have seen the request (the connection did not fail before sending)."""
    return not isinstance(exc, NOT_SENT)


class _Wrapper(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def close(self) -> None:
        self.inner.close()


class RetryTransport(_Wrapper):
    """Repeat an attempt that may safely be repeated, with a capped exponential backoff.

    GETs are repeated after a transport error or a 502/503/504; any request whose connection
    failed before it was sent is repeated too. A POST/PATCH/PUT the server may have seen is never
    repeated, and nothing is repeated after a server used up the whole deadline (asking again
    would wait as long). The attempts made are left in the request's :data:`ATTEMPTS`.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        retries: int,
        backoff: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(inner)
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        method = request.method.upper()
        attempt = 0
        while True:
            attempt += 1
            request.extensions[ATTEMPTS] = attempt
            try:
                response = self.inner.handle_request(request)
            except httpx.TransportError as exc:
                may_retry = (method == "GET" or not was_sent(exc)) and not isinstance(exc, _HUNG)
                if may_retry and attempt <= self.retries:
                    self._pause(attempt)
                    continue
                raise
            if response.status_code in RETRY_STATUSES and method == "GET" and attempt <= self.retries:
                response.close()
                self._pause(attempt)
                continue
            return response

    def _pause(self, attempt: int) -> None:
        self._sleep(min(MAX_BACKOFF, self.backoff * (2 ** (attempt - 1))))


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt as it went over the wire (unmasked: each observer masks what it writes)."""

    step: str | None
    method: str
    url: str
    request_body: Any
    status: int | None
    elapsed_ms: float
    response_body: Any
    error: str | None = None


class _ObservingTransport(_Wrapper):
    """Time each attempt, read its body, and hand the :class:`Attempt` to :meth:`observe`."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = self.inner.handle_request(request)
            response.request = request
            response.read()
        except httpx.HTTPError as exc:
            elapsed = (time.perf_counter() - started) * 1000
            error = describe_failure(exc, timeout_of(request))
            self.observe(self._attempt(request, None, elapsed, None, error))
            raise
        elapsed = (time.perf_counter() - started) * 1000
        response.extensions[ELAPSED_MS] = elapsed
        if request.extensions.get(RECORD_RESPONSE, True):
            body = response_body(response)
        else:
            body = f"<{len(response.content)} bytes, not recorded>"
        self.observe(self._attempt(request, response.status_code, elapsed, body, None))
        return response

    @staticmethod
    def _attempt(request: httpx.Request, status: int | None, elapsed: float, body: Any, error: str | None) -> Attempt:
        step = request.extensions.get(STEP)
        return Attempt(
            step=step if isinstance(step, str) else None,
            method=request.method.upper(),
            url=str(request.url),
            request_body=request_body(request),
            status=status,
            elapsed_ms=elapsed,
            response_body=body,
            error=error,
        )

    def observe(self, attempt: Attempt) -> None:
        raise NotImplementedError


class ListeningTransport(_ObservingTransport):
    """Call each exchange listener after every attempt, with the URL and body masked."""

    def __init__(self, inner: httpx.BaseTransport, *, secrets: Iterable[str | ApiKey | None] = ()) -> None:
        super().__init__(inner)
        self.listeners: list[ExchangeListener] = []
        self._secrets = tuple(secrets)

    def observe(self, attempt: Attempt) -> None:
        for listener in list(self.listeners):
            listener(
                attempt.method,
                mask_secrets(attempt.url, self._secrets),
                mask_secrets(attempt.request_body, self._secrets),
                attempt.status,
            )


class RecordingTransport(_ObservingTransport):
    """Write every attempt to a :class:`Recorder` (the ``kind: http`` lines replay reads back)."""

    def __init__(self, inner: httpx.BaseTransport, recorder: Recorder) -> None:
        super().__init__(inner)
        self.recorder = recorder

    def observe(self, attempt: Attempt) -> None:
        self.recorder.record_http(
            step=attempt.step,
            method=attempt.method,
            url=attempt.url,
            request_body=attempt.request_body,
            status=attempt.status,
            elapsed_ms=attempt.elapsed_ms,
            response_body=attempt.response_body,
            error=attempt.error,
        )


class ValidatingTransport(_Wrapper):
    """Check each response against the OpenAPI documents; the findings (masked, with the request's
    step) go in the response's :data:`FINDINGS`. A mismatch, or a validator that fails, never
    breaks the call. ``validator`` may be set at any time (None: no checks)."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        validator: Validator | None = None,
        *,
        secrets: Iterable[str | ApiKey | None] = (),
    ) -> None:
        super().__init__(inner)
        self.validator = validator
        self._secrets = tuple(secrets)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.validator is None or not request.extensions.get(VALIDATE, True):
            return response
        response.read()
        try:
            found = self.validator.validate(
                request.method.upper(),
                str(request.url),
                response.status_code,
                response_body(response),
                content_type=response.headers.get("content-type"),
            )
        except Exception as err:  # never let validation break a call
            found = [Finding(kind=FindingKind.SCHEMA, message=f"validation failed: {err}")]
        step = request.extensions.get(STEP)
        response.extensions[FINDINGS] = tuple(self._masked(f, step) for f in found)
        return response

    def _masked(self, finding: Finding, step: Any) -> Finding:
        if finding.step is None and isinstance(step, str):
            finding = dataclasses.replace(finding, step=step)
        mask = self._secrets
        return dataclasses.replace(
            finding,
            message=mask_secrets(finding.message, mask),
            field=mask_secrets(finding.field, mask),
            expected=mask_secrets(finding.expected, mask),
            actual=mask_secrets(finding.actual, mask),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Chain:
    """The transports :func:`build_chain` composed: ``outer`` goes to httpx, the rest are handles."""

    outer: ValidatingTransport
    retry: RetryTransport
    listening: ListeningTransport
    recording: RecordingTransport | None


def build_chain(
    base: httpx.BaseTransport,
    *,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None],
    recorder: Recorder | None = None,
    validator: Validator | None = None,
    secrets: Sequence[str | ApiKey | None] = (),
) -> Chain:
    """Validating -> Retry -> Recording (when a recorder is given) -> Listening -> ``base``."""
    listening = ListeningTransport(base, secrets=secrets)
    recording = RecordingTransport(listening, recorder) if recorder is not None else None
    retry = RetryTransport(recording or listening, retries=retries, backoff=backoff, sleep=sleep)
    return Chain(ValidatingTransport(retry, validator, secrets=secrets), retry, listening, recording)


__all__ = [
    "ATTEMPTS",
    "ELAPSED_MS",
    "FINDINGS",
    "RECORD_RESPONSE",
    "STEP",
    "VALIDATE",
    "Attempt",
    "Chain",
    "ExchangeListener",
    "ListeningTransport",
    "RecordingTransport",
    "RetryTransport",
    "ValidatingTransport",
    "Validator",
    "build_chain",
    "describe_failure",
    "response_body",
]
