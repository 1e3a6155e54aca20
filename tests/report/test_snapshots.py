"""The snapshot check itself: it must be able to fail, also while snapshots are being updated."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import _check_snapshot


def test_a_matching_snapshot_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UPDATE_SNAPSHOTS", raising=False)
    (tmp_path / "a.txt").write_text("same\n")
    _check_snapshot("a.txt", "same\n", tmp_path)


def test_a_differing_snapshot_fails_with_a_diff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UPDATE_SNAPSHOTS", raising=False)
    (tmp_path / "a.txt").write_text("old\n")
    with pytest.raises(pytest.fail.Exception, match=r"(?s)differs.*-old\n\+new"):
        _check_snapshot("a.txt", "new\n", tmp_path)
    assert (tmp_path / "a.txt").read_text() == "old\n"


def test_a_missing_snapshot_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UPDATE_SNAPSHOTS", raising=False)
    with pytest.raises(pytest.fail.Exception, match="does not exist"):
        _check_snapshot("a.txt", "new\n", tmp_path)


def test_updating_rewrites_a_differing_snapshot_and_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPDATE_SNAPSHOTS", "1")
    (tmp_path / "a.txt").write_text("old\n")
    with pytest.raises(pytest.fail.Exception, match="rewritten"):
        _check_snapshot("a.txt", "new\n", tmp_path)
    assert (tmp_path / "a.txt").read_text() == "new\n"
    _check_snapshot("a.txt", "new\n", tmp_path)  # now it matches, also while updating
