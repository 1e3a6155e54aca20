"""One YAML document as a node tree, with syntax errors as one-line ``file:line: reason`` errors.

:func:`compose_document` is the single place where a scenario file or an oracle case becomes YAML
nodes: it composes with bounded nesting and alias expansion (:mod:`contract.yamlbounds`) and turns
PyYAML's multi-line syntax errors into an :class:`~contract.errors.InputError` naming the line.
The two formats word their syntax and empty-file errors differently (tests and users rely on the
wording), so the caller passes those words in. :func:`child_path` spells field paths
(``steps[3].cancel.timing``) for both readers.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from contract.errors import InputError
from contract.yamlbounds import compose as bounded_compose


@dataclass(frozen=True, slots=True)
class Wording:
    """How a format names a syntax error (``<syntax>: <problem>``) and an empty document."""

    syntax: str
    empty: str
    empty_line: int | None = None


def compose_document(text: str, file: str, wording: Wording) -> yaml.Node:
    """The node tree of ``text`` (one document); syntax errors, limits and emptiness as InputError."""
    try:
        node = bounded_compose(text, file)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or str(err)
        line = int(mark.line) + 1 if mark is not None else None
        raise InputError(f"{wording.syntax}: {problem}", file=file, line=line) from None
    except yaml.YAMLError as err:
        raise InputError(f"{wording.syntax}: {err}", file=file) from None
    if node is None:
        raise InputError(wording.empty, file=file, line=wording.empty_line)
    return node


def child_path(path: str, key: str | int) -> str:
    """``path.key`` for a mapping entry (``key`` at the top), ``path[i]`` for a list item."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


__all__ = ["Wording", "child_path", "compose_document"]
