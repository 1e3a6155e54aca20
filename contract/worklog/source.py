"""Where worker logs come from, and reading them one step at a time.

A :class:`LogSource` reads OpenMeter's billing-worker log from a file, a folder (every ``*.log`` in
it, or every file when there is none), a shell command (``cmd:<command>``, run with a timeout;
its stdout is the log) or any callable returning the whole log text (``docker compose logs``).

It remembers how far it has read (byte offsets for files, line counts for command output), so a
runner can take exactly the lines one step produced::

    mark = logs.mark()          # before the step
    ...                         # drive OpenMeter
    window = logs.read_from(mark)

or simply call :meth:`LogSource.read_new` after each step. Only complete lines are consumed by
cursor reads; a line still being written is picked up by the next read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from contract import proc as _proc
from contract.errors import InputError
from contract.limits import MAX_LOG_BYTES
from contract.model.time import floor_second, require_utc
from contract.worklog.records import LogRecord, parse_lines

__all__ = ["LogMark", "LogSource", "LogSourceError"]

DEFAULT_COMMAND_TIMEOUT = 15.0


class LogSourceError(InputError):
    """The log source cannot be read (missing file, failing or hanging command)."""


Position = tuple[int, int]  # (byte offset or 0, lines consumed)


@dataclass(frozen=True, slots=True)
class LogMark:
    """How far each stream of a source had been read when the mark was taken."""

    positions: Mapping[str, Position]


class _Stream:
    key: str

    def chunk(self, pos: Position, *, complete_only: bool) -> tuple[list[str], int, Position]:
        """Lines after ``pos``, the line number of the first, and the position after the complete ones."""
        raise NotImplementedError

    def read_from(self, pos: Position, *, complete_only: bool) -> tuple[list[LogRecord], Position]:
        lines, first, end = self.chunk(pos, complete_only=complete_only)
        return parse_lines(lines, source=self.key, first_line_no=first), end


def _split(text: str) -> tuple[list[str], str]:
    """Complete lines, and what follows the last newline ("" or a line still being written)."""
    lines = text.split("\n")
    partial = lines.pop()
    return lines, partial


class _FileStream(_Stream):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.key = str(path)

    def chunk(self, pos: Position, *, complete_only: bool) -> tuple[list[str], int, Position]:
        offset, lines_seen = pos
        try:
            if not stat.S_ISREG(os.stat(self.path).st_mode):  # a FIFO would block, /dev/zero never end
                raise LogSourceError("is not a regular file (a FIFO or a device?); give a log file", file=self.key)
            with self.path.open("rb") as fh:
                size = fh.seek(0, 2)
                if size < offset:  # truncated or replaced: start over
                    offset, lines_seen = 0, 0
                fh.seek(offset)
                data = fh.read(MAX_LOG_BYTES)
        except FileNotFoundError:  # not written yet, or being rotated
            return [], lines_seen + 1, pos
        except OSError as err:
            reason = f"cannot read worker log: {err.strerror or err}"
            raise LogSourceError(reason, file=str(self.path)) from err
        complete_bytes = data.rfind(b"\n") + 1
        lines, partial = _split(data.decode("utf-8", errors="replace"))
        if partial and not complete_only:
            lines.append(partial)
        return lines, lines_seen + 1, (offset + complete_bytes, lines_seen + data.count(b"\n"))


class _OutputStream(_Stream):
    def __init__(self, key: str, produce: Callable[[], str]) -> None:
        self.key = key
        self.produce = produce

    def chunk(self, pos: Position, *, complete_only: bool) -> tuple[list[str], int, Position]:
        _, lines_seen = pos
        complete, partial = _split(self.produce())
        if len(complete) < lines_seen:  # output shrank (container re-created, log rotated): start over
            lines_seen = 0
        fresh = complete[lines_seen:]
        if partial and not complete_only:
            fresh.append(partial)
        return fresh, lines_seen + 1, (0, len(complete))


def _run_command(command: str, timeout: float) -> str:
    shown = command.split()[0] if command.split() else command
    done = _proc.run(command, timeout=timeout)
    if done.timed_out:
        raise LogSourceError(
            f"worker-logs command ({shown} ...) did not finish within {timeout:g} s", field="worker_logs"
        )
    if done.returncode != 0:
        first = next(
            (ln.strip() for ln in done.stderr.decode("utf-8", "replace").splitlines() if ln.strip()), "no error output"
        )
        raise LogSourceError(
            f"worker-logs command ({shown} ...) failed with exit code {done.returncode}: {first[:200]}",
            field="worker_logs",
        )
    return done.stdout.decode("utf-8", errors="replace")


def _filter_since(records: list[LogRecord], since: datetime | None) -> list[LogRecord]:
    """Keep records at or after ``since`` (floored to the second: JSON ``ts`` has second resolution).

    A record without a timestamp (a Go panic line) goes with the last timestamp before it.
    """
    if since is None:
        return records
    cutoff = floor_second(require_utc(since, "since"))
    kept: list[LogRecord] = []
    last: dict[str, datetime] = {}
    for record in records:
        if record.ts is not None:
            last[record.source] = record.ts
        effective = record.ts or last.get(record.source)
        if effective is None or effective >= cutoff:
            kept.append(record)
    return kept


class LogSource:
    """Reads worker-log records from one place; see the module docstring."""

    def __init__(self, description: str, streams: Callable[[], Sequence[_Stream]]) -> None:
        self.description = description
        self._streams = streams
        self._cursor: dict[str, Position] = {}

    def __repr__(self) -> str:
        return f"LogSource({self.description!r})"

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: str, *, command_timeout: float = DEFAULT_COMMAND_TIMEOUT) -> LogSource:
        """``cmd:<shell command>``, a folder, or a file (``--worker-logs``, OPENMETER_WORKER_LOGS)."""
        spec = spec.strip()
        if spec.startswith("cmd:"):
            command = spec[4:].strip()
            if not command:
                raise LogSourceError("`cmd:` needs a shell command after it", field="worker_logs")
            return cls.from_command(command, timeout=command_timeout)
        path = Path(spec).expanduser()
        if path.is_dir():
            return cls.from_folder(path)
        if path.is_file():
            return cls.from_file(path)
        raise LogSourceError(
            f"worker logs not found: {spec} (give a file, a folder, or cmd:<shell command>)", field="worker_logs"
        )

    @classmethod
    def from_file(cls, path: str | Path) -> LogSource:
        stream = _FileStream(Path(path))
        return cls(str(path), lambda: (stream,))

    @classmethod
    def from_folder(cls, path: str | Path) -> LogSource:
        folder = Path(path)
        known: dict[Path, _FileStream] = {}

        def streams() -> Sequence[_Stream]:
            files = sorted(p for p in folder.glob("*.log") if p.is_file())
            if not files:
                files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
            return tuple(known.setdefault(p, _FileStream(p)) for p in files)

        return cls(f"{folder}/", streams)

    @classmethod
    def from_command(cls, command: str, *, timeout: float = DEFAULT_COMMAND_TIMEOUT) -> LogSource:
        stream = _OutputStream("cmd", lambda: _run_command(command, timeout))
        return cls(f"cmd:{command}", lambda: (stream,))

    @classmethod
    def from_callable(cls, name: str, produce: Callable[[], str]) -> LogSource:
        """Any function returning the whole log so far (e.g. ``docker compose logs billing-worker``)."""
        stream = _OutputStream(name, produce)
        return cls(name, lambda: (stream,))

    # -- reading -------------------------------------------------------------------------------
    def read(self, since: datetime | None = None) -> list[LogRecord]:
        """Every record available now (at or after ``since`` when given); does not move the cursor."""
        records: list[LogRecord] = []
        for stream in self._streams():
            found, _ = stream.read_from((0, 0), complete_only=False)
            records.extend(found)
        return _filter_since(records, since)

    def mark(self) -> LogMark:
        """Remember the current end of every stream and move the cursor there."""
        positions: dict[str, Position] = {}
        for stream in self._streams():
            _, _, end = stream.chunk(self._cursor.get(stream.key, (0, 0)), complete_only=True)
            positions[stream.key] = end
        self._cursor = dict(positions)
        return LogMark(MappingProxyType(positions))

    def read_from(self, mark: LogMark, since: datetime | None = None) -> list[LogRecord]:
        """Records written after ``mark`` (complete lines only); does not move the cursor."""
        records: list[LogRecord] = []
        for stream in self._streams():
            found, _ = stream.read_from(mark.positions.get(stream.key, (0, 0)), complete_only=True)
            records.extend(found)
        return _filter_since(records, since)

    def read_new(self, since: datetime | None = None) -> list[LogRecord]:
        """Records written since the previous :meth:`read_new` or :meth:`mark`; moves the cursor."""
        records: list[LogRecord] = []
        for stream in self._streams():
            found, end = stream.read_from(self._cursor.get(stream.key, (0, 0)), complete_only=True)
            self._cursor[stream.key] = end
            records.extend(found)
        return _filter_since(records, since)
