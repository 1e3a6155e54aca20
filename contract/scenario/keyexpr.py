"""The ``-k`` expression that selects scenarios by id, as pytest's ``-k`` selects tests.

A word matches when it is a case-insensitive substring of the id; words combine with ``not``,
``and``, ``or`` (that precedence) and parentheses. :func:`select` keeps the scenarios a
``-k`` expression matches; a malformed expression is an :class:`~contract.errors.InputError`
for the ``-k`` option, and nesting is bounded (:data:`~contract.limits.MAX_NESTING`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from contract.errors import InputError
from contract.limits import MAX_NESTING
from contract.scenario.model import Scenario

_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")
_Pred = Callable[[str], bool]


def select(scenarios: Sequence[Scenario], k_expression: str | None) -> list[Scenario]:
    """Scenarios whose id matches a ``-k`` expression, in their order.

    A word matches when it is a case-insensitive substring of the id; words combine with
    ``not``, ``and``, ``or`` (that precedence) and parentheses. An empty expression selects all.
    """
    if k_expression is None or not k_expression.strip():
        return list(scenarios)
    predicate = _KParser(k_expression).parse()
    return [s for s in scenarios if predicate(s.id.lower())]


class _KParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _TOKEN.findall(text)
        self.pos = 0
        self.depth = 0

    def error(self, reason: str) -> InputError:
        shown = self.text if len(self.text) <= 80 else self.text[:77] + "..."
        return InputError(f"bad selection {shown!r}: {reason}", field="-k")

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end (expected a word, 'not' or '(')")
        self.pos += 1
        return token

    def parse(self) -> _Pred:
        predicate = self.or_()
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()!r}")
        return predicate

    def or_(self) -> _Pred:
        return self._chain("or", self.and_, _either)

    def and_(self) -> _Pred:
        return self._chain("and", self.not_, _both)

    def _chain(self, word: str, operand: Callable[[], _Pred], combine: Callable[[_Pred, _Pred], _Pred]) -> _Pred:
        """``operand (word operand)*``, combined left to right."""
        left = operand()
        while self.peek() == word:
            self.take()
            left = combine(left, operand())
        return left

    def not_(self) -> _Pred:
        token = self.take()
        if token in ("not", "("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.error(f"more than {MAX_NESTING} nested 'not's and parentheses")
        if token == "not":
            inner = self.not_()
            self.depth -= 1
            return lambda s: not inner(s)
        if token == "(":
            inner = self.or_()
            if self.take() != ")":
                raise self.error("expected ')'")
            self.depth -= 1
            return inner
        if token in ("and", "or", ")"):
            raise self.error(f"unexpected {token!r} (expected a word, 'not' or '(')")
        word = token.lower()
        return lambda s: word in s


def _either(a: _Pred, b: _Pred) -> _Pred:
    return lambda s: a(s) or b(s)


def _both(a: _Pred, b: _Pred) -> _Pred:
    return lambda s: a(s) and b(s)


__all__ = ["select"]
