"""contract.worklog.source: files, folders, commands; windows of one step via offsets."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contract.errors import InputError
from contract.worklog.source import LogSource, LogSourceError

from .conftest import DATA


def _json(msg: str, ts: str = "2026-11-27T07:51:34Z", level: str = "INFO") -> str:
    return f'{{"ts":"{ts}","level":"{level}","msg":"{msg}"}}\n'


def test_spec_picks_file_folder_or_command(tmp_path: Path) -> None:
    log = tmp_path / "billing-worker.log"
    log.write_text(_json("one"))
    assert [r.msg for r in LogSource.from_spec(str(log)).read()] == ["one"]
    assert [r.msg for r in LogSource.from_spec(str(tmp_path)).read()] == ["one"]
    command = LogSource.from_spec(f"cmd:cat {shlex.quote(str(log))}")
    assert command.description.startswith("cmd:cat ")
    assert [r.msg for r in command.read()] == ["one"]


def test_missing_source_is_an_input_error_naming_the_option(tmp_path: Path) -> None:
    with pytest.raises(LogSourceError) as err:
        LogSource.from_spec(str(tmp_path / "nope.log"))
    assert isinstance(err.value, InputError)
    assert str(err.value) == (
        f"worker_logs: worker logs not found: {tmp_path / 'nope.log'} (give a file, a folder, or cmd:<shell command>)"
    )
    with pytest.raises(LogSourceError, match="needs a shell command"):
        LogSource.from_spec("cmd:  ")


def test_read_new_returns_only_what_was_appended_and_numbers_lines_in_the_file(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text(_json("first") + "%6|kafka noise\n")
    source = LogSource.from_file(log)
    assert [(r.msg, r.line_no) for r in source.read_new()] == [("first", 1)]
    assert source.read_new() == []
    with log.open("a") as fh:
        fh.write(_json("second") + _json("third"))
    assert [(r.msg, r.line_no) for r in source.read_new()] == [("second", 3), ("third", 4)]


def test_a_line_still_being_written_is_read_once_it_is_complete(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    whole = _json("late")
    log.write_text(_json("early") + whole[:20])
    source = LogSource.from_file(log)
    assert [r.msg for r in source.read_new()] == ["early"]
    with log.open("a") as fh:
        fh.write(whole[20:])
    assert [(r.msg, r.line_no) for r in source.read_new()] == [("late", 2)]


def test_mark_and_read_from_give_the_window_of_one_step(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text(_json("setup"))
    source = LogSource.from_file(log)
    before_cancel = source.mark()
    with log.open("a") as fh:
        fh.write(_json("cancel 1") + _json("cancel 2"))
    assert [r.msg for r in source.read_from(before_cancel)] == ["cancel 1", "cancel 2"]
    assert [r.msg for r in source.read_from(before_cancel)] == ["cancel 1", "cancel 2"]  # no side effect
    assert [r.msg for r in source.read()] == ["setup", "cancel 1", "cancel 2"]
    assert [r.msg for r in source.read_new()] == ["cancel 1", "cancel 2"]  # mark moved the cursor too


def test_truncated_file_is_read_again_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text(_json("old 1") + _json("old 2"))
    source = LogSource.from_file(log)
    source.read_new()
    log.write_text(_json("new"))
    assert [(r.msg, r.line_no) for r in source.read_new()] == [("new", 1)]


def test_folder_reads_every_log_file_and_picks_up_new_ones(tmp_path: Path) -> None:
    (tmp_path / "billing-worker.log").write_text(_json("billing"))
    (tmp_path / "notes.txt").write_text(_json("not a log file"))
    source = LogSource.from_folder(tmp_path)
    assert [r.msg for r in source.read_new()] == ["billing"]
    (tmp_path / "sink-worker.log").write_text(_json("sink"))
    records = source.read_new()
    assert [(r.msg, Path(r.source).name) for r in records] == [("sink", "sink-worker.log")]


def test_folder_without_log_files_reads_all_plain_files(tmp_path: Path) -> None:
    (tmp_path / "stdout").write_text(_json("a"))
    (tmp_path / ".hidden").write_text(_json("hidden"))
    assert [r.msg for r in LogSource.from_folder(tmp_path).read()] == ["a"]


def test_command_output_is_windowed_by_line_count() -> None:
    output = [_json("a") + _json("b")]
    source = LogSource.from_callable("compose:test/billing-worker", lambda: output[0])
    assert [r.msg for r in source.read_new()] == ["a", "b"]
    output[0] += _json("c")
    assert [(r.msg, r.line_no, r.source) for r in source.read_new()] == [("c", 3, "compose:test/billing-worker")]
    output[0] = _json("after restart")  # output shrank: start over
    assert [r.msg for r in source.read_new()] == ["after restart"]


def test_command_output_without_final_newline_keeps_the_last_line_for_later() -> None:
    output = [_json("a") + _json("b").rstrip("\n")]
    source = LogSource.from_callable("c", lambda: output[0])
    assert [r.msg for r in source.read()] == ["a", "b"]  # a full read shows it
    assert [r.msg for r in source.read_new()] == ["a"]  # the cursor waits for its newline
    output[0] += "\n"
    assert [r.msg for r in source.read_new()] == ["b"]


def test_failing_command_is_one_line_with_exit_code_and_stderr() -> None:
    source = LogSource.from_command("echo 'permission denied' >&2; exit 4")
    with pytest.raises(LogSourceError) as err:
        source.read()
    assert str(err.value) == ("worker_logs: worker-logs command (echo ...) failed with exit code 4: permission denied")


def test_hanging_command_is_stopped_at_its_timeout() -> None:
    source = LogSource.from_command("tail -f /dev/null", timeout=0.3)
    with pytest.raises(LogSourceError, match=r"did not finish within 0\.3 s"):
        source.read()


def test_read_since_keeps_records_from_that_second_on_with_their_untimed_followers(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_text(
        _json("before", "2026-11-27T07:51:33Z")
        + _json("same second", "2026-11-27T07:51:34Z")
        + "panic: boom\n"
        + _json("after", "2026-11-27T07:51:35Z")
    )
    source = LogSource.from_file(log)
    since = datetime(2026, 11, 27, 7, 51, 34, 900000, tzinfo=UTC)  # floored: JSON ts has whole seconds
    assert [r.msg for r in source.read(since=since)] == ["same second", "panic: boom", "after"]
    with pytest.raises(ValueError):
        source.read(since=datetime(2026, 11, 27, 7, 51, 34))  # naive


def test_real_log_through_a_file_source() -> None:
    records = LogSource.from_file(DATA / "head-4412-billing-worker.log").read()
    assert len(records) == 99
    assert records[-1].line_no == 100  # the last line (101) is a Kafka line
