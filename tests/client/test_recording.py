from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from contract.client.masking import ApiKey
from contract.client.recording import Recorder

from .helpers import SECRET, Recording


class FakeClocks:
    def __init__(self) -> None:
        self.wall = datetime(2026, 11, 27, 7, 46, 45, 987654, tzinfo=UTC)
        self.mono = 100.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_http_lines_have_exactly_the_shared_recordings_field_layout(tmp_path: Path, head: Recording) -> None:
    recorder = Recorder(tmp_path / "run.jsonl")

    recorder.record_http(
        step="version",
        method="GET",
        url="http://x/version",
        request_body=None,
        status=200,
        elapsed_ms=4.123,
        response_body={"version": "unknown"},
    )

    (line,) = _lines(tmp_path / "run.jsonl")
    assert list(line) == list(head[0])  # same keys, same order
    assert line["kind"] == "http" and line["step"] == "version" and line["elapsed_ms"] == 4.1


def test_ts_is_millisecond_utc_and_t_counts_seconds_since_the_recorder_started(tmp_path: Path) -> None:
    clocks = FakeClocks()
    recorder = Recorder(tmp_path / "r.jsonl", wall_clock=clocks.now, monotonic=clocks.monotonic)
    clocks.mono += 1.23456

    recorder.note("start", base="http://x")

    (line,) = _lines(tmp_path / "r.jsonl")
    assert line == {"ts": "2026-11-27T07:46:45.987Z", "t": 1.235, "kind": "note", "step": "start", "base": "http://x"}


def test_failed_exchange_records_null_status_and_the_error(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "r.jsonl")

    recorder.record_http(
        step="s",
        method="POST",
        url="http://x/api",
        request_body={"a": 1},
        status=None,
        elapsed_ms=10.0,
        response_body=None,
        error="connection refused",
    )

    (line,) = _lines(tmp_path / "r.jsonl")
    assert line["status"] is None and line["response_body"] is None
    assert line["error"] == "connection refused"


def test_every_recorded_string_is_masked(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "r.jsonl", secrets=[ApiKey(SECRET)])

    recorder.record_http(
        step=f"step {SECRET}",
        method="POST",
        url=f"http://x/?k={SECRET}",
        request_body={"token": SECRET, "nested": [f"Bearer {SECRET}"]},
        status=401,
        elapsed_ms=1.0,
        response_body={"detail": f"bad key {SECRET}"},
    )
    recorder.note("n", header=f"Authorization: Bearer {SECRET}", other=SECRET)

    text = (tmp_path / "r.jsonl").read_text(encoding="utf-8")
    assert SECRET not in text
    assert text.count("***") == 7


def test_secrets_added_later_are_masked_from_then_on(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "r.jsonl")
    recorder.add_secret("late-secret-42")

    recorder.note("n", value="late-secret-42")

    assert "late-secret-42" not in (tmp_path / "r.jsonl").read_text(encoding="utf-8")


def test_recorder_appends_and_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "r.jsonl"
    Recorder(path).note("one")
    Recorder(path).note("two")

    assert [line["step"] for line in _lines(path)] == ["one", "two"]
