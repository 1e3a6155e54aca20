"""``omcontract`` end to end: exit codes, reports, explain, replay, and errors a user can act on."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from contract.cli import main
from contract.scenario.loader import load_scenarios

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "fixtures" / "scenarios"
REPRO = SCENARIOS / "issue-4412-cti-cancel-immediately.yaml"
RECORDED = REPO.parent / "shared" / "openmeter" / "recorded"
SECRET = "om-test-SECRET-1234"


def _omcontract(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "contract.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_offline_head_agrees_on_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--offline", "head", "-q", str(SCENARIOS), "-k", "not no-cti and not invoice-only"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "not evidence about OpenMeter" in out
    assert "0 disagree" in out


def test_run_offline_issue_4412_catches_the_repro_with_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md, junit = tmp_path / "report.md", tmp_path / "junit.xml"
    code = main(["run", "--offline", "issue-4412", "-q", str(REPRO), "--report-md", str(md), "--junit", str(junit)])
    assert code == 1
    report = md.read_text()
    for needle in (
        "cancel immediately",
        "Left untrimmed",
        "openmeterio/openmeter#4412",
        "duplicate unique id across persisted lines and charges",
        "DLQ",
        "issue-4412 behaviour predicts exactly what was observed",
        "curl ",
    ):
        assert needle in report, needle
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuites"
    failures = suite.findall(".//failure")
    assert len(failures) == 1 and "#4412" in (failures[0].get("message", "") + (failures[0].text or ""))
    capsys.readouterr()


@pytest.mark.parametrize(
    "path", sorted([*SCENARIOS.glob("*.yaml"), *(REPO / "fixtures" / "findings").glob("*.yaml")]), ids=lambda p: p.stem
)
def test_explain_shows_the_predicted_artifacts_of_every_step(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(path)]) == 0
    out = capsys.readouterr().out
    scenario = load_scenarios([path])[0]
    assert scenario.id in out
    assert "step 1:" in out and "predicted" in out


def test_explain_of_the_repro_shows_the_trim_to_active_to(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(REPRO)]) == 0
    out = capsys.readouterr().out
    cancel = out[out.index("step 4:") :]
    assert "activeTo" in cancel and "gathering invoice: none" in cancel
    assert "S/default/api_calls" in cancel and "charge" in cancel


def test_a_broken_scenario_exits_2_with_file_line_field_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\ntitle: t\nprovenance: p\ndescription: d\nsetup: {}\nsteps: []\n")
    code = main(["run", "--offline", "head", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"omcontract: {bad}:") and "Traceback" not in err


def test_unknown_offline_behaviour_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--offline", "yesterday", str(REPRO)]) == 2
    assert "head" in capsys.readouterr().err


def test_no_docker_and_no_url_exits_3_within_5_seconds_in_one_line(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock", "OPENMETER_URL": "", "OPENMETER_ADDRESS": ""}
    started = time.monotonic()
    done = _omcontract("run", str(REPRO), env=env, timeout=30)
    assert time.monotonic() - started < 5 + 3  # +3: the interpreter's own start-up
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--openmeter-url" in lines[0]


def test_an_unreachable_url_exits_3_within_5_seconds() -> None:
    started = time.monotonic()
    done = _omcontract("run", str(REPRO), "--openmeter-url", f"http://127.0.0.1:{_closed_port()}", timeout=30)
    assert time.monotonic() - started < 5 + 3
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert "127.0.0.1" in done.stderr


@pytest.mark.parametrize(("name", "code"), [("head-4412.jsonl", 0), ("bug-4412.jsonl", 1)])
def test_replay_of_the_shared_recordings(name: str, code: int, capsys: pytest.CaptureFixture[str]) -> None:
    if not RECORDED.is_dir():
        pytest.skip(f"shared recordings absent ({RECORDED})")
    assert main(["replay", str(RECORDED / name)]) == code
    assert "replay" in capsys.readouterr().out.lower()


def test_the_api_key_appears_in_no_output_report_or_recording(tmp_path: Path) -> None:
    files = {"md": tmp_path / "r.md", "xml": tmp_path / "r.xml", "rec": tmp_path / "run.jsonl"}
    done = _omcontract(
        "run",
        "--offline",
        "issue-4412",
        str(REPRO),
        "--report-md",
        str(files["md"]),
        "--junit",
        str(files["xml"]),
        "--record",
        str(files["rec"]),
        env={"OPENMETER_API_KEY": SECRET},
    )
    assert done.returncode == 1, done.stderr
    texts = [done.stdout, done.stderr, *(p.read_text() for p in files.values())]
    assert all(t for t in texts[2:])  # every file was written
    assert not any(SECRET in t for t in texts)
    # the recording replays to the same verdict
    again = _omcontract("replay", str(files["rec"]))
    assert again.returncode == 1, again.stdout + again.stderr


def test_a_recording_of_several_scenarios_replays_scenario_by_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = tmp_path / "run.jsonl"
    chosen = [str(SCENARIOS / "renewal.yaml"), str(SCENARIOS / "plan-edit.yaml")]
    assert main(["run", "--offline", "head", "-q", *chosen, "--record", str(rec)]) == 0
    capsys.readouterr()
    assert main(["replay", str(rec)]) == 0
    out = capsys.readouterr().out
    assert "renewal" in out and "plan-edit" in out and "2 agree, 0 disagree" in out
    assert main(["replay", str(rec), "--scenario", "renewal"]) == 2  # ambiguous for a multi-run file
