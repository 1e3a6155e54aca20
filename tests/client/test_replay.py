"""Replay is the reading side of recording: what RecordingTransport writes, ReplayTransport serves."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx

from contract.client import ApiKey, OpenMeterClient, OpenMeterProblem, Recorder
from contract.client.replay import RecordedExchange, ReplayTransport, exchange_from_line
from contract.errors import InputError

from .helpers import BASE, SECRET

Make = Callable[..., OpenMeterClient]


@dataclass(frozen=True, slots=True)
class Tape:
    path: str
    exchanges: tuple[RecordedExchange, ...]


def _read(path: Path) -> Tape:
    exchanges: list[RecordedExchange] = []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        exchange = exchange_from_line(json.loads(line), index=len(exchanges), name=str(path), line_no=line_no)
        if exchange is not None:
            exchanges.append(exchange)
    return Tape(str(path), tuple(exchanges))


def _calls(client: OpenMeterClient) -> list[tuple[int, object]]:
    out: list[tuple[int, object]] = []
    for method, path, body in [
        ("GET", "/version", None),
        ("POST", "/api/v3/openmeter/things", {"name": "a"}),
        ("GET", "/api/v3/openmeter/things/t1", None),
    ]:
        reply = client.request(method, path, **({"json_body": body} if body is not None else {}))
        out.append((reply.status, reply.body))
    with pytest.raises(OpenMeterProblem) as refused:
        client.request("POST", "/api/v3/openmeter/things", json_body={"name": "a"})
    out.append((refused.value.status or 0, str(refused.value)))
    return out


def test_what_the_recording_transport_writes_the_replay_transport_serves(
    make_client: Make, router: respx.Router, tmp_path: Path
) -> None:
    router.get("/version").mock(
        side_effect=[httpx.ConnectError("Connection refused"), httpx.Response(200, json={"version": "v1"})]
    )
    router.post("/api/v3/openmeter/things").mock(
        side_effect=[
            httpx.Response(201, json={"id": "t1", "token": SECRET}),
            httpx.Response(409, json={"title": "Conflict", "detail": "exists", "status": 409}),
        ]
    )
    router.get("/api/v3/openmeter/things/t1").respond(200, json={"id": "t1", "n": 1})
    path = tmp_path / "run.jsonl"
    live = _calls(make_client(api_key=ApiKey(SECRET), recorder=Recorder(path)))

    lines = path.read_text().splitlines()
    tape = _read(path)
    replayed = _calls(OpenMeterClient(BASE, transport=ReplayTransport(tape), read_retries=0))

    assert len(lines) == 5 and len(tape.exchanges) == 4  # the refused connection left nothing to serve
    assert SECRET not in path.read_text()
    masked = [
        (status, {**body, "token": "***"} if isinstance(body, dict) and "token" in body else body)
        for status, body in live
    ]
    assert replayed == masked
    assert [e.request_body for e in tape.exchanges] == [None, {"name": "a"}, None, {"name": "a"}]


def test_a_replay_clock_follows_the_recorded_times() -> None:
    seen: list[datetime] = []

    class Clock:
        def set(self, when: datetime) -> None:
            seen.append(when)

    line = {"kind": "http", "method": "GET", "url": f"{BASE}/version", "status": 200, "ts": "2026-01-01T00:00:03Z"}
    exchange = exchange_from_line(line, index=0, name="mem", line_no=1)
    assert exchange is not None
    client = httpx.Client(transport=ReplayTransport(Tape("mem", (exchange,)), Clock()), base_url=BASE)

    assert client.get("/version").status_code == 200
    assert seen == [datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC)]


def test_an_answered_line_without_an_integer_status_is_named() -> None:
    with pytest.raises(InputError, match=r"^mem:7: status: must be an integer HTTP status$"):
        exchange_from_line({"method": "GET", "url": "http://h/a", "status": None}, index=0, name="mem", line_no=7)
