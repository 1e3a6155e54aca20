"""Replay: judge a recorded run again, offline, by serving its HTTP exchanges to the runner.

A recording is JSON lines, one object per exchange (``kind: http``: ``method``, ``url``,
``request_body``, ``status``, ``response_body``, ``ts``) or note (``kind: note``). The suite's own
``--record`` files and the recordings of OpenMeter runs in ``shared/openmeter/recorded`` share this
layout.

:class:`ReplayTransport` is an httpx transport. It keeps a cursor in the recording:

* a *mutating* request (POST/PUT/PATCH/DELETE that is not a query) moves the cursor to the next
  recorded request with the same method and path, and answers with its recorded response;
* a *read* is answered from the recorded responses to the same method and path between the cursor
  and the next mutating request, in order (the last one repeats: state that stopped changing); if
  there is none there, the latest one before the cursor (nothing changed since).

Query strings are ignored when matching. The replay clock follows the recorded timestamps, so
the runner's expectations use the times the real run saw. Anything not in the recording is
answered with a problem+json 501 that names the request, so a replay never invents state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from contract.clock import VirtualClock
from contract.errors import InputError
from contract.limits import (
    MAX_NESTING,
    MAX_RECORDING_BYTES,
    decode_utf8,
    instant_problem,
    json_depth_exceeds,
    read_input,
)
from contract.model.time import parse_time
from contract.scenario.model import KEY_PATTERN, MAX_RUN_ID_LENGTH

_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _is_query(method: str, path: str) -> bool:
    return method == "POST" and path.endswith("/query")


def is_mutating(method: str, path: str) -> bool:
    return method.upper() in _MUTATING and not _is_query(method.upper(), path)


@dataclass(frozen=True, slots=True)
class RecordedExchange:
    index: int
    step: str | None
    method: str
    path: str
    url: str
    request_body: Any
    status: int
    response_body: Any
    ts: datetime | None


@dataclass(frozen=True, slots=True)
class Recording:
    path: str
    exchanges: tuple[RecordedExchange, ...]
    notes: tuple[dict[str, Any], ...]

    @property
    def scenario_id(self) -> str | None:
        for note in self.notes:
            sid = note.get("scenario")
            if isinstance(sid, str):
                return sid
        return None

    def segments(self) -> list[Recording]:
        """One recording per scenario run it holds (a ``--record`` of several scenarios), in order.

        A segment starts at a ``note`` naming a ``scenario``; a recording without such notes (like
        OpenMeter's own in shared/openmeter/recorded) is one segment."""
        starts = [n for n in self.notes if isinstance(n.get("scenario"), str)]
        if len(starts) <= 1:
            return [self]
        out = []
        for i, start in enumerate(starts):
            first = int(start["_at"])
            last = int(starts[i + 1]["_at"]) if i + 1 < len(starts) else len(self.exchanges)
            part = tuple(replace(ex, index=k) for k, ex in enumerate(self.exchanges[first:last]))
            notes = tuple(n for n in self.notes if first <= int(n["_at"]) < last and n is not start)
            out.append(Recording(path=self.path, exchanges=part, notes=(start, *notes)))
        return out

    @property
    def run_id(self) -> str | None:
        """The recorded run's unique key suffix (``run_id``, or ``uniq`` in OpenMeter recordings)."""
        for note in self.notes:
            for key in ("run_id", "uniq"):
                value = note.get(key)
                if isinstance(value, str) and value:
                    return value
        return None

    @property
    def base_url(self) -> str:
        for ex in self.exchanges:
            parts = urlsplit(ex.url)
            if parts.scheme:
                return f"{parts.scheme}://{parts.netloc}"
        for note in self.notes:
            base = note.get("base")
            if isinstance(base, str):
                return base
        return "http://recorded.invalid"

    @property
    def version(self) -> dict[str, Any]:
        for ex in self.exchanges:
            if ex.path == "/version" and isinstance(ex.response_body, dict):
                return ex.response_body
        return {}

    @property
    def first_time(self) -> datetime | None:
        for ex in self.exchanges:
            if ex.ts is not None:
                return ex.ts
        return None


def load_recording(path: str | Path) -> Recording:
    """Read a JSON-lines recording; every malformed line is a precise :class:`InputError`."""
    p = Path(path)
    text = decode_utf8(read_input(p, limit=MAX_RECORDING_BYTES, what="recording"), str(p))
    return parse_recording(text.splitlines(), str(p))


def parse_recording(lines: Iterable[str], name: str) -> Recording:
    exchanges: list[RecordedExchange] = []
    notes: list[dict[str, Any]] = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if json_depth_exceeds(line):
            raise InputError(f"nested deeper than {MAX_NESTING} levels", file=name, line=line_no)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"not JSON ({err.msg})", file=name, line=line_no) from None
        if not isinstance(obj, dict):
            raise InputError("each line must be a JSON object", file=name, line=line_no)
        kind = obj.get("kind", "http")
        for key in ("run_id", "uniq"):  # the run's key suffix: it becomes part of keys and ids
            value = obj.get(key)
            if isinstance(value, str) and value and (len(value) > MAX_RUN_ID_LENGTH or not KEY_PATTERN.match(value)):
                raise InputError(
                    f"{value[:40]!r} is not a run id ({KEY_PATTERN.pattern}, at most {MAX_RUN_ID_LENGTH} characters)",
                    file=name,
                    line=line_no,
                    field=key,
                )
        if kind == "note":
            notes.append({**obj, "_at": len(exchanges)})  # where it stands among the exchanges
            continue
        if kind != "http":
            continue
        for key in ("method", "url", "status"):
            if key not in obj:
                raise InputError("missing in an http exchange", file=name, line=line_no, field=key)
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
        exchanges.append(
            RecordedExchange(
                index=len(exchanges),
                step=obj.get("step") if isinstance(obj.get("step"), str) else None,
                method=str(obj["method"]).upper(),
                path=path,
                url=url,
                request_body=obj.get("request_body"),
                status=obj["status"],
                response_body=obj.get("response_body"),
                ts=ts,
            )
        )
    if not exchanges:
        raise InputError("no HTTP exchanges in the recording", file=name)
    return Recording(path=name, exchanges=tuple(exchanges), notes=tuple(notes))


class ReplayTransport(httpx.BaseTransport):
    """Serve a :class:`Recording` to an httpx client (see the module docstring for the rules)."""

    def __init__(self, recording: Recording, clock: VirtualClock | None = None) -> None:
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


class ReplayLogs:
    """The worker-log lines a recording carries (one ``worker_log`` note per step, in step order).

    The runner takes one log mark per step: the n-th mark stands for the n-th step, and reading
    from it gives that step's recorded lines, parsed like a live log."""

    def __init__(self, recording: Recording) -> None:
        self._steps = [n["worker_log"] for n in recording.notes if isinstance(n.get("worker_log"), list)]
        self._next = 0

    @staticmethod
    def carried_by(recording: Recording) -> bool:
        """Whether the recorded run had a worker log (old recordings and log-less runs have none)."""
        return any(n.get("logs_available") is True for n in recording.notes)

    def mark(self) -> int:
        self._next += 1
        return self._next - 1

    def read_from(self, mark: Any, since: datetime | None = None) -> list[Any]:
        from contract.worklog.records import parse_lines

        if not isinstance(mark, int) or mark >= len(self._steps):
            return []
        lines = [str(line) for line in self._steps[mark]]
        return list(parse_lines(lines, source="recording"))
