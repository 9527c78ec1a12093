"""The agent registry: names, capability discovery, readers and writers by kind, the workflow graph."""

import re

import pytest

from slateboard import Finding, agent
from slateboard.agents import Agent, AgentRegistry
from slateboard.blackboard.view import BoardView
from slateboard.errors import WorkflowError


class Case(Finding):
    kind_name = "tests.agents.registry.Case"
    description: str


class Evidence(Finding):
    kind_name = "tests.agents.registry.Evidence"
    text: str


class Warranty(Evidence):
    kind_name = "tests.agents.registry.Warranty"
    months: int


class Entitlement(Finding):
    kind_name = "tests.agents.registry.Entitlement"
    entitled: bool


class Draft(Finding):
    kind_name = "tests.agents.registry.Draft"
    text: str


class Review(Finding):
    kind_name = "tests.agents.registry.Review"
    ok: bool


# Agents at module level are shared by tests that only read them; every test that needs a cycle or a
# name clash builds its own.


@agent(capabilities={"lookup", "warranty"})
def warranty(case: Case) -> Warranty:
    raise NotImplementedError


@agent(capabilities={"lookup"})
def evidence(case: Case) -> Evidence:
    raise NotImplementedError


@agent(capabilities={"decide"})
def entitlement(case: Case, found: list[Evidence]) -> Entitlement:
    raise NotImplementedError


@agent
def warranty_only(case: Case, found: Warranty) -> Entitlement | None:
    raise NotImplementedError


@agent
def respond(ent: Entitlement, view: BoardView) -> Draft:
    raise NotImplementedError


def names(agents: tuple[Agent, ...]) -> list[str]:
    return [a.name for a in agents]


# --- construction --------------------------------------------------------------------------------------------


def test_it_keeps_declaration_order_and_looks_agents_up_by_name() -> None:
    registry = AgentRegistry([respond, warranty, evidence])
    assert len(registry) == 3
    assert [a.name for a in registry] == ["respond", "warranty", "evidence"]
    assert registry.agents == (respond, warranty, evidence)
    assert registry.get("warranty") is warranty


def test_an_unknown_name_is_a_workflow_error_listing_the_known_ones() -> None:
    registry = AgentRegistry([warranty, evidence])
    with pytest.raises(WorkflowError) as caught:
        registry.get("nobody")
    assert "'nobody'" in str(caught.value)
    assert "warranty, evidence" in str(caught.value)


def test_duplicate_names_are_refused() -> None:
    @agent(name="warranty")
    def another(case: Case) -> Warranty:
        raise NotImplementedError

    with pytest.raises(WorkflowError) as caught:
        AgentRegistry([warranty, evidence, another])
    assert "warranty" in str(caught.value)
    assert "evidence" not in str(caught.value)
    assert "name=" in str(caught.value)  # says how to fix it


def test_the_same_agent_twice_is_a_duplicate() -> None:
    with pytest.raises(WorkflowError, match="warranty"):
        AgentRegistry([warranty, warranty])


@pytest.mark.parametrize("item", ["warranty", None, 3], ids=["str", "none", "int"])
def test_something_that_is_not_an_agent_is_refused(item: object) -> None:
    with pytest.raises(WorkflowError, match="is not an agent"):
        AgentRegistry([warranty, item])  # type: ignore[list-item]


def test_a_plain_function_is_refused_with_a_hint() -> None:
    def plain(case: Case) -> Draft:
        raise NotImplementedError

    with pytest.raises(WorkflowError) as caught:
        AgentRegistry([plain])  # type: ignore[list-item]
    assert "plain" in str(caught.value)
    assert "@agent" in str(caught.value)


def test_an_empty_registry_is_fine() -> None:
    registry = AgentRegistry([])
    assert len(registry) == 0
    registry.validate()
    registry.validate(inputs=[])
    assert registry.layers() == ()
    assert registry.mermaid() == "flowchart LR\n"


# --- discovery -----------------------------------------------------------------------------------------------


def test_by_capability_in_declaration_order() -> None:
    registry = AgentRegistry([entitlement, evidence, warranty, respond])
    assert names(registry.by_capability("lookup")) == ["evidence", "warranty"]
    assert names(registry.by_capability("warranty")) == ["warranty"]
    assert names(registry.by_capability("decide")) == ["entitlement"]
    assert registry.by_capability("telepathy") == ()


def test_readers_of_a_kind_include_readers_of_its_bases() -> None:
    registry = AgentRegistry([warranty, evidence, entitlement, warranty_only, respond])
    # entitlement reads list[Evidence], so Warranty findings reach it too
    assert names(registry.readers_of(Warranty)) == ["entitlement", "warranty_only"]
    # warranty_only reads Warranty only: a plain Evidence finding does not reach it
    assert names(registry.readers_of(Evidence)) == ["entitlement"]
    assert names(registry.readers_of(Case)) == ["warranty", "evidence", "entitlement", "warranty_only"]
    assert names(registry.readers_of(Entitlement)) == ["respond"]
    assert registry.readers_of(Draft) == ()


def test_writers_of_a_kind_include_writers_of_its_subclasses() -> None:
    registry = AgentRegistry([warranty, evidence, entitlement, warranty_only, respond])
    # a Warranty is an Evidence, so the warranty agent writes Evidence too
    assert names(registry.writers_of(Evidence)) == ["warranty", "evidence"]
    # but an agent declaring Evidence is not a writer of the narrower Warranty
    assert names(registry.writers_of(Warranty)) == ["warranty"]
    assert names(registry.writers_of(Entitlement)) == ["entitlement", "warranty_only"]
    assert names(registry.writers_of(Finding)) == ["warranty", "evidence", "entitlement", "warranty_only", "respond"]
    assert registry.writers_of(Case) == ()
    assert registry.writers_of(Review) == ()


# --- graphs --------------------------------------------------------------------------------------------------


def test_the_agent_graph_links_writers_to_readers_through_subclasses() -> None:
    registry = AgentRegistry([warranty, evidence, entitlement, warranty_only, respond])
    graph = registry.agent_graph()
    assert set(graph.nodes) == {"warranty", "evidence", "entitlement", "warranty_only", "respond"}
    assert set(graph.edges) == {
        ("warranty", "entitlement"),  # Warranty is an Evidence
        ("warranty", "warranty_only"),
        ("evidence", "entitlement"),  # but Evidence does not reach a Warranty reader
        ("entitlement", "respond"),
        ("warranty_only", "respond"),
    }


def test_the_kind_graph_has_read_and_write_edges() -> None:
    registry = AgentRegistry([evidence, entitlement, respond])
    graph = registry.graph()
    assert set(graph.edges) == {
        (("kind", Case.kind_name), ("agent", "evidence")),
        (("agent", "evidence"), ("kind", Evidence.kind_name)),
        (("kind", Case.kind_name), ("agent", "entitlement")),
        (("kind", Evidence.kind_name), ("agent", "entitlement")),
        (("agent", "entitlement"), ("kind", Entitlement.kind_name)),
        (("kind", Entitlement.kind_name), ("agent", "respond")),
        (("agent", "respond"), ("kind", Draft.kind_name)),
    }
    # the view parameter is not a kind
    assert all(kind != "view" for _, kind in graph.nodes)


# --- validation ----------------------------------------------------------------------------------------------


def _drafter(**options: object) -> Agent:
    @agent(name="drafter", **options)  # type: ignore[call-overload]
    def drafter(case: Case, reviews: list[Review]) -> Draft:
        raise NotImplementedError

    return drafter


def _reviewer(**options: object) -> Agent:
    @agent(name="reviewer", **options)  # type: ignore[call-overload]
    def reviewer(draft: Draft) -> Review:
        raise NotImplementedError

    return reviewer


def test_an_unguarded_two_agent_cycle_is_refused_naming_both() -> None:
    registry = AgentRegistry([_drafter(), _reviewer()])
    with pytest.raises(WorkflowError) as caught:
        registry.validate()
    message = str(caught.value)
    assert "drafter" in message
    assert "reviewer" in message
    assert "when=" in message


def test_an_unguarded_self_loop_is_refused() -> None:
    @agent
    def refine(draft: Draft) -> Draft:
        raise NotImplementedError

    with pytest.raises(WorkflowError) as caught:
        AgentRegistry([refine]).validate()
    assert "refine" in str(caught.value)
    assert "cycle" in str(caught.value)


def test_a_self_loop_through_a_subclass_is_a_cycle_too() -> None:
    @agent
    def gather(found: list[Evidence]) -> Warranty:
        raise NotImplementedError

    with pytest.raises(WorkflowError, match="gather"):
        AgentRegistry([gather]).validate()


def test_a_cycle_with_one_guarded_agent_passes() -> None:
    guarded = _reviewer(when=lambda draft: len(draft.text) < 100)
    registry = AgentRegistry([_drafter(), guarded])
    registry.validate()
    registry.validate(inputs=[Case])


def test_a_guarded_self_loop_passes() -> None:
    @agent(when=lambda draft: draft.confidence < 0.9)
    def refine(draft: Draft) -> Draft:
        raise NotImplementedError

    AgentRegistry([refine]).validate()


def test_a_longer_cycle_needs_only_one_guard() -> None:
    @agent
    def a_to_b(case: Case, d: list[Draft]) -> Evidence:
        raise NotImplementedError

    @agent
    def b_to_c(e: Evidence) -> Entitlement:
        raise NotImplementedError

    @agent(when=lambda e: e.entitled)
    def c_to_a(e: Entitlement) -> Draft:
        raise NotImplementedError

    AgentRegistry([a_to_b, b_to_c, c_to_a]).validate()

    @agent(name="c_to_a")
    def unguarded(e: Entitlement) -> Draft:
        raise NotImplementedError

    with pytest.raises(WorkflowError) as caught:
        AgentRegistry([a_to_b, b_to_c, unguarded]).validate()
    for name in ("a_to_b", "b_to_c", "c_to_a"):
        assert name in str(caught.value)


def test_only_the_unguarded_cycle_is_named() -> None:
    @agent(when=lambda draft: draft.confidence < 0.9)
    def refine(draft: Draft) -> Draft:
        raise NotImplementedError

    @agent
    def loop(found: Warranty) -> Warranty:
        raise NotImplementedError

    with pytest.raises(WorkflowError) as caught:
        AgentRegistry([refine, loop]).validate()
    assert "loop" in str(caught.value)
    assert "refine" not in str(caught.value)


def test_a_kind_nobody_writes_is_refused_naming_agent_and_kind() -> None:
    registry = AgentRegistry([evidence, entitlement, respond])
    registry.validate()  # without inputs, only cycles are checked
    with pytest.raises(WorkflowError) as caught:
        registry.validate(inputs=[])
    message = str(caught.value)
    assert "'evidence'" in message
    assert Case.kind_name in message
    assert "no input provides" in message


def test_an_input_provides_what_nobody_writes() -> None:
    registry = AgentRegistry([evidence, entitlement, respond])
    registry.validate(inputs=[Case])


def test_the_missing_kind_is_named_even_when_others_are_provided() -> None:
    registry = AgentRegistry([evidence, entitlement, _reviewer()])
    with pytest.raises(WorkflowError) as caught:
        registry.validate(inputs=[Case])
    assert "'reviewer'" in str(caught.value)
    assert Draft.kind_name in str(caught.value)


def test_an_input_of_a_subclass_provides_the_base_but_not_the_reverse() -> None:
    @agent
    def judge(found: Evidence) -> Entitlement:
        raise NotImplementedError

    AgentRegistry([judge]).validate(inputs=[Warranty])

    with pytest.raises(WorkflowError) as caught:
        AgentRegistry([warranty_only]).validate(inputs=[Case, Evidence])
    assert "'warranty_only'" in str(caught.value)
    assert Warranty.kind_name in str(caught.value)


def test_a_writer_of_a_subclass_provides_the_base() -> None:
    AgentRegistry([warranty, entitlement]).validate(inputs=[Case])
    with pytest.raises(WorkflowError, match=re.escape(Warranty.kind_name)):
        AgentRegistry([evidence, warranty_only]).validate(inputs=[Case])


# --- layers --------------------------------------------------------------------------------------------------


def test_independent_agents_share_the_first_layer_in_declaration_order() -> None:
    @agent
    def zeta(case: Case) -> Evidence:
        raise NotImplementedError

    @agent
    def alpha(case: Case) -> Warranty:
        raise NotImplementedError

    @agent
    def consumer(found: list[Evidence]) -> Entitlement:
        raise NotImplementedError

    # declaration order, not alphabetical order, inside a layer
    assert AgentRegistry([zeta, alpha, consumer]).layers() == (("zeta", "alpha"), ("consumer",))
    assert AgentRegistry([consumer, alpha, zeta]).layers() == (("alpha", "zeta"), ("consumer",))


def test_a_chain_gives_one_layer_per_step() -> None:
    registry = AgentRegistry([respond, entitlement, evidence])
    assert registry.layers() == (("evidence",), ("entitlement",), ("respond",))


def test_layers_cover_every_agent_once() -> None:
    registry = AgentRegistry([warranty, evidence, entitlement, warranty_only, respond])
    layers = registry.layers()
    assert layers == (("warranty", "evidence"), ("entitlement", "warranty_only"), ("respond",))
    flat = [name for layer in layers for name in layer]
    assert sorted(flat) == sorted(a.name for a in registry)


def test_a_guarded_cycle_shares_one_layer() -> None:
    @agent
    def intake(case: Case) -> Evidence:
        raise NotImplementedError

    @agent
    def publish(review: Review) -> Entitlement:
        raise NotImplementedError

    drafter, reviewer = _drafter(), _reviewer(when=lambda draft: True)
    registry = AgentRegistry([publish, reviewer, intake, drafter])
    registry.validate()
    assert registry.layers() == (("reviewer", "intake", "drafter"), ("publish",))


# --- Mermaid -------------------------------------------------------------------------------------------------


def test_mermaid_has_kinds_agents_and_edges() -> None:
    guarded = _reviewer(when=lambda draft: True)
    registry = AgentRegistry([evidence, entitlement, _drafter(), guarded])
    text = registry.mermaid()
    assert text.startswith("flowchart LR\n")
    assert text.endswith("\n")
    lines = text.splitlines()
    ids = {label: node for node, label in re.findall(r'^  (\w+)(?:\[/"|\(\[")([^"]+)"', text, flags=re.MULTILINE)}
    # kinds as parallelograms, agents as rounded boxes; a guarded one says so
    for kind in ("Case", "Evidence", "Draft", "Entitlement", "Review"):
        assert f'  {ids[f"tests.agents.registry.{kind}"]}[/"tests.agents.registry.{kind}"/]' in lines
    for name in ("evidence", "entitlement", "drafter"):
        assert f'  {ids[name]}(["{name}"])' in lines
    assert f'  {ids["reviewer (when)"]}(["reviewer (when)"])' in lines

    def edge(source: str, target: str) -> str:
        return f"  {ids[source]} --> {ids[target]}"

    k = "tests.agents.registry."
    assert edge(k + "Case", "evidence") in lines
    assert edge("evidence", k + "Evidence") in lines
    assert edge(k + "Evidence", "entitlement") in lines
    assert edge("entitlement", k + "Entitlement") in lines
    assert edge(k + "Review", "drafter") in lines
    assert edge("drafter", k + "Draft") in lines
    assert edge(k + "Draft", "reviewer (when)") in lines
    assert edge("reviewer (when)", k + "Review") in lines
    # nothing but the header, 6 kinds, 4 agents and 9 edges
    assert len(lines) == 1 + 6 + 4 + 9
    assert not any(line.startswith(f"  {ids[k + 'Entitlement']} --> ") for line in lines)  # nobody reads it


def test_mermaid_lists_each_kind_once() -> None:
    text = AgentRegistry([warranty, evidence, entitlement]).mermaid()
    assert text.count('[/"tests.agents.registry.Case"/]') == 1
    assert text.count('[/"tests.agents.registry.Evidence"/]') == 1


def _node_ids(text: str) -> list[str]:
    return re.findall(r"^  (\w+)(?:\(\[|\[/)", text, flags=re.MULTILINE)


def test_mermaid_gives_distinct_agents_distinct_node_ids() -> None:
    @agent(name="look-up")
    def hyphen(case: Case) -> Evidence:
        raise NotImplementedError

    @agent(name="look_up")
    def underscore(case: Case) -> Warranty:
        raise NotImplementedError

    ids = _node_ids(AgentRegistry([hyphen, underscore]).mermaid())
    assert len(ids) == len(set(ids))


def test_mermaid_escapes_quotes_in_labels() -> None:
    @agent(name='say "hi"')
    def greet(case: Case) -> Draft:
        raise NotImplementedError

    text = AgentRegistry([greet]).mermaid()
    (line,) = [line for line in text.splitlines() if '(["' in line]
    label = line[line.index('(["') + 3 : line.rindex('"])')]
    assert '"' not in label
