"""Scenario YAML -> typed :class:`~contract.scenario.model.Scenario`, with one-line errors.

Every problem in a scenario file is an :class:`~contract.errors.InputError` whose text reads
``file:line: field: reason``: the line of the offending YAML node (taken from the composed node
tree, so it points at the key or value that is wrong) and the dotted field path
(``steps[3].cancel.timing``). The loader never returns a half-built scenario.

This module reads the top level and hands the parts to their readers: the YAML itself
(:mod:`contract.scenario.node`, over :mod:`contract.yamlread`), ``setup`` and the other top-level
blocks (:mod:`contract.scenario.setup_reader`), ``steps`` with their ``expect`` blocks
(:mod:`contract.scenario.step_reader`, :mod:`contract.scenario.expect_reader`). Selecting
scenarios with ``-k`` is :mod:`contract.scenario.keyexpr`.

Public entry points: :func:`load_scenario`, :func:`load_scenarios`, :func:`scenario_files`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from contract.errors import InputError
from contract.limits import missing
from contract.scenario.model import Scenario
from contract.scenario.node import read_scenario_file
from contract.scenario.setup_reader import (
    PLAN_CADENCES,
    read_known_issues,
    read_profile,
    read_requires,
    read_setup,
)
from contract.scenario.step_reader import StepReader
from contract.yamlread import optional, optional_text

_TOP_KEYS = (
    "id",
    "title",
    "provenance",
    "description",
    "technique",
    "requires",
    "known_issues",
    "profile",
    "setup",
    "steps",
)
_TOP_REQUIRED = ("id", "title", "provenance", "description", "setup", "steps")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def _parse(path: Path) -> tuple[Scenario, int]:
    root = read_scenario_file(path)
    m = root.mapping(_TOP_KEYS, _TOP_REQUIRED)
    id_node = m["id"]
    scenario_id = id_node.scalar(("str",), "a string")
    if not _ID.match(scenario_id):
        raise id_node.error(f"id {scenario_id!r} must be lowercase letters, digits, '.', '_' or '-'")
    if scenario_id != path.stem:
        raise id_node.error(f"id {scenario_id!r} must equal the file name stem {path.stem!r}")
    requires = read_requires(optional(m, "requires"))
    setup = read_setup(m["setup"], requires)
    step_nodes = m["steps"].seq()
    if not step_nodes:
        raise m["steps"].error("a scenario needs at least one step")
    reader = StepReader(setup)
    steps = tuple(reader.step(i, n) for i, n in enumerate(step_nodes))
    scenario = Scenario(
        id=scenario_id,
        title=m["title"].text(),
        provenance=m["provenance"].text(),
        description=m["description"].text(),
        setup=setup,
        steps=steps,
        source=root.file,
        requires=requires,
        profile=read_profile(optional(m, "profile")),
        technique=optional_text(m, "technique"),
        known_issues=read_known_issues(optional(m, "known_issues")),
    )
    return scenario, id_node.line


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate one scenario file; raise :class:`InputError` (``file:line: field: reason``)."""
    return _parse(Path(path))[0]


def scenario_files(paths: Sequence[str | Path]) -> list[Path]:
    """The scenario files named by ``paths``: files as given, folders as their ``*.yaml`` sorted by name."""
    out: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(c for c in p.iterdir() if c.is_file() and c.suffix == ".yaml")
            if not found:
                raise InputError("no scenario files (*.yaml) in this folder", file=str(p))
        elif p.exists():
            found = [p]
        else:
            raise InputError(missing(p), file=str(p))
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def load_scenarios(paths: Sequence[str | Path]) -> list[Scenario]:
    """Load every scenario in ``paths`` (files, or folders of ``*.yaml``); ids must be unique."""
    out: list[Scenario] = []
    first: dict[str, Scenario] = {}
    for f in scenario_files(paths):
        scenario, id_line = _parse(f)
        if scenario.id in first:
            raise InputError(
                f"duplicate scenario id {scenario.id!r} (also in {first[scenario.id].source})",
                file=scenario.source,
                line=id_line,
                field="id",
            )
        first[scenario.id] = scenario
        out.append(scenario)
    return out


__all__ = ["PLAN_CADENCES", "load_scenario", "load_scenarios", "scenario_files"]
