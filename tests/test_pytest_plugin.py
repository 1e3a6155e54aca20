"""The pytest plugin: scenario files become live test items, with options and honest skips."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "fixtures" / "scenarios"


@pytest.fixture
def scenario_dir(pytester: pytest.Pytester) -> Path:
    target = pytester.path / "scenarios"
    target.mkdir()
    for name in ("issue-4412-cti-cancel-immediately.yaml", "cancel-next-billing-cycle.yaml"):
        shutil.copy(SCENARIOS / name, target / name)
    pytester.makeini("[pytest]\nopenmeter_scenarios = scenarios\n")
    return target


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_scenarios_are_collected_as_live_items(pytester: pytest.Pytester, scenario_dir: Path) -> None:
    result = pytester.runpytest("--collect-only", "-q", "-m", "live", str(scenario_dir))
    items = {line for line in result.stdout.lines if "::" in line}  # in any order (pytest-randomly)
    assert items == {
        "scenarios/cancel-next-billing-cycle.yaml::cancel-next-billing-cycle",
        "scenarios/issue-4412-cti-cancel-immediately.yaml::issue-4412-cti-cancel-immediately",
    }
    assert "2 tests collected" in result.stdout.str()


def test_without_an_openmeter_or_a_docker_engine_items_skip_with_the_reason(
    pytester: pytest.Pytester, scenario_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPENMETER_URL", raising=False)
    monkeypatch.delenv("OPENMETER_ADDRESS", raising=False)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-docker.sock'}")  # no URL would boot compose/
    result = pytester.runpytest("-rs", str(scenario_dir))
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*no OpenMeter: pass --openmeter-url URL or set OPENMETER_URL*"])
    result.stdout.fnmatch_lines(["*no Docker engine reachable*"])


def test_offline_head_items_pass(pytester: pytest.Pytester, scenario_dir: Path) -> None:
    result = pytester.runpytest("--openmeter-offline", "head", str(scenario_dir))
    result.assert_outcomes(passed=2)


def test_offline_issue_4412_fails_the_repro_with_the_verdict(pytester: pytest.Pytester, scenario_dir: Path) -> None:
    result = pytester.runpytest(
        "--openmeter-offline", "issue-4412", str(scenario_dir / "issue-4412-cti-cancel-immediately.yaml")
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "openmeterio/openmeter#4412" in out and "duplicate-unique-id" in out
    assert "issue-4412 behaviour predicts exactly what was observed" in out


def test_a_given_but_broken_url_fails_instead_of_skipping(pytester: pytest.Pytester, scenario_dir: Path) -> None:
    result = pytester.runpytest("--openmeter-url", f"http://127.0.0.1:{_closed_port()}", str(scenario_dir))
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*OpenMeter given but not usable*"])


def test_a_broken_scenario_file_is_a_collection_error_naming_the_field(
    pytester: pytest.Pytester, scenario_dir: Path
) -> None:
    (scenario_dir / "broken.yaml").write_text("id: broken\ntitle: t\n")
    result = pytester.runpytest("--collect-only", str(scenario_dir))
    result.stdout.fnmatch_lines(["*broken.yaml*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED
