"""Routes of billing profiles: list, create (a new default demotes the old one), get."""

from __future__ import annotations

from dataclasses import replace

import httpx

from contract.offline.catalog import parse_profile
from contract.offline.ids import Kind
from contract.offline.paging import v3_page
from contract.offline.problems import ApiError, json_body
from contract.offline.routing import V3, Reply, Route, Router
from contract.offline.state import OfflineState

__all__ = ["ROUTER"]


def list_profiles(s: OfflineState, request: httpx.Request) -> Reply:
    return 200, v3_page(request, [p.v3() for p in s.store.profiles.values()], default_size=20)


def get_profile(s: OfflineState, request: httpx.Request, bid: str) -> Reply:
    profile = s.store.profiles.get(bid)
    if profile is None:
        raise ApiError.not_found("billing profile", bid)
    return 200, profile.v3()


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


ROUTER = Router(
    "profiles",
    (
        Route("GET", f"{V3}/profiles", list_profiles),
        Route("POST", f"{V3}/profiles", create_profile),
        Route("GET", f"{V3}/profiles/{{bid}}", get_profile),
    ),
)
