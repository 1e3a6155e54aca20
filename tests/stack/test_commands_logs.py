"""contract.commands.logs: `omcontract logs scan` output and exit codes 0/1/2, files and stdin."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from contract.cli import main

from .conftest import DATA

SUB_A = "01M8DZSWV3W0XMQ5309B3ZPD4H"
SUB_B = "01M8DZTB2Q9VXN4K7CJ3H5RW6E"
BUG_JSON = str(DATA / "bug-4412-two-subscriptions.json.log")
BUG_TEXT = str(DATA / "bug-4412-two-subscriptions.text.log")
HEAD = str(DATA / "head-4412-billing-worker.log")


def test_bug_log_exits_1_with_one_line_per_match(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "scan", BUG_JSON]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 13  # 3 transient (B's created race) + 5 signatures x 2 subscriptions
    dup_a = next(line for line in lines if "duplicate-unique-id" in line and SUB_A in line)
    assert dup_a.split() == [
        "CONCLUSIVE",
        "duplicate-unique-id",
        "issue=openmeterio/openmeter#4412",
        f"subscription={SUB_A}",
        f"unique_id={SUB_A}/default/api_calls_1795765891731_183/v[0]/period[0]",
        "attempts=10",
        "first=2026-11-27T07:51:34Z",
        "last=2026-11-27T07:51:35Z",
    ]
    assert err.strip() == "10 conclusive of 13 matches in 64 log records"


def test_healthy_log_with_only_the_transient_retry_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "scan", HEAD]) == 0
    out, err = capsys.readouterr()
    assert [line.split()[:2] for line in out.splitlines()] == [
        ["transient", "subscription-not-found"],
        ["transient", "handler-retry"],
        ["transient", "retrying"],
    ]
    assert err.strip() == "no known failure signature (3 transient matches in 99 log records)"


def test_subscription_filter_narrows_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "scan", BUG_TEXT, "--subscription", SUB_B]) == 1
    out, _ = capsys.readouterr()
    assert out.count(f"subscription={SUB_B}") == len(out.splitlines()) == 8
    assert SUB_A not in out


def test_filtering_away_every_failure_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "scan", BUG_JSON, "--subscription", "01AAAAAAAAAAAAAAAAAAAAAAAA"]) == 0
    assert capsys.readouterr().out == ""


def test_dash_reads_standard_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(Path(BUG_TEXT).read_text(encoding="utf-8")))
    assert main(["logs", "scan", "-"]) == 1
    out, _ = capsys.readouterr()
    assert "CONCLUSIVE  message-dlq" in out


def test_several_files_are_scanned_together(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "scan", HEAD, BUG_JSON]) == 1
    out, _ = capsys.readouterr()
    assert "subscription=01M8DZH5QPXGMYK63W2NTJ0NDD" in out and f"subscription={SUB_A}" in out


def test_unreadable_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "absent.log"
    assert main(["logs", "scan", HEAD, str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"omcontract: {missing}: no such file\n"
    assert main(["logs", "scan", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"omcontract: {tmp_path}: is a folder; give the log files in it\n"


def test_garbage_is_readable_and_simply_matches_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.log"
    junk.write_bytes(b"\x00\xff\xfe not a log\n%6|kafka|line\n")
    assert main(["logs", "scan", str(junk)]) == 0
    assert capsys.readouterr().err.strip() == ("no known failure signature (0 transient matches in 0 log records)")


def test_an_unknown_failing_sync_is_quoted_and_fails_the_scan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = "01JZ0000000000000000000001"
    meta = {"ce_source": f"//openmeter.io/namespace/default/subscription/{sub}"}
    lines = [
        {
            "ts": "2026-12-03T10:00:00Z",
            "level": "WARN",
            "msg": "Message handler failed, will retry later",
            "error.message": "cannot patch charge: period is empty",
            "message_metadata": meta,
        },
        {
            "ts": "2026-12-03T10:00:01Z",
            "level": "ERROR",
            "msg": "Failed to process message, message is going to DLQ",
            "error.message": "cannot patch charge: period is empty",
            "message_metadata": meta,
        },
    ]
    log = tmp_path / "worker.log"
    log.write_text("".join(json.dumps(obj) + "\n" for obj in lines))
    assert main(["logs", "scan", str(log)]) == 1
    out = capsys.readouterr().out
    assert f"unknown-failure  no known signature  subscription {sub}  attempts 1  DLQ yes" in out
    assert "error (first attempt): cannot patch charge: period is empty" in out
