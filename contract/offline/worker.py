"""The offline billing worker's log and its subscription events.

Every subscription mutation publishes a :class:`SubscriptionEvent` (``created``, ``updated``,
``cancelled``, ``continued``), as upstream publishes ``io.openmeter.subscription.v1.subscription.*``
to Kafka. The fake's worker (:class:`~contract.offline.sync.BillingWorker`) syncs on it and
writes what OpenMeter's billing worker writes, as JSON lines in its format (public-api.md §3, §7):
``ts`` (RFC 3339, whole seconds), ``level``, ``caller``, ``msg``, resource attributes
(``service.name: openmeter-billing-worker``, ...), then record attributes (``error.message``,
``message_metadata`` with ``ce_type``/``ce_source``/``ce_subject``, ``message_payload`` as a JSON
string, ``retry_no``, ``max_retries``, ``wait_time``).

A failed sync is retried the way upstream's router does (``app/config/events.go``: 10 attempts,
backoff 10 ms ×1.5 up to 1 s). Each attempt logs ``error while executing locked transaction,
rolling back`` (the bare error) and ``Message handler failed, will retry later`` (``synchronize
subscription: <error>``); watermill's retry middleware logs ``Error occurred, retrying`` before
each of the 9 retries (``retry_no`` 1..9 of ``max_retries`` 9 — none after the last attempt); then
``Failed to process message, message is going to DLQ`` (ERROR, ``message.metadata`` /
``message.payload``). A successful sync logs one INFO line.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contract.model.time import floor_second, format_time
from contract.worklog.source import LogSource

__all__ = [
    "ATTEMPTS",
    "SERVICE_NAME",
    "EventType",
    "SubscriptionEvent",
    "WorkerLog",
    "backoff",
]

SERVICE_NAME = "openmeter-billing-worker"
ATTEMPTS = 10
MAX_RETRIES = ATTEMPTS - 1
_FIRST_WAIT = timedelta(milliseconds=10)
_MAX_WAIT = timedelta(seconds=1)
_MULTIPLIER = 1.5
_NAMESPACE = "default"


class EventType(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    CANCELLED = "cancelled"
    CONTINUED = "continued"

    @property
    def ce_type(self) -> str:
        return f"io.openmeter.subscription.v1.subscription.{self.value}"


@dataclass(frozen=True, slots=True)
class SubscriptionEvent:
    """One published subscription event, waiting for the worker.

    ``reads_at`` is the fake's read counter when it was published (eventual consistency: the
    worker picks it up after the client has read charges or invoices enough times).
    """

    id: str
    type: EventType
    subscription_id: str
    customer_id: str
    time: datetime
    reads_at: int
    data: Mapping[str, Any] = field(hash=False, default_factory=dict)

    def metadata(self, trace_id: str) -> dict[str, Any]:
        return {
            "ce_source": f"//openmeter.io/namespace/{_NAMESPACE}/subscription/{self.subscription_id}",
            "ce_subject": f"//openmeter.io/namespace/{_NAMESPACE}/customer/{self.customer_id}",
            "ce_time": format_time(floor_second(self.time)),
            "ce_type": self.type.ce_type,
            "traceparent": f"00-{trace_id}-{trace_id[:16]}-00",
        }

    def payload(self) -> str:
        return json.dumps(
            {
                "specversion": "1.0",
                "id": self.id,
                "source": f"//openmeter.io/namespace/{_NAMESPACE}/subscription/{self.subscription_id}",
                "type": self.type.ce_type,
                "subject": f"//openmeter.io/namespace/{_NAMESPACE}/customer/{self.customer_id}",
                "datacontenttype": "application/json",
                "time": format_time(self.time),
                "data": dict(self.data),
            },
            separators=(",", ":"),
        )


def backoff(retry_no: int) -> timedelta:
    """The wait before retry ``retry_no`` (1-based): 10 ms ×1.5 per retry, at most 1 s."""
    wait = _FIRST_WAIT * (_MULTIPLIER ** (retry_no - 1))
    return min(wait, _MAX_WAIT)


class WorkerLog:
    """The fake billing worker's stdout: JSON lines, readable through :attr:`source`."""

    def __init__(self, service_version: str) -> None:
        self._lines: list[str] = []
        self._resource = {
            "container.id": "offline",
            "deployment.environment.name": "offline",
            "service.name": SERVICE_NAME,
            "service.version": service_version,
        }
        self.source = LogSource.from_callable("offline billing worker", self.text)

    def text(self) -> str:
        return "".join(line + "\n" for line in self._lines)

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(self._lines)

    def write(self, ts: datetime, level: str, caller: str, msg: str, **attrs: Any) -> None:
        record: dict[str, Any] = {
            "ts": format_time(floor_second(ts)),
            "level": level,
            "caller": caller,
            "msg": msg,
            **self._resource,
        }
        record.update(attrs)
        self._lines.append(json.dumps(record, separators=(",", ":")))

    # -- what the worker writes ------------------------------------------------------------------
    def synced(self, event: SubscriptionEvent, at: datetime, trace_id: str, **details: Any) -> None:
        self.write(
            at,
            "INFO",
            "contract/offline/worker.go:1",
            "subscription synchronized",
            message_metadata=event.metadata(trace_id),
            subscription_id=event.subscription_id,
            **details,
        )

    def invoice_advanced(self, invoice_id: str, at: datetime) -> None:
        self.write(
            at,
            "INFO",
            "openmeter/billing/service/invoice.go:530",
            "invoice advanced",
            invoice=invoice_id,
            **{"from": "draft.created", "to": "draft.waiting_for_collection"},
        )

    def failed(self, event: SubscriptionEvent, error: str, at: datetime, trace_id: str) -> datetime:
        """The retries and the DLQ line of a sync that fails every attempt; returns the last time."""
        metadata = event.metadata(trace_id)
        payload = event.payload()
        wrapped = f"synchronize subscription: {error}"
        now = at
        for attempt in range(1, ATTEMPTS + 1):
            self.write(
                now,
                "WARN",
                "openmeter/billing/service/lock.go:19",
                "error while executing locked transaction, rolling back",
                **{"error.message": error},
            )
            self.write(
                now,
                "WARN",
                "openmeter/watermill/router/metrics.go:60",
                "Message handler failed, will retry later",
                **{"error.message": wrapped, "message_metadata": metadata, "message_payload": payload},
            )
            if attempt < ATTEMPTS:
                wait = backoff(attempt)
                self.write(
                    now,
                    "WARN",
                    "openmeter/watermill/router/logger.go:40",
                    "Error occurred, retrying",
                    retry_no=attempt,
                    max_retries=MAX_RETRIES,
                    wait_time=wait // timedelta(microseconds=1) * 1000,
                    **{"error.message": wrapped},
                )
                now += wait
        self.write(
            now,
            "ERROR",
            "openmeter/watermill/router/metrics.go:176",
            "Failed to process message, message is going to DLQ",
            **{"error.message": wrapped, "message.metadata": metadata, "message.payload": payload},
        )
        return now

    def reconcile_failed(self, subscription_id: str, error: str, at: datetime) -> None:
        """What ``openmeter-jobs billing subscriptionsync`` logs when a forced sync fails."""
        self.write(
            at,
            "ERROR",
            "contract/offline/jobs.go:1",
            "failed to reconcile subscription",
            subscription_id=subscription_id,
            **{"error.message": error},
        )
