"""Run a command with a hard deadline.

``subprocess.run(timeout=...)`` kills only the direct child; a grandchild that keeps the output pipes
open (a shell pipeline, the ``docker`` CLI running its compose plugin) then blocks the collection of
output forever. Here the command gets its own process group and the whole group is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Finished", "kill", "run"]


@dataclass(frozen=True, slots=True)
class Finished:
    """How a command ended: ``returncode`` is None when it was killed at its deadline."""

    returncode: int | None
    stdout: bytes
    stderr: bytes

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def run(
    command: str | Sequence[str],
    *,
    timeout: float,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    started: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> Finished:
    """Run ``command`` (a shell string, or an argv list) and wait at most ``timeout`` seconds.

    ``started`` receives the process (e.g. to :func:`kill` it from another thread). An interruption
    while waiting (Ctrl-C) kills the command's process group before it propagates."""
    proc = subprocess.Popen(
        command if isinstance(command, str) else list(command),
        shell=isinstance(command, str),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=None if env is None else dict(env),
        start_new_session=True,
    )
    if started is not None:
        started(proc)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            stdout, stderr = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # something escaped the group and holds the pipes
            proc.kill()
            stdout, stderr = b"", b""
        return Finished(None, stdout or b"", stderr or b"")
    except BaseException:
        kill(proc)
        raise
    return Finished(proc.returncode, stdout, stderr)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc``'s whole process group (it runs in its own session); no error if it is gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
