"""contract.stack.syncstate: read-only access to subscription_billing_sync_states."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from contract.errors import InputError, NoOpenMeterError
from contract.stack.syncstate import SyncStateReader, SyncStateRow, mask_dsn

SUB = "01M8DZSWV3W0XMQ5309B3ZPD4H"


class FakeCursor:
    def __init__(self, row: tuple[Any, ...] | None) -> None:
        self.row = row

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.row


class FakeConnection:
    def __init__(self, rows: dict[str, tuple[Any, ...]], fail: Exception | None = None) -> None:
        self.rows = rows
        self.fail = fail
        self.executed: list[tuple[str, Any]] = []
        self.closed = False

    def execute(self, query: Any, params: Any = None) -> FakeCursor:
        self.executed.append((str(query), params))
        if self.fail is not None:
            raise self.fail
        return FakeCursor(self.rows.get(params[1]) if params else None)

    def close(self) -> None:
        self.closed = True


def test_get_maps_the_row_to_utc_times() -> None:
    plus_one = timezone(timedelta(hours=1))
    conn = FakeConnection(
        {
            SUB: (
                SUB,
                datetime(2026, 11, 27, 8, 51, 32, 34010, tzinfo=plus_one),
                datetime(2026, 12, 27, 7, 51, 31, 937143),
                True,
            )
        }
    )
    reader = SyncStateReader("postgresql://u:p@db/om", connect=lambda dsn: conn)
    row = reader.get(SUB)
    assert row == SyncStateRow(
        subscription_id=SUB,
        synced_at=datetime(2026, 11, 27, 7, 51, 32, 34010, tzinfo=UTC),
        next_sync_after=datetime(2026, 12, 27, 7, 51, 31, 937143, tzinfo=UTC),
        has_billables=True,
    )
    [(query, params)] = conn.executed
    assert query.startswith(
        "SELECT subscription_id, synced_at, next_sync_after, has_billables FROM subscription_billing_sync_states WHERE"
    )
    assert params == ("default", SUB)


def test_never_synced_subscription_is_none_and_char26_padding_is_trimmed() -> None:
    padded = SUB + "  "
    conn = FakeConnection({SUB: (padded, datetime(2026, 1, 1, tzinfo=UTC), None, False)})
    with SyncStateReader("dbname=om", connect=lambda dsn: conn, namespace="default") as reader:
        assert reader.get("01AAAAAAAAAAAAAAAAAAAAAAAA") is None
        row = reader.get(SUB)
    assert row is not None and row.subscription_id == SUB and row.next_sync_after is None
    assert conn.closed


def test_connection_is_opened_read_only_in_autocommit(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    conn = FakeConnection({})

    def fake_connect(dsn: str, **kwargs: Any) -> FakeConnection:
        seen["dsn"] = dsn
        seen.update(kwargs)
        return conn

    monkeypatch.setattr(psycopg, "connect", fake_connect)
    reader = SyncStateReader("postgresql://postgres:s3cret@127.0.0.1:5432/om")
    assert reader.get(SUB) is None
    assert seen["autocommit"] is True and seen["connect_timeout"] == 5
    assert conn.executed[0] == ("SET default_transaction_read_only = on", None)
    assert conn.executed[1][0].startswith("SELECT ")


def test_malformed_dsn_is_an_input_error_without_the_password() -> None:
    with pytest.raises(InputError) as err:
        SyncStateReader("host=db password=s3cret port")
    message = str(err.value)
    assert message.startswith(
        'postgres_dsn: not a valid Postgres DSN (host=db password=*** port): missing "=" after "port"'
    )
    assert "s3cret" not in message and "\n" not in message
    with pytest.raises(InputError, match="postgres_dsn: empty Postgres DSN"):
        SyncStateReader("  ")


def test_unreachable_database_is_one_line_no_openmeter_error_without_password(closed_port: int) -> None:
    reader = SyncStateReader(f"postgresql://postgres:s3cret@127.0.0.1:{closed_port}/om?connect_timeout=2")
    started = time.monotonic()
    with pytest.raises(NoOpenMeterError) as err:
        reader.get(SUB)
    assert time.monotonic() - started < 5
    message = str(err.value)
    assert message.startswith(
        f"cannot connect to OpenMeter's Postgres (postgresql://postgres:***@127.0.0.1:"
        f"{closed_port}/om?connect_timeout=2): "
    )
    assert message.endswith("; check --postgres / OPENMETER_POSTGRES")
    assert "s3cret" not in message and "\n" not in message


def test_missing_table_says_it_is_not_openmeters_database() -> None:
    missing = psycopg.errors.UndefinedTable('relation "subscription_billing_sync_states" does not exist')
    reader = SyncStateReader("dbname=other", connect=lambda dsn: FakeConnection({}, fail=missing))
    with pytest.raises(
        NoOpenMeterError,
        match="has no table subscription_billing_sync_states: is this "
        r"OpenMeter's database \(and migrated\)\?",
    ):
        reader.get(SUB)


def test_lost_connection_is_reopened_once() -> None:
    broken = FakeConnection({}, fail=psycopg.OperationalError("server closed the connection unexpectedly"))
    healthy = FakeConnection({SUB: (SUB, datetime(2026, 1, 1, tzinfo=UTC), None, True)})
    connections = iter([broken, healthy])
    reader = SyncStateReader("dbname=om", connect=lambda dsn: next(connections))
    row = reader.get(SUB)
    assert row is not None and row.has_billables
    assert broken.closed


def test_mask_dsn_hides_passwords_in_both_forms() -> None:
    assert mask_dsn("postgres://postgres:postgres@127.0.0.1:15432/om?sslmode=disable") == (
        "postgres://postgres:***@127.0.0.1:15432/om?sslmode=disable"
    )
    assert mask_dsn("host=db user=u password='a b' dbname=om") == "host=db user=u password=*** dbname=om"
    assert mask_dsn("postgresql://u@db/om") == "postgresql://u@db/om"
    assert repr(SyncStateReader("postgresql://u:pw@db/om")) == "SyncStateReader('postgresql://u:***@db/om')"


@pytest.mark.live
def test_live_sync_state_table_is_readable() -> None:
    dsn = os.environ.get("OPENMETER_POSTGRES")
    if not dsn:
        pytest.skip(
            "OPENMETER_POSTGRES is not set: no OpenMeter database to read "
            '(e.g. eval "$(omnative up)" or omcontract stack up)'
        )
    with SyncStateReader(dsn) as reader:
        assert reader.get("01AAAAAAAAAAAAAAAAAAAAAAAA") is None
