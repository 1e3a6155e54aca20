"""pytest plugin (entry point ``pytest11``): OpenMeter options, the ``live`` marker, and scenario
files collected as test items.

Scenario YAML files under the folders named by the ini option ``openmeter_scenarios`` (default
``fixtures/scenarios``) become one test item each when pytest is pointed at them
(``pytest fixtures/scenarios --openmeter-url URL``). Items are marked ``live``. Without a URL the
session boots ``compose/`` once through testcontainers (image tag ``OPENMETER_IMAGE_TAG``, variant
``--server-config``) and tears it down at the end; without a Docker engine either, the items skip
with the reason. A URL that does not answer, or a stack that fails to boot, fails them.

Options live in the ``openmeter`` group; precedence is command-line option > environment:

* ``--openmeter-url`` (``OPENMETER_URL``, also OpenMeter's ``OPENMETER_ADDRESS``);
* ``--worker-logs`` (``OPENMETER_WORKER_LOGS``), ``--openmeter-postgres`` (``OPENMETER_POSTGRES``),
  ``--force-sync-command`` (``OPENMETER_FORCE_SYNC``), ``--server-config`` (``OPENMETER_CONFIG``);
* ``--openmeter-offline BEHAVIOUR``: run the items against the offline fake (not evidence).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contract.errors import ContractUserError
from contract.scenario.result import ScenarioResult, Verdict

_SESSION_KEY = pytest.StashKey[Any]()
_ERROR_KEY = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("openmeter", "OpenMeter contract tests")
    group.addoption(
        "--openmeter-url",
        dest="openmeter_url",
        default=None,
        help="base URL of a running OpenMeter (default: $OPENMETER_URL or $OPENMETER_ADDRESS)",
    )
    group.addoption(
        "--worker-logs",
        dest="openmeter_worker_logs",
        default=None,
        help="billing-worker log: a file, a folder, or cmd:<command> (default: $OPENMETER_WORKER_LOGS)",
    )
    group.addoption(
        "--openmeter-postgres",
        dest="openmeter_postgres",
        default=None,
        help="Postgres DSN to read subscription_billing_sync_states (default: $OPENMETER_POSTGRES)",
    )
    group.addoption(
        "--force-sync-command",
        dest="openmeter_force_sync",
        default=None,
        help="command forcing a subscription sync, with {customer_id} (default: $OPENMETER_FORCE_SYNC)",
    )
    group.addoption(
        "--server-config",
        dest="openmeter_server_config",
        default=None,
        choices=("cti", "no-cti", "no-credits"),
        help="how the OpenMeter is configured (default: $OPENMETER_CONFIG or cti)",
    )
    group.addoption(
        "--openmeter-offline",
        dest="openmeter_offline",
        default=None,
        metavar="BEHAVIOUR",
        help="run scenario items against the offline fake playing BEHAVIOUR (head or issue-4412)",
    )
    group.addoption(
        "--openmeter-deadline",
        dest="openmeter_deadline",
        type=float,
        default=30.0,
        help="seconds to wait for each step's sync (default 30)",
    )
    parser.addini(
        "openmeter_scenarios",
        type="paths",
        default=[],
        help="folders whose *.yaml files are OpenMeter scenarios (default fixtures/scenarios)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "live: needs a real OpenMeter (skips with the reason when none is reachable)")


def openmeter_url(config: pytest.Config) -> str | None:
    """The OpenMeter URL the session targets: option, then OPENMETER_URL, then OPENMETER_ADDRESS."""
    value = config.getoption("openmeter_url", default=None)
    if value:
        return str(value)
    return os.environ.get("OPENMETER_URL") or os.environ.get("OPENMETER_ADDRESS") or None


def _scenario_dirs(config: pytest.Config) -> list[Path]:
    dirs = [Path(p) for p in config.getini("openmeter_scenarios")]
    return [d.resolve() for d in dirs] or [(config.rootpath / "fixtures" / "scenarios").resolve()]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    resolved = file_path.resolve()
    if any(d == resolved.parent or d in resolved.parents for d in _scenario_dirs(parent.config)):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from contract.scenario.loader import load_scenario

        try:
            scenario = load_scenario(self.path)
        except ContractUserError as err:
            raise self.CollectError(str(err)) from None
        item = ScenarioItem.from_parent(self, name=scenario.id, scenario=scenario)
        if self.config.getoption("openmeter_offline", default=None) is None:
            item.add_marker(pytest.mark.live)
        yield item


class ScenarioFailure(Exception):
    def __init__(self, result: ScenarioResult, text: str) -> None:
        super().__init__(text)
        self.result = result
        self.text = text


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        from contract.scenario.runner import Runner

        session = _session(self.config)
        result = Runner(session.env).run(self.scenario)
        if result.verdict is Verdict.SKIPPED:
            pytest.skip(result.reason or "skipped")
        if result.verdict in (Verdict.DISAGREE, Verdict.ERROR):
            raise ScenarioFailure(result, _render(session.env.target, result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailure):
            return excinfo.value.text
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, f"scenario {self.scenario.id}"


def _render(target: Any, result: ScenarioResult) -> str:
    from datetime import UTC, datetime

    from rich.console import Console

    from contract.report import render_terminal
    from contract.scenario.result import RunResult

    now = datetime.now(UTC)
    buffer = io.StringIO()
    render_terminal(RunResult(target, (result,), now, now), Console(file=buffer, width=110, force_terminal=False))
    return buffer.getvalue()


def _require_docker_or_skip() -> None:
    """Skip (with the reason) unless a Docker engine with compose v2 answers within seconds."""
    from contract.stack.compose import require_docker

    try:
        require_docker()
    except ContractUserError as err:
        pytest.skip(
            "no OpenMeter: pass --openmeter-url URL or set OPENMETER_URL, or run a Docker engine to boot "
            f"compose/ (or --openmeter-offline head for the offline fake): {err}"
        )


def _session(config: pytest.Config) -> Any:
    """One runner session per pytest session: offline fake, attached OpenMeter, a compose stack booted
    through testcontainers when no URL is given (torn down when the session ends), or a skip."""
    if _ERROR_KEY in config.stash:
        pytest.fail(config.stash[_ERROR_KEY], pytrace=False)
    if _SESSION_KEY in config.stash:
        return config.stash[_SESSION_KEY]
    from contract.scenario.runner import PollPolicy
    from contract.scenario.targets import open_live, open_offline

    poll = PollPolicy(deadline_s=float(config.getoption("openmeter_deadline")))
    offline = config.getoption("openmeter_offline", default=None)
    try:
        if offline is not None:
            from contract.model import Behaviour

            session = open_offline(
                Behaviour.parse(offline),
                config_name=config.getoption("openmeter_server_config") or "cti",
                poll=poll,
            )
        else:
            url = openmeter_url(config)
            if url is None:
                _require_docker_or_skip()  # no URL: boot compose/ once for the session (torn down at the end)
            session = open_live(
                url=url,
                worker_logs=config.getoption("openmeter_worker_logs"),
                postgres=config.getoption("openmeter_postgres"),
                force_sync_command=config.getoption("openmeter_force_sync"),
                config_name=config.getoption("openmeter_server_config"),
                variant=None if url is not None else config.getoption("openmeter_server_config"),
                poll=poll,
            )
    except (ContractUserError, ValueError) as err:
        config.stash[_ERROR_KEY] = f"OpenMeter given but not usable: {err}"
        pytest.fail(config.stash[_ERROR_KEY], pytrace=False)
    config.stash[_SESSION_KEY] = session
    config.add_cleanup(session.close)
    return session
