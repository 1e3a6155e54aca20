"""Sessions and evidence: worker-log matches become one piece of evidence per subscription."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract.errors import InputError
from contract.scenario.targets import scan_logs, server_config
from contract.stack import parse_text, scan

DATA = Path(__file__).resolve().parents[1] / "stack" / "data"
SUB = "01J9Z4V7Q8X2M5N6P7R8S9T0AB"


def _attempt(n: int, unique_id: str) -> list[str]:
    meta = {
        "ce_type": "io.openmeter.subscription.v1.subscription.cancelled",
        "ce_source": f"//openmeter.io/namespace/default/subscription/{SUB}",
    }
    err = f"synchronize subscription: duplicate unique id across persisted lines and charges: {unique_id}"
    return [
        json.dumps(
            {
                "ts": f"2026-11-27T08:41:0{n % 10}Z",
                "level": "WARN",
                "msg": "Message handler failed, will retry later",
                "error.message": err,
                "message_metadata": meta,
                "service.name": "openmeter-billing-worker",
            }
        )
    ]


def test_attempts_naming_different_duplicated_ids_add_up_for_one_subscription() -> None:
    lines: list[str] = []
    for n in range(10):  # upstream names whichever duplicate its map iteration meets first
        lines += _attempt(n, f"{SUB}/default/{'api_calls' if n % 3 else 'tokens'}/v[0]/period[0]")
    evidence = scan_logs(parse_text("\n".join(lines)), [SUB])
    dup = [ev for ev in evidence if ev.signature == "duplicate-unique-id"]
    assert len(dup) == 1
    assert dup[0].attempts == 10 and dup[0].subscription_id == SUB
    assert dup[0].unique_id == f"{SUB}/default/api_calls/v[0]/period[0], {SUB}/default/tokens/v[0]/period[0]"
    assert dup[0].upstream_issue == "openmeterio/openmeter#4412" and dup[0].conclusive


def test_two_subscriptions_in_one_log_are_kept_apart() -> None:
    records = parse_text((DATA / "bug-4412-two-subscriptions.json.log").read_text())
    subscriptions = {m.subscription_id for m in scan(records)} - {None}
    assert len(subscriptions) == 2
    for sid in subscriptions:
        mine = scan_logs(records, [sid])
        assert {ev.subscription_id for ev in mine} == {sid}
        assert any(ev.terminal for ev in mine)  # each reached the DLQ


def test_server_config_names_are_checked() -> None:
    assert server_config("no-cti") == {"credits": True, "credit_then_invoice": False}
    assert server_config(None) is None
    with pytest.raises(InputError, match=r"--server-config: unknown OpenMeter configuration 'cti-please'"):
        server_config("cti-please")


def test_the_dlq_line_stands_for_every_attempt_of_its_subscription() -> None:
    lines: list[str] = []
    for n in range(10):
        lines += _attempt(n, f"{SUB}/default/{'api_calls' if n else 'tokens'}/v[0]/period[0]")
    meta = {"ce_source": f"//openmeter.io/namespace/default/subscription/{SUB}"}
    lines.append(
        json.dumps(
            {
                "ts": "2026-11-27T08:41:09Z",
                "level": "ERROR",
                "msg": "Failed to process message, message is going to DLQ",
                "error.message": f"synchronize subscription: duplicate unique id across persisted lines "
                f"and charges: {SUB}/default/api_calls/v[0]/period[0]",
                "message.metadata": meta,
            }
        )
    )
    evidence = {ev.signature: ev for ev in scan_logs(parse_text("\n".join(lines)), [SUB])}
    assert evidence["duplicate-unique-id"].attempts == 10
    assert evidence["message-dlq"].terminal and evidence["message-dlq"].attempts == 10
