"""The CLI's last line of defence and the behaviours around it (issue 11).

Exit 4 for a bug (one line, never a traceback), 130 for Ctrl-C even while commands are still
being imported, a closed standard input, a capability the target lacks as a skip, recordings that
never interleave by accident, and output that never wraps ids when it is not a terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import contract.cli as cli_module
from contract.cli import main
from contract.errors import EXIT_INTERNAL
from contract.model import Behaviour
from contract.scenario.loader import load_scenario
from contract.scenario.result import Verdict
from contract.scenario.runner import Runner
from contract.scenario.targets import open_offline

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "fixtures" / "scenarios"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("OPENMETER_", "OMCONTRACT_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(REPO)


def test_an_unexpected_exception_is_one_line_and_exit_4_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom\nsecond line of a bug")

    monkeypatch.setattr("contract.commands.run.load_scenario", boom)
    code = main(["explain", str(SCENARIOS / "renewal.yaml")])
    out, err = capsys.readouterr()
    assert code == EXIT_INTERNAL == 4
    assert err == "omcontract: internal error, please report it: RuntimeError: boom second line of a bug (exit 4)\n"
    assert out == ""


def test_the_traceback_is_there_on_request(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OMCONTRACT_TRACEBACK", "1")
    monkeypatch.setattr("contract.commands.run.load_scenario", lambda *a, **k: 1 / 0)
    assert main(["explain", str(SCENARIOS / "renewal.yaml")]) == 4
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().endswith("ZeroDivisionError: division by zero (exit 4)")


def test_ctrl_c_while_commands_are_still_importing_is_one_line_and_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(name: str) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "_registered", False)
    monkeypatch.setattr(cli_module.importlib, "import_module", interrupted)
    assert main(["run", "--offline", "head"]) == 130
    assert capsys.readouterr().err == "omcontract: interrupted\n"


def test_logs_scan_with_standard_input_closed_is_bad_input() -> None:
    done = subprocess.run(
        ["bash", "-c", f'exec 0<&-; exec "{sys.executable}" -m contract.cli logs scan -'],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == "omcontract: -: standard input is closed; give log files, or pipe the log into `-`\n"


def test_a_resync_scenario_without_a_way_to_force_a_sync_is_skipped_with_the_reason() -> None:
    session = open_offline(Behaviour.HEAD)
    session.env.force_sync = None  # an attached OpenMeter without --force-sync-command
    with session:
        result = Runner(session.env).run(load_scenario(SCENARIOS / "renewal.yaml"))
    assert result.verdict is Verdict.SKIPPED
    assert result.reason is not None and "--force-sync-command" in result.reason
    assert result.steps == ()  # nothing was created in OpenMeter


def test_record_append_adds_a_run_on_purpose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "runs.jsonl"
    scenario = str(SCENARIOS / "cancel-next-billing-cycle.yaml")
    assert main(["run", "--offline", "head", "-q", "--record", str(path), scenario]) == 0
    first = path.read_text().count("\n")
    assert main(["run", "--offline", "head", "-q", "--record", str(path), scenario]) == 2
    assert "--record-append" in capsys.readouterr().err
    assert path.read_text().count("\n") == first  # refused before anything was written
    assert main(["run", "--offline", "head", "-q", "--record", str(path), "--record-append", scenario]) == 0
    assert path.read_text().count("\n") == 2 * first


def test_ids_never_wrap_when_output_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(SCENARIOS / "plan-edit.yaml")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any("S/default/api_calls/v[0]/period[0]" in line for line in lines)
    assert all("/period[" not in line or "/v[" in line for line in lines)  # no id cut in two
    assert all(line == line.rstrip(" ") for line in lines)  # no padding to a huge width
    assert max(len(line) for line in lines) < 400


def test_the_recording_file_is_claimed_exclusively_before_the_run_starts(tmp_path: Path) -> None:
    # several runs started at once with one new file: the first claims it, the others are refused
    # (an existence check alone would let all of them through and interleave their exchanges)
    from contract.commands.run import _record_path
    from contract.errors import InputError

    path = tmp_path / "runs.jsonl"
    assert _record_path(str(path), append=False) == path
    assert path.exists() and path.stat().st_size == 0
    with pytest.raises(InputError, match="already exists"):
        _record_path(str(path), append=False)
    assert _record_path(str(path), append=True) == path


def test_a_run_that_fails_before_its_first_exchange_leaves_no_empty_recording(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    assert main(["run", "--offline", "bogus", "--record", str(path)]) == 2
    assert path.stat().st_size == 0  # claimed, nothing written
    from contract.commands.run import _remove_if_empty

    _remove_if_empty(path)  # registered to run at exit
    assert not path.exists()
