from __future__ import annotations

import json
from datetime import timedelta

from contract.offline.worker import EventType, SubscriptionEvent, WorkerLog, backoff
from contract.stack.signatures import scan

from .helpers import START

SUB = "01S00000000000000000000012"
UID = f"{SUB}/default/api_calls/v[0]/period[0]"
ERROR = f"duplicate unique id across persisted lines and charges: {UID}"


def _event() -> SubscriptionEvent:
    return SubscriptionEvent(
        "01K00000000000000000000001",
        EventType.CANCELLED,
        SUB,
        "01C00000000000000000000009",
        START,
        0,
        {"subscription": {"id": SUB}},
    )


def test_backoff_grows_by_half_from_ten_milliseconds_up_to_a_second() -> None:
    assert backoff(1) == timedelta(milliseconds=10)
    assert backoff(2) == timedelta(milliseconds=15)
    assert backoff(20) == timedelta(seconds=1)


def test_a_failed_sync_logs_ten_attempts_and_the_dlq_in_openmeters_json_format() -> None:
    log = WorkerLog("offline-issue-4412")
    log.failed(_event(), ERROR, START, "ab" * 16)
    records = [json.loads(line) for line in log.lines]
    messages = [r["msg"] for r in records]
    assert messages.count("error while executing locked transaction, rolling back") == 10
    assert messages.count("Message handler failed, will retry later") == 10
    assert [r["retry_no"] for r in records if r["msg"] == "Error occurred, retrying"] == list(range(1, 10))
    assert messages[-1] == "Failed to process message, message is going to DLQ"
    dlq = records[-1]
    assert dlq["level"] == "ERROR" and dlq["error.message"] == f"synchronize subscription: {ERROR}"
    assert dlq["message.metadata"]["ce_type"] == "io.openmeter.subscription.v1.subscription.cancelled"
    assert dlq["message.metadata"]["ce_source"] == f"//openmeter.io/namespace/default/subscription/{SUB}"
    assert json.loads(dlq["message.payload"])["data"]["subscription"]["id"] == SUB
    assert all(
        r["service.name"] == "openmeter-billing-worker" and r["ts"].endswith("Z") and "." not in r["ts"]
        for r in records
    )


def test_the_fake_log_is_what_the_signature_scanner_recognises() -> None:
    log = WorkerLog("offline-issue-4412")
    log.synced(_event(), START, "cd" * 16)
    log.failed(_event(), ERROR, START + timedelta(seconds=1), "ab" * 16)
    matches = {m.signature.id: m for m in scan(log.source.read(), {SUB})}
    dup = matches["duplicate-unique-id"]
    assert (dup.subscription_id, dup.unique_id, dup.attempts, dup.conclusive) == (SUB, UID, 10, True)
    assert matches["message-dlq"].conclusive and matches["message-dlq"].subscription_id == SUB
    assert "subscription synchronized" not in {m.signature.title for m in matches.values()}


def test_a_successful_sync_matches_no_failure_signature() -> None:
    log = WorkerLog("offline-head")
    log.synced(_event(), START, "cd" * 16)
    log.invoice_advanced("01000000000000000000000003", START)
    assert scan(log.source.read(), {SUB}) == []
    assert len(log.source.read()) == 2


def test_the_log_source_reads_only_what_was_written_after_a_mark() -> None:
    log = WorkerLog("offline-head")
    log.synced(_event(), START, "cd" * 16)
    mark = log.source.mark()
    log.reconcile_failed(SUB, ERROR, START)
    window = log.source.read_from(mark)
    assert [r.msg for r in window] == ["failed to reconcile subscription"]
    assert window[0].error_message == ERROR
