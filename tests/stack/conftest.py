"""Shared helpers for tests/stack: fixture files, a tiny local HTTP server, closed ports and sockets."""

from __future__ import annotations

import json
import socket
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from contract.stack.compose import ExecResult, ServiceState

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]

ALL_SERVICES = ["postgres", "clickhouse", "kafka", "redis", "openmeter", "sink-worker", "billing-worker"]
VERSION_BODY = {"version": "v1.0.0-beta.228", "os": "linux", "arch": "amd64"}


@dataclass
class FakeServer:
    """A 127.0.0.1 HTTP server answering fixed routes; records the requests it got."""

    routes: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def json(self, path: str, body: Any, status: int = 200) -> None:
        self.routes[path] = (status, "application/json", json.dumps(body))

    def text(self, path: str, body: str, status: int = 200, content_type: str = "text/plain") -> None:
        self.routes[path] = (status, content_type, body)


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    state = FakeServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            status, content_type, body = state.routes.get(
                self.path, (404, "application/problem+json", '{"status": 404}')
            )
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def closed_unix_socket(tmp_path: Path) -> Iterator[Path]:
    """A unix socket file whose listener is gone: connecting is refused, like a stopped dockerd."""
    folder = tmp_path
    if len(str(tmp_path / "docker.sock")) > 100:  # AF_UNIX path limit
        folder = Path(tempfile.mkdtemp(prefix="omc-"))
    path = folder / "docker.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()
    yield path
    path.unlink(missing_ok=True)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeDriver:
    """A compose project whose services become healthy after ``healthy_after`` polls."""

    def __init__(
        self, api_port: int, *, healthy_after: int = 2, exited: str | None = None, never_healthy: bool = False
    ) -> None:
        self.project = ""
        self.api_port = api_port
        self.healthy_after = healthy_after
        self.exited = exited
        self.never_healthy = never_healthy
        self.polls = 0
        self.calls: list[str] = []
        self.execs: list[tuple[str, list[str]]] = []
        self.files: list[str] = []
        self.env: dict[str, str] = {}

    def factory(self, compose_dir: Path, files: Sequence[str], project: str, env: Mapping[str, str]) -> FakeDriver:
        self.project, self.files, self.env = project, list(files), dict(env)
        return self

    def up(self, timeout: float) -> None:
        self.calls.append("up")

    def services(self, timeout: float) -> list[ServiceState]:
        self.polls += 1
        ready = self.polls > self.healthy_after and not self.never_healthy
        states = []
        for name in ALL_SERVICES:
            if name == self.exited and self.polls > 1:
                states.append(ServiceState(name, "exited", "", 1))
            else:
                states.append(ServiceState(name, "running", "healthy" if ready else "starting"))
        return states

    def port(self, service: str, container_port: int, timeout: float) -> tuple[str, int]:
        return "127.0.0.1", {"openmeter": self.api_port, "postgres": 55432}.get(service, 40000 + len(service))

    def logs(self, service: str, timeout: float) -> str:
        return (
            'billing-worker-1  | {"ts":"2026-11-27T07:46:46Z","level":"WARN",'
            '"msg":"Message handler failed, will retry later","error.message":"x"}\n'
        )

    def exec(self, service: str, argv: Sequence[str], timeout: float) -> ExecResult:
        self.execs.append((service, list(argv)))
        return ExecResult(0, "", "")

    def down(self, timeout: float) -> None:
        self.calls.append("down")
