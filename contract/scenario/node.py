"""Scenario YAML nodes: the shared strict reader plus a scenario's own readers (keys, times).

:class:`ScenarioNode` is a :class:`~contract.yamlread.YamlNode` that also reads a logical key
(OpenMeter's key pattern, short enough for the run suffix), a time expression
(:mod:`contract.scenario.timeexpr`) and a currency code. :func:`read_scenario_file` reads a file
(bounded size, UTF-8) into the root node, with the scenario format's wording for syntax errors.
"""

from __future__ import annotations

import re
from pathlib import Path

from contract.limits import MAX_SCENARIO_BYTES, decode_utf8, read_input
from contract.scenario.runkeys import KEY_PATTERN, MAX_LOGICAL_KEY_LENGTH
from contract.scenario.timeexpr import TimeExpr, TimeExprError, parse_time_expr
from contract.yamlread import Wording, YamlNode, compose_document

#: How scenario files word a syntax error and an empty file.
SCENARIO_WORDING = Wording(
    syntax="invalid YAML", empty="empty file: expected a scenario (a mapping with id, title, provenance, ...)"
)
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class ScenarioNode(YamlNode):
    """A node of a scenario file; see :class:`~contract.yamlread.YamlNode` for the common readers."""

    __slots__ = ()

    def time(self) -> TimeExpr:
        value = self.scalar(("str", "timestamp"), "a time expression (e.g. now, now-P1W+PT30S)")
        try:
            return parse_time_expr(value)
        except TimeExprError as err:
            raise self.error(str(err)) from None

    def key(self) -> str:
        """A logical key: OpenMeter's key pattern, short enough for the run suffix."""
        value = self.scalar(("str",), "a key (e.g. api_calls)")
        if not KEY_PATTERN.match(value):
            raise self.error(
                f"key {value!r} must match {KEY_PATTERN.pattern} (lowercase letters and digits, single underscores)"
            )
        if len(value) > MAX_LOGICAL_KEY_LENGTH:
            raise self.error(
                f"key {value!r} has {len(value)} characters; at most {MAX_LOGICAL_KEY_LENGTH} "
                "(the run id is appended to make it unique)"
            )
        return value

    def currency(self) -> str:
        value = self.scalar(("str",), "a currency code (e.g. USD)")
        if not _CURRENCY.match(value):
            raise self.error(f"currency {value!r} must be a 3-letter ISO 4217 code in capitals (e.g. USD)")
        return value


def read_scenario_file(path: Path) -> ScenarioNode:
    """The root node of the scenario file at ``path``; unreadable files are :class:`~contract.errors.InputError` s."""
    file = str(path)
    text = decode_utf8(read_input(path, limit=MAX_SCENARIO_BYTES, what="scenario file"), file)
    return ScenarioNode(compose_document(text, file, SCENARIO_WORDING), "", file)


__all__ = ["SCENARIO_WORDING", "ScenarioNode", "read_scenario_file"]
