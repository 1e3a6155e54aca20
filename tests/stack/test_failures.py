"""Failing syncs in the worker log, known or not, quoted verbatim and grouped by error text."""

from __future__ import annotations

import json

from contract.stack.failures import failing_syncs
from contract.worklog.records import parse_lines

SUB = "01JZ0000000000000000000001"
OTHER = "01JZ0000000000000000000002"


def _line(msg: str, error: str | None, sub: str, level: str = "WARN") -> str:
    obj = {
        "ts": "2026-12-03T10:00:00Z",
        "level": level,
        "msg": msg,
        "message_metadata": {"ce_source": f"//openmeter.io/namespace/default/subscription/{sub}"},
    }
    if error is not None:
        obj["error.message"] = error
    return json.dumps(obj)


def _records(*lines: str):  # type: ignore[no-untyped-def]
    return list(parse_lines(lines, source="worker"))


def test_an_unknown_error_is_grouped_over_attempts_and_quoted_verbatim() -> None:
    lines = [
        _line(
            "Message handler failed, will retry later",
            f"cannot patch charge {SUB}/default/x/v[0]/period[0]: bad {n}",
            SUB,
        )
        for n in (1, 2, 3)
    ] + [_line("Failed to process message, message is going to DLQ", "cannot patch charge: bad 3", SUB, "ERROR")]
    groups = failing_syncs(_records(*lines), [SUB])
    unknown = [g for g in groups if not g.known]
    assert len(unknown) >= 1
    g = unknown[0]
    assert g.count == 3 and g.first_text.endswith("bad 1") and g.last_text.endswith("bad 3")
    assert g.subscription_id == SUB and g.dead_lettered


def test_other_subscriptions_are_left_out_and_known_signatures_named() -> None:
    dup = f"duplicate unique id across persisted lines and charges: {SUB}/default/x/v[0]/period[0]"
    groups = failing_syncs(
        _records(
            _line("Message handler failed, will retry later", dup, SUB),
            _line("Message handler failed, will retry later", "boom", OTHER),
        ),
        [SUB],
    )
    assert [g.known for g in groups] == [("duplicate-unique-id",)]
    assert not groups[0].transient_only


def test_info_lines_with_an_error_field_are_not_failures() -> None:
    assert failing_syncs(_records(_line("retrying lookup", "not yet", SUB, "INFO")), [SUB]) == []
