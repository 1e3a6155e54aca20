"""``omcontract model check`` / ``model show`` (contract.commands.model) through contract.cli.main."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from contract.cli import main

REPO = Path(__file__).resolve().parents[2]
ORACLE = REPO / "fixtures" / "oracle"
BROKEN = REPO / "tests" / "oracle" / "broken"


def test_check_passes_the_whole_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "check", str(ORACLE)]) == 0
    out = capsys.readouterr().out.splitlines()
    case_lines = [ln for ln in out if ln.startswith(("PASS", "FAIL"))]
    assert len(case_lines) == len(list(ORACLE.glob("*.yaml")))
    assert all(ln.startswith("PASS  ") and ln.endswith(" ms") for ln in case_lines)
    assert "PASS  O16-aligned-cancellation-cti  " in "\n".join(case_lines)
    assert out[-1].startswith(f"{len(case_lines)} case(s): {len(case_lines)} passed, 0 failed (behaviour head")


def test_check_shows_a_readable_diff_for_an_altered_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = (ORACLE / "O11-aligned-prorating-behavior-lines.yaml").read_text()
    altered = src.replace('amount: "2.26"', 'amount: "2.27"', 1)
    assert altered != src
    case = tmp_path / "O11-altered.yaml"
    case.write_text(altered)
    assert main(["model", "check", str(case)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  O11-aligned-prorating-behavior-lines" in out
    assert ("step 2 (sync)  S/first-phase/in-advance/v[0]/period[0] amount: expected 2.27, got 2.26") in out
    assert "0 passed, 1 failed" in out


def test_check_reports_missing_and_extra_artifacts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = (ORACLE / "O19-usage-based-gathering-update-lines.yaml").read_text()
    altered = src.replace('"S/second-phase/api-requests-total/v[0]/period[0]"', '"S/second-phase/other/v[0]/period[0]"')
    case = tmp_path / "O19-altered.yaml"
    case.write_text(altered)
    assert main(["model", "check", str(case)]) == 1
    out = capsys.readouterr().out
    assert "missing S/second-phase/other/v[0]/period[0]" in out
    assert "extra S/second-phase/api-requests-total/v[0]/period[0]: line [2024-01-03T00:00:00Z" in out


def test_issue_4412_behaviour_fails_the_cti_resync_with_the_duplicate_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["model", "check", str(ORACLE / "O16-aligned-cancellation-cti.yaml"), "--behaviour", "issue-4412"])
    assert code == 1
    out = capsys.readouterr().out
    assert (
        "sync failed: expected no error, got duplicate unique id across persisted lines and charges: "
        "S/default/api-requests-total/v[0]/period[0]"
    ) in out
    assert (
        main(
            [
                "model",
                "check",
                str(ORACLE / "O16-aligned-cancellation-lines.yaml"),
                "--behaviour",
                "issue-4412",
            ]
        )
        == 0
    )


def test_unreadable_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(BROKEN / "bad_time.yaml", tmp_path / "bad_time.yaml")
    assert main(["model", "check", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"omcontract: {tmp_path / 'bad_time.yaml'}:4: subscription.active_from: "
        "not an RFC 3339 timestamp: '2024-13-01T00:00:00Z'"
    )
    assert main(["model", "check", str(tmp_path / "missing.yaml")]) == 2


def test_unknown_behaviour_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "check", str(ORACLE), "--behaviour", "bogus"]) == 2
    assert "bogus" in capsys.readouterr().err


def test_show_prints_the_artifacts_after_a_step(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "show", str(ORACLE / "O24-progressive-billing-cancellation-cti.yaml"), "--step", "2"]) == 0
    out = capsys.readouterr().out
    assert "after step 2 (invoice)" in out
    assert "S/default/api-requests-total/v[0]/period[0]" in out or "S/default/api-requests-total/v" in out
    assert "invoiced: S/default/api-requests-total/v[0]/period[0] [2024-01-01T00:00:00Z, 2024-01-02T00:00:00Z)" in out
    assert "gathering invoice: yes" in out


def test_show_after_a_cancel_step_and_under_issue_4412(capsys: pytest.CaptureFixture[str]) -> None:
    case = str(ORACLE / "O16-aligned-cancellation-cti.yaml")
    assert main(["model", "show", case, "--step", "2"]) == 0
    assert "after step 2 (cancel)" in capsys.readouterr().out
    assert main(["model", "show", case, "--step", "3", "--behaviour", "issue-4412"]) == 0
    assert "sync error: duplicate unique id across persisted lines and charges" in capsys.readouterr().out


def test_show_rejects_a_step_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    case = ORACLE / "PI-sanity.yaml"
    assert main(["model", "show", str(case), "--step", "5"]) == 2
    assert capsys.readouterr().err.strip() == f"omcontract: {case}: --step: the case has steps 1..1, not 5"
