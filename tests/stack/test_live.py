"""Live checks against a real OpenMeter (marked `live`).

They run when ``OPENMETER_URL`` (or ``OPENMETER_ADDRESS``) names one -- e.g. after
``eval "$(omnative up)"`` or ``omcontract stack up`` -- and skip with the reason otherwise. A URL
that is given but broken FAILS: that is a broken setup, not a missing one.
"""

from __future__ import annotations

import httpx
import pytest

from contract.stack import LogSource, StackOptions, SyncStateReader, connect, scan

pytestmark = pytest.mark.live


def _options() -> StackOptions:
    options = StackOptions.from_env()
    if options.url is None:
        pytest.skip('no OpenMeter to attach to: set OPENMETER_URL (e.g. eval "$(omnative up)", or omcontract stack up)')
    return options


def test_attach_reports_the_version_and_answers_an_api_call() -> None:
    options = _options()
    with connect(options) as om:  # raises (fails) when the given URL is broken
        assert om.mode == "attached"
        assert isinstance(om.version.get("version"), str) and om.version["version"]
        response = httpx.get(f"{om.base_url}/api/v1/meters", timeout=10, trust_env=False)
        assert response.status_code == 200
        assert isinstance(response.json(), list)


def test_worker_logs_parse_and_scan() -> None:
    options = _options()
    if not options.worker_logs:
        pytest.skip("OPENMETER_WORKER_LOGS is not set: no worker log to read")
    records = LogSource.from_spec(options.worker_logs).read()
    assert records, "the billing worker has written nothing readable"
    assert all(r.level in {"DEBUG", "INFO", "WARN", "ERROR", "PANIC", "FATAL"} for r in records)
    assert all(m.signature.id for m in scan(records))


def test_sync_state_table_answers() -> None:
    options = _options()
    if not options.postgres_dsn:
        pytest.skip("OPENMETER_POSTGRES is not set: no OpenMeter database to read")
    with SyncStateReader(options.postgres_dsn) as reader:
        assert reader.get("01AAAAAAAAAAAAAAAAAAAAAAAA") is None
