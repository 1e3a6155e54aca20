"""A YAML node that knows its file and field path, with strict typed readers (scenario files).

:class:`YamlNode` reads composed nodes lazily and by YAML tag: a string must be written as a
string, a decimal as a quoted string (YAML numbers lose precision), a boolean as ``true``/
``false``. Every reader fails with an :class:`~contract.errors.InputError` reading
``file:line: field: reason``, the line being the offending node's own. Unknown keys come with a
"did you mean" hint (:func:`unknown`). Format-specific readers (a scenario's logical keys and time
expressions) live in a subclass; children are built with ``type(self)`` so they keep them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Self, TypeVar

import yaml

from contract.errors import InputError
from contract.limits import decimal_problem, duration_problem
from contract.model.time import Duration
from contract.yamlread.document import child_path

TAG = "tag:yaml.org,2002:"
_TYPE_NAMES = {
    TAG + "map": "a mapping",
    TAG + "seq": "a list",
    TAG + "str": "a string",
    TAG + "int": "an integer",
    TAG + "float": "a number",
    TAG + "bool": "a boolean",
    TAG + "null": "null",
    TAG + "timestamp": "a timestamp",
}
_NUMERIC = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_SCALARS = yaml.constructor.SafeConstructor()
_N = TypeVar("_N", bound="YamlNode")
QUOTE = 'write decimals as quoted strings: "{raw}", not {raw} (YAML numbers lose precision)'


class YamlNode:
    """A YAML node with its file and dotted field path; every accessor fails with InputError."""

    __slots__ = ("file", "node", "path")

    def __init__(self, node: yaml.Node, path: str, file: str) -> None:
        self.node = node
        self.path = path
        self.file = file

    def child(self, node: yaml.Node, path: str) -> Self:
        """Another node of the same file (and reader class) at ``path``."""
        return type(self)(node, path, self.file)

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def error(self, reason: str, path: str | None = None) -> InputError:
        where = path if path is not None else self.path
        return InputError(reason, file=self.file, line=self.line, field=where or None)

    def sub(self, key: str) -> str:
        return child_path(self.path, key)

    @property
    def tag(self) -> str:
        return str(self.node.tag)

    @property
    def is_null(self) -> bool:
        return self.tag == TAG + "null"

    def kind_name(self) -> str:
        return _TYPE_NAMES.get(self.tag, f"a value tagged {self.tag}")

    def expected(self, what: str) -> InputError:
        return self.error(f"expected {what}, got {self.kind_name()}")

    # -- containers

    def pairs(self) -> list[tuple[Self, Self]]:
        """A mapping's (key, value) nodes in file order, the value at ``path.key`` (keys unchecked)."""
        if not isinstance(self.node, yaml.MappingNode):
            raise self.expected("a mapping")
        return [(self.child(k, self.path), self.child(v, self.sub(str(k.value)))) for k, v in self.node.value]

    def key_names(self) -> list[str]:
        """The mapping's keys as written (unchecked), in file order."""
        return [str(k.node.value) for k, _ in self.pairs()]

    def mapping(self, allowed: Sequence[str], required: Sequence[str] = (), what: str = "key") -> dict[str, Self]:
        """The mapping's values by key; unknown, duplicate and missing keys are errors."""
        if self.is_null:
            node = yaml.MappingNode(TAG + "map", [], start_mark=self.node.start_mark)
            return self.child(node, self.path).mapping(allowed, required, what)
        out: dict[str, Self] = {}
        first_line: dict[str, int] = {}
        for key, value in self.pairs():
            if not isinstance(key.node, yaml.ScalarNode) or key.tag != TAG + "str":
                raise key.error(f"keys must be strings, got {key.kind_name()}")
            name = str(key.node.value)
            if name in out:
                raise key.error(f"duplicate key (first at line {first_line[name]})", self.sub(name))
            if name not in allowed:
                raise key.error(unknown(what, name, allowed), self.sub(name))
            out[name] = value
            first_line[name] = key.line
        for name in required:
            if name not in out:
                raise self.error("required field missing", self.sub(name))
        return out

    def seq(self) -> list[Self]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.expected("a list")
        return [self.child(n, f"{self.path}[{i}]") for i, n in enumerate(self.node.value)]

    # -- scalars

    def scalar(self, tags: Iterable[str], what: str) -> str:
        """The scalar's text when its tag is one of ``tags`` (``str``, ``int``, ...); else "expected what"."""
        if not isinstance(self.node, yaml.ScalarNode) or self.tag not in {TAG + t for t in tags}:
            raise self.expected(what)
        return str(self.node.value)

    def text(self) -> str:
        value = self.scalar(("str",), "a string")
        if not value.strip():
            raise self.error("must not be empty")
        return value

    def boolean(self) -> bool:
        self.scalar(("bool",), "true or false")
        assert isinstance(self.node, yaml.ScalarNode)
        return bool(_SCALARS.construct_yaml_bool(self.node))

    def integer(self) -> int:
        self.scalar(("int",), "an integer")
        assert isinstance(self.node, yaml.ScalarNode)
        return int(_SCALARS.construct_yaml_int(self.node))

    def decimal(self, *, positive: bool = False) -> Decimal:
        """A decimal written as a quoted string; YAML numbers are refused (they lose precision)."""
        if isinstance(self.node, yaml.ScalarNode) and self.tag in (TAG + "int", TAG + "float"):
            raise self.error(QUOTE.format(raw=str(self.node.value)))
        value = self.scalar(("str",), 'a quoted decimal string (e.g. "0.10")')
        if not _NUMERIC.match(value):
            raise self.error(f'not a decimal number: {value!r} (write digits, e.g. "10" or "0.10")')
        if (problem := decimal_problem(value)) is not None:
            raise self.error(problem)
        number = Decimal(value)
        if number < 0:
            raise self.error(f"must not be negative, got {value}")
        if positive and number == 0:
            raise self.error("must be greater than zero")
        return number

    def duration(self, *, positive: bool = True) -> Duration:
        value = self.scalar(("str",), "an ISO-8601 duration (e.g. P1M)")
        try:
            d = Duration.parse(value)
        except ValueError:
            raise self.error(f"not an ISO-8601 duration: {value!r} (e.g. P1M, P1W, PT30S)") from None
        negative = any(
            v < 0 for v in (d.years, d.months, d.weeks, d.days, d.hours, d.minutes, d.seconds, d.microseconds)
        )
        if negative or (positive and d.is_zero):
            raise self.error(
                f"must be a positive duration, got {value}" if positive else f"must not be negative, got {value}"
            )
        problem = duration_problem(value, d)
        if problem is not None:
            raise self.error(problem)
        return d

    def choice(self, options: Sequence[str], what: str) -> str:
        value = self.scalar(("str",), f"one of {', '.join(options)}")
        if value not in options:
            raise self.error(unknown(what, value, options))
        return value


def optional(m: Mapping[str, _N], key: str) -> _N | None:
    """The value at ``key`` unless absent or null."""
    n = m.get(key)
    return None if n is None or n.is_null else n


def optional_text(m: Mapping[str, YamlNode], key: str) -> str | None:
    n = optional(m, key)
    return n.text() if n is not None else None


def unknown(what: str, name: str, allowed: Sequence[str]) -> str:
    """``unknown <what> 'name'; did you mean ...? (allowed: ...)``."""
    if not allowed:
        return f"unknown {what} {name!r} (none are allowed)"
    return f"unknown {what} {name!r}{hint(name, allowed)} (allowed: {', '.join(allowed)})"


def missing_ref(what: str, name: str, defined: Iterable[str]) -> str:
    """``unknown <what> 'name'; did you mean ...? (defined: ...)`` for a reference to something defined."""
    names = list(defined)
    return f"unknown {what} {name!r}{hint(name, names)} (defined: {', '.join(names) or 'none'})"


def hint(name: str, known: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the closest known name (same letters in another case first)."""
    names = list(known)
    same_case = [k for k in names if k.lower() == name.lower()]
    close = same_case or difflib.get_close_matches(name, names, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


__all__ = ["QUOTE", "TAG", "YamlNode", "hint", "missing_ref", "optional", "optional_text", "unknown"]
