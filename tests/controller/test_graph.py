"""`Controller.mermaid()` / `slateboard graph`: agents and kinds, the rules that judge the kinds and what they decide,
and the policy's gates before the commit; a rule of one's own is drawn from the kinds it names."""

from __future__ import annotations

import re
from dataclasses import dataclass

from slateboard import Controller, Proposal, policies, rules, scenarios, sinks
from slateboard.controller.graph import rule_kinds
from slateboard.rules import BoardState, Reason
from tests.controller.whatif_kinds import AGENTS, POLICY, RULES, Check, Request


@dataclass(frozen=True)
class Unchecked:
    """A conflict rule of one's own that names its kinds in `kinds`."""

    kinds: tuple[type, ...] = (Request, Check)
    id: str = "unchecked"

    def check(self, state: BoardState, subject: str) -> Reason | None:
        return None


@dataclass(frozen=True)
class Silent:
    """A conflict rule naming no kind."""

    id: str = "silent"

    def check(self, state: BoardState, subject: str) -> Reason | None:
        return None


def node_ids(text: str) -> set[str]:
    """Every node the chart defines, on a line of its own or inside an edge (`a --> b[...]`)."""
    return set(re.findall(r"(\w+)[\[\(\{]", text))


def test_the_graph_draws_rules_what_they_decide_and_the_policy_gates() -> None:
    controller = Controller(AGENTS, [*RULES, Unchecked(), Silent(), rules.budget()], policy=POLICY, sink=sinks.Memory())
    text = controller.mermaid()
    assert text.startswith("flowchart LR\n")
    kinds = {name: node for node, name in re.findall(r'^\s+(k\d+)\[/"([^"]+)"/\]', text, flags=re.MULTILINE)}
    assert set(kinds) == {"tests.whatif.Request", "tests.whatif.Check", "slateboard.Proposal"}
    assert '  r0{{"sufficient(tests.whatif.Check)"}}' in text
    assert f"  {kinds['tests.whatif.Check']} -.-> r0" in text
    assert "  r0 -->|met| d_sufficient" in text
    assert f"  {kinds['tests.whatif.Request']} -.-> r2" in text  # a rule of one's own, from its `kinds`
    assert "  r2 -->|fires| d_escalate" in text
    assert not re.search(r"-.-> r3\b", text)  # names no kind: drawn alone
    assert "  r3 -->|fires| d_escalate" in text
    assert "  r4 -->|fires| d_failed" in text  # the budget
    assert '  subgraph policy ["policy (default: deny)"]' in text
    assert '    p0{{"min_confidence(0.8) (escalate)"}}' in text
    assert '    p1{{"require_approval(irreversible)"}}' in text
    assert '  policy -->|allow| commit[("commit: memory")]' in text
    # Every edge joins nodes the chart defines.
    defined = node_ids(text) | {"policy"}
    for a, b in re.findall(r"^\s+(\w+) -[.-]*>(?:\|[^|]*\|)? (\w+)", text, flags=re.MULTILINE):
        assert a in defined, a
        assert b in defined, b


def test_without_a_policy_there_are_no_gates_and_rules_false_gives_the_agents_alone() -> None:
    controller = Controller(AGENTS, RULES)
    text = controller.mermaid()
    assert "subgraph policy" not in text
    assert "d_escalate" not in text  # no rule escalates
    assert controller.mermaid(rules=False) == controller.registry.mermaid()
    assert text.startswith(controller.registry.mermaid())


def test_rule_kinds_reads_the_named_attributes() -> None:
    assert rule_kinds(rules.contradiction(Check, Request, when=lambda a, b: False, reason="x")) == (Check, Request)
    assert rule_kinds(rules.sufficient(Proposal)) == (Proposal,)
    assert rule_kinds(Unchecked()) == (Request, Check)
    assert rule_kinds(Silent()) == ()


def test_every_built_in_scenario_graphs_its_policy() -> None:
    for name in scenarios.names():
        text = scenarios.get(name).controller().mermaid()
        assert "subgraph policy" in text, name
        assert "-->|met| d_sufficient" in text, name


def test_a_policy_rule_of_ones_own_is_drawn_by_its_id() -> None:
    policy = policies.Policy(policies.allow(id="anything-goes"))
    text = Controller(AGENTS, RULES, policy=policy, sink=sinks.Memory()).mermaid()
    assert '    p0{{"anything-goes"}}' in text
    assert BoardState  # the protocol's names are public
