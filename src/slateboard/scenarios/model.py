"""`Scenario`: finding kinds, agents, rules, policy, sink, inputs and the expected outcome, as one runnable unit.

A scenario builds a fresh `Controller` (and a fresh sink) for each run, so one scenario object can be run on many
boards, in tests and in pipelines, without runs sharing state. `run` returns the outcome together with what was
expected of it: `ScenarioRun.problems` lists every way the outcome differs from `expect`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Union

from slateboard._internal.sync import sync_twin
from slateboard.agents.spec import Agent
from slateboard.blackboard.board import Blackboard, Board
from slateboard.blackboard.records import Finding, Record
from slateboard.commit.layer import CommitTarget
from slateboard.controller.loop import Controller
from slateboard.controller.outcomes import Outcome
from slateboard.controller.rules import Rule
from slateboard.errors import ScenarioError
from slateboard.policies.policy import Policy

__all__ = ("Expectation", "Scenario", "ScenarioRun", "Variant", "variant_ref", "split_ref")

Inputs = Callable[[str], Sequence[Finding]]


@dataclass(frozen=True)
class Expectation:
    """What a scenario's run should end with: a `status`, reason fragments, and counts of commits and approvals.

    Each of `reasons` must occur in some reason of the outcome; `commits` and `approvals`, when given, are the exact
    numbers of `Commit` records and pending approval requests.
    """

    status: str
    reasons: tuple[str, ...] = ()
    commits: int | None = None
    approvals: int | None = None

    def problems(self, outcome: Outcome) -> list[str]:
        """Every way `outcome` differs from this expectation (empty when it matches)."""
        found = []
        if outcome.status != self.status:
            found.append(f"status is {outcome.status!r}, expected {self.status!r}")
        for fragment in self.reasons:
            if not any(fragment in reason for reason in outcome.reasons):
                found.append(f"no reason mentions {fragment!r}")
        if self.commits is not None and len(outcome.commits) != self.commits:
            found.append(f"{len(outcome.commits)} commit(s), expected {self.commits}")
        if self.approvals is not None and len(outcome.approvals) != self.approvals:
            found.append(f"{len(outcome.approvals)} approval(s) waiting, expected {self.approvals}")
        return found


@dataclass(frozen=True)
class Variant:
    """What one variant of a scenario changes; whatever it leaves `None` is the base scenario's.

    `agents` replace the base's agents of the same name (an agent of a new name is added); `remove_agents` drops
    agents by name. `inputs`, `rules`, `policy`, `sink` and `expect` replace the base's whole.

    ```python
    Scenario(..., variants={"conflict": Variant(agents=(scripted.agent("checker", ..., emit={"excluded": True}),),
                                                expect=Expectation("escalated", reasons=("contradicts",)))})
    ```
    """

    description: str = ""
    agents: tuple[Agent, ...] = ()
    remove_agents: tuple[str, ...] = ()
    inputs: Inputs | None = None
    rules: tuple[Rule, ...] | None = None
    policy: Policy | None = None
    sink: Callable[[], CommitTarget] | None = None
    expect: Expectation | None = None

    def apply(self, base: Scenario, name: str) -> Scenario:
        """`base` with this variant's changes, called `name`."""
        known = {a.name for a in base.agents}
        missing = [n for n in self.remove_agents if n not in known]
        if missing:
            raise ScenarioError(
                f"variant {name!r} removes unknown agent(s) {', '.join(missing)} (agents: {', '.join(sorted(known))})",
                file=base.source or None,
            )
        changed = {a.name: a for a in self.agents}
        kept = [changed.pop(a.name, a) for a in base.agents if a.name not in self.remove_agents]
        return replace(
            base,
            variant=name,
            description=self.description or base.description,
            agents=(*kept, *changed.values()),
            inputs=self.inputs or base.inputs,
            rules=base.rules if self.rules is None else self.rules,
            policy=self.policy or base.policy,
            sink=self.sink or base.sink,
            expect=self.expect or base.expect,
        )


VariantSource = Union[Variant, Callable[[], "Scenario"]]  # noqa: UP007 - a string forward reference inside


def variant_ref(ref: str, variant: str) -> str:
    """The reference of `variant` of the scenario `ref` names: `ref#variant` (`refund.yaml#conflict`)."""
    return f"{ref}#{variant}"


def split_ref(ref: str) -> tuple[str, str | None]:
    """`(scenario, variant)` from a reference that may end in `#variant`."""
    base, mark, variant = ref.rpartition("#")
    # A '#' inside a path (`runs#2/claims.yaml`) is not a variant: a variant's name is a plain word.
    plain = re.fullmatch(r"[A-Za-z0-9_.-]+", variant) is not None and not variant.endswith((".yaml", ".yml"))
    return (base, variant) if mark and base and plain else (ref, None)


@dataclass(frozen=True)
class Scenario:
    """A runnable scenario. `inputs(board_name)` gives the findings a run starts from (their subject usually
    follows the board); `sink()` makes a fresh sink per run; `variant` names a failure variant of a family.

    `ref` is how `scenarios.resolve` finds this scenario again (a built-in "family/variant", a YAML file's path, or
    "module:attribute"); the controller records it on every board it runs, so a board names the scenario that ran it.
    A variant's `ref` ends in `#variant` (a built-in's is "family/variant").

    `variants` maps a name to a `Variant` (what that variant changes) or to a function that builds the whole
    variant; `with_variant(name)` gives it, and `variant_names` lists them, the happy path first. `base` is the
    scenario a variant was made from.
    """

    name: str
    agents: tuple[Agent, ...]
    rules: tuple[Rule, ...]
    inputs: Inputs
    description: str = ""
    variant: str = "happy"
    policy: Policy | None = None
    sink: Callable[[], CommitTarget] | None = None
    expect: Expectation | None = None
    kinds: tuple[type[Record], ...] = ()
    source: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    ref: str | None = None
    variants: Mapping[str, VariantSource] = field(default_factory=dict)
    base: Scenario | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name or not self.agents:
            raise ScenarioError("a scenario needs a name and at least one agent", file=self.source or None)
        if self.policy is not None and self.sink is None:
            raise ScenarioError(f"scenario {self.name!r}: a policy needs a sink", file=self.source or None)

    @property
    def title(self) -> str:
        """`name`, or `name/variant` for a variant other than the happy path."""
        return self.name if self.variant == "happy" else f"{self.name}/{self.variant}"

    @property
    def variant_names(self) -> tuple[str, ...]:
        """Every variant this scenario can become (`with_variant`), its happy path first."""
        root = self.base or self
        return (root.variant, *(name for name in root.variants if name != root.variant))

    def with_variant(self, name: str) -> Scenario:
        """This scenario's variant `name` (the happy path's own name gives the happy path), with its `ref` naming the
        variant; `ScenarioError` naming the known variants when it has none of that name."""
        root = self.base or self
        if name == root.variant:
            return root
        found = root.variants.get(name)
        if found is None:
            raise ScenarioError(self._unknown(name), file=root.source or None)
        if isinstance(found, Variant):
            built, own = found.apply(root, name), None
        else:  # a function that builds the whole variant, as the built-in scenarios' are
            built = found()
            if not isinstance(built, Scenario):
                raise ScenarioError(f"variant {name!r} of {root.name!r} made a {type(built).__name__}, not a Scenario")
            own = built.ref
        ref = own or (variant_ref(root.ref, name) if root.ref is not None else None)
        return replace(built, variant=name, ref=ref, base=root)

    def _unknown(self, name: str) -> str:
        root = self.base or self
        message = f"scenario {root.name!r} has no variant {name!r}"
        if root.variants:
            close = difflib.get_close_matches(name, self.variant_names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            listed = ", ".join(self.variant_names)
            return f"{message}{hint} (variants: {listed})" if close else f"{message}; variants: {listed}"
        if root.source.endswith((".yaml", ".yml")):
            return f"{message}: a scenario file has no variants unless it declares them under `variants:`"
        return f"{message}: it declares no variants (Scenario(..., variants={{name: Variant(...)}}))"

    def controller(self, *, sink: CommitTarget | None = None) -> Controller:
        """A fresh controller for one run (with `sink`, or a fresh one from the scenario's factory)."""
        chosen = sink if sink is not None else (self.sink() if self.sink is not None else None)
        inputs = [k for k in self.kinds if issubclass(k, Finding)] or None
        return Controller(
            self.agents, self.rules, inputs=inputs, policy=self.policy, sink=chosen, scenario=self.ref, **self.options
        )

    async def run(
        self, blackboard: Blackboard, *, board: str | None = None, sink: CommitTarget | None = None
    ) -> ScenarioRun:
        """Run (or resume) the scenario on `board` (default: the scenario's title) of `blackboard`."""
        target = blackboard.board(board or self.title.replace("/", "-"))
        controller = self.controller(sink=sink)
        outcome = await controller.run(target, *self.inputs(target.name))
        return ScenarioRun(self, target, controller, outcome)

    run_sync = sync_twin(run)


@dataclass(frozen=True)
class ScenarioRun:
    """One run of a scenario: the board, the controller it ran with, its outcome, and how that meets `expect`."""

    scenario: Scenario
    board: Board
    controller: Controller
    outcome: Outcome

    @property
    def problems(self) -> list[str]:
        expect = self.scenario.expect
        return expect.problems(self.outcome) if expect is not None else []

    @property
    def ok(self) -> bool:
        """Whether the outcome is what the scenario expects (True when it expects nothing)."""
        return not self.problems

    def check(self) -> Outcome:
        """The outcome, or `ScenarioError` listing how it differs from what the scenario expects."""
        if self.problems:
            where = self.scenario.source or None
            raise ScenarioError(f"scenario {self.scenario.title!r}: " + "; ".join(self.problems), file=where)
        return self.outcome
