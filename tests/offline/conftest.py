"""Fixtures for the offline OpenMeter tests: a virtual clock, the fake, and a client over its transport."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from contract.client import OpenMeterClient
from contract.clock import VirtualClock
from contract.model import Behaviour
from contract.offline import OfflineOpenMeter

from .helpers import START


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def make_fake(clock: VirtualClock) -> Callable[..., OfflineOpenMeter]:
    def make(behaviour: Behaviour = Behaviour.HEAD, **kwargs: Any) -> OfflineOpenMeter:
        return OfflineOpenMeter(behaviour, clock=clock, **kwargs)

    return make


@pytest.fixture
def fake(make_fake: Callable[..., OfflineOpenMeter]) -> OfflineOpenMeter:
    return make_fake()


@pytest.fixture
def client_for() -> Iterator[Callable[[OfflineOpenMeter], OpenMeterClient]]:
    made: list[OpenMeterClient] = []

    def make(fake: OfflineOpenMeter) -> OpenMeterClient:
        client = OpenMeterClient(fake.base_url, transport=fake.transport, read_retries=0)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def om(fake: OfflineOpenMeter, client_for: Callable[[OfflineOpenMeter], OpenMeterClient]) -> OpenMeterClient:
    return client_for(fake)
