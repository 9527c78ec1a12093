"""The built-in scenarios, from the field articles in the project's seeds: families, each with its variants.

`get("support-case")` is a family's happy path; `get("support-case", "conflict")` or `get("support-case/conflict")`
one of its failure variants. `families()` lists them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from slateboard.errors import ScenarioError
from slateboard.scenarios.model import Scenario

__all__ = ("Family", "families", "get", "names", "resolve")


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
    return replace(built, ref=built.ref or built.title)


def resolve(reference: str, variant: str | None = None) -> Scenario:
    """A scenario from a reference: a built-in (`support-case/conflict`), a YAML file (`refund.yaml`), or a Python
    scenario as `package.module:attribute` (a `Scenario`, or a function returning one)."""
    if reference.endswith((".yaml", ".yml")):
        if variant is not None:
            raise ScenarioError("a scenario file has no variants; write one file per variant", file=reference)
        from slateboard.scenarios.files import load  # noqa: PLC0415 - files imports the catalog's package

        loaded = load(reference)
        return replace(loaded, ref=loaded.ref or str(Path(reference).resolve()))
    if ":" in reference and "/" not in reference:
        found = _python(reference)
        return replace(found, ref=found.ref or reference)
    if reference.endswith(".py"):
        raise ScenarioError("name a Python scenario as package.module:attribute, not by its file", file=reference)
    return get(reference, variant)


def _python(reference: str) -> Scenario:
    module_name, _, attribute = reference.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ScenarioError(f"{reference}: cannot load the scenario ({exc})") from exc
    scenario = found() if callable(found) and not isinstance(found, Scenario) else found
    if not isinstance(scenario, Scenario):
        raise ScenarioError(f"{reference}: is a {type(scenario).__name__}, not a slateboard Scenario")
    return scenario
