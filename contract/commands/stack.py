"""``omcontract stack``: boot, inspect and remove the OpenMeter compose stack.

* ``stack up``      boot ``compose/`` under a unique project name, keep it, print the URL and the
                    ``export`` lines a later run attaches with (exit 3, one line, without Docker);
* ``stack down P``  remove compose project P (containers and volumes);
* ``stack logs``    billing-worker log lines (of ``--project P`` or ``--worker-logs SRC``),
                    optionally only those of ``--subscription ID``;
* ``stack status``  what answers: the OpenMeter at ``--openmeter-url`` (``/version``, worker logs,
                    sync-state database) and/or the services of ``--project P``;
* ``stack build-images``  build the stack's images without a registry (:mod:`contract.stack.images`).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import click

from contract.errors import EXIT_OK, InputError
from contract.model.time import format_time
from contract.stack import compose as compose_mod
from contract.stack import images as images_mod
from contract.stack.connection import boot, probe_version
from contract.stack.options import VARIANTS, StackOptions
from contract.stack.signatures import subscription_of
from contract.stack.syncstate import SyncStateReader, mask_dsn
from contract.worklog.records import LogRecord
from contract.worklog.source import LogSource

__all__ = ["format_record", "stack"]

_COMPOSE_TIMEOUT_S = 60.0
_DOWN_TIMEOUT_S = 180.0


def _driver_for(project: str, compose_dir: str | None) -> compose_mod.TestcontainersDriver:
    compose_mod.require_docker()
    folder = compose_mod.find_compose_dir(None if compose_dir is None else Path(compose_dir))
    return compose_mod.TestcontainersDriver(folder, [compose_mod.COMPOSE_FILE], compose_mod.valid_project_name(project))


def format_record(record: LogRecord) -> str:
    """A compact one-line view of a log record (time, level, message, error, subscription)."""
    when = format_time(record.ts) if record.ts is not None else "-"
    parts = [when, f"{record.level or '-':<5}", record.msg]
    if record.error_message:
        parts.append(f"error: {record.error_message}")
    sub = subscription_of(record)
    if sub:
        parts.append(f"subscription: {sub}")
    return "  ".join(parts)


@click.group(name="stack")
def stack() -> None:
    """Boot or inspect the OpenMeter stack the suite runs against."""


@stack.command(name="up")
@click.option(
    "--variant",
    type=click.Choice(VARIANTS),
    default="cti",
    show_default=True,
    help="Config: credit_then_invoice on (cti), credits on but cti off, or credits off.",
)
@click.option(
    "--image-tag",
    default=None,
    metavar="TAG",
    help="ghcr.io/openmeterio/openmeter tag [env OPENMETER_IMAGE_TAG; default v1.0.0-beta.228].",
)
@click.option(
    "--boot-timeout",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Deadline for pulling, starting and health of every service [default 300].",
)
@click.option("--keep-on-failure", is_flag=True, help="Leave a stack that failed to boot for inspection.")
@click.option("--compose-dir", default=None, metavar="DIR", help="Folder with the compose files.")
def up_command(
    variant: str, image_tag: str | None, boot_timeout: float | None, keep_on_failure: bool, compose_dir: str | None
) -> int:
    """Boot OpenMeter with compose and keep it running; print how to attach to it."""
    # Only the image tag comes from the environment: URL, logs and DSN of another OpenMeter must not
    # leak into the fresh stack.
    env = {k: v for k, v in os.environ.items() if k == "OPENMETER_IMAGE_TAG"}
    options = StackOptions.from_env(
        env,
        variant=variant,
        image_tag=image_tag,
        boot_timeout=boot_timeout,
        keep_on_failure=keep_on_failure,
        compose_dir=compose_dir,
        keep_stack=True,
    )
    handle = boot(options, progress=lambda line: click.echo(line, err=True))
    version = handle.version.get("version", "?")
    click.echo(f"# OpenMeter {version} is up: compose project {handle.project}, variant {options.variant}")
    for line in handle.env_lines():
        click.echo(line)
    click.echo(f"# remove it with: omcontract stack down {handle.project}")
    handle.close()  # keep_stack: only releases connections
    return EXIT_OK


@stack.command(name="down")
@click.argument("project")
@click.option("--compose-dir", default=None, metavar="DIR", help="Folder with the compose files.")
def down_command(project: str, compose_dir: str | None) -> int:
    """Remove compose project PROJECT (containers and volumes)."""
    driver = _driver_for(project, compose_dir)
    driver.down(_DOWN_TIMEOUT_S)
    click.echo(f"removed compose project {project}")
    return EXIT_OK


@stack.command(name="logs")
@click.option("--project", default=None, help="Compose project whose billing worker to read.")
@click.option(
    "--service", default=compose_mod.BILLING_WORKER, show_default=True, help="Compose service (with --project)."
)
@click.option(
    "--worker-logs", default=None, metavar="SRC", help="File, folder or cmd:<command> [env OPENMETER_WORKER_LOGS]."
)
@click.option(
    "--subscription",
    "subscriptions",
    multiple=True,
    metavar="ID",
    help="Only lines about this subscription (repeatable).",
)
@click.option("--raw", is_flag=True, help="Print the lines as written instead of a compact view.")
@click.option("--compose-dir", default=None, metavar="DIR", help="Folder with the compose files.")
def logs_command(
    project: str | None,
    service: str,
    worker_logs: str | None,
    subscriptions: tuple[str, ...],
    raw: bool,
    compose_dir: str | None,
) -> int:
    """Print worker log records, optionally only those of some subscriptions."""
    if project is not None:
        driver = _driver_for(project, compose_dir)
        source = LogSource.from_callable(
            f"compose:{project}/{service}", lambda: driver.logs(service, _COMPOSE_TIMEOUT_S)
        )
    else:
        spec = StackOptions.from_env(worker_logs=worker_logs).worker_logs
        if spec is None:
            raise InputError(
                "give --project P or --worker-logs SRC (or set OPENMETER_WORKER_LOGS)", field="worker_logs"
            )
        source = LogSource.from_spec(spec)
    wanted = set(subscriptions)
    shown = 0
    for record in source.read():
        if wanted and subscription_of(record) not in wanted:
            continue
        click.echo(record.raw if raw else format_record(record))
        shown += 1
    if shown == 0:
        click.echo("no matching log records", err=True)
    return EXIT_OK


@stack.command(name="status")
@click.option("--openmeter-url", default=None, metavar="URL", help="[env OPENMETER_URL / OPENMETER_ADDRESS]")
@click.option("--worker-logs", default=None, metavar="SRC", help="[env OPENMETER_WORKER_LOGS]")
@click.option("--postgres", "postgres_dsn", default=None, metavar="DSN", help="[env OPENMETER_POSTGRES]")
@click.option("--project", default=None, help="Compose project to list.")
@click.option("--compose-dir", default=None, metavar="DIR", help="Folder with the compose files.")
def status_command(
    openmeter_url: str | None,
    worker_logs: str | None,
    postgres_dsn: str | None,
    project: str | None,
    compose_dir: str | None,
) -> int:
    """Say what answers: OpenMeter's /version, its worker logs and database, compose services."""
    options = StackOptions.from_env(url=openmeter_url, worker_logs=worker_logs, postgres_dsn=postgres_dsn)
    if options.url is None and project is None:
        raise InputError("give --openmeter-url URL (or set OPENMETER_URL) or --project P", field="url")
    if project is not None:
        driver = _driver_for(project, compose_dir)
        for state in driver.services(_COMPOSE_TIMEOUT_S):
            click.echo(f"{state.service:<16} {state.state:<11} {state.health or '-'}")
    if options.url is not None:
        version = probe_version(options.url, options.api_key)
        details = ", ".join(f"{k}={version[k]}" for k in ("version", "os", "arch") if k in version)
        click.echo(f"openmeter        {options.url}  {details}")
        if options.worker_logs:
            records = LogSource.from_spec(options.worker_logs).read()
            click.echo(f"worker logs      {options.worker_logs}  {len(records)} records")
        if options.postgres_dsn:
            with SyncStateReader(options.postgres_dsn) as reader:
                reader.get("00000000000000000000000000")  # raises NoOpenMeterError when unusable
            click.echo(f"sync states      {mask_dsn(options.postgres_dsn)}  readable")
    return EXIT_OK


@stack.command(name="build-images")
@click.option(
    "--openmeter-bin",
    default=None,
    metavar="DIR",
    help="Folder with OpenMeter's server, billing-worker, sink-worker and jobs binaries (built beside the project).",
)
@click.option(
    "--tag",
    default=None,
    metavar="TAG",
    help="Tag of the OpenMeter image [default: the <rev> of DIR=<rev>/bin]; run with OPENMETER_IMAGE_TAG=TAG.",
)
@click.option("--chshim", default=None, metavar="FILE", help="The chdb ClickHouse shim [env OMCONTRACT_CHSHIM].")
@click.option(
    "--base-image",
    default=images_mod.BASE_IMAGE,
    show_default=True,
    help="Debian bookworm image to build from; the default is made with debootstrap when absent.",
)
@click.option(
    "--ca-cert",
    "ca_certs",
    multiple=True,
    metavar="FILE",
    help="Extra CA certificate the builds must trust (repeatable) [default: /usr/local/share/ca-certificates/*.crt].",
)
@click.option("--rebuild", is_flag=True, help="Build even the images the engine already has.")
@click.option("--log-dir", default=None, metavar="DIR", help="Where build logs go [default: a temporary folder].")
@click.option(
    "--build-timeout",
    type=float,
    default=images_mod.DEFAULT_BUILD_TIMEOUT_S,
    show_default=True,
    metavar="SECONDS",
    help="Deadline for each image build.",
)
def build_images_command(
    openmeter_bin: str | None,
    tag: str | None,
    chshim: str | None,
    base_image: str,
    ca_certs: tuple[str, ...],
    rebuild: bool,
    log_dir: str | None,
    build_timeout: float,
) -> int:
    """Build the compose stack's images from Debian packages, Maven Central, PyPI and your OpenMeter binaries."""
    compose_mod.require_docker()
    recipes = compose_mod.find_compose_dir(None) / "images"
    certs = tuple(Path(c) for c in ca_certs) or tuple(sorted(Path("/usr/local/share/ca-certificates").glob("*.crt")))
    logs = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="omcontract-build-"))
    bin_dir = None if openmeter_bin is None else images_mod.find_openmeter_binaries(Path(openmeter_bin))
    plan = images_mod.BuildPlan(
        recipes=recipes,
        log_dir=logs,
        openmeter_bin=bin_dir,
        openmeter_tag=tag if tag is not None else (None if bin_dir is None else images_mod.openmeter_tag_for(bin_dir)),
        shim=images_mod.find_shim(None if chshim is None else Path(chshim), recipes.parents[1]),
        base_image=base_image,
        rebuild=rebuild,
        ca_certs=certs,
        timeout_s=build_timeout,
    )
    started = time.monotonic()
    results = images_mod.build_images(plan, progress=lambda line: click.echo(line, err=True))
    for result in results:
        took = f"{result.seconds:.0f} s" if result.outcome == "built" else ""
        click.echo(f"{result.outcome:<8} {result.tag:<48} {took}{result.reason}")
    click.echo(f"# images ready in {time.monotonic() - started:.0f} s; build logs in {logs}")
    if plan.openmeter_tag:
        click.echo(f"export OPENMETER_IMAGE_TAG={plan.openmeter_tag}")
    return EXIT_OK
