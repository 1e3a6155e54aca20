"""A small router for the offline OpenMeter: routes as data, composed and served as an httpx transport.

In the spirit of respx (``router.get(path).mock(side_effect=...)``), but our own and tiny: a
:class:`Route` is a method, a path template (``/api/v3/openmeter/meters/{mid}``: each ``{name}``
matches one path segment and is passed to the handler as a keyword) and a handler; a
:class:`Router` is an ordered list of routes, one per resource module, composed with
:meth:`Router.mount` as respx composes routes. Handlers are plain functions of the shared state::

    ROUTER = Router("usage")

    @ROUTER.get(f"{V3}/meters/{{mid}}")
    def get_meter(state: OfflineState, request: httpx.Request, mid: str) -> Reply: ...

:func:`serve` binds a router to one state and answers like OpenMeter does: the first route whose
method and path match handles the request; anything else — an unknown path or a known path with
another method — is a 404 problem ``route not found: METHOD PATH``; an :class:`ApiError` becomes
its problem response, any other exception a 500 problem naming it; a 204 has no body, other
replies are JSON. Every request, matched or not, gets the next ``offline-NNNNNN`` request id and
takes ``latency`` of the clock's (virtual) time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar

import httpx

from contract.clock import Clock
from contract.offline.problems import ApiError, api_of, problem_response

__all__ = ["V1", "V3", "Handler", "Reply", "Route", "Router", "Served", "serve"]

V1 = "/api/v1"
V3 = "/api/v3/openmeter"

#: A handler's answer: the status and the JSON body (None for a 204).
Reply = tuple[int, Any]
#: ``handler(state, request, **path_params, **route_defaults) -> Reply``.
Handler = Callable[..., Reply]

S = TypeVar("S")
H = TypeVar("H", bound=Handler)

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _compile(template: str) -> re.Pattern[str]:
    """``/a/{x}/b`` -> ``^/a/(?P<x>[^/]+)/b$`` (literal parts escaped)."""
    parts: list[str] = []
    last = 0
    for found in _PARAM.finditer(template):
        parts.append(re.escape(template[last : found.start()]))
        parts.append(f"(?P<{found.group(1)}>[^/]+)")
        last = found.end()
    parts.append(re.escape(template[last:]))
    return re.compile("^" + "".join(parts) + "$")


@dataclass(frozen=True, slots=True)
class Route:
    """One route: ``method`` (upper case), ``path`` template, and the handler answering it.

    ``defaults`` are keywords the handler gets besides the path parameters (as Flask's route
    defaults), so one handler can serve the v1 and the v3 spelling of a route (``api="v1"``).
    """

    method: str
    path: str
    handler: Handler
    defaults: Mapping[str, Any] = field(default_factory=dict, compare=False)
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", _compile(self.path))

    @property
    def params(self) -> tuple[str, ...]:
        """The names of the path's ``{placeholders}``, in order."""
        return tuple(_PARAM.findall(self.path))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route answers ``method path``, else None."""
        if method != self.method:
            return None
        found = self.pattern.match(path)
        return found.groupdict() if found is not None else None


class Router:
    """An ordered list of routes, named after the resource they serve; the first match wins.

    Routes are added as respx adds them — ``router.get(path)`` — here as a decorator of the
    handler, which is returned unchanged. :meth:`mount` composes routers into a new one.
    """

    def __init__(self, name: str, routes: Iterable[Route] = ()) -> None:
        self.name = name
        self._routes: list[Route] = list(routes)

    def __repr__(self) -> str:
        return f"Router({self.name!r}, {len(self._routes)} routes)"

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(self._routes)

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self._routes)

    def route(self, method: str, path: str, **defaults: Any) -> Callable[[H], H]:
        """A decorator adding ``method path`` answered by the decorated handler (with ``defaults``)."""

        def add(handler: H) -> H:
            self._routes.append(Route(method.upper(), path, handler, defaults))
            return handler

        return add

    def get(self, path: str, **defaults: Any) -> Callable[[H], H]:
        return self.route("GET", path, **defaults)

    def post(self, path: str, **defaults: Any) -> Callable[[H], H]:
        return self.route("POST", path, **defaults)

    def put(self, path: str, **defaults: Any) -> Callable[[H], H]:
        return self.route("PUT", path, **defaults)

    def patch(self, path: str, **defaults: Any) -> Callable[[H], H]:
        return self.route("PATCH", path, **defaults)

    def mount(self, *others: Router, name: str | None = None) -> Router:
        """A new router: this router's routes followed by the others'."""
        return Router(name or self.name, [*self._routes, *(r for other in others for r in other.routes)])

    def resolve(self, request: httpx.Request) -> tuple[Route, dict[str, str]] | None:
        """The route answering ``request`` and its path parameters, or None."""
        for route in self._routes:
            params = route.match(request.method, request.url.path)
            if params is not None:
                return route, params
        return None


@dataclass(slots=True)
class Served(Generic[S]):
    """A router bound to a state: :meth:`handle` is the transport's handler (see the module docstring)."""

    router: Router
    state: S
    clock: Clock
    latency: timedelta = timedelta(0)
    requests: int = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        request_id = f"offline-{self.requests:06d}"
        api = api_of(request.url.path)
        try:
            resolved = self.router.resolve(request)
            if resolved is None:
                raise ApiError(404, f"route not found: {request.method} {request.url.path}")
            route, params = resolved
            status, body = route.handler(self.state, request, **params, **route.defaults)
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
        return httpx.Response(status, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def serve(router: Router, state: S, *, clock: Clock, latency: timedelta = timedelta(0)) -> Served[S]:
    """``router`` answering over ``state``; ``Served.transport`` is what a client is given."""
    return Served(router, state, clock, latency)
