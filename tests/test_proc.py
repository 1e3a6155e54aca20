"""contract.proc: commands end at their deadline, grandchildren included."""

from __future__ import annotations

import os
import time
from pathlib import Path

from contract.proc import run


def test_output_and_exit_code_of_a_finished_command() -> None:
    done = run("echo out; echo err >&2; exit 3", timeout=10)
    assert (done.returncode, done.stdout, done.stderr, done.timed_out) == (3, b"out\n", b"err\n", False)
    assert run(["printf", "%s", "argv form"], timeout=10).stdout == b"argv form"


def test_a_pipeline_that_never_ends_is_killed_as_a_group_at_the_deadline() -> None:
    started = time.monotonic()
    done = run("echo partial; tail -f /dev/null | cat", timeout=0.5)
    elapsed = time.monotonic() - started
    assert done.timed_out and done.returncode is None
    assert done.stdout == b"partial\n"
    assert elapsed < 3  # would block forever if the grandchildren kept the pipes open


def test_environment_and_working_folder_are_passed(tmp_path: Path) -> None:
    done = run(
        'printf "%s %s" "$OMC_TEST_VALUE" "$(basename "$PWD")"',
        timeout=10,
        cwd=str(tmp_path),
        env={**os.environ, "OMC_TEST_VALUE": "v1"},
    )
    assert done.stdout.decode().split() == ["v1", tmp_path.name]
