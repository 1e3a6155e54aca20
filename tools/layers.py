"""The house's layers, checked: which room of ``contract/`` may import which.

A room is a top-level module or package of ``contract`` (``model``, ``client``, ``cli``, ...).
:data:`LAYERS` lists them from the ground floor up; a room may import rooms on lower floors only,
never one on its own floor or above. ``model`` (the pure engine) imports nothing of the project and,
outside the standard library, only ``isodate``. Imports under ``if TYPE_CHECKING:`` count too: a
type that has to be named from upstairs is asking for a Protocol downstairs.

Run ``python tools/layers.py`` (from the repository root; exit 1 and one line per violation,
``file:line: room -> room: reason``), as ``.ci/run`` does. A room not listed in :data:`LAYERS` is a
violation too, so a new room gets its floor on purpose.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Floors, lowest first. Read as: everything on a floor may import everything below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("model", "errors", "proc"),
    ("clock", "limits", "findings", "wire"),
    ("yamlbounds", "worklog", "compare", "client"),
    ("yamlread", "stack", "offline"),
    ("oracle",),
    ("scenario",),
    ("explore", "report"),
    ("commands", "pytest_plugin"),
    ("cli",),
)

#: Third-party packages the pure engine may use (architecture: standard library plus isodate).
MODEL_THIRD_PARTY = frozenset({"isodate"})

PACKAGE = "contract"
ROOT_FACE = "(package root)"  # ``from contract import __version__``


@dataclass(frozen=True, slots=True)
class Violation:
    file: Path
    line: int
    room: str
    target: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.room} -> {self.target}: {self.reason}"


def floor_of(room: str) -> int | None:
    for index, rooms in enumerate(LAYERS):
        if room in rooms:
            return index
    return None


def room_of(source: Path, package_dir: Path) -> str:
    parts = source.relative_to(package_dir).with_suffix("").parts
    return ROOT_FACE if parts == ("__init__",) else parts[0]


def _imports(tree: ast.AST) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """(line, module, names) for every absolute import in the tree, nested ones included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module, tuple(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()


def _targets(module: str, names: tuple[str, ...], package_dir: Path) -> list[str]:
    """The rooms an import reaches (``from contract import proc`` reaches ``proc``)."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return []
    if len(parts) > 1:
        return [parts[1]]
    rooms = []
    for name in names:
        is_room = (package_dir / f"{name}.py").exists() or (package_dir / name / "__init__.py").exists()
        rooms.append(name if is_room else ROOT_FACE)
    return rooms


def check_file(source: Path, package_dir: Path) -> list[Violation]:
    room = room_of(source, package_dir)
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    if room == ROOT_FACE:
        return []
    own = floor_of(room)
    if own is None:
        return [Violation(source, 1, room, room, "room has no floor in tools/layers.py LAYERS")]
    out: list[Violation] = []
    for line, module, names in _imports(tree):
        top = module.split(".")[0]
        if room == "model" and top != PACKAGE and top not in sys.stdlib_module_names and top not in MODEL_THIRD_PARTY:
            out.append(Violation(source, line, room, top, "the engine uses the standard library and isodate only"))
        for target in _targets(module, names, package_dir):
            if target in (room, ROOT_FACE):
                continue
            floor = floor_of(target)
            if floor is None:
                out.append(Violation(source, line, room, target, "room has no floor in tools/layers.py LAYERS"))
            elif floor >= own:
                where = "on the same floor" if floor == own else "upstairs"
                out.append(Violation(source, line, room, target, f"imports a room {where}"))
    return out


def check(package_dir: Path) -> list[Violation]:
    violations: list[Violation] = []
    for source in sorted(package_dir.rglob("*.py")):
        violations.extend(check_file(source, package_dir))
    return violations


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    package_dir = Path(args[0]) if args else Path(__file__).resolve().parents[1] / PACKAGE
    violations = check(package_dir)
    for violation in violations:
        print(violation)
    rooms = sum(len(floor) for floor in LAYERS)
    print(f"layers: {len(violations)} violation(s) across {rooms} rooms on {len(LAYERS)} floors")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
