"""Scenarios: finding kinds, agents, rules, policy, sink, inputs and the expected outcome, as one runnable unit.

```python
from slateboard import Blackboard, scenarios

run = scenarios.get("support-case", "conflict").run_sync(Blackboard.open("memory://"))
run.outcome.status, run.ok, run.problems
```

Built-in scenarios come from the field articles (`scenarios.names()`); your own are `Scenario(...)` objects or
YAML files (`scenarios.load("refund.yaml")`; the format: docs/scenario-files.md). Each may declare variants
(`Variant`, `Scenario.with_variant`, `variants:` in a file), which `resolve(ref, variant)` checks by name.
`slateboard.scenarios.scripted` builds agents that stage every failure mode without an LLM.
"""

from slateboard.scenarios.catalog import Family, controller_for, families, get, names, resolve
from slateboard.scenarios.files import load, loads
from slateboard.scenarios.model import Expectation, Scenario, ScenarioRun, Variant

__all__ = (
    "Scenario",
    "Expectation",
    "ScenarioRun",
    "Variant",
    "Family",
    "families",
    "get",
    "names",
    "resolve",
    "controller_for",
    "load",
    "loads",
)
