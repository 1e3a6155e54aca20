"""contract.stack.connection: attach by URL, boot through a compose driver (faked), the handle."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from contract.errors import InputError, NoOpenMeterError
from contract.stack.connection import OpenMeterHandle, boot, connect, force_sync_argv, probe_version
from contract.stack.options import StackOptions
from contract.stack.syncstate import SyncStateReader
from contract.worklog.source import LogSource

from .conftest import VERSION_BODY, FakeClock, FakeDriver, FakeServer

CUSTOMER = "01M8DZSWQGN7RZQPEN7FA6C29T"


# -- attach ------------------------------------------------------------------------------------------


def test_attach_to_an_unreachable_url_fails_within_5_seconds(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    started = time.monotonic()
    with pytest.raises(NoOpenMeterError) as err:
        connect(StackOptions(url=url))
    assert time.monotonic() - started < 5
    message = str(err.value)
    assert message.startswith(f"OpenMeter not reachable at {url} (")
    assert message.endswith("; start OpenMeter (e.g. `omcontract stack up`) or fix --openmeter-url / OPENMETER_URL")
    assert "\n" not in message
    assert err.value.exit_code == 3


def test_attach_returns_a_handle_with_the_version(fake_server: FakeServer) -> None:
    fake_server.json("/version", VERSION_BODY)
    with connect(StackOptions(url=fake_server.url + "/")) as om:
        assert isinstance(om, OpenMeterHandle)
        assert (om.mode, om.base_url, dict(om.version)) == ("attached", fake_server.url, VERSION_BODY)
        assert (om.logs, om.sync_states, om.project) == (None, None, None)
        assert om.force_sync(CUSTOMER) is None and not om.can_force_sync
        assert om.env_lines() == [f"export OPENMETER_URL={fake_server.url}"]
    assert [path for path, _ in fake_server.requests] == ["/version"]


def test_attach_sends_the_api_key_but_never_shows_it(fake_server: FakeServer) -> None:
    fake_server.json("/version", VERSION_BODY)
    om = connect(StackOptions(url=fake_server.url, api_key="om_secret_key_42"))
    assert fake_server.requests[0][1]["authorization"] == "Bearer om_secret_key_42"
    assert "om_secret_key_42" not in repr(om) + " ".join(om.env_lines())
    om.close()


@pytest.mark.parametrize(
    ("status", "body", "content_type", "message"),
    [
        (404, '{"status": 404}', "application/problem+json", "/version answered HTTP 404: is this the OpenMeter"),
        (200, "<html>hello</html>", "text/html", "/version did not answer OpenMeter's version JSON"),
        (200, '{"name": "something"}', "application/json", "/version did not answer OpenMeter's version JSON"),
    ],
)
def test_something_that_is_not_openmeter_is_refused(
    fake_server: FakeServer, status: int, body: str, content_type: str, message: str
) -> None:
    fake_server.text("/version", body, status=status, content_type=content_type)
    with pytest.raises(NoOpenMeterError) as err:
        probe_version(fake_server.url)
    assert str(err.value).startswith(f"{fake_server.url}{message}")


def test_attach_wires_worker_logs_sync_states_and_force_sync(fake_server: FakeServer, tmp_path: Path) -> None:
    fake_server.json("/version", VERSION_BODY)
    log = tmp_path / "billing-worker.log"
    log.write_text('{"ts":"2026-11-27T07:46:37Z","level":"INFO","msg":"Starting handler"}\n')
    om = connect(
        StackOptions(
            url=fake_server.url,
            worker_logs=str(log),
            postgres_dsn="dbname=om",
            force_sync_command="echo synced {customer_id}",
        )
    )
    assert isinstance(om.logs, LogSource) and [r.msg for r in om.logs.read()] == ["Starting handler"]
    assert isinstance(om.sync_states, SyncStateReader)
    result = om.force_sync(CUSTOMER)
    assert result is not None
    assert (result.command, result.exit_code, result.stdout, result.ok) == (
        f"echo synced {CUSTOMER}",
        0,
        f"synced {CUSTOMER}\n",
        True,
    )
    om.close()


def test_attach_with_missing_worker_logs_is_an_input_error(fake_server: FakeServer, tmp_path: Path) -> None:
    fake_server.json("/version", VERSION_BODY)
    with pytest.raises(InputError, match="worker_logs: worker logs not found"):
        connect(StackOptions(url=fake_server.url, worker_logs=str(tmp_path / "absent.log")))


def test_force_sync_refuses_odd_customer_ids_and_reports_timeouts(fake_server: FakeServer) -> None:
    fake_server.json("/version", VERSION_BODY)
    om = connect(StackOptions(url=fake_server.url, force_sync_command="tail -f /dev/null # {customer_id}"))
    with pytest.raises(InputError, match="customer_id: not a customer id"):
        om.force_sync("x; rm -rf /")
    result = om.force_sync(CUSTOMER, timeout=0.3)
    assert result is not None
    assert (result.exit_code, result.timed_out, result.ok) == (None, True, False)


# -- boot through a fake compose driver ----------------------------------------------------------------


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_boot_waits_for_health_then_discovers_ports_and_version(fake_server: FakeServer) -> None:
    fake_server.json("/version", VERSION_BODY)
    driver, clock = FakeDriver(_port(fake_server.url)), FakeClock()
    progress: list[str] = []
    om = boot(
        StackOptions(variant="no-cti", image_tag="v1.0.0-beta.227"),
        driver_factory=driver.factory,
        clock=clock,
        sleep=clock.sleep,
        progress=progress.append,
    )
    assert (om.mode, om.base_url, dict(om.version)) == ("booted", fake_server.url, VERSION_BODY)
    assert om.project == driver.project and driver.project.startswith("omcontract-")
    assert driver.files == ["docker-compose.yaml", "docker-compose.no-cti.yaml"]
    assert driver.env == {"OPENMETER_IMAGE_TAG": "v1.0.0-beta.227"}
    assert driver.polls == 3 and clock.sleeps == [1.0, 1.0]
    assert progress[0].startswith(f"booting compose project {driver.project} (variant no-cti")
    assert any("waiting for postgres: running/starting" in line for line in progress)
    assert om.services["billing-worker"].endswith("/healthz")
    assert om.sync_states is not None
    assert "postgres:***@127.0.0.1:55432/postgres" in repr(om.sync_states)
    assert om.logs is not None
    [record] = om.logs.read()
    assert (record.service, record.msg) == ("billing-worker", "Message handler failed, will retry later")
    lines = om.env_lines()
    assert lines[0] == f"export OPENMETER_URL={fake_server.url}"
    assert any(line.startswith("export OPENMETER_FORCE_SYNC=") and "{customer_id}" in line for line in lines)
    assert f"export OMCONTRACT_PROJECT={driver.project}" in lines
    assert "export OPENMETER_CONFIG=no-cti" in lines  # an attached run later knows the configuration
    om.close()
    assert driver.calls == ["up", "down"]


def test_booted_force_sync_runs_openmeter_jobs_in_the_billing_worker(fake_server: FakeServer) -> None:
    fake_server.json("/version", VERSION_BODY)
    driver, clock = FakeDriver(_port(fake_server.url), healthy_after=0), FakeClock()
    with boot(StackOptions(), driver_factory=driver.factory, clock=clock, sleep=clock.sleep) as om:
        result = om.force_sync(CUSTOMER)
    assert result is not None and result.ok
    assert driver.execs == [("billing-worker", force_sync_argv(CUSTOMER))]
    assert force_sync_argv(CUSTOMER) == [
        "openmeter-jobs",
        "--config",
        "/etc/openmeter/config.yaml",
        "billing",
        "subscriptionsync",
        "all",
        "--n",
        "default",
        "--c",
        CUSTOMER,
        "--f",
    ]
    assert driver.calls == ["up", "down"]


def test_keep_stack_leaves_it_running(fake_server: FakeServer) -> None:
    fake_server.json("/version", VERSION_BODY)
    driver, clock = FakeDriver(_port(fake_server.url), healthy_after=0), FakeClock()
    with boot(StackOptions(keep_stack=True), driver_factory=driver.factory, clock=clock, sleep=clock.sleep):
        pass
    assert driver.calls == ["up"]


def test_keep_on_failure_keeps_the_stack_only_when_the_run_failed(fake_server: FakeServer) -> None:
    fake_server.json("/version", VERSION_BODY)
    for fail, expected in ((False, ["up", "down"]), (True, ["up"])):
        driver, clock = FakeDriver(_port(fake_server.url), healthy_after=0), FakeClock()
        with (
            pytest.raises(RuntimeError) if fail else contextlib.nullcontext(),
            boot(StackOptions(keep_on_failure=True), driver_factory=driver.factory, clock=clock, sleep=clock.sleep),
        ):
            if fail:
                raise RuntimeError("scenario failed")
        assert driver.calls == expected, fail


def test_a_service_that_exits_fails_the_boot_and_tears_down(fake_server: FakeServer) -> None:
    driver, clock = FakeDriver(_port(fake_server.url), healthy_after=5, exited="billing-worker"), FakeClock()
    with pytest.raises(NoOpenMeterError) as err:
        boot(StackOptions(), driver_factory=driver.factory, clock=clock, sleep=clock.sleep)
    assert str(err.value) == (
        f"compose project {driver.project} failed to boot: service billing-worker exited with code 1 while booting"
    )
    assert driver.calls == ["up", "down"]


def test_boot_deadline_names_what_was_still_pending_and_can_keep_the_stack(fake_server: FakeServer) -> None:
    driver, clock = FakeDriver(_port(fake_server.url), never_healthy=True), FakeClock()
    with pytest.raises(NoOpenMeterError) as err:
        boot(
            StackOptions(boot_timeout=5, keep_on_failure=True),
            driver_factory=driver.factory,
            clock=clock,
            sleep=clock.sleep,
        )
    message = str(err.value)
    assert message.startswith(
        f"compose project {driver.project} failed to boot: services not healthy in "
        "time: postgres: running/starting, clickhouse: running/starting"
    )
    assert message.endswith(
        f"(kept for inspection: omcontract stack logs --project {driver.project}; "
        f"remove with: omcontract stack down {driver.project})"
    )
    assert sum(clock.sleeps) == pytest.approx(5.0)
    assert driver.calls == ["up"]


def test_connect_without_url_and_without_docker_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, closed_unix_socket: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{closed_unix_socket}")
    started = time.monotonic()
    with pytest.raises(NoOpenMeterError) as err:
        connect(StackOptions())
    assert time.monotonic() - started < 5
    assert str(err.value) == (
        f"no Docker engine reachable (unix://{closed_unix_socket}: connection "
        "refused); start OpenMeter yourself and pass --openmeter-url URL (or set "
        "OPENMETER_URL)"
    )


class _DiagnosingDriver(FakeDriver):
    def failure_details(self, timeout: float) -> list[str]:
        self.calls.append("details")
        return ["kafka: running/unhealthy; its last log lines:", "  kafka | ERROR cannot bind"]


def test_a_failed_boot_shows_the_failing_services_logs_then_removes_the_stack(fake_server: FakeServer) -> None:
    driver, clock = _DiagnosingDriver(_port(fake_server.url), never_healthy=True), FakeClock()
    with pytest.raises(NoOpenMeterError) as err:
        boot(
            StackOptions(boot_timeout=3, keep_stack=True), driver_factory=driver.factory, clock=clock, sleep=clock.sleep
        )
    lines = str(err.value).splitlines()
    assert lines[0].startswith(f"compose project {driver.project} failed to boot: services not healthy in time: ")
    assert "kept for inspection" not in lines[0]  # a kept stack (stack up) that never booted is removed
    assert lines[1:] == ["  kafka: running/unhealthy; its last log lines:", "    kafka | ERROR cannot bind"]
    assert driver.calls == ["up", "details", "down"]


class _JoiningDriver(FakeDriver):
    def __init__(self, api_port: int, joined_after: int) -> None:
        super().__init__(api_port, healthy_after=0)
        self.joined_after = joined_after
        self.asked = 0

    def consumer_ready(self, timeout: float) -> bool:
        self.asked += 1
        return self.asked > self.joined_after


def test_boot_waits_for_the_billing_worker_to_join_its_consumer_group(fake_server: FakeServer) -> None:
    fake_server.json("/version", VERSION_BODY)
    driver, clock = _JoiningDriver(_port(fake_server.url), joined_after=3), FakeClock()
    progress: list[str] = []
    boot(StackOptions(), driver_factory=driver.factory, clock=clock, sleep=clock.sleep, progress=progress.append)
    assert driver.asked == 4 and clock.sleeps == [1.0, 1.0, 1.0]
    assert "waiting for the billing worker to join its Kafka consumer group" in progress


def test_a_worker_that_never_shows_its_partitions_delays_the_boot_boundedly(fake_server: FakeServer) -> None:
    fake_server.json("/version", VERSION_BODY)
    driver, clock = _JoiningDriver(_port(fake_server.url), joined_after=10**6), FakeClock()
    progress: list[str] = []
    om = boot(StackOptions(), driver_factory=driver.factory, clock=clock, sleep=clock.sleep, progress=progress.append)
    assert om.mode == "booted"
    assert sum(clock.sleeps) == pytest.approx(90.0)
    assert progress[-1] == "the billing worker's log shows no Kafka partition assignment yet; going on"
