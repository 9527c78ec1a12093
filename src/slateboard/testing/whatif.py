"""Testing a policy or rule change against history: what-if over a corpus of recorded boards, in CI.

```python
from slateboard.testing import assert_policy_holds

def test_the_new_policy_decides_history_as_before():
    assert_policy_holds("sqlite:///corpus.db", policy="policy.toml")            # every board of the store

def test_the_stricter_gate_only_holds_back_what_it_should(slateboard_sqlite):
    reports = whatif_boards(slateboard_sqlite, policy=STRICTER, boards=["case-1", "case-2"])
    held_back = [r.board for r in reports if r.would_be == "awaiting_approval"]   # check what you expect
```

Each board is re-judged by the controller that ran it (rebuilt from the scenario it recorded, see
`scenarios.controller_for`) under the changed policy and/or rules; no agent or sink runs and nothing is written.
`assert_policy_holds` fails listing every decision, verdict and outcome that would change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from slateboard._internal.sync import run_sync
from slateboard.blackboard.board import Blackboard
from slateboard.controller.rules import Rule
from slateboard.controller.whatif_report import WhatIfReport
from slateboard.errors import ConfigurationError
from slateboard.policies.files import load
from slateboard.policies.policy import Policy
from slateboard.scenarios.catalog import controller_for, import_attribute

__all__ = ("PolicySource", "assert_policy_holds", "load_rules", "whatif_boards")

PolicySource = Policy | str | Path
"""A policy, or the path of a policy file (TOML or YAML, see `slateboard.policies.load`)."""


def load_rules(reference: str) -> tuple[Rule, ...]:
    """The rule set `package.module:attribute` names: a list or tuple of rules (imported as `python -m` would, with
    the current directory on `sys.path`; never called). `ConfigurationError` for anything else."""
    found = import_attribute(reference, what="rules")
    if isinstance(found, str) or not isinstance(found, list | tuple):
        raise ConfigurationError(f"{reference}: is a {type(found).__name__}, not a list or tuple of rules")
    return tuple(found)


def _policy(source: PolicySource | None) -> Policy | None:
    if source is None or isinstance(source, Policy):
        return source
    if isinstance(source, str | Path):
        return load(source)
    raise ConfigurationError(f"policy must be a Policy or a policy file's path, got {source!r}")


def whatif_boards(
    blackboard: Blackboard,
    *,
    policy: PolicySource | None = None,
    rules: Sequence[Rule] | str | None = None,
    boards: Iterable[str] | None = None,
    scenario: str | None = None,
) -> tuple[WhatIfReport, ...]:
    """A what-if of each of `boards` (default: every board of the store), in order.

    `policy` is a `Policy` or a policy file; `rules` a rule list or its `module:attribute`; each defaults to the
    one the board's controller has. `scenario` names the scenario that ran the boards (default: the one each board
    recorded). A policy file is read once each board's scenario is built, so it may name the scenario's kinds."""
    if policy is None and rules is None:
        raise ConfigurationError("a what-if needs a changed policy or rule set: give policy=, rules= or both")
    chosen_rules = load_rules(rules) if isinstance(rules, str) else rules
    names = list(boards) if boards is not None else blackboard.boards()
    reports = []
    for name in names:
        controller, board = controller_for(blackboard, name, scenario)
        report = run_sync(controller.whatif, board, policy=_policy(policy), rules=chosen_rules)
        reports.append(report)
    return tuple(reports)


def assert_policy_holds(
    blackboard: Blackboard | str,
    *,
    policy: PolicySource | None = None,
    rules: Sequence[Rule] | str | None = None,
    boards: Iterable[str] | None = None,
    scenario: str | None = None,
) -> tuple[WhatIfReport, ...]:
    """Fail (`AssertionError`) when the changed `policy` and/or `rules` would decide any recorded board differently,
    listing every change; otherwise return the reports. `blackboard` is an open `Blackboard` or a store URL.
    The arguments are those of `whatif_boards`."""
    if isinstance(blackboard, str):
        with Blackboard.open(blackboard) as opened:
            return assert_policy_holds(opened, policy=policy, rules=rules, boards=boards, scenario=scenario)
    reports = whatif_boards(blackboard, policy=policy, rules=rules, boards=boards, scenario=scenario)
    changed = [report for report in reports if report.changed]
    if changed:
        lines = [line for report in changed for line in report.lines()]
        head = (
            f"the changed policy or rules would decide {len(changed)} of {len(reports)} recorded board(s) differently"
        )
        raise AssertionError("\n".join([head, *lines]))
    return reports
