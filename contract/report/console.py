"""The console commands print to: the terminal as it is, or — in a pipe, a log, CI — no wrapping.

When standard output is not a terminal, nothing a reader may ``grep`` or copy (unique ids, URLs,
error texts) is ever folded across lines: the console is as wide as :data:`PLAIN_WIDTH` (a table
is as wide as its content needs) and the padding Rich adds up to the console's width is stripped
from every line.
"""

from __future__ import annotations

import sys
from typing import IO

from rich.console import Console

#: Width of the console when output is not a terminal: wider than any line this suite prints.
PLAIN_WIDTH = 10_000


class _Unpadded:
    """A text stream that drops trailing spaces from each line written (Rich pads to the width)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write("\n".join(line.rstrip(" ") for line in text.split("\n")))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", None) or "utf-8"


def output_console(*, highlight: bool = True) -> Console:
    """The terminal when stdout is one; otherwise a console that never wraps (see the module docstring)."""
    if sys.stdout.isatty():
        return Console(highlight=highlight)
    return Console(file=_Unpadded(sys.stdout), width=PLAIN_WIDTH, highlight=highlight)  # type: ignore[arg-type]


__all__ = ["PLAIN_WIDTH", "output_console"]
