"""``connect(options) -> OpenMeterHandle``: attach to a running OpenMeter, or boot the compose stack.

Attach (``options.url`` set): ``GET /version`` with a short timeout; an unreachable URL raises
:class:`~contract.errors.NoOpenMeterError` in well under 5 s. Worker logs, the sync-state DSN and a
force-sync command template come from the options (for a native OpenMeter, the values
``omnative up`` prints).

Boot (no URL): a Docker engine must answer within a few seconds, else ``NoOpenMeterError`` with
what to do instead. The compose project gets a unique name, every service's health is waited for
with one deadline (``boot_timeout``), host ports are discovered, and the stack is torn down on
``close()`` unless ``keep_stack`` -- or, on failure, ``keep_on_failure``.

The handle records ``version`` (the ``/version`` JSON) for the run report.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import shlex
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Literal
from urllib.parse import urlparse

import httpx

from contract import proc as _proc
from contract.client.deadline import DeadlineTransport
from contract.client.masking import mask_secrets
from contract.errors import ContractUserError, InputError, NoOpenMeterError
from contract.stack import compose as compose_mod
from contract.stack import images
from contract.stack.compose import (
    API_PORT,
    API_SERVICE,
    BILLING_WORKER,
    CONFIG_IN_CONTAINER,
    POSTGRES_PORT,
    POSTGRES_SERVICE,
    SINK_WORKER,
    TELEMETRY_PORT,
    ComposeDriver,
    ServiceState,
)
from contract.stack.options import StackOptions
from contract.stack.syncstate import SyncStateReader
from contract.worklog.source import LogSource

__all__ = [
    "ForceSyncResult",
    "OpenMeterHandle",
    "boot",
    "connect",
    "force_sync_argv",
    "probe_version",
    "wait_healthy",
]

PROBE_TIMEOUT_S = 3.0
#: How the user gives the OpenMeter client's parameters here; the client's errors use these names.
CLIENT_NAMES: Mapping[str, str] = MappingProxyType({"base_url": "--openmeter-url"})
FORCE_SYNC_TIMEOUT_S = 120.0
TEARDOWN_TIMEOUT_S = 120.0
COMPOSE_CALL_TIMEOUT_S = 30.0
CONSUMER_JOIN_TIMEOUT_S = 90.0
COMPOSE_POSTGRES_DSN = "postgresql://postgres:postgres@{host}:{port}/postgres?sslmode=disable"
_CUSTOMER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

Mode = Literal["attached", "booted"]


@dataclass(frozen=True, slots=True)
class ForceSyncResult:
    """What a forced subscription sync (``openmeter-jobs billing subscriptionsync all``) did."""

    command: str
    exit_code: int | None
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def force_sync_argv(customer_id: str, config: str = CONFIG_IN_CONTAINER) -> list[str]:
    """``openmeter-jobs`` arguments that sync every subscription of one customer now (``--f``)."""
    return [
        "openmeter-jobs",
        "--config",
        config,
        "billing",
        "subscriptionsync",
        "all",
        "--n",
        "default",
        "--c",
        customer_id,
        "--f",
    ]


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text[:200] if text else type(err).__name__


def probe_version(
    base_url: str,
    api_key: str | None = None,
    *,
    timeout: float = PROBE_TIMEOUT_S,
    transport: httpx.BaseTransport | None = None,
) -> Mapping[str, Any]:
    """``GET /version``; the JSON object, or :class:`NoOpenMeterError` in one line."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    hint = "start OpenMeter (e.g. `omcontract stack up`) or fix --openmeter-url / OPENMETER_URL"
    try:
        with httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(2.0, timeout)),
            headers=headers,
            transport=transport if transport is not None else DeadlineTransport(trust_env=not _is_loopback(base_url)),
            trust_env=not _is_loopback(base_url),
        ) as client:
            response = client.get(f"{base_url}/version")
    except httpx.TimeoutException:
        raise NoOpenMeterError(f"OpenMeter at {base_url} did not answer within {timeout:g} s; {hint}") from None
    except httpx.HTTPError as err:
        reason = mask_secrets(_reason(err), [api_key])  # an echoed header must not show the key
        raise NoOpenMeterError(f"OpenMeter not reachable at {base_url} ({reason}); {hint}") from None
    if response.status_code != 200:
        raise NoOpenMeterError(
            f"{base_url}/version answered HTTP {response.status_code}: is this the "
            "OpenMeter API address (e.g. http://127.0.0.1:8888)?"
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "version" not in body:
        raise NoOpenMeterError(
            f"{base_url}/version did not answer OpenMeter's version JSON "
            '({"version", "os", "arch"}): is this the OpenMeter API address?'
        )
    return MappingProxyType(dict(body))


class OpenMeterHandle:
    """A reachable OpenMeter: where it is, what it is, and what the suite can see of its insides.

    ``base_url``, ``version`` (the ``/version`` JSON), ``mode`` ("attached" | "booted"), ``logs``
    (billing-worker :class:`LogSource` or None), ``sync_states`` (:class:`SyncStateReader` or None),
    ``project`` (booted: the compose project name), ``services`` (booted: service -> health URL).
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        *,
        base_url: str,
        version: Mapping[str, Any],
        mode: Mode,
        api_key: str | None = None,
        logs: LogSource | None = None,
        sync_states: SyncStateReader | None = None,
        force_sync_command: str | None = None,
        driver: ComposeDriver | None = None,
        services: Mapping[str, str] | None = None,
        keep_stack: bool = False,
        keep_on_failure: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        self.version = version
        self.mode: Mode = mode
        self.api_key = api_key
        self.logs = logs
        self.sync_states = sync_states
        self.services: Mapping[str, str] = MappingProxyType(dict(services or {}))
        self.project = driver.project if driver is not None else None
        self._force_sync_command = force_sync_command
        self._driver = driver
        self._keep_stack = keep_stack
        self._keep_on_failure = keep_on_failure
        self._env = dict(env or {})
        self._closed = False

    def __repr__(self) -> str:
        where = f", project={self.project!r}" if self.project else ""
        return f"OpenMeterHandle({self.mode}, {self.base_url!r}, version={self.version.get('version')!r}{where})"

    @property
    def client_names(self) -> Mapping[str, str]:
        """The names a client of this OpenMeter gives its parameters in errors (:data:`CLIENT_NAMES`)."""
        return CLIENT_NAMES

    @property
    def can_force_sync(self) -> bool:
        return self._driver is not None or self._force_sync_command is not None

    def force_sync(self, customer_id: str, *, timeout: float = FORCE_SYNC_TIMEOUT_S) -> ForceSyncResult | None:
        """Run subscription sync for one customer now; None when this OpenMeter offers no way to."""
        if not _CUSTOMER_ID.fullmatch(customer_id):
            raise InputError(f"not a customer id: {customer_id!r}", field="customer_id")
        started = time.monotonic()
        if self._driver is not None:
            argv = force_sync_argv(customer_id)
            done = self._driver.exec(BILLING_WORKER, argv, timeout)
            return ForceSyncResult(
                command=f"{BILLING_WORKER}$ {shlex.join(argv)}",
                exit_code=done.exit_code,
                stdout=done.stdout,
                stderr=done.stderr,
                duration_s=time.monotonic() - started,
                timed_out=done.timed_out,
            )
        if self._force_sync_command is None:
            return None
        command = self._force_sync_command.replace("{customer_id}", shlex.quote(customer_id))
        finished = _proc.run(command, timeout=timeout)
        return ForceSyncResult(
            command=command,
            exit_code=finished.returncode,
            stdout=finished.stdout.decode("utf-8", "replace"),
            stderr=finished.stderr.decode("utf-8", "replace"),
            duration_s=time.monotonic() - started,
            timed_out=finished.timed_out,
        )

    def env_lines(self) -> list[str]:
        """``export NAME=value`` lines that let a later run attach to this OpenMeter."""
        values = {"OPENMETER_URL": self.base_url, **self._env}
        return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]

    def close(self, *, failed: bool = False) -> None:
        """Release connections; tear a booted stack down unless it is to be kept."""
        if self._closed:
            return
        self._closed = True
        if self.sync_states is not None:
            self.sync_states.close()
        keep = self._keep_stack or (failed and self._keep_on_failure)
        if self._driver is not None and not keep:
            self._driver.down(TEARDOWN_TIMEOUT_S)

    def __enter__(self) -> OpenMeterHandle:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(failed=exc_type is not None)


# -- attach ---------------------------------------------------------------------------------------


def _attach(options: StackOptions) -> OpenMeterHandle:
    assert options.url is not None
    version = probe_version(options.url, options.api_key)
    logs = LogSource.from_spec(options.worker_logs) if options.worker_logs else None
    sync_states = SyncStateReader(options.postgres_dsn) if options.postgres_dsn else None
    return OpenMeterHandle(
        base_url=options.url,
        version=version,
        mode="attached",
        api_key=options.api_key,
        logs=logs,
        sync_states=sync_states,
        force_sync_command=options.force_sync_command,
    )


# -- boot -----------------------------------------------------------------------------------------


def wait_healthy(
    driver: ComposeDriver,
    expected: Sequence[str],
    deadline: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] | None = None,
    poll_s: float = 1.0,
) -> None:
    """Wait until every expected service runs and is healthy; fail fast when one exits."""
    last_report = ""
    while True:
        remaining = deadline - clock()
        listed = driver.services(max(1.0, min(COMPOSE_CALL_TIMEOUT_S, remaining)))
        states: dict[str, ServiceState] = {s.service: s for s in listed}
        pending: list[str] = []
        for name in expected:
            st = states.get(name)
            if st is None:
                pending.append(f"{name}: not created")
            elif st.state in ("exited", "dead"):
                code = "" if st.exit_code is None else f" with code {st.exit_code}"
                raise NoOpenMeterError(f"service {name} exited{code} while booting")
            elif st.health == "unhealthy":
                raise NoOpenMeterError(f"service {name} is unhealthy (its healthcheck keeps failing)")
            elif st.state != "running" or st.health not in ("healthy", ""):
                pending.append(f"{name}: {st.state or '?'}/{st.health or 'no health yet'}")
        if not pending:
            return
        report = ", ".join(pending)
        if progress is not None and report != last_report:
            progress(f"waiting for {report}")
            last_report = report
        remaining = deadline - clock()
        if remaining <= 0:
            raise NoOpenMeterError(f"services not healthy in time: {report}")
        sleep(min(poll_s, remaining))


def _up_with_progress(
    driver: ComposeDriver, deadline: float, clock: Callable[[], float], progress: Callable[[str], None] | None
) -> None:
    """``driver.up`` (compose waits there for the health of the services others depend on), saying
    meanwhile which services are still starting."""
    if progress is None:
        driver.up(max(1.0, deadline - clock()))
        return
    failure: list[BaseException] = []

    def run_up() -> None:
        try:
            driver.up(max(1.0, deadline - clock()))
        except BaseException as err:
            failure.append(err)

    worker = threading.Thread(target=run_up, name="compose-up", daemon=True)
    worker.start()
    last = ""
    while worker.is_alive():
        worker.join(timeout=2.0)
        if not worker.is_alive():
            break
        with contextlib.suppress(ContractUserError):
            states = driver.services(max(1.0, min(COMPOSE_CALL_TIMEOUT_S, deadline - clock())))
            waiting = [f"{s.service}: {s.state}/{s.health or '-'}" for s in states if s.health not in ("healthy", "")]
            report = ", ".join(waiting) or "starting containers"
            if report != last:
                progress(f"compose up: waiting for {report}")
                last = report
    if failure:
        raise failure[0]


def _wait_consuming(
    driver: ComposeDriver,
    deadline: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    progress: Callable[[str], None] | None,
) -> None:
    """Wait (bounded) until the billing worker's Kafka consumer has its partitions, when the driver can
    tell (``consumer_ready``). A worker is healthy before it has joined its consumer group; on a
    loaded machine with a real broker the join can take many seconds, and a first step's sync would
    wait for it. Past the bound the boot goes on and says so."""
    ready = getattr(driver, "consumer_ready", None)
    if not callable(ready):
        return
    limit = min(deadline, clock() + CONSUMER_JOIN_TIMEOUT_S)
    said = False
    while True:
        with contextlib.suppress(ContractUserError):
            if ready(max(1.0, min(COMPOSE_CALL_TIMEOUT_S, deadline - clock()))):
                return
        if clock() >= limit:
            if progress is not None:
                progress("the billing worker's log shows no Kafka partition assignment yet; going on")
            return
        if progress is not None and not said:
            progress("waiting for the billing worker to join its Kafka consumer group")
            said = True
        sleep(min(1.0, max(0.0, limit - clock())))


def _probe_until(
    url: str, api_key: str | None, deadline: float, clock: Callable[[], float], sleep: Callable[[float], None]
) -> Mapping[str, Any]:
    while True:
        try:
            return probe_version(url, api_key, timeout=max(0.5, min(PROBE_TIMEOUT_S, deadline - clock())))
        except NoOpenMeterError:
            if clock() >= deadline:
                raise
            sleep(min(1.0, max(0.0, deadline - clock())))


DriverFactory = Callable[[Path, Sequence[str], str, Mapping[str, str]], ComposeDriver]


def _default_driver(compose_dir: Path, files: Sequence[str], project: str, env: Mapping[str, str]) -> ComposeDriver:
    return compose_mod.TestcontainersDriver(compose_dir, files, project, env)


def boot(
    options: StackOptions,
    *,
    driver_factory: DriverFactory | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] | None = None,
) -> OpenMeterHandle:
    """Boot ``compose/`` under a unique project name and return a handle to it."""
    compose_env = {"OPENMETER_IMAGE_TAG": options.image_tag}
    if driver_factory is None:
        compose_mod.require_docker()
        driver_factory = _default_driver
        local = images.local_image_env()  # images built by `omcontract stack build-images`
        if local and progress is not None:
            built = sorted(value for name, value in local.items() if name.endswith("_IMAGE"))
            progress(f"using locally built images: {', '.join(built)}")
        compose_env.update(local)
    compose_dir = compose_mod.find_compose_dir(options.compose_dir)
    files = compose_mod.compose_files(options.variant)
    project = compose_mod.new_project_name()
    driver = driver_factory(compose_dir, files, project, compose_env)
    deadline = clock() + options.boot_timeout
    keep_on_failure = options.keep_on_failure  # a kept stack (--keep-stack, stack up) that failed is removed

    def step_timeout() -> float:
        return max(1.0, min(COMPOSE_CALL_TIMEOUT_S, deadline - clock()))

    try:
        if progress is not None:
            progress(f"booting compose project {project} (variant {options.variant}, image tag {options.image_tag})")
        _up_with_progress(driver, deadline, clock, progress)
        wait_healthy(
            driver, compose_mod.compose_services(compose_dir), deadline, clock=clock, sleep=sleep, progress=progress
        )
        _wait_consuming(driver, deadline, clock, sleep, progress)
        api_host, api_port = driver.port(API_SERVICE, API_PORT, step_timeout())
        base_url = f"http://{api_host}:{api_port}"
        version = _probe_until(base_url, options.api_key, deadline, clock, sleep)
        services = {API_SERVICE: f"{base_url}/api/v1/debug/metrics"}
        for worker in (SINK_WORKER, BILLING_WORKER):
            host, port = driver.port(worker, TELEMETRY_PORT, step_timeout())
            services[worker] = f"http://{host}:{port}/healthz"
        pg_host, pg_port = driver.port(POSTGRES_SERVICE, POSTGRES_PORT, step_timeout())
        dsn = options.postgres_dsn or COMPOSE_POSTGRES_DSN.format(host=pg_host, port=pg_port)
    except BaseException as err:
        kept = ""
        details = ""
        cancel = getattr(driver, "cancel", None)
        if callable(cancel):
            with contextlib.suppress(Exception):
                cancel()  # an `up` still running in its thread must not create containers after `down`
        if isinstance(err, Exception):
            details = _failure_details(driver)  # before `down`: the logs go with the containers
        if keep_on_failure:
            kept = (
                f" (kept for inspection: omcontract stack logs --project {project}; "
                f"remove with: omcontract stack down {project})"
            )
        else:
            with contextlib.suppress(Exception):
                driver.down(TEARDOWN_TIMEOUT_S)
        if isinstance(err, ContractUserError):
            raise NoOpenMeterError(f"compose project {project} failed to boot: {err}{kept}{details}") from None
        if isinstance(err, Exception):
            raise NoOpenMeterError(f"compose project {project} failed to boot: {_reason(err)}{kept}{details}") from err
        raise

    if options.worker_logs:
        logs = LogSource.from_spec(options.worker_logs)
    else:
        logs = LogSource.from_callable(
            f"compose:{project}/{BILLING_WORKER}", lambda: driver.logs(BILLING_WORKER, COMPOSE_CALL_TIMEOUT_S)
        )
    compose_cmd = _compose_prefix(driver, compose_dir, files, project)
    jobs = shlex.join(force_sync_argv("CUSTOMER")).replace("CUSTOMER", "{customer_id}")
    env = {
        "OPENMETER_POSTGRES": dsn,
        "OPENMETER_WORKER_LOGS": f"cmd:{compose_cmd} logs --no-color --no-log-prefix {BILLING_WORKER}",
        "OPENMETER_FORCE_SYNC": f"{compose_cmd} exec -T {BILLING_WORKER} {jobs}",
        "OPENMETER_IMAGE_TAG": options.image_tag,
        "OMCONTRACT_PROJECT": project,
        "OPENMETER_CONFIG": options.variant,  # a later attached run knows the configuration
    }
    return OpenMeterHandle(
        base_url=base_url,
        version=version,
        mode="booted",
        api_key=options.api_key,
        logs=logs,
        sync_states=SyncStateReader(dsn),
        driver=driver,
        services=services,
        keep_stack=options.keep_stack,
        keep_on_failure=options.keep_on_failure,
        env=env,
    )


def _failure_details(driver: ComposeDriver) -> str:
    """Indented lines after a failed boot: images missing from the engine, last log lines of the
    services that were not healthy -- when the driver can tell (``failure_details``), else nothing."""
    details = getattr(driver, "failure_details", None)
    if not callable(details):
        return ""
    try:
        lines = [str(line) for line in details(COMPOSE_CALL_TIMEOUT_S)]
    except Exception:
        return ""
    return "".join(f"\n  {line}" for line in lines)


def _compose_prefix(driver: ComposeDriver, compose_dir: Path, files: Sequence[str], project: str) -> str:
    line = getattr(driver, "command_line", None)
    if callable(line):
        return shlex.join(line())
    parts = ["docker", "compose"]
    for file in files:
        parts += ["-f", str(compose_dir / file)]
    return shlex.join([*parts, "-p", project])


def connect(options: StackOptions | None = None, *, progress: Callable[[str], None] | None = None) -> OpenMeterHandle:
    """Attach when ``options.url`` is set, else boot the compose stack (see the module docstring)."""
    opts = options if options is not None else StackOptions.from_env()
    if opts.attach:
        return _attach(opts)
    return boot(opts, progress=progress)
