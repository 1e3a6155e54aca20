"""Parse OpenMeter's log lines into :class:`LogRecord` values.

OpenMeter writes two formats (public-api.md §3, §7):

* **JSON**, one object per line on stdout (``telemetry.log.format: json``, the default): ``ts``
  (RFC 3339, second resolution), ``level``, ``caller``, ``msg``, resource attributes such as
  ``service.name``, then record attributes: ``error.message``, ``message_metadata`` (an object, or
  a string) with ``ce_type``/``ce_source``/``ce_subject``, ``message_payload`` (a JSON string),
  ``retry_no``, ``max_retries``, ...
* **slog text**, the file exporter's copy: ``time=... level=WARN msg="..." key=value key="quoted"``
  (values quoted the way Go's ``strconv.Quote`` does; non-string attributes may be empty).

Worker output also carries lines that are neither (librdkafka's ``%6|...``, Go stack traces): they
are skipped, never an error. A Go ``panic: ...`` line is kept as a record with level ``PANIC`` so
that the failure signatures can see it. ``docker compose logs`` prefixes (``billing-worker-1  | ``)
are removed and give the service name when the line has none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from contract.limits import json_depth_exceeds
from contract.model.time import parse_time

__all__ = ["LogRecord", "parse_line", "parse_lines", "parse_text"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log line OpenMeter wrote, parsed.

    ``level`` is upper case (``DEBUG``, ``INFO``, ``WARN``, ``ERROR``, ``PANIC``, ``FATAL``, or ``""``
    when the line has none); ``msg`` has trailing newlines removed; ``error_message`` is the error
    attribute (``error.message`` in JSON, ``error`` in slog text) or None; ``attrs`` holds every other
    key of the line (values as decoded: objects stay mappings); ``raw`` is the line as read (without
    its newline); ``source`` names where it came from and ``line_no`` is 1-based within it.
    """

    ts: datetime | None
    level: str
    msg: str
    error_message: str | None
    service: str | None
    attrs: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, hash=False)
    raw: str = ""
    source: str = "-"
    line_no: int = 0

    def text(self) -> str:
        """Message and error text together: what failure signatures are matched against."""
        if self.error_message:
            return f"{self.msg}\n{self.error_message}"
        return self.msg


_LEVELS = {
    "DEBUG": "DEBUG",
    "TRACE": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARN",
    "WARNING": "WARN",
    "ERROR": "ERROR",
    "ERR": "ERROR",
    "DPANIC": "PANIC",
    "PANIC": "PANIC",
    "FATAL": "FATAL",
}
# `docker compose logs` prefix: "billing-worker-1  | " (service name, replica number, a bar).
_COMPOSE_PREFIX = re.compile(r"^(?P<svc>[A-Za-z0-9][A-Za-z0-9_.-]*?)(?:-\d+)?\s+\|\s?(?P<rest>.*)$")
_SLOG_PAIR = re.compile(r'(?P<key>[^\s="]+)=(?P<val>"[^"\\]*(?:\\.[^"\\]*)*"|[^\s"]\S*|)')
#: Longer lines are not log records this suite reads (skipped, in linear time).
MAX_LINE_CHARS = 1024 * 1024
_GO_PANIC = re.compile(r"^(?:panic: |fatal error: )")
_ERROR_KEYS = ("error.message", "error", "err")
_TIME_KEYS = ("ts", "time", "timestamp")
_MSG_KEYS = ("msg", "message")


def _level(value: object) -> str:
    if not isinstance(value, str):
        return ""
    word = re.match(r"[A-Za-z]+", value.strip())
    return _LEVELS.get(word.group(0).upper(), word.group(0).upper()) if word else ""


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def _error_text(attrs: Mapping[str, Any]) -> str | None:
    for key in _ERROR_KEYS:
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, Mapping):  # {"error": {"message": "..."}}
            inner = value.get("message")
            if isinstance(inner, str) and inner:
                return inner
    return None


def _service(attrs: Mapping[str, Any], fallback: str | None) -> str | None:
    value = attrs.get("service.name")
    if isinstance(value, str) and value:
        return value
    service = attrs.get("service")
    if isinstance(service, Mapping) and isinstance(service.get("name"), str):
        return str(service["name"])
    return fallback


def _from_mapping(
    obj: Mapping[str, Any], *, raw: str, source: str, line_no: int, service: str | None
) -> LogRecord | None:
    msg_value = next((obj[k] for k in _MSG_KEYS if isinstance(obj.get(k), str)), None)
    if msg_value is None:
        return None
    ts = next((t for t in (_time(obj.get(k)) for k in _TIME_KEYS) if t is not None), None)
    consumed = {*_TIME_KEYS, "level", *_MSG_KEYS}
    attrs = {k: v for k, v in obj.items() if k not in consumed}
    return LogRecord(
        ts=ts,
        level=_level(obj.get("level")),
        msg=msg_value.rstrip("\r\n"),
        error_message=_error_text(attrs),
        service=_service(attrs, service),
        attrs=MappingProxyType(attrs),
        raw=raw,
        source=source,
        line_no=line_no,
    )


_GO_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


def _go_unquote(quoted: str) -> str:
    """Undo Go's ``strconv.Quote`` (what slog's text handler uses for values that need quoting)."""
    body = quoted[1:-1]
    if "\\" not in body:
        return body
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 >= len(body):
            out += ch.encode()
            i += 1
            continue
        esc = body[i + 1]
        if esc in _GO_ESCAPES:
            out += _GO_ESCAPES[esc].encode()
            i += 2
        elif esc == "x" and i + 4 <= len(body):
            out.append(int(body[i + 2 : i + 4], 16))
            i += 4
        elif esc in "uU":
            width = 4 if esc == "u" else 8
            out += chr(int(body[i + 2 : i + 2 + width], 16)).encode()
            i += 2 + width
        elif esc in "01234567" and i + 4 <= len(body):
            out.append(int(body[i + 1 : i + 4], 8))
            i += 4
        else:
            out += ("\\" + esc).encode()
            i += 2
    return out.decode("utf-8", errors="replace")


def _parse_slog_text(text: str) -> dict[str, str] | None:
    """``key=value key="quoted value" …``, or None when the text is anything else.

    Each pair is matched where the previous one ended (``match`` at a position, never a search),
    so the work is linear in the line's length — a megabyte line, or one that Docker cut in the
    middle of a quoted value, costs no more than reading it.
    """
    pairs: dict[str, str] = {}
    pos = 0
    end = len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            break
        m = _SLOG_PAIR.match(text, pos)
        if m is None or m.end() == pos:  # something that is not key=value: not an slog line
            return None
        value = m.group("val")
        if value.startswith('"'):
            try:
                value = _go_unquote(value)
            except ValueError:
                return None
        pairs.setdefault(m.group("key"), value)
        pos = m.end()
    if "level" not in pairs or "msg" not in pairs:
        return None
    return pairs


def parse_line(line: str, *, source: str = "-", line_no: int = 0) -> LogRecord | None:
    """Parse one line; return None for anything that is not an OpenMeter log record."""
    if len(line) > MAX_LINE_CHARS:
        return None
    raw = line.rstrip("\r\n")
    text = raw.strip()
    if not text:
        return None
    service: str | None = None
    if not text.startswith(("{", "time=", "level=")):
        prefixed = _COMPOSE_PREFIX.match(text)
        if prefixed:
            service = prefixed.group("svc")
            text = prefixed.group("rest").strip()
    if text.startswith("{"):
        if json_depth_exceeds(text):  # json.loads recurses once per level
            return None
        try:
            obj = json.loads(text)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        return _from_mapping(obj, raw=raw, source=source, line_no=line_no, service=service)
    if _GO_PANIC.match(text):
        level = "PANIC" if text.startswith("panic: ") else "FATAL"
        return LogRecord(
            ts=None, level=level, msg=text, error_message=None, service=service, raw=raw, source=source, line_no=line_no
        )
    if "=" in text:
        pairs = _parse_slog_text(text)
        if pairs is not None:
            return _from_mapping(pairs, raw=raw, source=source, line_no=line_no, service=service)
    return None


def parse_lines(lines: Iterable[str], *, source: str = "-", first_line_no: int = 1) -> list[LogRecord]:
    """Parse many lines, skipping what cannot be read; ``line_no`` counts from ``first_line_no``."""
    records: list[LogRecord] = []
    for offset, line in enumerate(lines):
        record = parse_line(line, source=source, line_no=first_line_no + offset)
        if record is not None:
            records.append(record)
    return records


def parse_text(text: str, *, source: str = "-", first_line_no: int = 1) -> list[LogRecord]:
    """Parse a whole log text (lines end in ``\n`` or ``\r\n``)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return parse_lines(lines, source=source, first_line_no=first_line_no)
