"""YAML values that remember where they came from, for one-line ``file:line: field: reason`` errors.

:func:`parse_yaml` composes a document with PyYAML (``yaml.compose``) and keeps every value's
line; :func:`from_data` wraps already-loaded plain data (every value gets the given line).
Readers (:meth:`Located.mapping`, :meth:`Located.text`, :meth:`Located.time`, ...) raise
:class:`~contract.errors.InputError` naming the file, the line, the field path and the reason.
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
from contract.yamlbounds import compose as bounded_compose

# libyaml's parser when PyYAML was built with it (10x faster); marks and errors are the same


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
                    "required field is missing", file=self.file, line=self.line, field=_child_path(self.path, key)
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


def _child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _from_node(node: yaml.Node, path: str, file: str, constructor: yaml.constructor.SafeConstructor) -> Located:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        entries: dict[str, Located] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise InputError(
                    "mapping keys must be plain strings",
                    file=file,
                    line=key_node.start_mark.line + 1,
                    field=path or None,
                )
            key = str(key_node.value)
            child = _child_path(path, key)
            if key in entries:
                raise InputError("duplicate key", file=file, line=key_node.start_mark.line + 1, field=child)
            entries[key] = _from_node(value_node, child, file, constructor)
        return Located(entries, line, path, file)
    if isinstance(node, yaml.SequenceNode):
        values = [_from_node(v, _child_path(path, i), file, constructor) for i, v in enumerate(node.value)]
        return Located(values, line, path, file)
    try:
        value = constructor.construct_object(node)
    except yaml.YAMLError as err:
        raise InputError(f"unreadable value: {err}", file=file, line=line, field=path or None) from None
    return Located(value, line, path, file)


def parse_yaml(text: str, file: str) -> Located:
    """Compose one YAML document into a :class:`Located` tree (syntax errors name their line)."""
    try:
        node = bounded_compose(text, file)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        raise InputError(f"not valid YAML: {err.problem or err}", file=file, line=line) from None
    except yaml.YAMLError as err:
        raise InputError(f"not valid YAML: {err}", file=file) from None
    if node is None:
        raise InputError("empty file", file=file, line=1)
    return _from_node(node, "", file, yaml.constructor.SafeConstructor())


def from_node(node: yaml.Node, *, file: str, path: str) -> Located:
    """A composed YAML node (e.g. a scenario's ``expect`` block) as a :class:`Located` tree, each
    value with its own line."""
    return _from_node(node, path, file, yaml.constructor.SafeConstructor())


def from_data(data: Any, *, file: str, line: int, path: str) -> Located:
    """Wrap plain loaded data (``yaml.safe_load`` output); every value reports ``line``."""
    if isinstance(data, Mapping):
        return Located(
            {str(k): from_data(v, file=file, line=line, path=_child_path(path, str(k))) for k, v in data.items()},
            line,
            path,
            file,
        )
    if isinstance(data, list | tuple):
        values = [from_data(v, file=file, line=line, path=_child_path(path, i)) for i, v in enumerate(data)]
        return Located(values, line, path, file)
    return Located(data, line, path, file)


__all__ = ["Located", "from_data", "from_node", "parse_yaml"]
