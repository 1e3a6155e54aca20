"""tools/layers.py: the house's layers hold on the real tree, and the check catches each way of breaking them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("omcontract_layers", REPO / "tools" / "layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


layers = _load()


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "contract"
    for name, text in {"__init__.py": "__version__ = '0'\n", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


def _reasons(package: Path) -> list[str]:
    return [f"{v.room} -> {v.target}: {v.reason}" for v in layers.check(package)]


def test_the_project_keeps_its_layers() -> None:
    assert [str(v) for v in layers.check(REPO / "contract")] == []


def test_every_room_of_the_project_has_a_floor() -> None:
    rooms = {p.stem if p.is_file() else p.name for p in (REPO / "contract").iterdir()}
    rooms = {r for r in rooms if not r.startswith("_") and r not in ("py", "__pycache__")}
    rooms = {
        r for r in rooms if (REPO / "contract" / f"{r}.py").exists() or (REPO / "contract" / r / "__init__.py").exists()
    }
    assert {r for r in rooms if layers.floor_of(r) is None} == set()


def test_an_import_from_upstairs_is_refused_with_file_and_line(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {"client/__init__.py": "", "client/core.py": "import httpx\n\nfrom contract.scenario.runner import Runner\n"},
    )
    [violation] = layers.check(package)
    assert (violation.file.name, violation.line, violation.room, violation.target) == (
        "core.py",
        3,
        "client",
        "scenario",
    )
    assert violation.reason == "imports a room upstairs"


def test_an_import_on_the_same_floor_is_refused(tmp_path: Path) -> None:
    package = _tree(tmp_path, {"compare/__init__.py": "from contract.client import OpenMeterClient\n"})
    assert _reasons(package) == ["compare -> client: imports a room on the same floor"]


def test_imports_for_type_checking_and_inside_functions_count_too(tmp_path: Path) -> None:
    text = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from contract.stack import connect\n"
        "def f() -> None:\n"
        "    import contract.report.terminal\n"
    )
    package = _tree(tmp_path, {"offline.py": text})
    assert _reasons(package) == [
        "offline -> stack: imports a room on the same floor",
        "offline -> report: imports a room upstairs",
    ]


def test_the_engine_may_use_the_standard_library_and_isodate_only(tmp_path: Path) -> None:
    text = "import datetime\nimport isodate\nimport httpx\nfrom contract.errors import InputError\n"
    package = _tree(tmp_path, {"model/__init__.py": text})
    assert _reasons(package) == [
        "model -> httpx: the engine uses the standard library and isodate only",
        "model -> errors: imports a room on the same floor",
    ]


def test_a_module_imported_from_the_package_root_is_its_room(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {"proc.py": "", "worklog.py": "from contract import proc\n", "model.py": "from contract import proc as p\n"},
    )
    assert _reasons(package) == ["model -> proc: imports a room on the same floor"]


def test_a_room_without_a_floor_is_a_violation(tmp_path: Path) -> None:
    package = _tree(tmp_path, {"newroom.py": "", "cli.py": "from contract.newroom import x\n"})
    assert sorted(_reasons(package)) == [
        "cli -> newroom: room has no floor in tools/layers.py LAYERS",
        "newroom -> newroom: room has no floor in tools/layers.py LAYERS",
    ]


def test_the_command_lists_violations_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package = _tree(tmp_path, {"model.py": "from contract.cli import main\n"})
    assert layers.main([str(package)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("model.py:1: model -> cli: imports a room upstairs")
    assert out[-1].startswith("layers: 1 violation(s)")
    assert layers.main([str(REPO / "contract")]) == 0
