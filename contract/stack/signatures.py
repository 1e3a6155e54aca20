"""Known failure signatures in OpenMeter's worker logs, and scanning records for them.

The catalogue lives in ``signatures.yaml`` beside this module (package data). A signature matches
a record on its *text* -- the message and the error text -- never on key names, so the same
catalogue reads the JSON and the slog-text formats.

:func:`scan` groups matching records per (signature, subscription, unique id): ``attempts`` is the
number of delivery attempts seen for that subscription and unique id (the largest count among the
per-attempt warnings), ``first``/``last`` the timestamps of the first and last line. Lines are
attributed to a subscription from, in order: a unique reference id in the error text
(``<subscription>/<phase>/<item>/v[n]/period[k]``), the CloudEvent ``ce_source`` of the message
metadata (``//openmeter.io/namespace/<ns>/subscription/<id>``), the message payload, a
``subscription <id>`` in the error text, and any attribute holding such a ``ce_source``. Several
subscriptions in one log are kept apart.

Severity: ``conclusive`` signatures are failures by themselves (the DLQ line, the #4412
duplicate-unique-id error, a panic, a failed reconcile). ``transient`` ones (a retried attempt, the
``not found`` race on the created event) are not -- unless the same subscription and unique id
reached the DLQ, which makes them conclusive too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from contract.errors import InputError
from contract.worklog.records import LogRecord

__all__ = [
    "Signature",
    "SignatureMatch",
    "default_catalogue",
    "load_catalogue",
    "scan",
    "subscription_of",
    "unique_id_of",
]

Severity = Literal["conclusive", "transient"]
_SEVERITIES: tuple[Severity, ...] = ("conclusive", "transient")
_ULID = r"[0-9A-HJKMNP-TV-Z]{26}"
_CE_SOURCE = re.compile(rf"//openmeter\.io/namespace/[^/\s\"]+/subscription/(?P<id>{_ULID})")
_UNIQUE_ID = re.compile(rf"^(?P<sub>{_ULID})/[^/\s]+/[^/\s]+/v\[\d+\]/period\[\d+\]$")
_METADATA_KEYS = ("message_metadata", "message.metadata")
_PAYLOAD_KEYS = ("message_payload", "message.payload")
_CATALOGUE_FILE = "signatures.yaml"
_UPSTREAM = re.compile(r"[\w.-]+/[\w.-]+#\d+")


@dataclass(frozen=True, slots=True)
class Signature:
    """One known failure signature (see ``signatures.yaml`` for the meaning of each field)."""

    id: str
    title: str
    pattern: re.Pattern[str]
    severity: Severity
    levels: tuple[str, ...] = ()
    attempt: bool = False
    terminal: bool = False
    upstream: str | None = None
    explanation: str = ""

    def search(self, record: LogRecord) -> re.Match[str] | Literal[True] | None:
        """The regex match in the record's text, True for a level-only match, None for no match."""
        found = self.pattern.search(record.text())
        if found is not None:
            return found
        if record.level and record.level in self.levels:
            return True
        return None


@dataclass(frozen=True, slots=True)
class SignatureMatch:
    """Records that matched one signature for one subscription and unique id."""

    signature: Signature
    subscription_id: str | None
    unique_id: str | None
    attempts: int
    first: datetime | None
    last: datetime | None
    records: tuple[LogRecord, ...]
    conclusive: bool

    @property
    def lines(self) -> tuple[str, ...]:
        """The matching log lines, as written."""
        return tuple(r.raw for r in self.records)

    @property
    def error_text(self) -> str | None:
        """The first error text among the matching lines (or None)."""
        return next((r.error_message for r in self.records if r.error_message), None)


# -- catalogue ---------------------------------------------------------------------------------


def _entry_error(source: str, index: int, key: str, reason: str) -> InputError:
    return InputError(reason, file=source, field=f"signatures[{index}].{key}")


def _parse_catalogue(text: str, source: str) -> tuple[Signature, ...]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(f"not valid YAML ({getattr(err, 'problem', None) or err})", file=source, line=line) from err
    entries = doc.get("signatures") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InputError("expected a non-empty list", file=source, field="signatures")
    seen: set[str] = set()
    catalogue: list[Signature] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise _entry_error(source, index, "", "expected a mapping")
        unknown = set(entry) - {
            "id",
            "title",
            "pattern",
            "levels",
            "severity",
            "attempt",
            "terminal",
            "upstream",
            "explanation",
        }
        if unknown:
            raise _entry_error(source, index, sorted(unknown)[0], "unknown key")
        sig_id = entry.get("id")
        if not isinstance(sig_id, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", sig_id):
            raise _entry_error(source, index, "id", "expected a lower-case name like duplicate-unique-id")
        if sig_id in seen:
            raise _entry_error(source, index, "id", f"duplicate id {sig_id!r}")
        seen.add(sig_id)
        pattern_text = entry.get("pattern")
        if not isinstance(pattern_text, str) or not pattern_text:
            raise _entry_error(source, index, "pattern", "expected a regular expression")
        try:
            pattern = re.compile(pattern_text)
        except re.error as err:
            raise _entry_error(source, index, "pattern", f"invalid regular expression: {err}") from err
        severity = entry.get("severity")
        if severity not in _SEVERITIES:
            raise _entry_error(source, index, "severity", "expected conclusive or transient")
        levels = entry.get("levels", [])
        if not isinstance(levels, list) or not all(isinstance(v, str) for v in levels):
            raise _entry_error(source, index, "levels", "expected a list of level names")
        upstream = entry.get("upstream")
        if upstream is not None and not (isinstance(upstream, str) and _UPSTREAM.fullmatch(upstream)):
            raise _entry_error(source, index, "upstream", "expected owner/repo#number")
        flags = {}
        for key in ("attempt", "terminal"):
            flag = entry.get(key, False)
            if not isinstance(flag, bool):
                raise _entry_error(source, index, key, "expected true or false")
            flags[key] = flag
        catalogue.append(
            Signature(
                id=sig_id,
                title=str(entry.get("title") or sig_id),
                pattern=pattern,
                severity=severity,
                levels=tuple(v.upper() for v in levels),
                attempt=flags["attempt"],
                terminal=flags["terminal"],
                upstream=upstream,
                explanation=str(entry.get("explanation") or "").strip(),
            )
        )
    return tuple(catalogue)


def load_catalogue(path: str | Path | None = None) -> tuple[Signature, ...]:
    """Read a signature catalogue; without ``path``, the one shipped in this package."""
    if path is None:
        return default_catalogue()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read signature catalogue: {err.strerror or err}", file=str(file)) from err
    return _parse_catalogue(text, str(file))


@lru_cache(maxsize=1)
def default_catalogue() -> tuple[Signature, ...]:
    """The catalogue in ``contract/stack/signatures.yaml``."""
    text = resources.files("contract.stack").joinpath(_CATALOGUE_FILE).read_text(encoding="utf-8")
    return _parse_catalogue(text, f"contract/stack/{_CATALOGUE_FILE}")


# -- attribution -------------------------------------------------------------------------------


def _ce_source_in(value: object) -> str | None:
    if isinstance(value, str):
        found = _CE_SOURCE.search(value)
        return found.group("id") if found else None
    if isinstance(value, Mapping):
        direct = value.get("ce_source")
        if isinstance(direct, str):
            found = _CE_SOURCE.search(direct)
            if found:
                return found.group("id")
        for inner in value.values():
            sub = _ce_source_in(inner)
            if sub:
                return sub
    if isinstance(value, list | tuple):
        for inner in value:
            sub = _ce_source_in(inner)
            if sub:
                return sub
    return None


def _from_payload(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        payload: Any = json.loads(value)
    except ValueError:
        return _ce_source_in(value)
    if not isinstance(payload, dict):
        return None
    source = payload.get("source")
    if isinstance(source, str):
        found = _CE_SOURCE.search(source)
        if found:
            return found.group("id")
    data = payload.get("data")
    subscription = data.get("subscription") if isinstance(data, dict) else None
    sub_id = subscription.get("id") if isinstance(subscription, dict) else None
    if isinstance(sub_id, str) and re.fullmatch(_ULID, sub_id):
        return sub_id
    return None


def _captures(record: LogRecord, catalogue: Sequence[Signature]) -> tuple[str | None, str | None]:
    """(unique id, subscription) captured by the catalogue's patterns in the record's text."""
    unique_id: str | None = None
    subscription: str | None = None
    text = record.text()
    for signature in catalogue:
        for found in signature.pattern.finditer(text):
            groups = found.groupdict()
            if unique_id is None and groups.get("unique_id"):
                unique_id = groups["unique_id"]
            if subscription is None and groups.get("subscription"):
                subscription = groups["subscription"]
    return unique_id, subscription


def _attribute(record: LogRecord, catalogue: Sequence[Signature]) -> tuple[str | None, str | None]:
    """(subscription id, unique id) of a record; see the module docstring for the order."""
    unique_id, captured_sub = _captures(record, catalogue)
    if unique_id:
        owner = _UNIQUE_ID.match(unique_id)
        if owner:
            return owner.group("sub"), unique_id
    for key in _METADATA_KEYS:
        sub = _ce_source_in(record.attrs.get(key))
        if sub:
            return sub, unique_id
    for key in _PAYLOAD_KEYS:
        sub = _from_payload(record.attrs.get(key))
        if sub:
            return sub, unique_id
    if captured_sub:
        return captured_sub, unique_id
    return _ce_source_in(dict(record.attrs)), unique_id


def subscription_of(record: LogRecord, catalogue: Sequence[Signature] | None = None) -> str | None:
    """The subscription a log record is about, or None when it names none."""
    return _attribute(record, catalogue if catalogue is not None else default_catalogue())[0]


def unique_id_of(record: LogRecord, catalogue: Sequence[Signature] | None = None) -> str | None:
    """The unique reference id a record's error text names (e.g. the duplicate one), or None."""
    return _attribute(record, catalogue if catalogue is not None else default_catalogue())[1]


# -- scanning ----------------------------------------------------------------------------------

GroupKey = tuple[str | None, str | None]  # (subscription, unique id)


def scan(
    records: Iterable[LogRecord],
    subscription_ids: Iterable[str] | None = None,
    catalogue: Sequence[Signature] | None = None,
) -> list[SignatureMatch]:
    """Find known failure signatures in ``records``, grouped per (signature, subscription, unique id).

    With ``subscription_ids``, only matches attributed to one of them are returned -- plus
    conclusive matches attributed to no subscription at all (a panic can explain any failure).
    Matches come in order of their first line's time, then catalogue order.
    """
    sigs = tuple(catalogue if catalogue is not None else default_catalogue())
    order = {s.id: i for i, s in enumerate(sigs)}
    grouped: dict[tuple[str, str | None, str | None], list[LogRecord]] = {}
    attempt_counts: dict[GroupKey, dict[str, int]] = {}
    terminal_keys: set[GroupKey] = set()
    first_seen: dict[tuple[str, str | None, str | None], int] = {}

    for position, record in enumerate(records):
        matched = [s for s in sigs if s.search(record) is not None]
        if not matched:
            continue
        subscription, unique_id = _attribute(record, sigs)
        key: GroupKey = (subscription, unique_id)
        for signature in matched:
            group = (signature.id, subscription, unique_id)
            grouped.setdefault(group, []).append(record)
            first_seen.setdefault(group, position)
            if signature.attempt:
                counts = attempt_counts.setdefault(key, {})
                counts[signature.id] = counts.get(signature.id, 0) + 1
            if signature.terminal:
                terminal_keys.add(key)

    wanted = set(subscription_ids) if subscription_ids is not None else None
    by_id = {s.id: s for s in sigs}
    matches: list[tuple[tuple[Any, ...], SignatureMatch]] = []
    for (sig_id, subscription, unique_id), group_records in grouped.items():
        signature = by_id[sig_id]
        conclusive = signature.severity == "conclusive" or (subscription, unique_id) in terminal_keys
        if wanted is not None and subscription not in wanted and not (subscription is None and conclusive):
            continue
        stamps = [r.ts for r in group_records if r.ts is not None]
        counts = attempt_counts.get((subscription, unique_id), {})
        match = SignatureMatch(
            signature=signature,
            subscription_id=subscription,
            unique_id=unique_id,
            attempts=max(counts.values(), default=0),
            first=min(stamps) if stamps else None,
            last=max(stamps) if stamps else None,
            records=tuple(group_records),
            conclusive=conclusive,
        )
        sort_key = (
            match.first is None,
            match.first or datetime.min,
            order[sig_id],
            first_seen[(sig_id, subscription, unique_id)],
        )
        matches.append((sort_key, match))
    matches.sort(key=lambda pair: pair[0])
    return [m for _, m in matches]
