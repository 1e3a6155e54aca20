"""Replay: judge a recorded run again, offline, by serving its HTTP exchanges to the runner.

A recording is JSON lines, one object per exchange (``kind: http``: ``method``, ``url``,
``request_body``, ``status``, ``response_body``, ``ts``) or note (``kind: note``). The suite's own
``--record`` files and the recordings of OpenMeter runs in ``shared/openmeter/recorded`` share this
layout.

:class:`~contract.client.replay.ReplayTransport` (re-exported here) serves the exchanges to the
client, beside the recorder that writes them (:mod:`contract.client.replay` gives its rules). This
module reads whole recordings: their notes (scenario, run id, worker-log lines), the segments of
several runs, and :class:`ReplayLogs`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from contract.client.replay import RecordedExchange, ReplayTransport, exchange_from_line, is_mutating
from contract.errors import InputError
from contract.limits import (
    MAX_NESTING,
    MAX_RECORDING_BYTES,
    decode_utf8,
    json_depth_exceeds,
    read_input,
)
from contract.model.time import parse_time
from contract.scenario.model import KEY_PATTERN, MAX_RUN_ID_LENGTH


@dataclass(frozen=True, slots=True)
class Recording:
    path: str
    exchanges: tuple[RecordedExchange, ...]
    notes: tuple[dict[str, Any], ...]

    @property
    def scenario_id(self) -> str | None:
        for note in self.notes:
            sid = note.get("scenario")
            if isinstance(sid, str):
                return sid
        return None

    def segments(self) -> list[Recording]:
        """One recording per scenario run it holds (a ``--record`` of several scenarios), in order.

        A segment starts at a ``note`` naming a ``scenario``; a recording without such notes (like
        OpenMeter's own in shared/openmeter/recorded) is one segment."""
        starts = [i for i, n in enumerate(self.notes) if isinstance(n.get("scenario"), str)]
        if len(starts) <= 1:
            return [self]
        out = []
        for k, at in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else len(self.notes)
            # notes go by their order in the file: a step's note is written after its exchanges,
            # at the same exchange position as the next scenario's start, and stays with its run
            notes = (self.notes[at], *(self.notes[:at] if k == 0 else ()), *self.notes[at + 1 : end])
            first = int(self.notes[at]["_at"])
            last = int(self.notes[end]["_at"]) if end < len(self.notes) else len(self.exchanges)
            part = tuple(replace(ex, index=i) for i, ex in enumerate(self.exchanges[first:last]))
            out.append(Recording(path=self.path, exchanges=part, notes=notes))
        return out

    @property
    def recorded_deadline(self) -> float | None:
        """How long the recorded run polled for a step's sync (its start note), when it says."""
        for note in self.notes:
            value = note.get("deadline_s")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                return float(value)
        return None

    @property
    def run_id(self) -> str | None:
        """The recorded run's unique key suffix (``run_id``, or ``uniq`` in OpenMeter recordings)."""
        for note in self.notes:
            for key in ("run_id", "uniq"):
                value = note.get(key)
                if isinstance(value, str) and value:
                    return value
        return None

    @property
    def base_url(self) -> str:
        for ex in self.exchanges:
            parts = urlsplit(ex.url)
            if parts.scheme:
                return f"{parts.scheme}://{parts.netloc}"
        for note in self.notes:
            base = note.get("base")
            if isinstance(base, str):
                return base
        return "http://recorded.invalid"

    @property
    def version(self) -> dict[str, Any]:
        for ex in self.exchanges:
            if ex.path == "/version" and isinstance(ex.response_body, dict):
                return ex.response_body
        return {}

    @property
    def first_time(self) -> datetime | None:
        for ex in self.exchanges:
            if ex.ts is not None:
                return ex.ts
        return None


def load_recording(path: str | Path) -> Recording:
    """Read a JSON-lines recording; every malformed line is a precise :class:`InputError`."""
    p = Path(path)
    text = decode_utf8(read_input(p, limit=MAX_RECORDING_BYTES, what="recording"), str(p))
    return parse_recording(text.splitlines(), str(p))


def parse_recording(lines: Iterable[str], name: str) -> Recording:
    exchanges: list[RecordedExchange] = []
    notes: list[dict[str, Any]] = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if json_depth_exceeds(line):
            raise InputError(f"nested deeper than {MAX_NESTING} levels", file=name, line=line_no)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"not JSON ({err.msg})", file=name, line=line_no) from None
        if not isinstance(obj, dict):
            raise InputError("each line must be a JSON object", file=name, line=line_no)
        kind = obj.get("kind", "http")
        for key in ("run_id", "uniq"):  # the run's key suffix: it becomes part of keys and ids
            value = obj.get(key)
            if isinstance(value, str) and value and (len(value) > MAX_RUN_ID_LENGTH or not KEY_PATTERN.match(value)):
                raise InputError(
                    f"{value[:40]!r} is not a run id ({KEY_PATTERN.pattern}, at most {MAX_RUN_ID_LENGTH} characters)",
                    file=name,
                    line=line_no,
                    field=key,
                )
        if kind == "note":
            notes.append({**obj, "_at": len(exchanges)})  # where it stands among the exchanges
            continue
        if kind != "http":
            continue
        exchange = exchange_from_line(obj, index=len(exchanges), name=name, line_no=line_no)
        if exchange is not None:
            exchanges.append(exchange)
    if not exchanges:
        raise InputError("no HTTP exchanges in the recording", file=name)
    return Recording(path=name, exchanges=tuple(exchanges), notes=tuple(notes))


class ReplayLogs:
    """The worker-log lines a recording carries (one ``worker_log`` note per step, in step order).

    The runner takes one log mark per step: the n-th mark stands for the n-th step, and reading
    from it gives that step's recorded lines, parsed like a live log."""

    def __init__(self, recording: Recording) -> None:
        self._steps = [n["worker_log"] for n in recording.notes if isinstance(n.get("worker_log"), list)]
        self._next = 0

    @staticmethod
    def carried_by(recording: Recording) -> bool:
        """Whether the recorded run had a worker log (old recordings and log-less runs have none)."""
        return any(n.get("logs_available") is True for n in recording.notes)

    def mark(self) -> int:
        self._next += 1
        return self._next - 1

    def read_from(self, mark: Any, since: datetime | None = None) -> list[Any]:
        from contract.worklog.records import parse_lines

        if not isinstance(mark, int) or mark >= len(self._steps):
            return []
        lines = [str(line) for line in self._steps[mark]]
        return list(parse_lines(lines, source="recording"))


@dataclass(frozen=True, slots=True)
class RecordedSyncState:
    synced_at: datetime | None


class ReplaySyncStates:
    """The sync-state answers a recording carries (``sync_state`` notes), given back in the order
    the recorded run asked for them; a subscription other than the recorded one, or a question
    past the last answer, gets no row."""

    def __init__(self, recording: Recording) -> None:
        self._answers = [n for n in recording.notes if n.get("step") == "sync_state"]
        self._next = 0

    @staticmethod
    def carried_by(recording: Recording) -> bool:
        return any(n.get("step") == "sync_state" for n in recording.notes)

    def get(self, subscription_id: str) -> RecordedSyncState | None:
        if self._next >= len(self._answers):
            return None
        answer = self._answers[self._next]
        self._next += 1
        synced = answer.get("synced_at")
        if answer.get("subscription") != subscription_id or not isinstance(synced, str):
            return None
        try:
            return RecordedSyncState(parse_time(synced))
        except ValueError:
            return None


def recorded_force_syncs(recording: Recording) -> list[tuple[bool, str, str]]:
    """(ok, detail, output) of each forced sync the recorded run made (``force_sync`` notes), in order."""
    out = []
    for note in recording.notes:
        if note.get("step") == "force_sync" and isinstance(note.get("ok"), bool):
            out.append((bool(note["ok"]), str(note.get("detail") or ""), str(note.get("output") or "")))
    return out


__all__ = [
    "RecordedExchange",
    "RecordedSyncState",
    "Recording",
    "ReplayLogs",
    "ReplaySyncStates",
    "ReplayTransport",
    "is_mutating",
    "load_recording",
    "parse_recording",
    "recorded_force_syncs",
]
