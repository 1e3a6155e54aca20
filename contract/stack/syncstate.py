"""Read OpenMeter's subscription sync state from Postgres, read-only.

No endpoint exposes whether a subscription sync succeeded. The billing worker keeps one row per
subscription in ``subscription_billing_sync_states`` (ent schema
``openmeter/ent/schema/subscriptionbillingsync.go``: ``namespace``, ``subscription_id`` char(26),
``has_billables``, ``synced_at``, ``next_sync_after`` nullable). ``synced_at`` is rewritten after
every successful sync and left alone by a failed one, so comparing it before and after a step tells
whether the step's sync ran to the end.

The connection is opened with ``default_transaction_read_only`` on and used in autocommit mode, so
this reader cannot change OpenMeter's data. psycopg is imported only when a reader is created.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol

from contract.errors import InputError, NoOpenMeterError

__all__ = ["SyncStateReader", "SyncStateRow", "mask_dsn"]

CONNECT_TIMEOUT_S = 5
_QUERY = (
    "SELECT subscription_id, synced_at, next_sync_after, has_billables "
    "FROM subscription_billing_sync_states WHERE namespace = %s AND subscription_id = %s"
)


@dataclass(frozen=True, slots=True)
class SyncStateRow:
    """One row of ``subscription_billing_sync_states`` (times in UTC)."""

    subscription_id: str
    synced_at: datetime
    next_sync_after: datetime | None
    has_billables: bool


class _Connection(Protocol):
    def execute(self, query: Any, params: Any = ...) -> Any: ...

    def close(self) -> None: ...


def mask_dsn(dsn: str) -> str:
    """The DSN with its password replaced by ``***`` (URL and key=value forms)."""
    masked = re.sub(r"(://[^:/@\s]+:)[^@\s]*@", r"\1***@", dsn)
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", masked, flags=re.IGNORECASE)


def _utc(value: Any, column: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{column}: expected a timestamp, got {type(value).__name__}")
    if value.tzinfo is None:  # `timestamp without time zone`: OpenMeter stores UTC
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text[:240] if text else type(err).__name__


def _psycopg_connect(dsn: str) -> _Connection:
    import psycopg

    conn = psycopg.connect(
        dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="omcontract-syncstate"
    )
    conn.execute("SET default_transaction_read_only = on")
    return conn


class SyncStateReader:
    """``SyncStateReader(dsn).get(subscription_id) -> SyncStateRow | None``; a context manager.

    ``dsn`` is a libpq URL or key=value string (``OPENMETER_POSTGRES``). A malformed DSN raises
    :class:`InputError` at once; an unreachable database raises :class:`NoOpenMeterError` on the
    first query. Neither message contains the password.
    """

    def __init__(
        self, dsn: str, *, namespace: str = "default", connect: Callable[[str], _Connection] | None = None
    ) -> None:
        self._dsn = dsn
        self.namespace = namespace
        self._connect = connect or _psycopg_connect
        self._conn: _Connection | None = None
        if connect is None:
            self._check_dsn(dsn)

    def __repr__(self) -> str:
        return f"SyncStateReader({mask_dsn(self._dsn)!r})"

    @staticmethod
    def _check_dsn(dsn: str) -> None:
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict

        if not dsn.strip():
            raise InputError("empty Postgres DSN", field="postgres_dsn")
        try:
            conninfo_to_dict(dsn)
        except ProgrammingError as err:
            reason = _one_line(err).replace(dsn, mask_dsn(dsn))
            raise InputError(f"not a valid Postgres DSN ({mask_dsn(dsn)}): {reason}", field="postgres_dsn") from err

    def _connection(self) -> _Connection:
        if self._conn is None:
            try:
                self._conn = self._connect(self._dsn)
            except Exception as err:  # psycopg.OperationalError and friends: one line, no password
                reason = _one_line(err).replace(self._dsn, mask_dsn(self._dsn))
                raise NoOpenMeterError(
                    f"cannot connect to OpenMeter's Postgres ({mask_dsn(self._dsn)}): {reason}; "
                    "check --postgres / OPENMETER_POSTGRES"
                ) from err
        return self._conn

    def get(self, subscription_id: str) -> SyncStateRow | None:
        """The sync state of one subscription, or None when it was never synced."""
        for attempt in (1, 2):
            conn = self._connection()
            try:
                row = conn.execute(_QUERY, (self.namespace, subscription_id)).fetchone()
                break
            except Exception as err:
                if "subscription_billing_sync_states" in str(err) and "does not exist" in str(err):
                    raise NoOpenMeterError(
                        f"{mask_dsn(self._dsn)} has no table subscription_billing_sync_states: "
                        "is this OpenMeter's database (and migrated)?"
                    ) from err
                if type(err).__name__ == "OperationalError" and attempt == 1:  # connection lost: once more
                    self._drop()
                    continue
                raise
        if row is None:
            return None
        sub_id, synced_at, next_sync_after, has_billables = row
        return SyncStateRow(
            subscription_id=str(sub_id).strip(),  # char(26)
            synced_at=_utc(synced_at, "synced_at"),
            next_sync_after=None if next_sync_after is None else _utc(next_sync_after, "next_sync_after"),
            has_billables=bool(has_billables),
        )

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken
                conn.close()

    def close(self) -> None:
        """Close the connection (a later :meth:`get` opens a new one)."""
        self._drop()

    def __enter__(self) -> SyncStateReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
