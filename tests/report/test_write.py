from __future__ import annotations

from pathlib import Path

import pytest

from contract.errors import EXIT_BAD_INPUT, InputError
from contract.report import render_junit, render_markdown, write_reports

from .results import SECRET, bug_run, secret_run


def test_writes_both_reports(tmp_path: Path) -> None:
    md = tmp_path / "report.md"
    xml = tmp_path / "report.xml"
    written = write_reports(bug_run(), markdown_path=md, junit_path=str(xml))
    assert written == [md, xml]
    assert md.read_text(encoding="utf-8") == render_markdown(bug_run())
    assert xml.read_text(encoding="utf-8") == render_junit(bug_run())


def test_a_missing_folder_is_not_created_but_named(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "report.md"
    with pytest.raises(InputError) as err:
        write_reports(bug_run(), markdown_path=target)
    assert "No such file or directory" in str(err.value)
    assert not (tmp_path / "no").exists()


def test_writes_nothing_when_no_path_is_given(tmp_path: Path) -> None:
    assert write_reports(bug_run()) == []
    assert list(tmp_path.iterdir()) == []


def test_mask_applies_to_every_written_file(tmp_path: Path) -> None:
    md, xml = tmp_path / "r.md", tmp_path / "r.xml"
    write_reports(secret_run(), markdown_path=md, junit_path=xml, mask=lambda s: s.replace(SECRET, "***"))
    assert SECRET not in md.read_text(encoding="utf-8")
    assert SECRET not in xml.read_text(encoding="utf-8")


def test_unwritable_path_is_a_one_line_user_error_naming_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = blocker / "report.md"  # a folder that is a file
    with pytest.raises(InputError) as err:
        write_reports(bug_run(), markdown_path=target)
    assert err.value.exit_code == EXIT_BAD_INPUT
    assert str(err.value).startswith(f"{target}: cannot write report: ")
    assert "\n" not in str(err.value)
