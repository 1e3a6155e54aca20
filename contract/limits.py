"""Limits on what the suite reads, and the one bounded way to read an input file.

Every input file (scenario, oracle case, recording, worker log, OpenAPI document) is read through
:func:`read_input`: only regular files (a FIFO or a device such as ``/dev/zero`` would block or
never end), at most a stated number of bytes, and every failure an
:class:`~contract.errors.InputError` in one line. :func:`decode_utf8` turns the bytes into text
with the same care (UTF-16 and other encodings named, a NUL byte placed on its line).

The numbers are stated for users in ``fixtures/scenarios/FORMAT.md``.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

from contract.errors import InputError
from contract.model.time import Duration

MiB = 1024 * 1024

#: Largest scenario file (the biggest shipped one is ~3 KB).
MAX_SCENARIO_BYTES = 256 * 1024
#: Largest oracle case file (the biggest upstream case is ~10 KB).
MAX_CASE_BYTES = 256 * 1024
#: Largest recording (``--record``); a full run of every scenario is ~2 MB.
MAX_RECORDING_BYTES = 64 * MiB
#: Largest worker-log input, per file (``logs scan``, ``--worker-logs``).
MAX_LOG_BYTES = 256 * MiB
#: Largest OpenAPI document given with ``--openapi-v1/--openapi-v3``.
MAX_OPENAPI_BYTES = 32 * MiB

#: Deepest nesting of YAML mappings/lists (scenarios, oracle cases) and of JSON (recordings, logs).
MAX_NESTING = 64
#: Most YAML nodes a document may hold once aliases are expanded (an alias bomb stops here).
MAX_YAML_NODES = 20_000


#: Instants an input may name: from 1970 up to (not including) 2200 (Python's calendar ends in 9999,
#: and cadences stepping past it would fail mid-run).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
#: Longest duration an input may give (a cadence, an offset, a wait): 100 years.
MAX_DURATION_YEARS = 100
#: Decimals (amounts) are plain digits with at most this many digits before the point, and 12 after.
MAX_DECIMAL_DIGITS = 15
_DECIMAL = re.compile(rf"-?[0-9]{{1,{MAX_DECIMAL_DIGITS}}}(?:\.[0-9]{{1,12}})?")
_MAX_DURATION_S = MAX_DURATION_YEARS * 365.25 * 86400


def instant_problem(t: datetime) -> str | None:
    """Why ``t`` is out of range, or None."""
    if not EARLIEST <= t < LATEST:
        return f"{t.isoformat()} is outside the supported range (years {EARLIEST.year} to {LATEST.year - 1})"
    return None


def duration_problem(text: str, d: Duration) -> str | None:
    """Why a duration written as ``text`` is refused (lowercase designators, too long), or None."""
    if any(c.islower() for c in text):
        return f"write ISO-8601 durations in capitals ({text.strip().upper()}, not {text.strip()})"
    if abs(d.approx_seconds()) > _MAX_DURATION_S:
        return f"{text.strip()} is longer than {MAX_DURATION_YEARS} years"
    return None


def decimal_problem(text: str) -> str | None:
    """Why ``text`` is not a plain decimal within the limits (``"12.50"``), or None."""
    if not _DECIMAL.fullmatch(text.strip()):
        return (
            f"not a plain decimal number: {text[:40]!r} (digits with an optional point, at most "
            f"{MAX_DECIMAL_DIGITS} digits before it and 12 after; no exponent)"
        )
    return None


def _size(n: int) -> str:
    return f"{n // MiB} MiB" if n >= MiB and n % MiB == 0 else f"{n // 1024} KiB"


def missing(path: str | Path) -> str:
    """Why ``path`` cannot be found: a symlink loop, a broken symlink, or no such file or folder."""
    name = str(path)
    if os.path.islink(name):
        try:
            os.stat(name)
        except OSError as err:
            if err.errno == errno.ELOOP:
                return "symbolic link loop"
            return "broken symbolic link (its target does not exist)"
    return "no such file or folder"


def read_input(path: str | Path, *, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else is an InputError.

    The file is checked with ``stat`` before it is opened, so a FIFO (which would block until a
    writer comes) or a device (``/dev/zero`` never ends) is refused without waiting.
    """
    name = str(path)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        if os.path.islink(name):
            raise InputError("broken symbolic link (its target does not exist)", file=name) from None
        raise InputError("no such file", file=name) from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise InputError("symbolic link loop", file=name) from None
        raise InputError(f"cannot read: {err.strerror or err}", file=name) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"is a folder, expected a {what}", file=name)
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a device or special file"
        raise InputError(f"is {kind}, expected a regular {what}", file=name)
    if st.st_size > limit:
        raise InputError(f"too large: {st.st_size} bytes, at most {_size(limit)} for a {what}", file=name)
    try:
        with open(name, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror or err}", file=name) from None
    if len(data) > limit:  # grew while we looked
        raise InputError(f"too large: more than {_size(limit)} for a {what}", file=name)
    return data


def decode_utf8(data: bytes, file: str) -> str:
    """UTF-8 text (a leading BOM dropped); other encodings and NUL bytes are InputErrors."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("UTF-16 text; save the file as UTF-8", file=file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(
            f"not UTF-8 text (byte 0x{data[err.start]:02x}); save the file as UTF-8", file=file, line=line
        ) from None
    text = text.removeprefix("\ufeff")
    nul = text.find("\x00")
    if nul >= 0:
        raise InputError("contains a NUL byte (binary data?)", file=file, line=text.count("\n", 0, nul) + 1)
    return text


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def json_depth_exceeds(text: str, limit: int = MAX_NESTING) -> bool:
    """True when the JSON ``text`` nests arrays/objects deeper than ``limit`` (linear; strings skipped)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for m in _JSON_TOKENS.finditer(text):
        ch = m.group()
        if ch in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif ch in ("]", "}"):
            depth -= 1
    return False


__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_CASE_BYTES",
    "MAX_DURATION_YEARS",
    "MAX_LOG_BYTES",
    "MAX_NESTING",
    "MAX_OPENAPI_BYTES",
    "MAX_RECORDING_BYTES",
    "MAX_SCENARIO_BYTES",
    "MAX_YAML_NODES",
    "decimal_problem",
    "decode_utf8",
    "duration_problem",
    "instant_problem",
    "json_depth_exceeds",
    "missing",
    "read_input",
]
