"""Booting this project's compose stack (``compose/``) through testcontainers' compose support.

Docker is optional for the suite: ``docker`` and ``testcontainers`` are imported inside the
functions that need them, so nothing here costs anything when OpenMeter is attached by URL.

:class:`ComposeDriver` is the seam between the boot logic (:mod:`contract.stack.connection`) and
Docker: :class:`TestcontainersDriver` drives ``docker compose`` for real, tests pass a fake.
Every call has a timeout; the compose project name is unique per run.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import yaml

from contract import proc as _proc
from contract.errors import InputError, NoOpenMeterError
from contract.stack.options import Variant

__all__ = [
    "BILLING_WORKER",
    "COMPOSE_FILE",
    "OPENMETER_SERVICES",
    "ComposeDriver",
    "ExecResult",
    "ServiceState",
    "TestcontainersDriver",
    "compose_files",
    "compose_services",
    "find_compose_dir",
    "new_project_name",
    "require_docker",
]

COMPOSE_FILE = "docker-compose.yaml"
API_SERVICE = "openmeter"
API_PORT = 8888
BILLING_WORKER = "billing-worker"
SINK_WORKER = "sink-worker"
TELEMETRY_PORT = 10000
POSTGRES_SERVICE = "postgres"
POSTGRES_PORT = 5432
OPENMETER_SERVICES = (API_SERVICE, SINK_WORKER, BILLING_WORKER)
CONFIG_IN_CONTAINER = "/etc/openmeter/config.yaml"
DOCKER_CHECK_TIMEOUT_S = 3.0
FAILURE_LOG_LINES = 8
# what OpenMeter's Kafka consumer (Sarama) logs when the group gave it a partition
CONSUMER_ASSIGNED = "added subscription to "
_NO_DOCKER_HINT = "start OpenMeter yourself and pass --openmeter-url URL (or set OPENMETER_URL)"


@dataclass(frozen=True, slots=True)
class ServiceState:
    """One compose service's container as ``docker compose ps`` reports it."""

    service: str
    state: str  # running, exited, restarting, created, dead, ...
    health: str  # healthy, starting, unhealthy, or "" without a healthcheck
    exit_code: int | None = None


@dataclass(frozen=True, slots=True)
class ExecResult:
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool = False


class ComposeDriver(Protocol):
    """What the boot logic needs from ``docker compose`` (one project)."""

    project: str

    def up(self, timeout: float) -> None: ...

    def services(self, timeout: float) -> list[ServiceState]: ...

    def port(self, service: str, container_port: int, timeout: float) -> tuple[str, int]: ...

    def logs(self, service: str, timeout: float) -> str: ...

    def exec(self, service: str, argv: Sequence[str], timeout: float) -> ExecResult: ...

    def down(self, timeout: float) -> None: ...


def _one_line(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _root_reason(err: BaseException) -> str:
    """The most specific reason in an exception chain (the OSError at the bottom, if any)."""
    seen: set[int] = set()
    current: BaseException | None = err
    best = _one_line(str(err)) or type(err).__name__
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
        for arg in getattr(current, "args", ()):
            if isinstance(arg, OSError) and arg.strerror:
                return arg.strerror.lower()
        current = current.__cause__ or current.__context__
    return best


def require_docker(timeout: float = DOCKER_CHECK_TIMEOUT_S) -> None:
    """Raise :class:`NoOpenMeterError` (one line, fast) unless a Docker engine and compose v2 answer."""
    host = os.environ.get("DOCKER_HOST") or "the default socket"
    try:
        import docker
    except ImportError as err:
        raise NoOpenMeterError(
            f"no Docker engine reachable (the `docker` Python package is missing: {err}); {_NO_DOCKER_HINT}"
        ) from None
    try:
        client = docker.from_env(timeout=max(1, int(timeout)))
        try:
            client.ping()
        finally:
            client.close()
    except Exception as err:
        raise NoOpenMeterError(f"no Docker engine reachable ({host}: {_root_reason(err)}); {_NO_DOCKER_HINT}") from None
    binary = shutil.which("docker")
    if binary is None:
        raise NoOpenMeterError(
            f"a Docker engine answers at {host} but the `docker` CLI is not on PATH; "
            f"install it with the compose plugin, or {_NO_DOCKER_HINT}"
        )
    done = _proc.run([binary, "compose", "version"], timeout=timeout)
    if done.returncode != 0:
        raise NoOpenMeterError(
            f"`docker compose` (Compose v2) is not available; install the compose plugin, or {_NO_DOCKER_HINT}"
        )


def find_compose_dir(explicit: Path | None = None) -> Path:
    """``explicit``, else the ``compose/`` folder of this project (next to the ``contract`` package)."""
    folder = explicit if explicit is not None else Path(__file__).resolve().parents[2] / "compose"
    if not (folder / COMPOSE_FILE).is_file():
        raise InputError(
            f"no {COMPOSE_FILE} in {folder}; pass the folder holding this project's compose files (--compose-dir)",
            field="compose_dir",
        )
    return folder


def compose_files(variant: Variant) -> list[str]:
    """Compose file names (relative to the compose folder) for a config variant."""
    return [COMPOSE_FILE] if variant == "cti" else [COMPOSE_FILE, f"docker-compose.{variant}.yaml"]


def compose_services(compose_dir: Path) -> list[str]:
    """The service names declared in the compose folder's main file."""
    doc = yaml.safe_load((compose_dir / COMPOSE_FILE).read_text(encoding="utf-8"))
    services = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(services, dict) or not services:
        raise InputError("no services declared", file=str(compose_dir / COMPOSE_FILE), field="services")
    return [str(name) for name in services]


def new_project_name(prefix: str = "omcontract") -> str:
    """A compose project name unique to this run (lower case, as compose requires)."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    return f"{prefix}-{stamp}-{secrets.token_hex(3)}"


def valid_project_name(name: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        raise InputError(f"not a compose project name: {name!r}", field="project")
    return name


def _docker_host_name() -> str:
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith(("tcp://", "ssh://", "http://", "https://")):
        return urlparse(host).hostname or "127.0.0.1"
    return "127.0.0.1"


class TestcontainersDriver:
    """:class:`ComposeDriver` on testcontainers' ``DockerCompose``, with timeouts and ``-p project``."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self, compose_dir: Path, files: Sequence[str], project: str, env: Mapping[str, str] | None = None
    ) -> None:
        from testcontainers.compose import DockerCompose

        self.project = valid_project_name(project)
        self.compose_dir = compose_dir
        extra_env = dict(env or {})
        driver = self

        class _Compose(DockerCompose):
            """DockerCompose with a project name, a timeout on every command, and extra env."""

            @property  # shadows the parent's cached_property
            def compose_command_property(self) -> list[str]:
                base = ["docker", "compose"]
                for file in files:
                    base += ["-f", str(compose_dir / file)]
                return [*base, "-p", driver.project]

            def _run_command(self, cmd: str | list[str], context: str | None = None) -> Any:
                done = _proc.run(
                    cmd,
                    timeout=driver.timeout,
                    cwd=context or str(compose_dir),
                    env={**os.environ, **extra_env},
                    started=driver._remember,
                )
                if done.returncode is None:
                    raise subprocess.TimeoutExpired(cmd, driver.timeout, done.stdout, done.stderr)
                if done.returncode != 0:
                    raise subprocess.CalledProcessError(done.returncode, cmd, done.stdout, done.stderr)
                return subprocess.CompletedProcess(cmd, done.returncode, done.stdout, done.stderr)

        self.timeout = 60.0
        self._running: list[subprocess.Popen[bytes]] = []
        self._env = extra_env
        self._compose: Any = _Compose(
            context=str(compose_dir), compose_file_name=list(files), wait=False, keep_volumes=False
        )

    def _call(self, what: str, timeout: float, fn: Any, *args: Any) -> Any:
        self.timeout = max(1.0, timeout)
        try:
            return fn(*args)
        except subprocess.TimeoutExpired:
            raise NoOpenMeterError(
                f"`docker compose {what}` for project {self.project} did not finish within {self.timeout:g} s"
            ) from None
        except subprocess.CalledProcessError as err:
            stderr = (err.stderr or b"").decode("utf-8", "replace").strip().splitlines()
            reason = _one_line(stderr[-1]) if stderr else f"exit code {err.returncode}"
            raise NoOpenMeterError(f"`docker compose {what}` failed for project {self.project}: {reason}") from None

    def up(self, timeout: float) -> None:
        self._call("up", timeout, self._compose.start)

    def services(self, timeout: float) -> list[ServiceState]:
        containers = self._call("ps", timeout, self._compose.get_containers, True)
        return [
            ServiceState(
                service=str(c.Service), state=str(c.State or ""), health=str(c.Health or ""), exit_code=c.ExitCode
            )
            for c in containers
        ]

    def port(self, service: str, container_port: int, timeout: float) -> tuple[str, int]:
        host, port = self._call("port", timeout, self._compose.get_service_host_and_port, service, container_port)
        if port is None:
            raise NoOpenMeterError(f"{service} publishes no host port for {container_port}")
        if not host or host in ("0.0.0.0", "::", "localhost"):
            host = _docker_host_name()
        return str(host), int(port)

    def logs(self, service: str, timeout: float) -> str:
        # stdout only: it carries the containers' stdout and stderr; compose's own warnings go to stderr
        # and would break the line counting LogSource relies on.
        stdout, _ = self._call("logs", timeout, self._compose.get_logs, service)
        return str(stdout)

    def exec(self, service: str, argv: Sequence[str], timeout: float) -> ExecResult:
        cmd = [*self._compose.compose_command_property, "exec", "-T", service, *argv]
        done = _proc.run(cmd, timeout=timeout, cwd=str(self.compose_dir), env={**os.environ, **self._env})
        return ExecResult(
            done.returncode,
            done.stdout.decode("utf-8", "replace"),
            done.stderr.decode("utf-8", "replace"),
            timed_out=done.timed_out,
        )

    def down(self, timeout: float) -> None:
        self._call("down", timeout, self._compose.stop, True)

    def consumer_ready(self, timeout: float) -> bool:
        """True once the billing worker's log shows its Kafka consumer was given partitions."""
        return CONSUMER_ASSIGNED in self.logs(BILLING_WORKER, timeout)

    def _remember(self, proc: subprocess.Popen[bytes]) -> None:
        self._running = [p for p in self._running if p.poll() is None] + [proc]

    def cancel(self) -> None:
        """Kill the compose commands still running (e.g. an ``up`` in another thread after Ctrl-C)."""
        for proc in self._running:
            if proc.poll() is None:
                _proc.kill(proc)
        self._running = [proc for proc in self._running if proc.poll() is None]

    def failure_details(self, timeout: float, tail: int = FAILURE_LOG_LINES) -> list[str]:
        """After a failed boot: images compose needs that the engine lacks, and the last log lines
        of every service not running and healthy (one line each, prefixed with the service)."""
        from contract.stack import images

        lines: list[str] = []
        base = self._compose.compose_command_property
        env = {**os.environ, **self._env}
        listed = _proc.run([*base, "config", "--images"], timeout=timeout, cwd=str(self.compose_dir), env=env)
        for image in sorted(set(listed.stdout.decode("utf-8", "replace").split())):
            if not images.image_exists(image):
                lines.append(
                    f"image {image} is not in the engine (no registry? build it: omcontract stack build-images)"
                )
        try:
            states = self.services(timeout)
        except NoOpenMeterError:
            states = []
        for state in states:
            if state.state == "running" and state.health in ("healthy", ""):
                continue
            lines.append(f"{state.service}: {state.state}/{state.health or '-'}; its last log lines:")
            done = _proc.run(
                [*base, "logs", "--no-color", "--no-log-prefix", "--tail", str(tail), state.service],
                timeout=timeout,
                cwd=str(self.compose_dir),
                env=env,
            )
            for text in done.stdout.decode("utf-8", "replace").splitlines()[-tail:]:
                if text.strip():
                    lines.append(f"  {state.service} | {_one_line(text, 200)}")
        return lines

    def command_line(self) -> list[str]:
        """``docker compose -f ... -p <project>``: the prefix users can run themselves."""
        return list(self._compose.compose_command_property)
