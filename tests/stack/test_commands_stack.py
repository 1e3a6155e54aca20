"""contract.commands.stack: `omcontract stack up/down/logs/status` without a Docker engine."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import pytest

from contract.cli import main
from contract.stack import connection as connect_mod

from .conftest import DATA, VERSION_BODY, FakeClock, FakeDriver, FakeServer

NO_DOCKER = (
    "no Docker engine reachable (unix://{sock}: connection refused); start OpenMeter yourself and "
    "pass --openmeter-url URL (or set OPENMETER_URL)"
)
SUB_B = "01M8DZTB2Q9VXN4K7CJ3H5RW6E"


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch, closed_unix_socket: Path) -> str:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{closed_unix_socket}")
    for name in ("OPENMETER_URL", "OPENMETER_ADDRESS", "OPENMETER_WORKER_LOGS", "OPENMETER_POSTGRES"):
        monkeypatch.delenv(name, raising=False)
    return NO_DOCKER.format(sock=closed_unix_socket)


def test_stack_up_without_docker_exits_3_with_one_line(no_docker: str, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    assert main(["stack", "up"]) == 3
    assert time.monotonic() - started < 5
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"omcontract: {no_docker}\n"


def test_stack_down_without_docker_exits_3(no_docker: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stack", "down", "omcontract-20260101000000-abcdef"]) == 3
    assert capsys.readouterr().err == f"omcontract: {no_docker}\n"


def test_stack_status_of_a_running_openmeter(
    fake_server: FakeServer, no_docker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_server.json("/version", VERSION_BODY)
    assert (
        main(
            [
                "stack",
                "status",
                "--openmeter-url",
                fake_server.url,
                "--worker-logs",
                str(DATA / "head-4412-billing-worker.log"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["openmeter", fake_server.url, "version=v1.0.0-beta.228,", "os=linux,", "arch=amd64"]
    assert out[1].endswith("head-4412-billing-worker.log  99 records")


def test_stack_status_of_an_unreachable_openmeter_exits_3(
    no_docker: str, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stack", "status", "--openmeter-url", f"http://127.0.0.1:{closed_port}"]) == 3
    assert capsys.readouterr().err.startswith(f"omcontract: OpenMeter not reachable at http://127.0.0.1:{closed_port}")


def test_stack_status_needs_something_to_look_at(no_docker: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stack", "status"]) == 2
    assert capsys.readouterr().err == (
        "omcontract: url: give --openmeter-url URL (or set OPENMETER_URL) or --project P\n"
    )


def test_stack_logs_filters_by_subscription(no_docker: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "stack",
                "logs",
                "--worker-logs",
                str(DATA / "bug-4412-two-subscriptions.text.log"),
                "--subscription",
                SUB_B,
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + 10 + 10 + 9 + 1  # created race; locked tx, handler, retry lines; the DLQ line
    assert all(f"subscription: {SUB_B}" in line for line in lines)
    assert lines[-1].startswith("2026-11-27T07:51:35.583Z  ERROR  Failed to process message, message is going to DLQ")


def test_stack_logs_raw_prints_lines_as_written(
    no_docker: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = DATA / "head-4412-billing-worker.log"
    monkeypatch.setenv("OPENMETER_WORKER_LOGS", str(log))
    assert main(["stack", "logs", "--raw", "--subscription", "01M8DZH5QPXGMYK63W2NTJ0NDD"]) == 0
    out = capsys.readouterr().out.splitlines()
    real = log.read_text(encoding="utf-8").splitlines()
    assert out == [real[53], real[54]]  # the created-event retry warning and the retry line


def test_stack_logs_without_a_source_is_an_input_error(no_docker: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stack", "logs"]) == 2
    assert capsys.readouterr().err == (
        "omcontract: worker_logs: give --project P or --worker-logs SRC (or set OPENMETER_WORKER_LOGS)\n"
    )


def test_stack_up_prints_the_url_and_env_lines_and_keeps_the_stack(
    fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_server.json("/version", VERSION_BODY)
    driver, clock = FakeDriver(int(fake_server.url.rsplit(":", 1)[1]), healthy_after=0), FakeClock()
    monkeypatch.setattr(
        "contract.commands.stack.boot",
        functools.partial(connect_mod.boot, driver_factory=driver.factory, clock=clock, sleep=clock.sleep),
    )
    monkeypatch.setenv("OPENMETER_URL", "http://127.0.0.1:1")  # another OpenMeter: must not leak in
    monkeypatch.setenv("OPENMETER_POSTGRES", "postgres://other:pw@elsewhere/db")
    monkeypatch.setenv("OPENMETER_IMAGE_TAG", "v1.0.0-beta.227")
    assert main(["stack", "up", "--variant", "no-credits"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == (f"# OpenMeter v1.0.0-beta.228 is up: compose project {driver.project}, variant no-credits")
    assert lines[1] == f"export OPENMETER_URL={fake_server.url}"
    assert lines[2] == (
        "export OPENMETER_POSTGRES='postgresql://postgres:postgres@127.0.0.1:55432/postgres?sslmode=disable'"
    )
    assert lines[-1] == f"# remove it with: omcontract stack down {driver.project}"
    assert driver.files == ["docker-compose.yaml", "docker-compose.no-credits.yaml"]
    assert driver.env == {"OPENMETER_IMAGE_TAG": "v1.0.0-beta.227"}
    assert driver.calls == ["up"]  # kept running
    assert err.startswith(f"booting compose project {driver.project}")
