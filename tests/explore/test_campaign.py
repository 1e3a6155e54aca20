"""Campaigns against the offline OpenMeter: head finds nothing, issue-4412 is found and shrunk to a
scenario file that ``omcontract run`` reproduces (and that agrees under head)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from contract.cli import main
from contract.explore.campaign import Campaign, CampaignOptions, CampaignStatus
from contract.explore.generate import Surface
from contract.model import Behaviour
from contract.scenario.model import Scenario
from contract.scenario.result import ScenarioResult
from contract.scenario.runner import Runner
from contract.scenario.targets import open_offline


def _offline(behaviour: Behaviour):  # type: ignore[no-untyped-def]
    def for_worker(worker: int):  # type: ignore[no-untyped-def]
        def run(scenario: Scenario) -> ScenarioResult:
            with open_offline(behaviour) as session:
                return Runner(session.env).run(scenario)

        return run

    return for_worker


def test_issue_4412_is_found_by_name_and_shrunk_small() -> None:
    seen: list[CampaignStatus] = []
    options = CampaignOptions(examples=12, seed=1, jobs=2, shrink_runs=15, surface=Surface())
    result = Campaign(options, _offline(Behaviour.ISSUE_4412), progress=seen.append).run()
    assert result.examples == 12 and result.stopped_by == "examples"
    bug = [f for f in result.found if f.known_issue == "openmeterio/openmeter#4412"]
    assert len(bug) == 1 and bug[0].shrunk and bug[0].steps <= 4
    assert result.shrink_runs >= 1 and not result.generator_errors
    assert seen and seen[-1].classes >= 1 and "examples" in seen[-1].line()


def test_head_finds_nothing() -> None:
    result = Campaign(CampaignOptions(examples=8, seed=3), _offline(Behaviour.HEAD)).run()
    assert result.examples == 8
    assert [f.key for f in result.found] == []
    assert result.failing == 0


def test_a_budget_stops_the_campaign() -> None:
    ticks = iter(range(0, 10_000, 50))  # every look at the clock: 50 s later
    result = Campaign(
        CampaignOptions(examples=1000, seed=1, budget_s=120), _offline(Behaviour.HEAD), monotonic=lambda: next(ticks)
    ).run()
    assert result.stopped_by == "budget" and result.examples < 1000


def test_the_cli_writes_a_scenario_that_run_reproduces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "found"
    code = main(["explore", "--offline", "issue-4412", "--examples", "10", "--seed", "1", "--out", str(out), "-q"])
    printed = capsys.readouterr().out
    assert code == 1
    files = sorted(out.glob("*.yaml"))
    assert files and any(
        "FOUND log duplicate-unique-id (openmeterio/openmeter#4412)" in ln for ln in printed.splitlines()
    )
    bug = next(f for f in files if "4412" in f.name)
    doc = yaml.safe_load(bug.read_text())
    assert doc["id"] == bug.stem and doc["known_issues"] == ["openmeterio/openmeter#4412"]
    assert main(["run", "--offline", "issue-4412", "-q", str(bug)]) == 1
    assert main(["run", "--offline", "head", "-q", str(bug)]) == 0


def test_bad_budget_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--offline", "head", "--budget", "soon"]) == 2
    assert "--budget" in capsys.readouterr().err


def test_known_classes_are_counted_not_found() -> None:
    key = "log duplicate-unique-id (openmeterio/openmeter#4412)"
    options = CampaignOptions(examples=8, seed=1, shrink_runs=5, known=frozenset({key}))
    result = Campaign(options, _offline(Behaviour.ISSUE_4412)).run()
    assert key not in {f.key for f in result.found}
    assert result.known.get(key, 0) >= 1


def test_the_known_classes_file_names_each_finding(tmp_path: Path) -> None:
    from contract.commands.explore import load_known
    from contract.errors import InputError

    known = load_known("fixtures/known-classes.yaml")
    assert known and all(Path(f).is_file() for f in known.values())
    bad = tmp_path / "k.yaml"
    bad.write_text("known: [{class: x}]\n")
    with pytest.raises(InputError, match=r"known\[0\]"):
        load_known(str(bad))
