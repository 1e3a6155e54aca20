"""Errors a user can cause, each with the exit code the CLI maps it to.

Exit codes (shared by ``omcontract`` and usable by ``git bisect run``):
0 everything agrees, 1 a disagreement, 2 bad input, 3 OpenMeter unreachable or failing,
4 internal error (a bug in this suite: please report it).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_DISAGREE = 1
EXIT_BAD_INPUT = 2
EXIT_NO_OPENMETER = 3
EXIT_INTERNAL = 4


class ContractUserError(Exception):
    """A problem the user can fix; reported in one line, no traceback."""

    exit_code = EXIT_BAD_INPUT


class InputError(ContractUserError):
    """Bad input file or option. ``str(err)`` reads ``file:line: field: reason``."""

    def __init__(
        self, reason: str, *, file: str | None = None, line: int | None = None, field: str | None = None
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.reason = reason
        where = ""
        if file:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        what = f"{field}: " if field else ""
        super().__init__(f"{where}{what}{reason}")


class NoOpenMeterError(ContractUserError):
    """No OpenMeter to talk to (no Docker engine, unreachable URL, stack failed to boot)."""

    exit_code = EXIT_NO_OPENMETER
