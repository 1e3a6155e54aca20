"""Fixtures for the client tests: recorded exchanges and clients whose transport is a respx router."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from contract.client import OpenMeterClient

from .helpers import BASE, Recording, load_recording


@pytest.fixture(scope="session")
def head() -> Recording:
    return load_recording("head-4412")


@pytest.fixture(scope="session")
def bug() -> Recording:
    return load_recording("bug-4412")


@pytest.fixture
def router() -> Iterator[respx.Router]:
    r = respx.Router(base_url=BASE, assert_all_called=False)
    yield r


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(router: respx.Router, sleeps: list[float]) -> Iterator[Callable[..., OpenMeterClient]]:
    """Build clients whose transport is the respx router and whose backoff sleeps are recorded."""
    made: list[OpenMeterClient] = []

    def make(**kwargs: Any) -> OpenMeterClient:
        kwargs.setdefault("transport", httpx.MockTransport(router.handler))
        kwargs.setdefault("sleep", sleeps.append)
        client = OpenMeterClient(kwargs.pop("base_url", BASE), **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., OpenMeterClient]) -> OpenMeterClient:
    return make_client()
