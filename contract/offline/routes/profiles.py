"""Routes of billing profiles: list, create (a new default demotes the old one), get."""

from __future__ import annotations

from dataclasses import replace

import httpx

from contract.offline.catalog import parse_profile
from contract.offline.ids import Kind
from contract.offline.paging import v3_page
from contract.offline.problems import json_body
from contract.offline.routing import V3, Reply, Router
from contract.offline.state import OfflineState
from contract.offline.store import require

__all__ = ["ROUTER"]

ROUTER = Router("profiles")


@ROUTER.get(f"{V3}/profiles")
def list_profiles(s: OfflineState, request: httpx.Request) -> Reply:
    return 200, v3_page(request, [p.v3() for p in s.store.profiles.values()], default_size=20)


@ROUTER.get(f"{V3}/profiles/{{bid}}")
def get_profile(s: OfflineState, request: httpx.Request, bid: str) -> Reply:
    return 200, require(s.store.profiles, bid, "billing profile").v3()


@ROUTER.post(f"{V3}/profiles")
def create_profile(s: OfflineState, request: httpx.Request) -> Reply:
    profile = parse_profile(
        json_body(request),
        new_id=s.ids.new(Kind.PROFILE),
        now=s.now(),
        known_apps=(s.app_id,),
    )
    profiles = s.store.profiles
    if profile.default:
        for other in list(profiles.values()):
            if other.default:
                profiles[other.id] = replace(other, default=False)
    profiles[profile.id] = profile
    return 201, profile.v3()
