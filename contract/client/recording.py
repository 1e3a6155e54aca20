"""Recording: one JSON object per line, the layout of ``shared/openmeter/recorded/*.jsonl``.

``kind: "http"`` lines: ``step, method, url, request_body, status, elapsed_ms, response_body, ts,
t`` (plus ``error`` when no answer came). ``kind: "note"`` lines: ``step`` and free fields.
``ts`` is the wall-clock time (RFC 3339, milliseconds, ``Z``); ``t`` the seconds since the
recorder was created. Headers are never recorded, and every line passes through
:func:`contract.client.masking.mask_secrets` before it is written.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contract.client.masking import ApiKey, mask_secrets
from contract.errors import InputError


def _now_ts(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return _now_ts(value) if value.tzinfo else value.isoformat()
    return str(value)


class Recorder:
    """Append exchanges and notes to a JSON-lines file (created with its parent directories)."""

    def __init__(
        self,
        path: str | Path,
        *,
        secrets: Iterable[str | ApiKey | None] = (),
        wall_clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._secrets: list[str | ApiKey] = [s for s in secrets if s]
        self._wall = wall_clock or (lambda: datetime.now(UTC))
        self._mono = monotonic or time.monotonic
        self._start = self._mono()
        self._lock = threading.Lock()
        self.lines_written = 0

    def add_secret(self, secret: str | ApiKey | None) -> None:
        """Mask this value in everything written from now on (the client registers its key)."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def _stamp(self) -> dict[str, Any]:
        return {"ts": _now_ts(self._wall()), "t": round(self._mono() - self._start, 3)}

    def _write(self, record: dict[str, Any]) -> None:
        masked = mask_secrets(record, self._secrets)
        line = json.dumps(masked, ensure_ascii=False, default=_jsonable)
        with self._lock:
            try:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
            except OSError as err:  # a full disk, /dev/full, a file removed under us: the user's to fix
                raise InputError(f"cannot write the recording: {err.strerror or err}", file=str(self.path)) from None
            self.lines_written += 1

    def record_http(
        self,
        *,
        step: str | None,
        method: str,
        url: str,
        request_body: Any,
        status: int | None,
        elapsed_ms: float,
        response_body: Any,
        error: str | None = None,
    ) -> None:
        record: dict[str, Any] = {
            **self._stamp(),
            "kind": "http",
            "step": step,
            "method": method,
            "url": url,
            "request_body": request_body,
            "status": status,
            "elapsed_ms": round(elapsed_ms, 1),
            "response_body": response_body,
        }
        if error is not None:
            record["error"] = error
        self._write(record)

    def note(self, step: str | None, **fields: Any) -> None:
        """A free-form observation (``kind: "note"``), e.g. which API path a fallback took."""
        self._write({**self._stamp(), "kind": "note", "step": step, **fields})


__all__ = ["Recorder"]
