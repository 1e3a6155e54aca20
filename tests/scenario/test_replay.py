"""Replay: recorded OpenMeter runs are judged again offline, with the same verdicts as live."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from contract.clock import VirtualClock
from contract.compare import FindingKind
from contract.errors import InputError
from contract.scenario.loader import load_scenario
from contract.scenario.replay import ReplayTransport, load_recording, parse_recording
from contract.scenario.result import TargetKind, Verdict
from contract.scenario.runner import Runner
from contract.scenario.targets import open_replay

from .conftest import SCENARIOS

REPRO = SCENARIOS / "issue-4412-cti-cancel-immediately.yaml"


def _replay(path: Path) -> tuple[object, float]:
    started = time.perf_counter()
    with open_replay(path) as session:
        assert session.recording is not None
        result = Runner(session.env).run(load_scenario(REPRO), run_id=session.recording.run_id)
        assert session.env.target.kind is TargetKind.REPLAY
    return result, time.perf_counter() - started


def test_replaying_the_head_recording_agrees_in_under_five_seconds(recorded: Path) -> None:
    result, seconds = _replay(recorded / "head-4412.jsonl")
    assert result.verdict is Verdict.AGREE, [f.one_line() for s in result.steps for f in s.findings]
    assert [s.verdict for s in result.steps] == [Verdict.AGREE] * 4
    assert seconds < 5


def test_replaying_the_bug_recording_disagrees_at_the_cancel_step(recorded: Path) -> None:
    result, seconds = _replay(recorded / "bug-4412.jsonl")
    assert result.verdict is Verdict.DISAGREE
    failing = [s for s in result.steps if s.verdict is Verdict.DISAGREE]
    assert [s.index for s in failing] == [3]  # the cancel; subscribe and ingest agree
    cancel = failing[0]
    kinds = {f.kind for f in cancel.findings}
    assert FindingKind.NOT_SYNCED in kinds and FindingKind.DIFFERENT in kinds
    untrimmed = {f.id for f in cancel.findings if f.field == "service_period"}
    assert len(untrimmed) == 2 and all(i and i.endswith("/v[0]/period[0]") for i in untrimmed)
    assert cancel.explanation is not None
    # OpenMeter's own recording carries no worker log: the state fits #4412, the evidence is missing
    assert "consistent with the engine's issue-4412 behaviour" in cancel.explanation
    assert "evidence (signature duplicate-unique-id) is missing" in cancel.explanation
    assert "predicts exactly" not in cancel.explanation
    assert "duplicate unique id across persisted lines and charges" in cancel.explanation
    assert seconds < 5


def test_recording_notes_give_the_run_id_and_base_url(recorded: Path) -> None:
    rec = load_recording(recorded / "head-4412.jsonl")
    assert rec.run_id == "1795765605940_142"
    assert rec.base_url == "http://127.0.0.1:48888"
    assert rec.version["version"] == "unknown"


def test_reads_are_served_from_the_window_of_the_last_mutation() -> None:
    lines = [
        {"kind": "note", "step": "start", "scenario": "x", "run_id": "r1"},
        {
            "kind": "http",
            "method": "GET",
            "url": "http://h/a",
            "status": 200,
            "response_body": {"v": 1},
            "ts": "2026-01-01T00:00:00Z",
        },
        {
            "kind": "http",
            "method": "GET",
            "url": "http://h/a",
            "status": 200,
            "response_body": {"v": 2},
            "ts": "2026-01-01T00:00:01Z",
        },
        {
            "kind": "http",
            "method": "POST",
            "url": "http://h/cancel",
            "status": 200,
            "response_body": {},
            "ts": "2026-01-01T00:00:02Z",
        },
        {
            "kind": "http",
            "method": "GET",
            "url": "http://h/a?x=1",
            "status": 200,
            "response_body": {"v": 3},
            "ts": "2026-01-01T00:00:03Z",
        },
    ]
    rec = parse_recording([json.dumps(x) for x in lines], "mem")
    assert rec.scenario_id == "x" and rec.run_id == "r1"
    clock = VirtualClock(rec.first_time)  # type: ignore[arg-type]
    client = httpx.Client(transport=ReplayTransport(rec, clock), base_url="http://h")
    assert [client.get("/a").json()["v"] for _ in range(3)] == [1, 2, 2]  # the last one repeats
    assert client.post("/cancel").status_code == 200
    assert client.get("/a").json()["v"] == 3  # query strings are ignored
    assert clock.now().second == 3  # the clock follows the recorded timestamps
    missing = client.post("/cancel")
    assert missing.status_code == 501 and "no further recorded occurrence" in missing.json()["detail"]


def test_a_broken_recording_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"kind": "http", "method": "GET", "url": "http://h/a", "status": 200}\n{not json\n')
    with pytest.raises(InputError) as err:
        load_recording(path)
    assert str(err.value).startswith(f"{path}:2: not JSON")
    path.write_text('{"kind": "http", "method": "GET", "url": "http://h/a", "status": "200"}\n')
    with pytest.raises(InputError, match=r":1: status: must be an integer HTTP status"):
        load_recording(path)


def test_a_virtual_sleep_always_moves_the_clock() -> None:
    """A loop that sleeps until a deadline must reach it, even for sub-microsecond remainders."""
    from datetime import UTC, datetime

    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.sleep(1e-12)
    assert clock.monotonic() > 0 and clock.now().microsecond == 1
    clock.sleep(0)
    clock.sleep(-5)
    assert clock.now().microsecond == 1  # no time asked, none passes


def test_a_recording_carries_the_worker_log_so_the_replay_names_the_signature(tmp_path: Path) -> None:
    from contract.model import Behaviour
    from contract.scenario.loader import load_scenario
    from contract.scenario.runner import Runner
    from contract.scenario.targets import open_offline, open_replay

    scenario = load_scenario(Path("fixtures/scenarios/issue-4412-cti-cancel-immediately.yaml"))
    record = tmp_path / "run.jsonl"
    with open_offline(Behaviour.ISSUE_4412, record=record) as session:
        live = Runner(session.env).run(scenario)
    with open_replay(record) as session:
        replayed = Runner(session.env).run(scenario, run_id=live.run_id)
    step = replayed.first_disagreement
    assert step is not None and step.index == live.first_disagreement.index  # type: ignore[union-attr]
    assert any(ev.signature == "duplicate-unique-id" and ev.attempts == 10 for ev in step.logs)
    assert step.explanation is not None and "issue-4412 behaviour predicts exactly" in step.explanation


def _judgement(result: object) -> list[tuple[int, str, str, tuple[str, ...], tuple[str, ...], bool | None]]:
    steps = result.steps  # type: ignore[attr-defined]
    return [
        (
            s.index,
            s.verdict.value,
            s.summary,
            tuple(f.one_line() for f in s.findings),
            tuple(sorted(ev.signature for ev in s.logs)),
            s.sync_ran,
        )
        for s in steps
    ]


def test_a_recording_of_several_runs_replays_each_with_its_own_log_and_sync_states(tmp_path: Path) -> None:
    """Each run's last worker-log note is written at the exchange position where the next run
    starts: it must stay with its own run. The sync-state answers, a forced sync's outcome and the
    polling deadline are recorded too, so the replay judges every step as the run did, finding by
    finding (renewal's forced sync fails under #4412)."""
    from contract.model import Behaviour
    from contract.scenario.environment import PollPolicy
    from contract.scenario.loader import load_scenario
    from contract.scenario.runner import Runner
    from contract.scenario.targets import open_offline, open_replay

    scenarios = [
        load_scenario(SCENARIOS / f"{name}.yaml") for name in ("cancel-next-billing-cycle", "plan-edit", "renewal")
    ]
    record = tmp_path / "two.jsonl"
    with open_offline(Behaviour.ISSUE_4412, record=record) as session:
        runs = [Runner(session.env).run(scenario) for scenario in scenarios]
    segments = load_recording(record).segments()
    assert [s.scenario_id for s in segments] == [s.id for s in scenarios]
    for scenario, run, segment in zip(scenarios, runs, segments, strict=True):
        assert segment.recorded_deadline == PollPolicy().deadline_s
        with open_replay(segment, poll=PollPolicy(deadline_s=segment.recorded_deadline)) as session:
            replayed = Runner(session.env).run(scenario, run_id=segment.run_id)
        assert _judgement(replayed) == _judgement(run)
        assert any(s.sync_ran is False for s in replayed.steps)  # the failing sync is seen as such
