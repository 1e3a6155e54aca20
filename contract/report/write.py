"""Write the Markdown and JUnit reports of a run to files (the CLI's ``--markdown``/``--junit``)."""

from __future__ import annotations

from pathlib import Path

from contract.errors import InputError
from contract.report.common import Mask, identity
from contract.report.junit import render_junit
from contract.report.markdown import render_markdown
from contract.scenario.result import RunResult


def check_output_path(path: Path, option: str) -> None:
    """An output file must go into a folder that exists (a typo must not create ``/nonexistent/dir``)."""
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"folder {parent} does not exist (create it first)", file=str(path), field=option)
    if path.is_dir():
        raise InputError("is a folder, expected a file name", file=str(path), field=option)


def write_reports(
    result: RunResult,
    *,
    markdown_path: str | Path | None = None,
    junit_path: str | Path | None = None,
    mask: Mask = identity,
) -> list[Path]:
    """Render and write the requested reports (UTF-8, into existing folders); return their paths.

    A path that cannot be written is the user's to fix: :class:`~contract.errors.InputError`
    naming the file and the reason.
    """
    written: list[Path] = []
    jobs: list[tuple[str | Path, str]] = []
    if markdown_path is not None:
        jobs.append((markdown_path, render_markdown(result, mask=mask)))
    if junit_path is not None:
        jobs.append((junit_path, render_junit(result, mask=mask)))
    for raw, content in jobs:
        path = Path(raw)
        try:
            path.write_text(content, encoding="utf-8")
        except OSError as err:
            raise InputError(f"cannot write report: {err.strerror or err}", file=str(path)) from err
        written.append(path)
    return written
