"""An httpx transport whose timeout bounds the whole exchange, not each read.

httpx's timeouts apply to each network operation: a server that sends one byte every two seconds
never trips a ten-second read timeout, and the exchange goes on for as long as it likes. Here
the request's timeout (``read``, or the largest of those set) is one deadline for everything —
connecting, sending, the status line, headers and the whole body. Every socket operation gets
at most the time that is left; when none is left it fails with ``httpx.ReadTimeout`` (or
``ConnectTimeout`` / ``WriteTimeout``), which callers already handle.

Built on httpcore's public network-backend seam: the connection pool is given a backend whose
streams clip each timeout to the deadline of the exchange in flight.
"""

from __future__ import annotations

import contextlib
import threading
import time
import typing
from collections.abc import Iterable, Iterator

import httpcore
import httpx

# httpcore exception -> httpx exception, most specific first.
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.ProxyError, httpx.ProxyError),
)


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for source, target in _EXCEPTIONS:
            if isinstance(exc, source):
                raise target(str(exc)) from exc
        raise


class _Backend(httpcore.NetworkBackend):
    """Clips every timeout to the deadline of the exchange running on this thread."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner
        self._local = threading.local()

    def start(self, seconds: float | None) -> None:
        self._local.deadline = None if seconds is None else time.monotonic() + seconds
        self._local.total = seconds

    def stop(self) -> None:
        self._local.deadline = None

    def clip(self, timeout: float | None, error: type[Exception]) -> float | None:
        deadline: float | None = getattr(self._local, "deadline", None)
        if deadline is None:
            return timeout
        left = deadline - time.monotonic()
        if left <= 0:
            raise error(f"no complete answer within {self._local.total:g} s")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        clipped = self.clip(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, clipped, local_address, socket_options), self)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[typing.Any] | None = None
    ) -> httpcore.NetworkStream:
        clipped = self.clip(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, clipped, socket_options), self)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, backend: _Backend) -> None:
        self._inner = inner
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._backend.clip(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._backend.clip(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: typing.Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        clipped = self._backend.clip(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, clipped), self._backend)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes], backend: _Backend) -> None:
        self._stream = stream
        self._backend = backend

    def __iter__(self) -> Iterator[bytes]:
        with _mapped():
            yield from self._stream

    def close(self) -> None:
        self._backend.stop()
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


def _total(request: httpx.Request) -> float | None:
    timeouts = request.extensions.get("timeout") or {}
    read = timeouts.get("read")
    if isinstance(read, int | float):
        return float(read)
    given = [v for v in timeouts.values() if isinstance(v, int | float)]
    return max(given) if given else None


class DeadlineTransport(httpx.BaseTransport):
    """HTTP/1.1 transport in which the request's (read) timeout is the deadline of the whole exchange."""

    def __init__(self, *, verify: bool = True, trust_env: bool = True) -> None:
        self._backend = _Backend(httpcore.SyncBackend())
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=trust_env),
            network_backend=self._backend,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        self._backend.start(_total(request))
        try:
            with _mapped():
                response = self._pool.handle_request(core)
        except BaseException:
            self._backend.stop()
            raise
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream, self._backend),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


__all__ = ["DeadlineTransport"]
