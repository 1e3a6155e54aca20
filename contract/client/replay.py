"""Replay: the reading side of :mod:`contract.client.recording`, as an httpx transport.

:class:`~contract.client.transports.RecordingTransport` writes one ``kind: http`` line per attempt
(:meth:`~contract.client.recording.Recorder.record_http`); :func:`exchange_from_line` reads such a
line back into a :class:`RecordedExchange`, and :class:`ReplayTransport` answers a client's
requests from them, so a recorded run can be judged again with no server.

The transport keeps a cursor in the recording:

* a *mutating* request (POST/PUT/PATCH/DELETE that is not a query) moves the cursor to the next
  recorded request with the same method and path, and answers with its recorded response;
* a *read* is answered from the recorded responses to the same method and path between the cursor
  and the next mutating request, in order (the last one repeats: state that stopped changing); if
  there is none there, the latest one before the cursor (nothing changed since).

Query strings are ignored when matching. The clock (when given) follows the recorded timestamps,
so expectations use the times the real run saw. Anything not in the recording is answered with a
problem+json 501 that names the request, so a replay never invents state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from contract.errors import InputError
from contract.limits import instant_problem
from contract.model.time import parse_time

_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _is_query(method: str, path: str) -> bool:
    return method == "POST" and path.endswith("/query")


def is_mutating(method: str, path: str) -> bool:
    return method.upper() in _MUTATING and not _is_query(method.upper(), path)


@dataclass(frozen=True, slots=True)
class RecordedExchange:
    """One answered ``kind: http`` line of a recording."""

    index: int
    step: str | None
    method: str
    path: str
    url: str
    request_body: Any
    status: int
    response_body: Any
    ts: datetime | None


def exchange_from_line(obj: Mapping[str, Any], *, index: int, name: str, line_no: int) -> RecordedExchange | None:
    """The exchange an ``http`` line records; a malformed one is an :class:`InputError` at ``name:line_no``.

    None for an attempt that got no answer (``status: null`` with an ``error``, as the recorder
    writes it): the client retried it or gave up, and a replay has nothing to serve for it."""
    for key in ("method", "url", "status"):
        if key not in obj:
            raise InputError("missing in an http exchange", file=name, line=line_no, field=key)
    if obj["status"] is None and isinstance(obj.get("error"), str):
        return None
    url = str(obj["url"])
    try:
        path = urlsplit(url).path or "/"
    except ValueError as err:
        raise InputError(f"not a URL: {url[:80]!r} ({err})", file=name, line=line_no, field="url") from None
    if not isinstance(obj["status"], int):
        raise InputError("must be an integer HTTP status", file=name, line=line_no, field="status")
    ts = None
    if isinstance(obj.get("ts"), str):
        try:
            ts = parse_time(obj["ts"])
        except ValueError as err:
            raise InputError(str(err), file=name, line=line_no, field="ts") from None
        if (problem := instant_problem(ts)) is not None:
            raise InputError(problem, file=name, line=line_no, field="ts")
    return RecordedExchange(
        index=index,
        step=obj.get("step") if isinstance(obj.get("step"), str) else None,
        method=str(obj["method"]).upper(),
        path=path,
        url=url,
        request_body=obj.get("request_body"),
        status=obj["status"],
        response_body=obj.get("response_body"),
        ts=ts,
    )


class Replayable(Protocol):
    """What a replay serves: the exchanges in recorded order, and where they came from (messages)."""

    @property
    def path(self) -> str: ...

    @property
    def exchanges(self) -> Sequence[RecordedExchange]: ...


class SettableClock(Protocol):
    def set(self, when: datetime) -> None: ...


class ReplayTransport(httpx.BaseTransport):
    """Serve a recording to an httpx client (see the module docstring for the rules)."""

    def __init__(self, recording: Replayable, clock: SettableClock | None = None) -> None:
        self.recording = recording
        self.clock = clock
        self._cursor = -1  # index of the last mutating exchange replayed
        self._served: dict[tuple[str, str], int] = {}  # read key -> index of the last one served
        self._consumed: set[int] = set()  # mutating exchanges already replayed
        self.misses: list[str] = []

    def _next_mutation_after(self, index: int) -> int:
        """End of the read window: the next mutation other than a repeat of the one at ``index``
        (a run of identical mutations, such as events sent one by one, is one window)."""
        exchanges = self.recording.exchanges
        here = (exchanges[index].method, exchanges[index].path) if index >= 0 else None
        for ex in exchanges[index + 1 :]:
            if is_mutating(ex.method, ex.path) and (ex.method, ex.path) != here:
                return ex.index
        return len(exchanges)

    def _respond(self, ex: RecordedExchange, request: httpx.Request) -> httpx.Response:
        if self.clock is not None and ex.ts is not None:
            self.clock.set(ex.ts)
        body = ex.response_body
        if body is None or ex.status == 204:
            return httpx.Response(ex.status, request=request)
        ctype = "application/problem+json" if ex.status >= 400 else "application/json"
        return httpx.Response(ex.status, json=body, headers={"Content-Type": ctype}, request=request)

    def _miss(self, request: httpx.Request, why: str) -> httpx.Response:
        what = f"{request.method} {request.url.path}"
        self.misses.append(what)
        problem = {
            "type": "about:blank",
            "title": "Not in recording",
            "status": 501,
            "detail": f"replay: {what} {why} in {self.recording.path}",
        }
        return httpx.Response(501, json=problem, headers={"Content-Type": "application/problem+json"}, request=request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        method = request.method.upper()
        path = request.url.path
        exchanges = self.recording.exchanges
        if is_mutating(method, path):
            # The first not yet replayed occurrence: set-up calls may come in another order.
            for ex in exchanges:
                if ex.index not in self._consumed and ex.method == method and ex.path == path:
                    self._consumed.add(ex.index)
                    self._cursor = max(self._cursor, ex.index)
                    self._served.clear()
                    return self._respond(ex, request)
            return self._miss(request, "has no further recorded occurrence")
        key = (method, path)
        window_end = self._next_mutation_after(self._cursor)
        last = self._served.get(key, self._cursor)
        candidates = [ex for ex in exchanges[self._cursor + 1 : window_end] if ex.method == method and ex.path == path]
        nxt = next((ex for ex in candidates if ex.index > last), None)
        if nxt is None and candidates:
            nxt = candidates[-1]
        if nxt is None:
            earlier = [ex for ex in exchanges[: self._cursor + 1] if ex.method == method and ex.path == path]
            if earlier:
                nxt = earlier[-1]
        if nxt is None:
            return self._miss(request, "was never recorded")
        self._served[key] = nxt.index
        return self._respond(nxt, request)


__all__ = ["RecordedExchange", "ReplayTransport", "Replayable", "exchange_from_line", "is_mutating"]
