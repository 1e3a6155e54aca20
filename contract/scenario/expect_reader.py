"""A scenario step's ``expect`` block, read at load into a typed expectation or a refusal.

The block is the oracle's ``expect`` shape restricted to :data:`~contract.scenario.model.
EXPECT_KEYS`, plus ``refused`` (the step's request must fail with a 4xx status). It is parsed
here, once, with the oracle's parser (:func:`contract.oracle.expect.parse_expect`), so a typo
(``backend: chrage``) or an id that is no unique reference id is named at its own line before any
step has created objects in OpenMeter; the runner only maps the logical ids to a run's real ones
(:meth:`~contract.scenario.model.Expectation.for_run`).
"""

from __future__ import annotations

import yaml

from contract.oracle.expect import parse_expect
from contract.scenario.model import EXPECT_KEYS, Expectation, Refusal
from contract.scenario.node import ScenarioNode
from contract.scenario.runkeys import unique_id_problem
from contract.yamlread import QUOTE, TAG, Located, from_node, optional_text


def read_expect(n: ScenarioNode) -> tuple[Expectation | None, Refusal | None]:
    """The step's typed expectation, or the refusal it expects (a refusal expects nothing else)."""
    m = n.mapping(EXPECT_KEYS, what="expect key")
    if "refused" in m:
        others = [k for k in m if k != "refused"]
        if others:
            raise m[others[0]].error(
                f"a step that expects a refusal expects nothing else (remove {', '.join(others)})", n.path
            )
        r = m["refused"].mapping(("status", "code"), ("status",))
        status = r["status"].integer()
        if not 400 <= status <= 499:
            raise r["status"].error(f"a refusal is a 4xx HTTP status, got {status}")
        return None, Refusal(status=status, code=optional_text(r, "code"))
    _check_plain(n)
    located = from_node(n)
    expected = parse_expect(located)
    _check_ids(located)
    return Expectation(expected=expected, file=n.file, line=n.line, field=n.path), None


def _check_plain(n: ScenarioNode) -> None:
    """Plain data only: string keys written once, no YAML numbers with a fraction (they lose precision)."""
    if isinstance(n.node, yaml.MappingNode):
        for value in n.mapping(n.key_names(), what="key").values():
            _check_plain(value)
        return
    if isinstance(n.node, yaml.SequenceNode):
        for item in n.seq():
            _check_plain(item)
        return
    tag = n.tag
    if tag == TAG + "float":
        raise n.error(QUOTE.format(raw=n.node.value))
    if tag == TAG + "int":
        n.integer()
    elif tag == TAG + "bool":
        n.boolean()
    elif tag not in (TAG + "str", TAG + "timestamp", TAG + "null"):
        raise n.error(f"unsupported YAML value ({n.kind_name()})")


def _check_ids(block: Located) -> None:
    """Every id the block names maps to a run's real id (``S/<phase>/<item>/v[n]/period[k]``)."""
    fields = block.mapping()
    ids: list[Located] = []
    for key in ("items", "deleted_charges"):
        if key in fields and not fields[key].is_null:
            ids.extend(n if isinstance(n.value, str) else n.mapping()["id"] for n in fields[key].seq())
    if "absent" in fields and not fields["absent"].is_null:
        ids.extend(fields["absent"].seq())
    for node in ids:
        problem = unique_id_problem(node.text())
        if problem is not None:
            raise node.error(problem)


__all__ = ["read_expect"]
