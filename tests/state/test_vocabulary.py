"""Each status vocabulary is spelled once (slateboard.state.vocabulary), and its relations cover every word."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from slateboard.state import vocabulary as v

SRC = Path(__file__).resolve().parents[2] / "src" / "slateboard"
VOCABULARIES = {
    name: frozenset(getattr(v, name))
    for name in v.__all__
    if name.isupper() and isinstance(getattr(v, name), tuple) and len(getattr(v, name)) > 1
}
# Literal definitions (the runner's attempt statuses, the ledger's) are not word lists; the vocabulary is the one
# module that lists the words.
DEFINED = {SRC / "state" / "vocabulary.py"}


def _spelled(tree: ast.AST) -> list[tuple[int, frozenset[str]]]:
    """Tuple, list and set literals of two or more strings, outside `Literal[...]`."""
    inside_literal: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", getattr(node.value, "attr", "")) == "Literal":
            inside_literal.update(id(n) for n in ast.walk(node.slice))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and id(node) not in inside_literal:
            words = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(words) == len(node.elts) > 1:
                found.append((node.lineno, frozenset(words)))
    return found


def test_no_module_spells_out_a_status_vocabulary_again() -> None:
    assert {"KEY_STATUSES", "OUTCOME_STATUSES", "EFFECTS", "VETOES", "LEDGER_STATUSES"} <= set(VOCABULARIES)
    repeated = [
        f"{path.relative_to(SRC)}:{line} spells out {name}"
        for path in sorted(SRC.rglob("*.py"))
        if path not in DEFINED
        for line, words in _spelled(ast.parse(path.read_text()))
        for name, vocabulary in VOCABULARIES.items()
        if words == vocabulary
    ]
    assert repeated == []


def test_the_relations_cover_every_word() -> None:
    assert set(v.KEY_OUTCOMES) == set(v.KEY_STATUSES)
    assert set(v.PRESSING) == set(v.KEY_OUTCOMES.values())
    assert set(v.PRESSING) <= set(v.OUTCOME_STATUSES)
    assert set(v.DECISION_OUTCOMES) == set(v.DECISION_STATUSES) - {"continue"}
    assert set(v.DECISION_OUTCOMES.values()) <= set(v.OUTCOME_STATUSES)
    assert set(v.VETOES) == set(v.EFFECTS) - {"allow"}
    assert (*v.OUTCOME_STATUSES, "error") == v.BOARD_STATUSES


def test_each_tuple_is_its_literal() -> None:
    pairs = [
        (v.KEY_STATUSES, v.KeyStatus), (v.OUTCOME_STATUSES, v.OutcomeStatus), (v.EFFECTS, v.Effect),
        (v.VETOES, v.Veto), (v.POLICY_DEFAULTS, v.PolicyDefault), (v.DECISION_STATUSES, v.DecisionStatus),
        (v.LEDGER_STATUSES, v.LedgerStatus), (v.AGENT_RUN_STATUSES, v.AgentRunStatus),
    ]  # fmt: skip
    for words, literal in pairs:
        assert words == get_args(literal)
        assert len(set(words)) == len(words)
