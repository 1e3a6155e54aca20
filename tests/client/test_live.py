"""Checks against a real OpenMeter (``-m live``); skipped unless ``OPENMETER_URL`` names a reachable one."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from contract.client import ApiKey, OpenMeterClient, OpenMeterUnreachable, ResponseValidator

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def live() -> Iterator[OpenMeterClient]:
    url = os.environ.get("OPENMETER_URL")
    if not url:
        pytest.skip("set OPENMETER_URL (e.g. http://127.0.0.1:38888) to run against a live OpenMeter")
    client = OpenMeterClient(url, api_key=ApiKey.from_env(), timeout=5.0)
    try:
        client.version()
    except OpenMeterUnreachable as err:
        client.close()
        pytest.skip(f"no OpenMeter reachable: {err}")
    yield client
    client.close()


def test_live_server_answers_version_and_has_a_default_billing_profile(live: OpenMeterClient) -> None:
    assert live.version().version
    assert live.default_profile().is_default


def test_live_responses_match_the_documents_the_server_serves(live: OpenMeterClient) -> None:
    live.validator = ResponseValidator.from_server(live)
    with live.collect_findings() as found:
        live.version()
        live.list_profiles()

    assert found == []
