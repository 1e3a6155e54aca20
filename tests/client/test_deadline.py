"""``DeadlineTransport``: the request's timeout bounds the whole exchange, however slowly it drips."""

from __future__ import annotations

import time

import httpx
import pytest

from contract.client import OpenMeterClient, OpenMeterUnreachable
from contract.client.deadline import DeadlineTransport
from tests.hostile.servers import hostile_server


def test_a_server_dripping_its_answer_is_cut_off_at_the_deadline_not_per_read() -> None:
    # one byte every 0.2 s never trips a per-read timeout of 1 s; the whole exchange still ends at 1 s
    with hostile_server("drip", drip_s=0.2) as url, OpenMeterClient(url, timeout=1.0, read_retries=2) as client:
        started = time.monotonic()
        with pytest.raises(OpenMeterUnreachable) as info:
            client.version()
        elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 2.0
    assert "GET /version got no complete answer within 1 s" in str(info.value)


def test_a_prompt_answer_passes_and_the_deadline_ends_with_the_exchange() -> None:
    with hostile_server("openapi-500") as url, httpx.Client(transport=DeadlineTransport(), timeout=0.5) as client:
        first = client.get(f"{url}/version")
        time.sleep(0.6)  # longer than the deadline: the next exchange has its own
        second = client.get(f"{url}/version")
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["version"] == "hostile"


def test_a_per_request_timeout_is_that_requests_deadline() -> None:
    with hostile_server("version-then-hang") as url, httpx.Client(transport=DeadlineTransport(), timeout=30) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.get(f"{url}/api/swagger.json", timeout=0.5)
    assert time.monotonic() - started < 1.5
