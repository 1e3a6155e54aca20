"""``omcontract explore``: generated lifecycles against one OpenMeter, failures shrunk to scenario files.

Exit codes: 0 nothing found, 1 something found (one line per failure class, with its file),
2 bad input, 3 no OpenMeter reachable — as ``run``.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import click

from contract.commands.run import _mask
from contract.errors import EXIT_DISAGREE, EXIT_OK, InputError
from contract.explore.campaign import Campaign, CampaignOptions, CampaignResult, CampaignStatus, Found, RunScenario
from contract.explore.classify import slug_of
from contract.explore.example import document, write_document
from contract.explore.generate import Surface
from contract.report import write_reports
from contract.scenario.model import Scenario
from contract.scenario.result import RunResult, ScenarioResult, Target
from contract.scenario.runner import Environment, PollPolicy, Runner
from contract.scenario.targets import SERVER_CONFIGS, Session, open_live, open_offline

_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s?)?$")


def parse_budget(text: str) -> float:
    """``90``, ``90s``, ``10m``, ``1h30m`` -> seconds (positive)."""
    found = _DURATION.match(text.strip().lower())
    if not text.strip() or found is None or not any(found.groups()):
        raise InputError(f"expected a duration like 90s, 10m or 1h30m, got {text!r}", field="--budget")
    seconds = int(found["h"] or 0) * 3600 + int(found["m"] or 0) * 60 + int(found["s"] or 0)
    if seconds <= 0:
        raise InputError(f"must be positive, got {text!r}", field="--budget")
    return float(seconds)


#: Where recorded findings name the failure classes explore should report as known.
DEFAULT_KNOWN = Path("fixtures/known-classes.yaml")


def load_known(path: str | None) -> dict[str, str]:
    """``--known FILE`` (default fixtures/known-classes.yaml when present) -> class -> finding."""
    import yaml

    file = Path(path) if path is not None else DEFAULT_KNOWN
    if path is None and not file.is_file():
        return {}
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {err}", file=str(file), field="--known") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise InputError("not valid YAML", file=str(file), line=mark.line + 1 if mark else None) from None
    entries = doc.get("known") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise InputError("expected a mapping with a list 'known'", file=str(file), field="known")
    out: dict[str, str] = {}
    for i, entry in enumerate(entries):
        if not (
            isinstance(entry, dict) and isinstance(entry.get("class"), str) and isinstance(entry.get("finding"), str)
        ):
            raise InputError("expected {class: <class key>, finding: <file>}", file=str(file), field=f"known[{i}]")
        out[entry["class"]] = str(file.parent / entry["finding"])
    return out


def _offline_runner(behaviour_name: str, config: str, poll: PollPolicy) -> Callable[[int], RunScenario]:
    from contract.commands.run import _behaviour

    behaviour = _behaviour(behaviour_name)

    def for_worker(worker: int) -> RunScenario:
        def run(scenario: Scenario) -> ScenarioResult:
            with open_offline(behaviour, config_name=config, poll=poll) as session:
                return Runner(session.env).run(scenario)

        return run

    return for_worker


def _live_runner(session: Session) -> Callable[[int], RunScenario]:
    """One client per worker on the session's OpenMeter; logs and sync state shared behind a lock."""
    from contract.client import OpenMeterClient

    base = session.env
    lock = threading.Lock()

    class _Shared:
        def __init__(self, inner: object) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> object:
            attr = getattr(self._inner, name)
            if not callable(attr):
                return attr

            def locked(*args: object, **kwargs: object) -> object:
                with lock:
                    return attr(*args, **kwargs)

            return locked

    logs = _Shared(base.logs) if base.logs is not None else None
    states = _Shared(base.sync_states) if base.sync_states is not None else None

    def for_worker(worker: int) -> RunScenario:
        if worker == 0:
            env = replace(base, logs=logs, sync_states=states, progress=None)  # type: ignore[arg-type]
        else:
            client = OpenMeterClient(
                base.client.base_url,
                api_key=base.client.api_key,
                validator=base.client.validator,
                names=base.client.names,
            )
            session.closers.callback(client.close)
            env = replace(base, client=client, logs=logs, sync_states=states, progress=None)  # type: ignore[arg-type]
        runner = Runner(env)
        return runner.run

    return for_worker


def _progress(quiet: bool) -> Callable[[CampaignStatus], None] | None:
    if quiet:
        return None
    tty = sys.stderr.isatty()
    last = [0.0]

    def show(status: CampaignStatus) -> None:
        if tty:
            click.echo(f"\r{status.line()}\x1b[K", nl=False, err=True)
        elif status.elapsed_s - last[0] >= 15 or status.examples == status.target:
            last[0] = status.elapsed_s
            click.echo(status.line(), err=True)

    return show


def _write_found(out: Path, found: Found, seed: int, target: Target) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stem = slug_of(found.key)
    path = out / f"{stem}.yaml"
    n = 2
    while path.exists():
        path = out / f"{stem}-{n}.yaml"
        n += 1
    doc = document(
        found.body,
        scenario_id=path.stem,
        title=f"explore: {found.key}"[:200],
        provenance=f"omcontract explore --seed {seed} against {target.describe()}",
        description=(
            f"Found by omcontract explore ({found.examples} failing example(s) of this class"
            + (f", shrunk in {found.shrink_runs} run(s)" if found.shrunk else ", not shrunk")
            + f"). First disagreement: {_first_line(found.result)}\n"
        ),
    )
    if found.known_issue:
        doc["known_issues"] = [found.known_issue]
    return write_document(path, doc)


def _first_line(result: ScenarioResult) -> str:
    step = result.first_disagreement
    if step is None:
        return result.reason or result.verdict.value
    first = step.findings[0].one_line() if step.findings else step.summary
    return f"{step.name}: {first}"


def _summary(result: CampaignResult, files: dict[str, Path], known: dict[str, str]) -> list[str]:
    lines = [
        f"explore: {result.examples} example(s) in {result.seconds:.0f}s ({result.per_minute:.1f}/min), "
        f"{result.failing} failing, {len(result.found)} class(es) found, {result.skipped} skipped, "
        f"{result.shrink_runs} shrink run(s); stopped by {result.stopped_by}"
    ]
    for found in result.found:
        how = f"{found.steps} step(s)" + (", shrunk" if found.shrunk else ", not shrunk")
        lines.append(f"FOUND {found.key}  ({found.examples} example(s), {how}) -> {files[found.key]}")
    for key, count in sorted(result.known.items()):
        lines.append(f"KNOWN {key}  ({count} example(s)) -> recorded in {known[key]}")
    for error in result.generator_errors[:5]:
        lines.append(f"generator produced a scenario the loader refused (a bug in explore): {error}")
    return lines


@click.command("explore")
@click.option("--examples", type=click.IntRange(min=1), default=100, show_default=True, help="examples to run")
@click.option("--budget", help="stop after this long (e.g. 10m, 90s, 1h30m); shrinking stops too")
@click.option("--seed", type=int, default=0, show_default=True, help="Hypothesis seed (same seed, same examples)")
@click.option("--jobs", type=click.IntRange(min=1, max=16), default=1, show_default=True, help="parallel examples")
@click.option(
    "--shrink-runs",
    type=click.IntRange(min=0),
    default=40,
    show_default=True,
    help="runs a class's shrinking may spend",
)
@click.option(
    "--out", type=click.Path(file_okay=False), default="found", show_default=True, help="where found scenarios go"
)
@click.option(
    "--max-steps", type=click.IntRange(min=1, max=12), default=5, show_default=True, help="lifecycle actions at most"
)
@click.option(
    "--openmeter-url", help="attach to this OpenMeter (default $OPENMETER_URL; without one compose is booted)"
)
@click.option("--worker-logs", help="billing-worker log: file, folder or cmd:<command> ($OPENMETER_WORKER_LOGS)")
@click.option("--openmeter-postgres", help="Postgres DSN for the sync-state table ($OPENMETER_POSTGRES)")
@click.option(
    "--force-sync-command", help="command forcing a subscription sync, with {customer_id} ($OPENMETER_FORCE_SYNC)"
)
@click.option(
    "--server-config",
    type=click.Choice(sorted(SERVER_CONFIGS)),
    default=None,
    help="how the OpenMeter is configured (default cti)",
)
@click.option("--image-tag", help="OpenMeter image tag when booting ($OPENMETER_IMAGE_TAG)")
@click.option(
    "--offline", "offline", metavar="BEHAVIOUR", help="against the offline fake playing BEHAVIOUR (head or issue-4412)"
)
@click.option("--deadline", type=float, default=30.0, show_default=True, help="seconds to wait for each step's sync")
@click.option("--report-md", type=click.Path(dir_okay=False), help="write a Markdown report of the classes found")
@click.option("--junit", type=click.Path(dir_okay=False), help="write JUnit XML (one test case per class found)")
@click.option(
    "--known",
    type=click.Path(dir_okay=False),
    help=f"failure classes already recorded, reported as KNOWN, not found (default {DEFAULT_KNOWN} when present)",
)
@click.option("-q", "--quiet", is_flag=True, help="no progress line")
def explore(
    examples: int,
    budget: str | None,
    seed: int,
    jobs: int,
    shrink_runs: int,
    out: str,
    max_steps: int,
    openmeter_url: str | None,
    worker_logs: str | None,
    openmeter_postgres: str | None,
    force_sync_command: str | None,
    server_config: str | None,
    image_tag: str | None,
    offline: str | None,
    deadline: float,
    report_md: str | None,
    junit: str | None,
    known: str | None,
    quiet: bool,
) -> int:
    """Draw plans and lifecycles (Hypothesis), run each against OpenMeter, shrink what disagrees."""
    from contract.commands.run import _behaviour, _poll

    budget_s = parse_budget(budget) if budget is not None else None
    known_classes = load_known(known)
    poll = _poll(deadline)
    config = server_config or "cti"
    started = datetime.now(UTC)
    if offline is not None:
        session = open_offline(_behaviour(offline), config_name=config, poll=poll)
        runner_for_worker = _offline_runner(offline, config, poll)
    else:
        session = open_live(
            url=openmeter_url,
            worker_logs=worker_logs,
            postgres=openmeter_postgres,
            force_sync_command=force_sync_command,
            image_tag=image_tag,
            config_name=server_config,
            poll=poll,
        )
        runner_for_worker = _live_runner(session)
    with session:
        env: Environment = session.env
        config_of = env.server_config or {}
        surface_config = (
            "cti"
            if config_of.get("credit_then_invoice", True)
            else ("no-cti" if config_of.get("credits", True) else "no-credits")
        )
        surface = Surface(config=surface_config, can_force_sync=env.force_sync is not None, max_steps=max_steps)
        options = CampaignOptions(
            examples=examples,
            budget_s=budget_s,
            seed=seed,
            jobs=jobs,
            shrink_runs=shrink_runs,
            surface=surface,
            known=frozenset(known_classes),
        )
        click.echo(f"explore: {env.target.describe()}; seed {seed}, {examples} example(s), {jobs} job(s)", err=True)
        result = Campaign(options, runner_for_worker, progress=_progress(quiet)).run()
        if not quiet and sys.stderr.isatty():
            click.echo("", err=True)
        files = {f.key: _write_found(Path(out), f, seed, env.target) for f in result.found}
        for line in _summary(result, files, known_classes):
            click.echo(line)
        run_result = RunResult(
            env.target,
            tuple(
                replace(f.result, scenario_id=files[f.key].stem, source_path=str(files[f.key])) for f in result.found
            ),
            started,
            datetime.now(UTC),
        )
        for path in write_reports(run_result, markdown_path=report_md, junit_path=junit, mask=_mask()):
            click.echo(f"wrote {path}")
    return EXIT_DISAGREE if result.found else EXIT_OK
