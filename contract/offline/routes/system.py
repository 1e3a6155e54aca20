"""Route of the server itself: ``GET /version``."""

from __future__ import annotations

import httpx

from contract.offline.routing import Reply, Router
from contract.offline.state import OfflineState

__all__ = ["ROUTER"]

ROUTER = Router("system")


@ROUTER.get("/version")
def version(s: OfflineState, request: httpx.Request) -> Reply:
    return 200, {"version": f"offline-{s.settings.behaviour.value}", "os": "offline", "arch": "engine"}
