"""Compose a YAML document into nodes with bounded nesting and bounded alias expansion.

PyYAML's composer recurses once per nesting level (5,000 nested brackets end in a
``RecursionError``), and an alias is one node however often it is used, so a "billion laughs"
document is small as nodes but explodes when walked. :func:`compose` counts as it composes: the
nesting depth and the number of nodes the document holds once every alias is expanded. Past
:data:`~contract.limits.MAX_NESTING` levels or :data:`~contract.limits.MAX_YAML_NODES` nodes it
stops with an :class:`~contract.errors.InputError` naming the line; a recursive alias (``&a [*a]``)
is refused too. Callers walk the nodes afterwards without any risk of explosion.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent

from contract.errors import InputError
from contract.limits import MAX_NESTING, MAX_YAML_NODES


class _BoundedLoader(yaml.SafeLoader):
    file = "-"
    max_depth = MAX_NESTING
    max_nodes = MAX_YAML_NODES

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._total = 0
        self._weights: dict[int, int] = {}

    def _fail(self, reason: str, mark: Any) -> InputError:
        line = int(mark.line) + 1 if mark is not None else None
        return InputError(reason, file=self.file, line=line)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            node = super().compose_node(parent, index)
            weight = self._weights.get(id(node))
            if weight is None:
                raise self._fail(f"alias *{event.anchor} refers to a node that contains it", event.start_mark)
            self._add(weight, event.start_mark)
            return node
        event = self.peek_event()  # type: ignore[no-untyped-call]
        self._depth += 1
        if self._depth > self.max_depth:
            raise self._fail(f"nested deeper than {self.max_depth} levels", event.start_mark)
        before = self._total
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._add(1, event.start_mark)
        self._weights[id(node)] = self._total - before
        return node

    def _add(self, weight: int, mark: Any) -> None:
        self._total += weight
        if self._total > self.max_nodes:
            raise self._fail(f"more than {self.max_nodes} values once aliases are expanded (an alias bomb?)", mark)


def compose(text: str, file: str) -> yaml.Node | None:
    """The node tree of one YAML document (None when empty); limits as in the module docstring.

    YAML syntax errors are raised as PyYAML raises them (``yaml.YAMLError``); limit violations as
    :class:`~contract.errors.InputError`.
    """
    loader = _BoundedLoader(text)
    loader.file = file
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


__all__ = ["compose"]
