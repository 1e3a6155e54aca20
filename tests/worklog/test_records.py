"""contract.worklog.records: both OpenMeter log formats, and everything else skipped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contract.worklog.records import LogRecord, parse_line, parse_text

from .conftest import DATA, REPO

HEAD_LOG = DATA / "head-4412-billing-worker.log"
SUB_HEAD = "01M8DZH5QPXGMYK63W2NTJ0NDD"


def _head_lines() -> list[str]:
    return HEAD_LOG.read_text(encoding="utf-8").split("\n")


def test_real_head_log_parses_every_json_line_and_skips_the_two_kafka_lines() -> None:
    lines = [ln for ln in _head_lines() if ln]
    records = parse_text(HEAD_LOG.read_text(encoding="utf-8"), source="head.log")
    kafka = [ln for ln in lines if ln.startswith("%")]
    assert len(kafka) == 2
    assert len(records) == len(lines) - 2 == 99
    assert all(r.source == "head.log" for r in records)
    assert all(not r.raw.startswith("%") for r in records)


def test_real_retry_warning_keeps_time_level_error_service_and_metadata() -> None:
    records = parse_text(HEAD_LOG.read_text(encoding="utf-8"), source="head.log")
    warning = next(r for r in records if r.msg == "Message handler failed, will retry later")
    assert warning.ts == datetime(2026, 11, 27, 7, 46, 46, tzinfo=UTC)
    assert warning.level == "WARN"
    assert warning.service == "openmeter-billing-worker"
    assert warning.error_message == (f"synchronize subscription: not found error: subscription {SUB_HEAD} not found")
    assert warning.attrs["caller"] == "openmeter/watermill/router/metrics.go:60"
    metadata = warning.attrs["message_metadata"]
    assert metadata["ce_type"] == "io.openmeter.subscription.v1.subscription.created"
    assert metadata["ce_source"] == f"//openmeter.io/namespace/default/subscription/{SUB_HEAD}"
    assert isinstance(warning.attrs["message_payload"], str)
    assert warning.line_no == 54  # 1-based line in the file, Kafka lines counted
    assert warning.raw == _head_lines()[53]


def test_real_retry_line_keeps_numeric_retry_attributes() -> None:
    records = parse_text(HEAD_LOG.read_text(encoding="utf-8"))
    retry = next(r for r in records if r.msg == "Error occurred, retrying")
    assert retry.attrs["retry_no"] == 1
    assert retry.attrs["max_retries"] == 9
    assert retry.attrs["wait_time"] == 10496780


def test_json_message_ending_in_newline_is_trimmed() -> None:
    records = parse_text(HEAD_LOG.read_text(encoding="utf-8"))
    sarama = [r for r in records if r.msg.startswith("client/metadata fetching metadata")]
    assert sarama
    assert sarama[0].msg == "client/metadata fetching metadata for all topics from broker 127.0.0.1:29092"
    assert '"msg":"client/metadata fetching metadata for all topics from broker 127.0.0.1:29092\\n",' in (sarama[0].raw)


def test_slog_text_line_with_quoted_escaped_and_empty_values() -> None:
    line = (
        'time=2026-05-15T10:20:30.123Z level=WARN msg="Message handler failed, will retry later" '
        'error="synchronize subscription: duplicate unique id across persisted lines and charges: '
        'S/default/api/v[0]/period[0]" message_metadata="" '
        'message_payload="{\\"source\\":\\"//openmeter.io/namespace/default/subscription/S\\"}" '
        'retry_no="" topic=om_sys.api_events note="tab\\there \\u00e9 \\\\ end\\n"'
    )
    record = parse_line(line, source="file.log", line_no=7)
    assert record is not None
    assert record.ts == datetime(2026, 5, 15, 10, 20, 30, 123000, tzinfo=UTC)
    assert record.level == "WARN"
    assert record.msg == "Message handler failed, will retry later"
    assert record.error_message is not None
    assert record.error_message.endswith("charges: S/default/api/v[0]/period[0]")
    assert record.attrs["message_metadata"] == ""
    assert record.attrs["retry_no"] == ""
    assert record.attrs["topic"] == "om_sys.api_events"
    assert record.attrs["message_payload"] == '{"source":"//openmeter.io/namespace/default/subscription/S"}'
    assert record.attrs["note"] == "tab\there é \\ end\n"
    assert (record.source, record.line_no, record.raw) == ("file.log", 7, line)


def test_slog_text_with_unquoted_message_and_offset_time_is_utc() -> None:
    record = parse_line("time=2026-05-15T12:00:00.000+02:00 level=INFO msg=started count=3")
    assert record is not None
    assert record.ts == datetime(2026, 5, 15, 10, 0, tzinfo=UTC)
    assert (record.level, record.msg, record.attrs["count"]) == ("INFO", "started", "3")


def test_slog_text_message_ending_in_newline_is_trimmed() -> None:
    record = parse_line(
        'time=2026-11-27T07:51:32.542Z level=INFO msg="producer/broker/0 starting up\\n" otel.scope.name=sarama'
    )
    assert record is not None
    assert record.msg == "producer/broker/0 starting up"
    assert record.attrs["otel.scope.name"] == "sarama"


def test_both_bug_excerpts_hold_the_same_records() -> None:
    as_json = parse_text((DATA / "bug-4412-two-subscriptions.json.log").read_text(encoding="utf-8"))
    as_text = parse_text((DATA / "bug-4412-two-subscriptions.text.log").read_text(encoding="utf-8"))
    assert len(as_json) == len(as_text) == 64
    assert [(r.level, r.msg, r.error_message) for r in as_json] == [(r.level, r.msg, r.error_message) for r in as_text]
    # JSON has second resolution, slog text milliseconds: the same instants, floored
    assert all(
        j.ts == t.ts.replace(microsecond=0)
        for j, t in zip(as_json, as_text, strict=True)
        if j.ts is not None and t.ts is not None
    )


def test_compose_logs_prefix_is_removed_and_names_the_service() -> None:
    text_line = parse_line('billing-worker-1  | time=2026-05-15T10:00:00.000Z level=ERROR msg="boom" error=x')
    assert text_line is not None
    assert (text_line.service, text_line.level, text_line.msg, text_line.error_message) == (
        "billing-worker",
        "ERROR",
        "boom",
        "x",
    )
    json_line = parse_line(
        'sink-worker-1  | {"ts":"2026-05-15T10:00:00Z","level":"INFO","msg":"hi",'
        '"service.name":"openmeter-sink-worker"}'
    )
    assert json_line is not None
    assert json_line.service == "openmeter-sink-worker"  # the line's own service.name wins


def test_go_panic_and_fatal_lines_become_records_and_stack_frames_are_skipped() -> None:
    records = parse_text(
        "panic: runtime error: invalid memory address or nil pointer dereference\n"
        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1c2f4e0]\n"
        "\n"
        "goroutine 412 [running]:\n"
        "github.com/openmeterio/openmeter/openmeter/billing/worker.(*Worker).Run(...)\n"
        "fatal error: concurrent map writes\n",
        source="stderr",
    )
    assert [(r.level, r.msg, r.line_no) for r in records] == [
        ("PANIC", "panic: runtime error: invalid memory address or nil pointer dereference", 1),
        ("FATAL", "fatal error: concurrent map writes", 6),
    ]


def test_level_names_are_normalised() -> None:
    def level(raw: str) -> str:
        record = parse_line(raw)
        assert record is not None
        return record.level

    assert level('{"level":"panic","msg":"x"}') == "PANIC"
    assert level('{"level":"warning","msg":"x"}') == "WARN"
    assert level('{"level":"WARN+2","msg":"x"}') == "WARN"
    assert level("level=PANIC msg=x") == "PANIC"
    assert level('{"msg":"x"}') == ""


def test_unreadable_lines_are_skipped_never_raised() -> None:
    junk = [
        "%6|1795765597.357|GETSUBSCRIPTIONS|rdkafka#producer-1| [thrd:main]: Telemetry id changed",
        '{"ts":"2026-11-27T07:46:37Z","level":"INFO","msg":"cut in the mid',
        "[1, 2, 3]",
        '{"level":"INFO","no_message":true}',
        "plain words = not a log line",
        'time=2026 level=INFO msg="unterminated',
        "",
        "   ",
        "\x00\xff binary",
    ]
    assert [parse_line(line) for line in junk] == [None] * len(junk)
    assert parse_text("\n".join(junk)) == []


def test_message_metadata_may_be_a_string() -> None:
    record = parse_line(
        '{"ts":"2026-11-27T07:46:46Z","level":"WARN","msg":"m",'
        '"message_metadata":"map[ce_type:io.openmeter.subscription.v1.subscription.cancelled]"}'
    )
    assert record is not None
    assert record.attrs["message_metadata"].startswith("map[ce_type:")


def test_bad_timestamp_leaves_ts_empty_but_keeps_the_record() -> None:
    record = parse_line('{"ts":"yesterday","level":"INFO","msg":"m"}')
    assert record == LogRecord(
        ts=None,
        level="INFO",
        msg="m",
        error_message=None,
        service=None,
        attrs={},
        raw='{"ts":"yesterday","level":"INFO","msg":"m"}',
    )


def test_text_joins_message_and_error_for_signature_matching() -> None:
    record = parse_line('{"level":"WARN","msg":"a","error.message":"b"}')
    assert record is not None
    assert record.text() == "a\nb"


def test_head_fixture_is_the_recorded_openmeter_output() -> None:
    shared = REPO.parent / "shared" / "openmeter" / "recorded" / "head-4412-billing-worker.log"
    if not shared.is_file():
        pytest.skip(f"shared folder absent ({shared.parent}): cannot compare the fixture with the recording")
    assert HEAD_LOG.read_bytes() == shared.read_bytes()
