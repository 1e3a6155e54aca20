"""YAML values that remember where they came from, with lenient typed readers (oracle cases).

:func:`parse_yaml` composes a document (:func:`~contract.yamlread.document.compose_document`) and
walks it once (:class:`~contract.yamlread.node.YamlNode`) into a :class:`Located` tree of
constructed values, each with its own line; :func:`from_node` does the same for a part of a
document already composed (a scenario's ``expect`` block), :func:`from_data` wraps plain loaded
data (every value gets the given line). Readers (:meth:`Located.mapping`, :meth:`Located.text`,
:meth:`Located.time`, ...) read constructed values, so a string may be written as a number, and
raise :class:`~contract.errors.InputError` naming the file, the line, the field path and the
reason, worded as shared/oracle/FORMAT.md's tests expect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from contract.errors import InputError
from contract.limits import decimal_problem, duration_problem, instant_problem
from contract.model.time import Duration, Period, parse_time
from contract.yamlread.document import Wording, child_path, compose_document
from contract.yamlread.node import YamlNode

#: How oracle cases word a syntax error and an empty file.
CASE_WORDING = Wording(syntax="not valid YAML", empty="empty file", empty_line=1)


class Located:
    """A value (``dict[str, Located]``, ``list[Located]`` or a scalar) with its file, line and path."""

    __slots__ = ("file", "line", "path", "value")

    def __init__(self, value: Any, line: int, path: str, file: str) -> None:
        self.value = value
        self.line = line
        self.path = path
        self.file = file

    def __repr__(self) -> str:
        return f"Located({self.path}@{self.line}: {self.value!r})"

    # errors ------------------------------------------------------------------------------------
    def error(self, reason: str) -> InputError:
        return InputError(reason, file=self.file, line=self.line, field=self.path or None)

    # structure ---------------------------------------------------------------------------------
    def mapping(self, allowed: Sequence[str] = (), required: Sequence[str] = ()) -> dict[str, Located]:
        """The mapping's entries; unknown keys (when ``allowed`` is given) and missing required
        keys are errors."""
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {_kind(self.value)}")
        entries: dict[str, Located] = self.value
        if allowed:
            for key, val in entries.items():
                if key not in allowed:
                    raise val.error(f"unknown field (allowed: {', '.join(allowed)})")
        for key in required:
            if key not in entries:
                raise InputError(
                    "required field is missing", file=self.file, line=self.line, field=child_path(self.path, key)
                )
        return entries

    def seq(self) -> list[Located]:
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, got {_kind(self.value)}")
        items: list[Located] = self.value
        return items

    @property
    def is_null(self) -> bool:
        return self.value is None

    # scalars -----------------------------------------------------------------------------------
    def text(self) -> str:
        if isinstance(self.value, bool) or not isinstance(self.value, str | int):
            raise self.error(f"expected a string, got {_kind(self.value)}")
        text = str(self.value)
        if not text.strip():
            raise self.error("must not be empty")
        return text

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.error(f"expected true or false, got {_kind(self.value)}")
        return self.value

    def time(self) -> datetime:
        value = self.value
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise self.error(f"timestamp {value.isoformat()} has no time zone (write Z)")
            return self._in_range(value.astimezone(UTC))
        if not isinstance(value, str):
            raise self.error(f"expected an RFC 3339 timestamp, got {_kind(value)}")
        try:
            return self._in_range(parse_time(value))
        except ValueError:
            raise self.error(f"not an RFC 3339 timestamp: {value!r}") from None

    def _in_range(self, t: datetime) -> datetime:
        problem = instant_problem(t)
        if problem is not None:
            raise self.error(problem)
        return t

    def duration(self) -> Duration:
        if not isinstance(self.value, str):
            raise self.error(f"expected an ISO 8601 duration, got {_kind(self.value)}")
        try:
            d = Duration.parse(self.value)
        except ValueError:
            raise self.error(f"not an ISO 8601 duration: {self.value!r}") from None
        problem = duration_problem(self.value, d)
        if problem is not None:
            raise self.error(problem)
        return d

    def decimal(self, *, negative: bool = True) -> Decimal:
        """A decimal written as a string (or an integer); ``negative=False`` for amounts that cannot be."""
        value = self.value
        if isinstance(value, (bool, float)) or not isinstance(value, str | int):
            raise self.error(f'expected a decimal number written as a string ("2.26"), got {_kind(value)}')
        problem = decimal_problem(str(value))
        if problem is not None:
            raise self.error(problem)
        if not negative and str(value).strip().startswith("-"):
            raise self.error(f"must not be negative, got {value}")
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise self.error(f"not a decimal number: {value!r}") from None
        if not result.is_finite():
            raise self.error(f"not a decimal number: {value!r}")
        return result

    def integer(self) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.error(f"expected an integer, got {_kind(self.value)}")
        return self.value

    def period(self) -> Period:
        items = self.seq()
        if len(items) != 2:
            raise self.error(f"expected a period [from, to], got {len(items)} values")
        start, end = items[0].time(), items[1].time()
        if end < start:
            raise self.error("period ends before it starts")
        return Period(start, end)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, float):
        return f"a float ({value!r})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, datetime):
        return "a timestamp"
    return f"{type(value).__name__} {value!r}"


def _walk(n: YamlNode, constructor: yaml.constructor.SafeConstructor) -> Located:
    if isinstance(n.node, yaml.MappingNode):
        entries: dict[str, Located] = {}
        for key, value in n.pairs():
            if not isinstance(key.node, yaml.ScalarNode):
                raise key.error("mapping keys must be plain strings")
            name = str(key.node.value)
            if name in entries:
                raise key.error("duplicate key", value.path)
            entries[name] = _walk(value, constructor)
        return Located(entries, n.line, n.path, n.file)
    if isinstance(n.node, yaml.SequenceNode):
        return Located([_walk(item, constructor) for item in n.seq()], n.line, n.path, n.file)
    try:
        constructed = constructor.construct_object(n.node)
    except yaml.YAMLError as err:
        raise n.error(f"unreadable value: {err}") from None
    return Located(constructed, n.line, n.path, n.file)


def parse_yaml(text: str, file: str) -> Located:
    """Compose one YAML document into a :class:`Located` tree (syntax errors name their line)."""
    return _walk(YamlNode(compose_document(text, file, CASE_WORDING), "", file), yaml.constructor.SafeConstructor())


def from_node(node: YamlNode) -> Located:
    """A composed YAML node (e.g. a scenario's ``expect`` block) as a :class:`Located` tree, each
    value with its own line."""
    return _walk(node, yaml.constructor.SafeConstructor())


def from_data(data: Any, *, file: str, line: int, path: str) -> Located:
    """Wrap plain loaded data (``yaml.safe_load`` output); every value reports ``line``."""
    if isinstance(data, Mapping):
        return Located(
            {str(k): from_data(v, file=file, line=line, path=child_path(path, str(k))) for k, v in data.items()},
            line,
            path,
            file,
        )
    if isinstance(data, list | tuple):
        values = [from_data(v, file=file, line=line, path=child_path(path, i)) for i, v in enumerate(data)]
        return Located(values, line, path, file)
    return Located(data, line, path, file)


__all__ = ["CASE_WORDING", "Located", "from_data", "from_node", "parse_yaml"]
