"""contract.stack.signatures: the catalogue, attribution to subscriptions, grouping, severity."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from contract.errors import InputError
from contract.stack.signatures import default_catalogue, load_catalogue, scan, subscription_of, unique_id_of
from contract.worklog.records import LogRecord, parse_line, parse_text

from .conftest import DATA

SUB_A = "01M8DZSWV3W0XMQ5309B3ZPD4H"
SUB_B = "01M8DZTB2Q9VXN4K7CJ3H5RW6E"
UID_A = f"{SUB_A}/default/api_calls_1795765891731_183/v[0]/period[0]"
UID_B = f"{SUB_B}/default/tokens_1795765891731_184/v[0]/period[0]"
SUB_HEAD = "01M8DZH5QPXGMYK63W2NTJ0NDD"
BUG_EXCERPTS = ["bug-4412-two-subscriptions.json.log", "bug-4412-two-subscriptions.text.log"]


def _records(name: str) -> list[LogRecord]:
    return parse_text((DATA / name).read_text(encoding="utf-8"), source=name)


def test_shipped_catalogue_names_the_known_signatures_and_their_severity() -> None:
    catalogue = {s.id: s for s in default_catalogue()}
    assert set(catalogue) == {
        "duplicate-unique-id",
        "message-dlq",
        "reconcile-failed",
        "panic",
        "subscription-not-found",
        "handler-retry",
        "retrying",
        "locked-transaction-rollback",
        "active-realization-run",
        "charge-item-reference-race",
        "shrink-to-instant-refused",
    }
    assert catalogue["active-realization-run"].severity == "conclusive"  # HEAD's DLQ finding
    assert catalogue["shrink-to-instant-refused"].severity == "conclusive"  # HEAD's restore DLQ finding
    assert catalogue["charge-item-reference-race"].severity == "transient"  # healed by a retry on HEAD
    dup = catalogue["duplicate-unique-id"]
    assert (dup.severity, dup.upstream) == ("conclusive", "openmeterio/openmeter#4412")
    assert catalogue["message-dlq"].terminal and catalogue["message-dlq"].severity == "conclusive"
    assert {s.id for s in catalogue.values() if s.attempt} == {
        "handler-retry",
        "retrying",
        "locked-transaction-rollback",
    }
    assert catalogue["subscription-not-found"].severity == "transient"
    assert catalogue["panic"].levels == ("PANIC", "FATAL")


@pytest.mark.parametrize("excerpt", BUG_EXCERPTS)
def test_bug_build_excerpt_attributes_each_failure_to_its_subscription(excerpt: str) -> None:
    matches = scan(_records(excerpt))
    by_key = {(m.signature.id, m.subscription_id, m.unique_id): m for m in matches}
    for sub, uid in ((SUB_A, UID_A), (SUB_B, UID_B)):
        dup = by_key[("duplicate-unique-id", sub, uid)]
        assert dup.conclusive
        assert dup.attempts == 10
        assert len(dup.records) == 10 + 10 + 9 + 1  # locked tx, handler warnings, retries, the DLQ line
        assert dup.signature.upstream == "openmeterio/openmeter#4412"
        dlq = by_key[("message-dlq", sub, uid)]
        assert dlq.conclusive and len(dlq.records) == 1
        assert dlq.error_text == (
            f"synchronize subscription: duplicate unique id across persisted lines and charges: {uid}"
        )
        assert len(by_key[("handler-retry", sub, uid)].records) == 10
        assert len(by_key[("retrying", sub, uid)].records) == 9
        assert len(by_key[("locked-transaction-rollback", sub, uid)].records) == 10
    # nothing of A is filed under B or the other way round
    assert all(m.unique_id is None or m.unique_id.startswith(f"{m.subscription_id}/") for m in matches)


@pytest.mark.parametrize("excerpt", BUG_EXCERPTS)
def test_retries_that_end_in_the_dlq_are_conclusive_but_the_not_found_race_is_not(excerpt: str) -> None:
    matches = scan(_records(excerpt))
    transient = [(m.signature.id, m.subscription_id, m.attempts) for m in matches if not m.conclusive]
    assert sorted(transient) == [
        ("handler-retry", SUB_B, 1),
        ("retrying", SUB_B, 1),
        ("subscription-not-found", SUB_B, 1),
    ]
    escalated = [m for m in matches if m.signature.severity == "transient" and m.conclusive]
    assert {(m.signature.id, m.subscription_id) for m in escalated} == {
        (sig, sub) for sig in ("handler-retry", "retrying", "locked-transaction-rollback") for sub in (SUB_A, SUB_B)
    }


def test_first_and_last_timestamps_span_the_attempts() -> None:
    text = scan(_records("bug-4412-two-subscriptions.text.log"))
    dup_a = next(m for m in text if m.signature.id == "duplicate-unique-id" and m.subscription_id == SUB_A)
    assert dup_a.first == datetime(2026, 11, 27, 7, 51, 34, 233000, tzinfo=UTC)
    assert dup_a.last == datetime(2026, 11, 27, 7, 51, 35, 506000, tzinfo=UTC)
    as_json = scan(_records("bug-4412-two-subscriptions.json.log"))
    dup_a_json = next(m for m in as_json if m.signature.id == "duplicate-unique-id" and m.subscription_id == SUB_A)
    assert (dup_a_json.first, dup_a_json.last) == (
        datetime(2026, 11, 27, 7, 51, 34, tzinfo=UTC),
        datetime(2026, 11, 27, 7, 51, 35, tzinfo=UTC),
    )
    assert dup_a_json.lines[0].startswith(
        '{"ts":"2026-11-27T07:51:34Z","level":"WARN","caller":"openmeter/billing/service/lock.go:19"'
    )


def test_matches_come_in_time_order() -> None:
    matches = scan(_records("bug-4412-two-subscriptions.text.log"))
    firsts = [m.first for m in matches]
    assert firsts == sorted(firsts)  # type: ignore[type-var]
    assert matches[0].signature.id == "subscription-not-found"


def test_real_head_log_has_only_the_transient_not_found_retry() -> None:
    matches = scan(_records("head-4412-billing-worker.log"))
    assert [(m.signature.id, m.subscription_id, m.unique_id, m.attempts, m.conclusive) for m in matches] == [
        ("subscription-not-found", SUB_HEAD, None, 1, False),
        ("handler-retry", SUB_HEAD, None, 1, False),
        ("retrying", SUB_HEAD, None, 1, False),
    ]


def test_subscription_filter_keeps_that_subscription_and_unattributed_panics() -> None:
    records = [
        *_records("bug-4412-two-subscriptions.json.log"),
        *parse_text("panic: runtime error: index out of range [3] with length 3\n", source="stderr"),
    ]
    only_a = scan(records, subscription_ids={SUB_A})
    assert {m.subscription_id for m in only_a} == {SUB_A, None}
    assert [m.signature.id for m in only_a if m.subscription_id is None] == ["panic"]
    assert scan(records, subscription_ids={"01AAAAAAAAAAAAAAAAAAAAAAAA"})[0].signature.id == "panic"


def test_panic_matches_in_every_form() -> None:
    forms = [
        "panic: assignment to entry in nil map",
        '{"ts":"2026-05-15T10:00:00Z","level":"panic","msg":"handler crashed"}',
        'time=2026-05-15T10:00:00.000Z level=PANIC msg="handler crashed"',
        "fatal error: all goroutines are asleep - deadlock!",
    ]
    for form in forms:
        record = parse_line(form)
        assert record is not None, form
        matches = scan([record])
        assert [(m.signature.id, m.conclusive) for m in matches] == [("panic", True)], form


def test_reconcile_failure_is_conclusive_and_attributed_from_the_payload() -> None:
    record = parse_line(
        '{"ts":"2026-05-15T10:00:00Z","level":"ERROR","msg":"failed to reconcile subscription",'
        '"error.message":"getting subscription view: connection reset",'
        '"message_payload":"{\\"data\\":{\\"subscription\\":{\\"id\\":\\"' + SUB_A + '\\"}}}"}'
    )
    assert record is not None
    [match] = scan([record])
    assert (match.signature.id, match.subscription_id, match.conclusive, match.attempts) == (
        "reconcile-failed",
        SUB_A,
        True,
        0,
    )


def test_signatures_match_text_not_key_names() -> None:
    key_only = parse_line(
        '{"ts":"2026-05-15T10:00:00Z","level":"INFO","msg":"invoice advanced",'
        '"Failed to process message, message is going to DLQ":"",'
        '"duplicate unique id across persisted lines and charges: X":1}'
    )
    assert key_only is not None
    assert scan([key_only]) == []
    other_key = parse_line(
        f'{{"level":"WARN","msg":"something","err":"duplicate unique id across persisted lines and charges: {UID_A}"}}'
    )
    assert other_key is not None
    [match] = scan([other_key])
    assert (match.signature.id, match.subscription_id, match.unique_id) == ("duplicate-unique-id", SUB_A, UID_A)


def test_attribution_order_unique_id_then_metadata_then_payload_then_error_text() -> None:
    meta_b = f'"message_metadata":{{"ce_source":"//openmeter.io/namespace/default/subscription/{SUB_B}"}}'
    # the unique id in the error wins over the metadata
    both = parse_line(
        f'{{"level":"WARN","msg":"m","error.message":"charges: {UID_A}",{meta_b}}}'.replace(
            "charges:", "duplicate unique id across persisted lines and charges:"
        )
    )
    assert both is not None and subscription_of(both) == SUB_A and unique_id_of(both) == UID_A
    # metadata as a string (slog's %v of a map)
    as_string = parse_line(
        '{"level":"WARN","msg":"m","message_metadata":"map[ce_source://openmeter.io/'
        f'namespace/default/subscription/{SUB_B} ce_type:x]"}}'
    )
    assert as_string is not None and subscription_of(as_string) == SUB_B
    # the DLQ line's dotted keys
    dlq = parse_line(
        '{"level":"ERROR","msg":"Failed to process message, message is going to DLQ",'
        f'"message.metadata":{{"ce_source":"//openmeter.io/namespace/default/subscription/{SUB_B}"}}}}'
    )
    assert dlq is not None and subscription_of(dlq) == SUB_B
    # the payload's CloudEvent source
    payload = parse_line(
        'time=2026-05-15T10:00:00.000Z level=WARN msg=m message_metadata="" '
        'message_payload="{\\"source\\":\\"//openmeter.io/namespace/default/subscription/'
        f'{SUB_A}\\"}}"'
    )
    assert payload is not None and subscription_of(payload) == SUB_A
    # only the error text names it
    error_only = parse_line(
        '{"level":"WARN","msg":"Error occurred, retrying","error.message":'
        f'"synchronize subscription: not found error: subscription {SUB_B} not found"}}'
    )
    assert error_only is not None and subscription_of(error_only) == SUB_B
    # nothing names a subscription
    anonymous = parse_line('{"level":"WARN","msg":"Error occurred, retrying","error.message":"timeout"}')
    assert anonymous is not None and subscription_of(anonymous) is None


def test_several_unique_ids_of_one_subscription_are_kept_apart() -> None:
    other = f"{SUB_A}/default/tokens_1795765891731_183/v[0]/period[0]"
    lines = [
        f'{{"level":"WARN","msg":"Message handler failed, will retry later","error.message":'
        f'"synchronize subscription: duplicate unique id across persisted lines and charges: {uid}"}}'
        for uid in (UID_A, other, UID_A)
    ]
    matches = [m for m in scan(parse_text("\n".join(lines))) if m.signature.id == "duplicate-unique-id"]
    assert sorted((m.unique_id, m.attempts) for m in matches) == sorted([(UID_A, 2), (other, 1)])


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sigs.yaml"
    path.write_text(text)
    return path


def test_custom_catalogue_is_validated_with_file_and_field(tmp_path: Path) -> None:
    good = _write(tmp_path, "signatures:\n  - {id: boom, pattern: 'boom', severity: conclusive}\n")
    [sig] = load_catalogue(good)
    assert (sig.id, sig.title, sig.attempt, sig.upstream) == ("boom", "boom", False, None)
    cases = {
        "signatures: []\n": "signatures: expected a non-empty list",
        "signatures:\n  - {id: x, pattern: '(', severity: conclusive}\n": "signatures[0].pattern: invalid regular",
        "signatures:\n  - {id: x, pattern: a, severity: maybe}\n": "signatures[0].severity: expected conclusive",
        "signatures:\n  - {id: x, pattern: a, severity: transient}\n"
        "  - {id: x, pattern: b, severity: transient}\n": "signatures[1].id: duplicate id 'x'",
        "signatures:\n  - {id: x, pattern: a, severity: transient, upstream: '#4412'}\n": (
            "signatures[0].upstream: expected owner/repo#number"
        ),
        "signatures:\n  - {id: x, pattern: a, severity: transient, colour: red}\n": "signatures[0].colour: unknown key",
        "signatures: [\n": "not valid YAML",
    }
    for text, expected in cases.items():
        with pytest.raises(InputError) as err:
            load_catalogue(_write(tmp_path, text))
        assert str(err.value).startswith(f"{tmp_path / 'sigs.yaml'}"), text
        assert expected in str(err.value), text
    with pytest.raises(InputError, match="cannot read signature catalogue"):
        load_catalogue(tmp_path / "absent.yaml")


def test_scan_with_a_custom_catalogue(tmp_path: Path) -> None:
    catalogue = load_catalogue(
        _write(
            tmp_path,
            "signatures:\n  - {id: ledger, pattern: 'ledger exploded', "
            "severity: conclusive, upstream: acme/ledger#7}\n",
        )
    )
    record = parse_line('{"level":"ERROR","msg":"ledger exploded"}')
    assert record is not None
    assert scan([record]) == []  # not in the shipped catalogue
    [match] = scan([record], catalogue=catalogue)
    assert (match.signature.id, match.signature.upstream, match.conclusive) == ("ledger", "acme/ledger#7", True)


def test_a_restore_whose_one_time_fee_cannot_shrink_is_named_and_conclusive() -> None:
    """Two lines of HEAD 7e57a394a's worker log (fixtures/findings/restore-one-time-fee-sync-fails):
    the first attempt's error and the DLQ line of the restored subscription."""
    records = parse_text((DATA / "head-restore-shrink-to-instant.log").read_text(encoding="utf-8"))
    named = {m.signature.id: m for m in scan(records)}
    assert set(named) >= {"shrink-to-instant-refused", "message-dlq"}
    shrink = named["shrink-to-instant-refused"]
    assert (shrink.subscription_id, shrink.conclusive) == ("01M8Y07WF3SVPH3VD3A6KQ4869", True)
