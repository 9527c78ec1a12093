"""The agent registry: discovery by capability or by kind, and the workflow graph the agents form.

The graph (networkx) has a node per agent and per finding kind: kind -> agent for what an agent reads,
agent -> kind for what it writes. Construction rejects what cannot work: two agents with one name, a kind
read that nobody writes and no input provides, and a cycle of agents in which none has a `when` guard.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from slateboard.agents.spec import Agent
from slateboard.blackboard.records import Record
from slateboard.errors import WorkflowError

if TYPE_CHECKING:
    import networkx as nx

__all__ = ("AgentRegistry",)


class AgentRegistry:
    """The agents of one controller, in declaration order."""

    def __init__(self, agents: Iterable[Agent]) -> None:
        self.agents: tuple[Agent, ...] = tuple(agents)
        for item in self.agents:
            if not isinstance(item, Agent):
                raise WorkflowError(f"{item!r} is not an agent: decorate the function with @agent")
        names = [a.name for a in self.agents]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise WorkflowError(f"two agents share the name(s) {', '.join(duplicates)}; pass @agent(name='...')")
        self._by_name = {a.name: a for a in self.agents}

    def __iter__(self) -> Iterator[Agent]:
        return iter(self.agents)

    def __len__(self) -> int:
        return len(self.agents)

    def get(self, name: str) -> Agent:
        try:
            return self._by_name[name]
        except KeyError:
            raise WorkflowError(f"no agent is called {name!r}; known: {', '.join(self._by_name)}") from None

    def by_capability(self, capability: str) -> tuple[Agent, ...]:
        """Agents that declare `capability`."""
        return tuple(a for a in self.agents if capability in a.capabilities)

    def readers_of(self, kind: type[Record]) -> tuple[Agent, ...]:
        """Agents that read findings of `kind` (an agent reading a base class reads its subclasses too)."""
        return tuple(a for a in self.agents if any(issubclass(kind, k) for k in a.inputs))

    def writers_of(self, kind: type[Record]) -> tuple[Agent, ...]:
        """Agents that may write findings of `kind` or of a subclass of it."""
        return tuple(a for a in self.agents if any(issubclass(o, kind) for o in a.outputs))

    def agent_graph(self) -> nx.DiGraph[str]:
        """Agents only: an edge A -> B when A writes a kind that B reads."""
        import networkx as nx  # noqa: PLC0415 - a tenth of a second: imported by the first graph, not by every process

        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(a.name for a in self.agents)
        for writer in self.agents:
            for reader in self.agents:
                if any(issubclass(o, k) for o in writer.outputs for k in reader.inputs):
                    graph.add_edge(writer.name, reader.name)
        return graph

    def graph(self) -> nx.DiGraph[tuple[str, str]]:
        """Agents and kinds: kind -> agent for reads, agent -> kind for writes."""
        import networkx as nx  # noqa: PLC0415 - see agent_graph

        graph: nx.DiGraph[tuple[str, str]] = nx.DiGraph()
        for item in self.agents:
            graph.add_node(("agent", item.name))
            for kind in item.inputs:
                graph.add_edge(("kind", kind.kind_name), ("agent", item.name))
            for kind in item.outputs:
                graph.add_edge(("agent", item.name), ("kind", kind.kind_name))
        return graph

    def validate(self, inputs: Sequence[type[Record]] | None = None) -> None:
        """Raise `WorkflowError` for an unguarded cycle, or (with `inputs`) for a kind nobody provides."""
        import networkx as nx  # noqa: PLC0415 - see agent_graph

        graph = self.agent_graph()
        for component in nx.strongly_connected_components(graph):
            members = sorted(component)
            looping = len(members) > 1 or graph.has_edge(members[0], members[0])
            if looping and not any(self._by_name[m].when for m in members):
                raise WorkflowError(
                    f"agents {' -> '.join(members)} feed each other in a cycle with no when= guard; "
                    "give one of them a precondition so the cycle can end"
                )
        if inputs is None:
            return
        for item in self.agents:
            for kind in item.inputs:
                provided = any(issubclass(i, kind) for i in inputs) or self.writers_of(kind)
                if not provided:
                    raise WorkflowError(
                        f"agent {item.name!r} reads {kind.kind_name}, which no agent writes and no input provides"
                    )

    def layers(self) -> tuple[tuple[str, ...], ...]:
        """Agents grouped into layers that can run in parallel: each layer reads only what earlier ones write."""
        import networkx as nx  # noqa: PLC0415 - see agent_graph

        graph = self.agent_graph()
        condensed = nx.condensation(graph)
        order = {a.name: i for i, a in enumerate(self.agents)}
        layers = []
        for generation in nx.topological_generations(condensed):
            names = [n for c in generation for n in condensed.nodes[c]["members"]]
            layers.append(tuple(sorted(names, key=order.__getitem__)))
        return tuple(layers)

    def mermaid(self) -> str:
        """The workflow as a Mermaid flowchart: kinds as parallelograms, agents as rounded boxes."""
        kinds = sorted({k.kind_name for a in self.agents for k in (*a.inputs, *a.outputs)})
        kind_ids = {name: f"k{i}" for i, name in enumerate(kinds)}  # numbered: names may differ only in punctuation
        lines = ["flowchart LR"]
        lines += [f'  {kind_ids[k]}[/"{_label(k)}"/]' for k in kinds]
        for i, item in enumerate(self.agents):
            lines.append(f'  a{i}(["{_label(item.name)}{" (when)" if item.when else ""}"])')
        for i, item in enumerate(self.agents):
            lines += [f"  {kind_ids[k.kind_name]} --> a{i}" for k in item.inputs]
            lines += [f"  a{i} --> {kind_ids[k.kind_name]}" for k in item.outputs]
        return "\n".join(lines) + "\n"


def _label(text: str) -> str:
    return text.replace('"', "#quot;")
