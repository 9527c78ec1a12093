"""The built-in scenarios, from the field articles in the project's seeds: families, each with its variants; and
finding the scenario that ran a board.

`get("support-case")` is a family's happy path; `get("support-case", "conflict")` or `get("support-case/conflict")`
one of its failure variants. `families()` lists them. `resolve` also takes a YAML file or `module:attribute`;
`controller_for(blackboard, board)` rebuilds the controller a board recorded, so a person's answer or a replay needs
no more than the board's name.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TypeGuard

from slateboard.blackboard.board import Blackboard, Board
from slateboard.blackboard.records import decode_record
from slateboard.controller.loop import Controller
from slateboard.errors import ConfigurationError, ScenarioError, SlateboardError
from slateboard.scenarios.model import Scenario, split_ref
from slateboard.state.records import RunStarted

__all__ = ("Family", "families", "get", "names", "resolve", "controller_for", "import_attribute")


@dataclass(frozen=True)
class Family:
    """A built-in scenario and its variants; `seed` names the article it comes from."""

    name: str
    seed: str
    summary: str
    variants: tuple[str, ...]
    build: Callable[[str], Scenario]


def _support_case(variant: str) -> Scenario:
    from slateboard.scenarios.support_case import support_case  # noqa: PLC0415 - built only when asked for

    return support_case(variant)


def _lead_to_cash(variant: str) -> Scenario:
    from slateboard.scenarios.lead_to_cash import lead_to_cash  # noqa: PLC0415 - see _support_case

    return lead_to_cash(variant)


def _handoffs(variant: str) -> Scenario:
    from slateboard.scenarios.handoffs import handoffs  # noqa: PLC0415 - see _support_case

    return handoffs(variant)


def families() -> dict[str, Family]:
    """Every built-in family, by name."""
    from slateboard.scenarios import handoffs, lead_to_cash, support_case  # noqa: PLC0415 - see _support_case

    support = Family(
        name="support-case",
        seed="000",
        summary="a B2B warranty case: intake, routing, knowledge, entitlement, response, action and review agents",
        variants=support_case.VARIANTS,
        build=_support_case,
    )
    lead = Family(
        name="lead-to-cash",
        seed="002",
        summary="a Salesforce lead: supervisor with qualification, routing, engagement, call-summary and proposal "
        "specialists",
        variants=lead_to_cash.VARIANTS,
        build=_lead_to_cash,
    )
    handoff = Family(
        name="handoffs",
        seed="004",
        summary="one request through CRM, ticketing and warehouse tools behind a registry with idempotency keys",
        variants=handoffs.VARIANTS,
        build=_handoffs,
    )
    return {family.name: family for family in (support, lead, handoff)}


def names() -> list[str]:
    """Every built-in scenario as `family` or `family/variant`."""
    found = []
    for family in families().values():
        found += [family.name if v == "happy" else f"{family.name}/{v}" for v in family.variants]
    return found


def get(name: str, variant: str | None = None) -> Scenario:
    """The built-in scenario `name` (`family` or `family/variant`), or `ScenarioError` naming the known ones."""
    family_name, _, named_variant = name.partition("/")
    if variant is not None and named_variant and variant != named_variant:
        raise ScenarioError(f"{name!r} names variant {named_variant!r}, but variant {variant!r} was asked for")
    known = families()
    family = known.get(family_name)
    if family is None:
        raise ScenarioError(f"no built-in scenario {family_name!r}; built-in: {', '.join(sorted(known))}")
    chosen = variant or named_variant or "happy"
    if chosen not in family.variants:
        raise ScenarioError(f"{family.name} has no variant {chosen!r}; variants: {', '.join(family.variants)}")
    built = family.build(chosen)
    siblings = {v: partial(get, family.name, v) for v in family.variants}  # each recorded as family/variant
    return replace(built, ref=built.ref or built.title, variants=siblings)


def resolve(reference: str, variant: str | None = None) -> Scenario:
    """A scenario from a reference: a built-in (`support-case/conflict`), a YAML file (`refund.yaml`), or a Python
    scenario as `package.module:attribute`: a `Scenario`, or a function annotated `-> Scenario` that needs no
    arguments (called once; anything else is refused, never called). The module is imported as `python -m` would,
    with the current directory on `sys.path`.

    `variant` (or a reference ending in `#variant`, as boards record it) picks one of the scenario's variants;
    `ScenarioError` naming the known ones when it has no such variant, whatever kind of scenario it is."""
    base, named = split_ref(reference)
    if variant is not None and named is not None and variant != named:
        raise ScenarioError(f"{reference!r} names variant {named!r}, but variant {variant!r} was asked for")
    chosen = variant or named
    if base.endswith((".yaml", ".yml")):
        from slateboard.scenarios.files import load  # noqa: PLC0415 - files imports the catalog's package

        loaded = load(base)
        found = replace(loaded, ref=loaded.ref or str(Path(base).resolve()))
    elif ":" in base and "/" not in base:
        python = _python(base)
        found = replace(python, ref=python.ref or base)
    elif base.endswith(".py"):
        raise ScenarioError("name a Python scenario as package.module:attribute, not by its file", file=base)
    else:
        return get(base, chosen)
    return found if chosen is None else found.with_variant(chosen)


def _python(reference: str) -> Scenario:
    found = import_attribute(reference, what="scenario", error=ScenarioError)
    if isinstance(found, Scenario):
        return found
    if not _makes_a_scenario(found):
        raise ScenarioError(
            f"{reference}: is a {type(found).__name__}, not a slateboard Scenario; name a Scenario, or a function "
            "annotated `-> Scenario` that needs no arguments (nothing else is called)"
        )
    scenario = found()
    if not isinstance(scenario, Scenario):
        raise ScenarioError(f"{reference}: returned a {type(scenario).__name__}, not a slateboard Scenario")
    return scenario


def import_attribute(reference: str, *, what: str, error: type[SlateboardError] = ConfigurationError) -> object:
    """The object `package.module:attribute` names, imported as `python -m` would: with the current directory on
    `sys.path` (added once, for the process), so a module beside the command line's working directory is found.

    Nothing is called: what to do with the object is the caller's choice. `error` (naming `what` was to be loaded)
    when the module or the attribute cannot be found."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise error(f"{reference}: name the {what} as package.module:attribute")
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)  # what `python -m` does; a module of the working directory wins, as it would there
    try:
        found: object = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise error(f"{reference}: cannot load the {what} ({exc})") from exc
    return found


def _makes_a_scenario(found: object) -> TypeGuard[Callable[[], object]]:
    """A plain function that says it returns a `Scenario` and needs no arguments: the only thing `resolve` calls."""
    if not inspect.isfunction(found):
        return False
    signature = inspect.signature(found)
    if any(
        p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values()
    ):
        return False
    try:
        returns = typing.get_type_hints(found).get("return")
    except Exception:  # an annotation that does not resolve: read the name it spells
        returns = signature.return_annotation
    return returns is Scenario or (isinstance(returns, str) and returns.rsplit(".", 1)[-1] == "Scenario")


def controller_for(blackboard: Blackboard, board: str, scenario: str | None = None) -> tuple[Controller, Board]:
    """The controller that ran `board` of `blackboard`, rebuilt to approve, reject, settle or replay it, and the board.

    `scenario` (anything `resolve` takes) names the scenario when given. Otherwise the scenario the board recorded
    when it ran (`RunStarted.scenario`, newest first) is resolved; a board written before boards recorded their
    scenario is matched by its controller's fingerprint against the built-in scenarios. Either way the rebuilt
    controller must have the fingerprint of one that ran the board. `ConfigurationError` when the board has no
    entries; `ScenarioError` naming what was tried when no scenario matches.
    """
    started = _runs_started(blackboard, board)
    ran = {run.controller for run in started}
    if scenario is not None:
        named = resolve(scenario).controller()
        if named.fingerprint not in ran:
            raise ScenarioError(f"board {board!r} was not run by scenario {scenario!r} (its controller differs)")
        return named, blackboard.board(board)
    recorded = list(dict.fromkeys(run.scenario for run in reversed(started) if run.scenario is not None))
    tried: list[str] = []
    for reference in recorded:
        try:
            candidate = resolve(reference).controller()
        except ScenarioError as exc:  # moved or broken since the run: say so, and still try the built-ins
            tried.append(f"its recorded scenario {reference!r} cannot be loaded ({exc})")
            continue
        if candidate.fingerprint in ran:
            return candidate, blackboard.board(board)
        tried.append(f"its recorded scenario {reference!r} now builds another controller (changed since the run?)")
    for name in names():
        candidate = get(name).controller()
        if candidate.fingerprint in ran:
            return candidate, blackboard.board(board)
    tried.append("no built-in scenario's controller ran it" + ("" if recorded else ", and it records no scenario"))
    raise ScenarioError(f"cannot find the scenario that ran board {board!r}: {'; '.join(tried)}")


def _runs_started(blackboard: Blackboard, board: str) -> list[RunStarted]:
    """The board's `RunStarted` records, decoded from the stored rows alone: the kinds of the board's findings need
    not be importable yet (building the scenario that ran it is what registers them)."""
    rows = blackboard.store.read(board, after=0, upto=None, wait=True)
    if not rows:
        raise ConfigurationError(f"board {board!r} has no entries in {blackboard.url}")
    started = []
    for row in rows:
        if row.kind == RunStarted.kind_name:
            record = decode_record(row.kind, row.schema_version, row.payload, where=f"{board} v{row.version}")
            if isinstance(record, RunStarted):
                started.append(record)
    if not started:
        raise ScenarioError(f"board {board!r} records no controller run: no scenario ran it")
    return started
