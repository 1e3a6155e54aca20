"""``omcontract run``, ``omcontract explain`` and ``omcontract replay``.

Exit codes: 0 every scenario agrees (or was skipped with a reason), 1 a disagreement, 2 bad input,
3 no OpenMeter reachable.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from contract.client.masking import ApiKey, mask_secrets
from contract.errors import InputError
from contract.limits import missing
from contract.model import Behaviour, format_time
from contract.report.console import output_console
from contract.report.write import check_output_path
from contract.scenario.keyexpr import select
from contract.scenario.loader import load_scenario, load_scenarios
from contract.scenario.model import Scenario
from contract.scenario.replay import load_recording
from contract.scenario.result import RunResult, ScenarioResult, TargetKind, Verdict
from contract.scenario.runner import PollPolicy, Runner
from contract.scenario.targets import SERVER_CONFIGS, Session, open_live, open_offline, open_replay

DEFAULT_SCENARIOS = Path("fixtures/scenarios")
#: The scenario a recording without a ``scenario`` note is judged as (OpenMeter's own #4412 recordings).
DEFAULT_REPLAY_SCENARIO = "issue-4412-cti-cancel-immediately"


def _behaviour(name: str, option: str = "--offline") -> Behaviour:
    try:
        return Behaviour.parse(name)
    except ValueError as err:
        raise InputError(str(err), field=option) from None


def _scenarios(paths: Sequence[str], k: str | None) -> list[Scenario]:
    sources = list(paths) or [str(DEFAULT_SCENARIOS)]
    for src in sources:
        if not Path(src).exists():
            raise InputError(
                f"{missing(src)} (give scenario files or folders, default {DEFAULT_SCENARIOS})",
                file=src,
            )
    scenarios = load_scenarios(sources)
    if k:
        scenarios = select(scenarios, k)
    if not scenarios:
        raise InputError(f"no scenario selected from {', '.join(sources)}" + (f" by -k {k!r}" if k else ""))
    return scenarios


def _console() -> Console:
    """The terminal when there is one; elsewhere (logs, CI, a pipe) ids, URLs and errors never wrap."""
    return output_console()


def _mask() -> Callable[[str], str]:
    """Hide the API key and any URL password in what is printed or written."""
    key = ApiKey.from_env()
    return lambda text: str(mask_secrets(text, [key]))


def _progress(quiet: bool) -> Callable[[str], None] | None:
    if quiet or not sys.stderr.isatty():
        return None
    console = Console(stderr=True)
    return lambda text: console.print(f"[dim]… {text}[/dim]")


def _run_all(session: Session, scenarios: Sequence[Scenario]) -> RunResult:
    started = datetime.now(UTC)
    results: list[ScenarioResult] = []
    runner = Runner(session.env)
    for scenario in scenarios:
        results.append(runner.run(scenario))
    return RunResult(session.env.target, tuple(results), started, datetime.now(UTC))


def _finish(result: RunResult, report_md: str | None, junit: str | None) -> int:
    from contract.report import render_terminal, write_reports

    mask = _mask()
    render_terminal(result, _console(), mask=mask)
    written = write_reports(result, markdown_path=report_md, junit_path=junit, mask=mask)
    for path in written:
        click.echo(f"wrote {path}")
    errored = next((s for s in result.scenarios if s.verdict is Verdict.ERROR), None)
    if errored is not None and result.target.kind is not TargetKind.REPLAY:  # the one line exit 3 stands for
        click.echo(
            mask(f"omcontract: OpenMeter failing, {errored.scenario_id} could not run: {errored.reason}"), err=True
        )
    return result.exit_code


#: How far a replay looks ahead for a step's sync when neither --deadline nor the recording says.
DEFAULT_REPLAY_DEADLINE_S = 60.0
#: The longest ``--deadline`` (seconds to wait for one step's sync).
MAX_DEADLINE_S = 3600.0


def _poll(deadline: float) -> PollPolicy:
    if not math.isfinite(deadline) or deadline <= 0 or deadline > MAX_DEADLINE_S:
        raise InputError(
            f"must be a number of seconds above 0 and at most {MAX_DEADLINE_S:g}, got {deadline}", field="--deadline"
        )
    return PollPolicy(deadline_s=deadline)


def _record_path(record: str | None, append: bool) -> Path | None:
    """``--record FILE``: a new file in an existing folder, or (``--record-append``) one to add to."""
    if record is None:
        if append:
            raise InputError("give --record FILE to append to", field="--record-append")
        return None
    path = Path(record)
    check_output_path(path, "--record")
    if append:
        return path
    try:  # created here, exclusively: of several runs started at once with one file, one wins
        with path.open("x", encoding="utf-8"):
            pass
    except FileExistsError:
        raise InputError(
            "already exists: recordings of several runs in one file interleave; choose a new file, "
            "or pass --record-append to add this run to it on purpose",
            file=record,
            field="--record",
        ) from None
    except OSError as err:
        raise InputError(f"cannot create the recording: {err.strerror or err}", file=record) from None
    atexit.register(_remove_if_empty, path)  # a run that failed before its first exchange leaves nothing
    return path


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.stat().st_size == 0:
            path.unlink()


@click.command("run")
@click.argument("scenarios", nargs=-1, type=click.Path())
@click.option(
    "--openmeter-url",
    help="attach to this OpenMeter (default $OPENMETER_URL / $OPENMETER_ADDRESS; "
    "without one the compose stack is booted with Docker)",
)
@click.option("--worker-logs", help="billing-worker log: file, folder or cmd:<command> ($OPENMETER_WORKER_LOGS)")
@click.option("--openmeter-postgres", help="Postgres DSN for the sync-state table ($OPENMETER_POSTGRES)")
@click.option(
    "--force-sync-command",
    help="command forcing a subscription sync, with {customer_id} ($OPENMETER_FORCE_SYNC)",
)
@click.option(
    "--server-config",
    type=click.Choice(sorted(SERVER_CONFIGS)),
    default=None,
    help="how the attached OpenMeter is configured (default $OPENMETER_CONFIG or cti); scenarios "
    "needing another configuration are skipped with the reason",
)
@click.option("--image-tag", help="OpenMeter image tag when booting ($OPENMETER_IMAGE_TAG)")
@click.option(
    "--variant",
    type=click.Choice(sorted(SERVER_CONFIGS)),
    default=None,
    help="compose variant when booting (default cti)",
)
@click.option("--keep-stack", is_flag=True, help="leave a booted stack running")
@click.option(
    "--offline",
    "offline",
    metavar="BEHAVIOUR",
    help="run against the offline fake OpenMeter "
    "playing the engine's BEHAVIOUR (head or issue-4412): not evidence about OpenMeter",
)
@click.option("--report-md", type=click.Path(dir_okay=False), help="write a Markdown report (for a GitHub issue)")
@click.option("--junit", type=click.Path(dir_okay=False), help="write JUnit XML")
@click.option(
    "--record",
    type=click.Path(dir_okay=False),
    help="record every HTTP exchange to this JSON-lines file (secrets masked), for omcontract replay",
)
@click.option("--record-append", is_flag=True, help="add to an existing --record file instead of refusing it")
@click.option("-k", "k", help="select scenarios by id substring expression (e.g. '4412 and not credit')")
@click.option("--deadline", type=float, default=30.0, show_default=True, help="seconds to wait for each step's sync")
@click.option(
    "--schema",
    "schema",
    type=click.Choice(["note", "strict", "off"]),
    default="note",
    show_default=True,
    help="responses that do not match OpenMeter's own OpenAPI documents: shown as notes, counted as "
    "findings (strict), or not checked",
)
@click.option(
    "--openapi-v1",
    type=click.Path(exists=True, dir_okay=False),
    help="OpenAPI document for /api/v1 responses when the server serves none (it normally serves /api/swagger.json)",
)
@click.option(
    "--openapi-v3",
    type=click.Path(exists=True, dir_okay=False),
    help="OpenAPI document for /api/v3 responses when the server serves none",
)
@click.option("-q", "--quiet", is_flag=True, help="no progress lines while waiting")
def run(
    scenarios: tuple[str, ...],
    openmeter_url: str | None,
    worker_logs: str | None,
    openmeter_postgres: str | None,
    force_sync_command: str | None,
    server_config: str | None,
    image_tag: str | None,
    variant: str | None,
    keep_stack: bool,
    offline: str | None,
    report_md: str | None,
    junit: str | None,
    record: str | None,
    record_append: bool,
    k: str | None,
    deadline: float,
    schema: str,
    openapi_v1: str | None,
    openapi_v3: str | None,
    quiet: bool,
) -> int:
    """Run SCENARIOS (files or folders; default fixtures/scenarios) against OpenMeter and judge them."""
    chosen = _scenarios(scenarios, k)
    poll = _poll(deadline)
    progress = _progress(quiet)
    record_path = _record_path(record, record_append)
    for option, out in (("--report-md", report_md), ("--junit", junit)):
        if out is not None:
            check_output_path(Path(out), option)
    if offline is not None:
        session = open_offline(
            _behaviour(offline),
            config_name=server_config or "cti",
            poll=poll,
            progress=progress,
            record=record_path,
        )
    else:
        session = open_live(
            url=openmeter_url,
            worker_logs=worker_logs,
            postgres=openmeter_postgres,
            force_sync_command=force_sync_command,
            image_tag=image_tag,
            variant=variant,
            keep_stack=keep_stack,
            config_name=server_config,
            record=record_path,
            poll=poll,
            progress=progress,
            schema_findings=schema,
            openapi_v1=Path(openapi_v1) if openapi_v1 else None,
            openapi_v3=Path(openapi_v3) if openapi_v3 else None,
        )
    with session:
        result = _run_all(session, chosen)
    return _finish(result, report_md, junit)


@click.command("replay")
@click.argument("recording", type=click.Path())
@click.option(
    "--scenario",
    "scenario_ref",
    help="the scenario file or id the recording ran (default: the "
    f"recording's own note, else {DEFAULT_REPLAY_SCENARIO})",
)
@click.option(
    "--scenarios-dir",
    type=click.Path(file_okay=False),
    default=str(DEFAULT_SCENARIOS),
    show_default=True,
    help="where scenario ids are looked up",
)
@click.option("--report-md", type=click.Path(dir_okay=False), help="write a Markdown report")
@click.option("--junit", type=click.Path(dir_okay=False), help="write JUnit XML")
@click.option(
    "--deadline",
    type=float,
    default=None,
    help="recorded seconds to look ahead for each step's sync  [default: the recorded run's own, else 60]",
)
def replay(
    recording: str,
    scenario_ref: str | None,
    scenarios_dir: str,
    report_md: str | None,
    junit: str | None,
    deadline: float | None,
) -> int:
    """Judge a recorded run again, offline: same verdict and report, marked as a replay.

    A recording of several scenarios (``omcontract run --record``) is judged scenario by scenario."""
    given = _poll(deadline) if deadline is not None else None
    for option, out in (("--report-md", report_md), ("--junit", junit)):
        if out is not None:
            check_output_path(Path(out), option)
    segments = load_recording(recording).segments()
    if scenario_ref is not None and len(segments) > 1:
        raise InputError("the recording holds several scenario runs; --scenario names one", file=recording)
    started = datetime.now(UTC)
    results: list[ScenarioResult] = []
    target = None
    capabilities = None
    for segment in segments:
        ref = scenario_ref or segment.scenario_id or DEFAULT_REPLAY_SCENARIO
        path = Path(ref)
        if not path.suffix:
            path = Path(scenarios_dir) / f"{ref}.yaml"
        if not path.exists():
            raise InputError(f"scenario {ref!r} not found (looked for {path}); pass --scenario FILE", file=recording)
        scenario = load_scenario(path)
        if segment.scenario_id and scenario.id != segment.scenario_id:
            raise InputError(
                f"the recording is a run of scenario {segment.scenario_id!r}, not {scenario.id!r}", file=recording
            )
        poll = given or _poll(min(segment.recorded_deadline or DEFAULT_REPLAY_DEADLINE_S, MAX_DEADLINE_S))
        with open_replay(segment, poll=poll) as session:
            if capabilities is not None:  # what the recorded client had learnt (e.g. v1 fallbacks) carries on
                session.env.client.capabilities = capabilities
            results.append(Runner(session.env).run(scenario, run_id=segment.run_id))
            target = target or session.env.target
            capabilities = session.env.client.capabilities
    assert target is not None
    result = RunResult(target, tuple(results), started, datetime.now(UTC))
    code = _finish(result, report_md, junit)
    errored = next((s for s in result.scenarios if s.verdict is Verdict.ERROR), None)
    if errored is not None:  # no OpenMeter takes part in a replay: the recording does not fit the scenario
        raise InputError(
            f"the recording does not hold what scenario {errored.scenario_id!r} needs: {errored.reason}",
            file=recording,
        )
    return code


def _artifact_table(title: str, scenario: Scenario, result: ScenarioResult, step_index: int) -> Table | None:
    step = next((s for s in result.steps if s.index == step_index), None)
    if step is None or step.expected is None:
        return None
    table = Table(title=title, title_justify="left")
    for col in ("unique id", "backend", "status", "service period", "invoice at", "mirror line"):
        table.add_column(col, overflow="fold")
    snap = step.expected
    subscription = result.subscription_ids[-1] if result.subscription_ids else ""
    keys = scenario.keys_for_run(result.run_id) if result.run_id else None

    def name(uid: str) -> str:
        return keys.logical_unique_id(uid, subscription) if keys is not None else uid

    for a in snap.items:
        mirror = str(a.mirror.service_period) if a.mirror is not None else "-"
        table.add_row(
            name(a.id),
            a.backend.value,
            a.status or "-",
            str(a.service_period),
            format_time(a.invoice_at),
            mirror,
        )
    for a in snap.deleted_charges:
        table.add_row(name(a.id), a.backend.value, "deleted", str(a.service_period), format_time(a.invoice_at), "-")
    if not snap.items and not snap.deleted_charges:
        table.add_row("(nothing)", "", "", "", "", "")
    table.caption = "gathering invoice: " + ("yes" if snap.gathering_invoice_exists else "none")
    return table


@click.command("explain")
@click.argument("scenario", type=click.Path())
@click.option("--behaviour", default="head", show_default=True, help="engine behaviour: head or issue-4412")
def explain(scenario: str, behaviour: str) -> int:
    """Show the engine's predicted lines and charges after each step of SCENARIO (no OpenMeter needed).

    The scenario is driven through the offline fake (the engine behind the API), so times are those
    of a run starting now.
    """
    mode = _behaviour(behaviour, "--behaviour")
    chosen = load_scenario(scenario)
    config = "cti" if chosen.requires.credit_then_invoice else ("no-cti" if chosen.requires.credits else "no-credits")
    session = open_offline(mode, config_name=config)
    session.env.behaviour = mode  # predictions in the chosen behaviour
    with session:
        result = Runner(session.env).run(chosen)
    console = _console()
    console.print(f"[bold]{chosen.id}[/bold] — {chosen.title}")
    console.print(f"engine behaviour {mode.value}; predicted after each step (S = the subscription)")
    for step in result.steps:
        console.print(f"\n[bold]step {step.index + 1}: {step.name}[/bold] — {step.summary}")
        table = _artifact_table("predicted", chosen, result, step.index)
        if table is not None:
            console.print(table)
        for line in (step.explanation or "").split("; "):
            if line:
                console.print(f"  {line}")
    if result.reason:
        console.print(f"\n{result.verdict.value}: {result.reason}")
    return 0
