"""contract.stack.compose: Docker detection, compose files, and the testcontainers driver (no engine)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from contract.errors import InputError, NoOpenMeterError
from contract.proc import Finished
from contract.stack import compose
from contract.stack.compose import (
    TestcontainersDriver,
    compose_files,
    compose_services,
    find_compose_dir,
    new_project_name,
    require_docker,
)

from .conftest import REPO

NO_DOCKER_HINT = "start OpenMeter yourself and pass --openmeter-url URL (or set OPENMETER_URL)"


def test_no_docker_engine_on_a_closed_socket_is_one_line_within_5_seconds(
    monkeypatch: pytest.MonkeyPatch, closed_unix_socket: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{closed_unix_socket}")
    started = time.monotonic()
    with pytest.raises(NoOpenMeterError) as err:
        require_docker()
    assert time.monotonic() - started < 5
    assert str(err.value) == (
        f"no Docker engine reachable (unix://{closed_unix_socket}: connection refused); {NO_DOCKER_HINT}"
    )
    assert err.value.exit_code == 3
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no chained traceback


def test_no_docker_engine_on_a_closed_tcp_port(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{closed_port}")
    started = time.monotonic()
    expected = rf"^no Docker engine reachable \(tcp://127\.0\.0\.1:{closed_port}: "
    with pytest.raises(NoOpenMeterError, match=expected):
        require_docker()
    assert time.monotonic() - started < 5


def test_compose_folder_is_found_next_to_the_package() -> None:
    assert find_compose_dir() == REPO / "compose"
    assert find_compose_dir(REPO / "compose") == REPO / "compose"


def test_missing_compose_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        find_compose_dir(tmp_path)
    assert str(err.value) == (
        f"compose_dir: no docker-compose.yaml in {tmp_path}; pass the folder holding "
        "this project's compose files (--compose-dir)"
    )


def test_variants_select_override_files() -> None:
    assert compose_files("cti") == ["docker-compose.yaml"]
    assert compose_files("no-cti") == ["docker-compose.yaml", "docker-compose.no-cti.yaml"]
    assert compose_files("no-credits") == ["docker-compose.yaml", "docker-compose.no-credits.yaml"]
    for variant in ("no-cti", "no-credits"):
        assert all((REPO / "compose" / name).is_file() for name in compose_files(variant))


def test_services_come_from_the_main_compose_file() -> None:
    assert compose_services(REPO / "compose") == [
        "postgres",
        "clickhouse",
        "kafka",
        "redis",
        "openmeter",
        "sink-worker",
        "billing-worker",
    ]


def test_project_names_are_unique_and_valid() -> None:
    names = {new_project_name() for _ in range(50)}
    assert len(names) == 50
    assert all(compose.valid_project_name(n) == n and n.startswith("omcontract-") for n in names)
    with pytest.raises(InputError, match="not a compose project name"):
        compose.valid_project_name("Bad Name")


class Recorder:
    """Stands in for contract.proc.run; answers like docker compose would."""

    def __init__(self, outputs: dict[str, bytes] | None = None, fail: dict[str, bytes] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.outputs = outputs or {}
        self.fail = fail or {}

    def __call__(self, cmd: list[str], **kwargs: Any) -> Finished:
        self.calls.append({"cmd": cmd, **kwargs})
        verb = cmd[cmd.index("-p") + 2] if "-p" in cmd else cmd[-1]
        if verb in self.fail:
            return Finished(1, b"", self.fail[verb])
        return Finished(0, self.outputs.get(verb, b""), b"")


def _driver(monkeypatch: pytest.MonkeyPatch, recorder: Recorder) -> TestcontainersDriver:
    monkeypatch.setattr("contract.proc.run", recorder)
    return TestcontainersDriver(
        REPO / "compose", compose_files("no-cti"), "omcontract-test-1", {"OPENMETER_IMAGE_TAG": "v9"}
    )


def test_driver_runs_compose_with_files_project_timeout_and_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    driver = _driver(monkeypatch, recorder)
    driver.up(timeout=42)
    [call] = recorder.calls
    folder = REPO / "compose"
    assert call["cmd"] == [
        "docker",
        "compose",
        "-f",
        str(folder / "docker-compose.yaml"),
        "-f",
        str(folder / "docker-compose.no-cti.yaml"),
        "-p",
        "omcontract-test-1",
        "up",
        "--detach",
    ]
    assert call["timeout"] == 42
    assert call["env"]["OPENMETER_IMAGE_TAG"] == "v9"
    assert driver.command_line()[-2:] == ["-p", "omcontract-test-1"]


def test_driver_reads_service_states_and_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    ps = "\n".join(
        json.dumps(c)
        for c in [
            {
                "Service": "openmeter",
                "State": "running",
                "Health": "healthy",
                "ExitCode": 0,
                "Publishers": [
                    {"URL": "0.0.0.0", "TargetPort": 8888, "PublishedPort": 49153, "Protocol": "tcp"},
                    {"URL": "::", "TargetPort": 8888, "PublishedPort": 49153, "Protocol": "tcp"},
                ],
            },
            {"Service": "kafka", "State": "exited", "Health": "", "ExitCode": 137, "Publishers": []},
        ]
    ).encode()
    driver = _driver(monkeypatch, Recorder(outputs={"ps": ps}))
    states = driver.services(timeout=5)
    assert [(s.service, s.state, s.health, s.exit_code) for s in states] == [
        ("openmeter", "running", "healthy", 0),
        ("kafka", "exited", "", 137),
    ]
    assert driver.port("openmeter", 8888, timeout=5) == ("127.0.0.1", 49153)


def test_driver_failure_is_one_line_with_the_last_stderr_line(monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = b"pulling...\nError response from daemon: manifest unknown\n"
    driver = _driver(monkeypatch, Recorder(fail={"up": stderr}))
    with pytest.raises(NoOpenMeterError) as err:
        driver.up(timeout=5)
    assert str(err.value) == (
        "`docker compose up` failed for project omcontract-test-1: Error response from daemon: manifest unknown"
    )


def test_driver_timeout_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(cmd: list[str], **kwargs: Any) -> Finished:
        assert kwargs["timeout"] == 7
        return Finished(None, b"", b"")

    monkeypatch.setattr("contract.proc.run", hang)
    driver = TestcontainersDriver(REPO / "compose", ["docker-compose.yaml"], "omcontract-test-2")
    expected = r"^`docker compose down` for project omcontract-test-2 did not finish within 7 s$"
    with pytest.raises(NoOpenMeterError, match=expected):
        driver.down(timeout=7)


def test_driver_exec_returns_exit_code_and_output(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(outputs={"exec": b"synced\n"})
    driver = _driver(monkeypatch, recorder)
    result = driver.exec("billing-worker", ["openmeter-jobs", "--version"], timeout=9)
    assert (result.exit_code, result.stdout, result.timed_out) == (0, "synced\n", False)
    assert recorder.calls[0]["cmd"][-5:] == ["exec", "-T", "billing-worker", "openmeter-jobs", "--version"]
    assert recorder.calls[0]["timeout"] == 9


class _PingingClient:
    def ping(self) -> bool:
        return True

    def close(self) -> None:
        return None


def test_engine_without_the_compose_plugin_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import docker

    monkeypatch.setattr(docker, "from_env", lambda **kwargs: _PingingClient())
    fake_cli = tmp_path / "docker"
    fake_cli.write_text('#!/bin/sh\necho "docker: unknown command: docker $1" >&2\nexit 1\n')
    fake_cli.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NoOpenMeterError) as err:
        require_docker()
    assert str(err.value) == (
        f"`docker compose` (Compose v2) is not available; install the compose plugin, or {NO_DOCKER_HINT}"
    )


def test_driver_logs_are_the_compose_stdout_only(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(outputs={"logs": b'billing-worker-1  | {"level":"INFO","msg":"hi"}\n'})
    driver = _driver(monkeypatch, recorder)
    assert driver.logs("billing-worker", timeout=4) == 'billing-worker-1  | {"level":"INFO","msg":"hi"}\n'
    assert recorder.calls[0]["cmd"][-2:] == ["logs", "billing-worker"]
    assert recorder.calls[0]["timeout"] == 4


def test_failure_details_name_missing_images_and_tail_the_unhealthy_services_logs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ps = "\n".join(
        json.dumps({"Service": name, "State": state, "Health": health, "ExitCode": 0, "Publishers": []})
        for name, state, health in [("postgres", "running", "healthy"), ("kafka", "running", "unhealthy")]
    ).encode()
    recorder = Recorder(
        outputs={
            "config": b"omcontract/kafka:3.9.1-bookworm\nghcr.io/openmeterio/openmeter:v9\n",
            "ps": ps,
            "logs": b"starting broker\n\nERROR listener INTERNAL cannot bind\n",
        },
        fail={"ghcr.io/openmeterio/openmeter:v9": b"Error: No such image"},
    )
    driver = _driver(monkeypatch, recorder)
    assert driver.failure_details(timeout=5, tail=3) == [
        "image ghcr.io/openmeterio/openmeter:v9 is not in the engine (no registry? build it: "
        "omcontract stack build-images)",
        "kafka: running/unhealthy; its last log lines:",
        "  kafka | starting broker",
        "  kafka | ERROR listener INTERNAL cannot bind",
    ]
    logs_call = next(c["cmd"] for c in recorder.calls if "logs" in c["cmd"])
    assert logs_call[-6:] == ["logs", "--no-color", "--no-log-prefix", "--tail", "3", "kafka"]
