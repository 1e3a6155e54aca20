"""contract.yamlread: the one YAML reader for scenario files and oracle cases.

Both formats go through :func:`compose_document` (bounded nesting and aliases, syntax errors as
``file:line: reason``) and are walked as :class:`YamlNode` s that know their line and field path.
Scenario files read those nodes strictly by tag (:class:`YamlNode`'s readers); oracle cases and
``expect`` blocks read them as a :class:`Located` tree of constructed values. Every error is an
:class:`~contract.errors.InputError` reading ``file:line: field: reason``.

A leaf of the house: it imports only :mod:`contract.errors`, :mod:`contract.limits`,
:mod:`contract.yamlbounds` and :mod:`contract.model.time`.
"""

from contract.yamlread.document import Wording, child_path, compose_document
from contract.yamlread.located import CASE_WORDING, Located, from_data, from_node, parse_yaml
from contract.yamlread.node import QUOTE, TAG, YamlNode, hint, missing_ref, optional, optional_text, unknown

__all__ = [
    "CASE_WORDING",
    "QUOTE",
    "TAG",
    "Located",
    "Wording",
    "YamlNode",
    "child_path",
    "compose_document",
    "from_data",
    "from_node",
    "hint",
    "missing_ref",
    "optional",
    "optional_text",
    "parse_yaml",
    "unknown",
]
