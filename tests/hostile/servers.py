"""Hostile HTTP servers for the corpus: local threads bound to 127.0.0.1, every wait bounded.

* ``drip``: answers every request one byte every ``drip_s`` seconds (headers included);
* ``version-then-hang``: ``/version`` answers, every other request gets no answer at all;
* ``openapi-500``: ``/version`` answers, the OpenAPI documents are HTTP 500;
* ``setup-500``: ``/version`` answers, the OpenAPI documents are 404, everything else is 500;
* ``deep-json``: as ``setup-500``, but everything else is HTTP 200 with JSON nested 100,000 deep.

Handlers never wait longer than :data:`MAX_HOLD_S`, and :meth:`HostileServer.close` releases
every one of them at once, so a test cannot leave a thread behind for long.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_HOLD_S = 20.0
VERSION = json.dumps({"version": "hostile", "os": "linux", "arch": "amd64"}).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        mode = self.server.mode
        path = self.path.split("?")[0]
        released = self.server.released
        if mode == "drip":
            payload = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + VERSION
            for byte in payload:
                if released.wait(self.server.drip_s):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            return
        if path == "/version":
            self._send(200, VERSION)
            return
        if mode == "version-then-hang":
            released.wait(MAX_HOLD_S)
            return
        if path in ("/api/swagger.json", "/api/v3/openapi.json"):
            self._send(500 if mode == "openapi-500" else 404, b'{"title": "boom"}')
            return
        if mode == "deep-json":
            self._send(200, b"[" * 100_000 + b"]" * 100_000)
            return
        self._send(500, b'{"type": "about:blank", "title": "Internal Server Error", "status": 500}')

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    mode = "drip"
    drip_s = 2.0
    released: threading.Event


@contextmanager
def hostile_server(mode: str, *, drip_s: float = 2.0) -> Iterator[str]:
    """The base URL of a hostile server playing ``mode``, for the duration of the block."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.mode = mode
    server.drip_s = drip_s
    server.released = threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
