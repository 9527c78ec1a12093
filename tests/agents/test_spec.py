"""The agent contract: what `@agent` infers from annotations, the options it stores, and what it refuses.

This module uses postponed annotations on purpose, so `@agent` has to resolve every annotation through
`typing.get_type_hints`: the finding kinds are therefore defined at module level.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from slateboard import Finding, agent
from slateboard.agents import Agent, AgentContext, Parameter
from slateboard.agents.spec import DEFAULT_TIMEOUT
from slateboard.blackboard.view import BoardView
from slateboard.errors import ConfigurationError, WorkflowError


class Case(Finding):
    kind_name = "tests.agents.spec.Case"
    description: str


class Entitlement(Finding):
    kind_name = "tests.agents.spec.Entitlement"
    entitled: bool


class PolicyCheck(Finding):
    kind_name = "tests.agents.spec.PolicyCheck"
    excluded: bool


class Note(Finding):
    kind_name = "tests.agents.spec.Note"
    text: str


def case(description: str = "broken screen") -> Case:
    return Case(subject="case-1", description=description, confidence=1.0)


# --- inputs --------------------------------------------------------------------------------------------------


def test_a_parameter_annotated_with_a_kind_reads_the_newest_finding() -> None:
    @agent
    def entitlement(case: Case) -> Entitlement:
        return Entitlement(subject=case.subject, entitled=True, confidence=0.9)

    assert entitlement.params == (Parameter("case", "one", Case),)
    assert entitlement.inputs == (Case,)


@pytest.mark.parametrize(
    "annotation",
    [list[Case], tuple[Case, ...], Sequence[Case], typing.Sequence[Case], typing.List[Case], Iterable[Case]],  # noqa: UP006
    ids=["list", "tuple", "abc.Sequence", "typing.Sequence", "typing.List", "Iterable"],
)
def test_a_sequence_of_a_kind_reads_all_findings(annotation: Any) -> None:
    def notes(cases): ...  # type: ignore[no-untyped-def]

    notes.__annotations__ = {"cases": annotation, "return": Note}
    built = agent(notes)
    assert built.params == (Parameter("cases", "all", Case),)
    assert built.inputs == (Case,)


def test_board_view_and_context_parameters_are_not_inputs() -> None:
    @agent
    def reviewer(view: BoardView, case: Case, ctx: AgentContext, checks: list[PolicyCheck]) -> Note:
        raise NotImplementedError

    assert reviewer.params == (
        Parameter("view", "view"),
        Parameter("case", "one", Case),
        Parameter("ctx", "context"),
        Parameter("checks", "all", PolicyCheck),
    )
    # inputs keep parameter order and hold finding kinds only
    assert reviewer.inputs == (Case, PolicyCheck)


def test_keyword_only_parameters_are_accepted() -> None:
    @agent
    def entitlement(*, case: Case) -> Entitlement:
        raise NotImplementedError

    assert entitlement.inputs == (Case,)


# --- outputs -------------------------------------------------------------------------------------------------


def test_one_kind_is_required_single_output() -> None:
    @agent
    def entitlement(case: Case) -> Entitlement:
        raise NotImplementedError

    assert entitlement.outputs == (Entitlement,)
    assert (entitlement.many, entitlement.optional) == (False, False)


def test_a_union_declares_every_member() -> None:
    @agent
    def judge(case: Case) -> Entitlement | PolicyCheck:
        raise NotImplementedError

    assert judge.outputs == (Entitlement, PolicyCheck)
    assert (judge.many, judge.optional) == (False, False)
    assert judge.writes(Entitlement)
    assert judge.writes(PolicyCheck)
    assert not judge.writes(Note)


@pytest.mark.parametrize(
    "annotation",
    [Entitlement | None, typing.Optional[Entitlement], typing.Union[Entitlement, None]],  # noqa: UP007, UP045
    ids=["pipe", "Optional", "Union"],
)
def test_kind_or_none_is_optional(annotation: Any) -> None:
    def maybe(case): ...  # type: ignore[no-untyped-def]

    maybe.__annotations__ = {"case": Case, "return": annotation}
    built = agent(maybe)
    assert built.outputs == (Entitlement,)
    assert (built.many, built.optional) == (False, True)


def test_a_union_with_none_keeps_every_kind_and_is_optional() -> None:
    @agent
    def judge(case: Case) -> Entitlement | PolicyCheck | None:
        raise NotImplementedError

    assert judge.outputs == (Entitlement, PolicyCheck)
    assert judge.optional


@pytest.mark.parametrize(
    "annotation", [list[Note], tuple[Note, ...], Sequence[Note]], ids=["list", "tuple", "Sequence"]
)
def test_a_sequence_return_is_many(annotation: Any) -> None:
    def notes(case): ...  # type: ignore[no-untyped-def]

    notes.__annotations__ = {"case": Case, "return": annotation}
    built = agent(notes)
    assert built.outputs == (Note,)
    assert built.many
    assert built.optional  # an empty answer (or None) writes nothing


def test_a_list_of_a_union_declares_every_member() -> None:
    @agent
    def notes(case: Case) -> list[Note | PolicyCheck]:
        raise NotImplementedError

    assert notes.outputs == (Note, PolicyCheck)
    assert notes.many


def test_returning_none_writes_nothing() -> None:
    @agent
    def observer(case: Case) -> None:
        return None

    assert observer.outputs == ()
    assert (observer.many, observer.optional) == (False, True)
    assert not observer.writes(Case)
    assert not observer.writes(Note)
    assert "writes nothing" in repr(observer)


def test_writes_accepts_subclasses_of_a_declared_kind_only() -> None:
    @agent
    def entitlement(case: Case) -> Finding:
        raise NotImplementedError

    @agent
    def narrow(case: Case) -> Entitlement:
        raise NotImplementedError

    assert entitlement.writes(Entitlement)
    assert entitlement.writes(Finding)
    assert narrow.writes(Entitlement)
    assert not narrow.writes(Finding)
    assert not narrow.writes(Case)


# --- options -------------------------------------------------------------------------------------------------


def test_defaults() -> None:
    @agent
    def entitlement(case: Case) -> Entitlement:
        raise NotImplementedError

    assert isinstance(entitlement, Agent)
    assert entitlement.name == "entitlement"
    assert entitlement.timeout == DEFAULT_TIMEOUT
    assert entitlement.retries == 1
    assert entitlement.rating == 0
    assert entitlement.capabilities == frozenset()
    assert entitlement.when is None
    assert entitlement.description == ""


def test_options_are_stored() -> None:
    def guard(case: Case) -> bool:
        return case.description != ""

    @agent(timeout=8, retries=3, rating=50, capabilities=["warranty", "lookup", "warranty"], when=guard)
    def knowledge(case: Case, ent: Entitlement) -> PolicyCheck:
        """Look the case up in the policy handbook.

        More detail here.
        """
        raise NotImplementedError

    assert knowledge.timeout == 8
    assert knowledge.retries == 3
    assert knowledge.rating == 50
    assert knowledge.capabilities == frozenset({"warranty", "lookup"})
    assert knowledge.when is guard
    assert knowledge.description.startswith("Look the case up in the policy handbook.")
    assert "More detail here." in knowledge.description


def test_timeout_none_means_no_limit_and_retries_zero_is_allowed() -> None:
    @agent(timeout=None, retries=0)
    def patient(case: Case) -> Note:
        raise NotImplementedError

    assert patient.timeout is None
    assert patient.retries == 0


def test_name_override() -> None:
    @agent(name="entitlement-v2")
    def entitlement(case: Case) -> Entitlement:
        raise NotImplementedError

    assert entitlement.name == "entitlement-v2"
    assert "entitlement-v2" in repr(entitlement)


def test_repr_names_what_it_reads_and_writes() -> None:
    @agent
    def judge(case: Case, checks: list[PolicyCheck]) -> Entitlement | Note:
        raise NotImplementedError

    text = repr(judge)
    assert text == (
        "Agent('judge', reads tests.agents.spec.Case, tests.agents.spec.PolicyCheck, "
        "writes tests.agents.spec.Entitlement, tests.agents.spec.Note)"
    )


def test_a_when_guard_may_take_any_of_the_finding_parameters() -> None:
    @agent(when=lambda ent, checks: ent.entitled and not checks)
    def propose(case: Case, ent: Entitlement, checks: list[PolicyCheck], view: BoardView) -> Note:
        raise NotImplementedError

    assert propose.when is not None
    entitled = Entitlement(subject="case-1", entitled=True, confidence=1.0)
    assert propose.when(ent=entitled, checks=[]) is True


# --- sync and async, calling ---------------------------------------------------------------------------------


def test_sync_and_async_are_detected() -> None:
    @agent
    def sync_agent(case: Case) -> Note:
        return Note(subject=case.subject, text="sync", confidence=1.0)

    @agent
    async def async_agent(case: Case) -> Note:
        return Note(subject=case.subject, text="async", confidence=1.0)

    assert sync_agent.is_async is False
    assert async_agent.is_async is True


def test_the_decorated_agent_is_still_callable_like_the_function() -> None:
    @agent
    def entitlement(case: Case) -> Entitlement:
        return Entitlement(subject=case.subject, entitled=case.description == "in warranty", confidence=0.9)

    result = entitlement(case("in warranty"))
    assert result == Entitlement(subject="case-1", entitled=True, confidence=0.9)
    assert entitlement(case=case("out")).entitled is False


@pytest.mark.anyio
async def test_an_async_agent_called_directly_returns_an_awaitable() -> None:
    @agent
    async def entitlement(case: Case) -> Entitlement:
        return Entitlement(subject=case.subject, entitled=True, confidence=0.5)

    result = await entitlement(case())
    assert result == Entitlement(subject="case-1", entitled=True, confidence=0.5)


def test_is_async_cannot_be_set_by_the_caller() -> None:
    async def fn(case: Case) -> Note:
        raise NotImplementedError

    with pytest.raises(TypeError):
        Agent(name="x", fn=fn, params=(), outputs=(), many=False, optional=True, is_async=False)  # type: ignore[call-arg]


# --- bad declarations ----------------------------------------------------------------------------------------


def _refusal(fn: Any, **options: Any) -> str:
    with pytest.raises(WorkflowError) as caught:
        agent(**options)(fn) if options else agent(fn)
    # WorkflowError is a configuration error, and so a ValueError for callers that catch those
    assert isinstance(caught.value, ConfigurationError)
    assert isinstance(caught.value, ValueError)
    return str(caught.value)


def test_a_parameter_without_an_annotation_is_refused() -> None:
    def intake(case: Case, extra) -> Note:  # type: ignore[no-untyped-def]
        raise NotImplementedError

    message = _refusal(intake)
    assert "'intake'" in message
    assert "'extra'" in message
    assert "annotation" in message


@pytest.mark.parametrize(
    "annotation",
    [int, str, Any, list, list[int], dict[str, Case], Case | None, tuple[Case, Note], list[list[Case]]],
    ids=["int", "str", "Any", "bare-list", "list-int", "dict", "optional-kind", "fixed-tuple", "nested-list"],
)
def test_an_unsupported_parameter_annotation_is_refused(annotation: Any) -> None:
    def intake(case, odd): ...  # type: ignore[no-untyped-def]

    intake.__annotations__ = {"case": Case, "odd": annotation, "return": Note}
    message = _refusal(intake)
    assert "'intake'" in message
    assert "'odd'" in message
    assert "list[Kind]" in message  # says what would work


@pytest.mark.parametrize("variadic", ["args", "kwargs"])
def test_variadic_parameters_are_refused(variadic: str) -> None:
    if variadic == "args":

        def intake(case: Case, *rest: Case) -> Note:
            raise NotImplementedError
    else:

        def intake(case: Case, **rest: Case) -> Note:  # type: ignore[misc]
            raise NotImplementedError

    message = _refusal(intake)
    assert "'intake'" in message
    assert "'rest'" in message


def test_positional_only_parameters_are_refused() -> None:
    def intake(case: Case, /) -> Note:
        raise NotImplementedError

    message = _refusal(intake)
    assert "'intake'" in message
    assert "'case'" in message


@pytest.mark.parametrize("signature", ["nothing", "view-only", "context-only"])
def test_an_agent_that_reads_no_finding_is_refused(signature: str) -> None:
    if signature == "nothing":

        def clock() -> Note:
            raise NotImplementedError
    elif signature == "view-only":

        def clock(view: BoardView) -> Note:  # type: ignore[misc]
            raise NotImplementedError
    else:

        def clock(ctx: AgentContext) -> Note:  # type: ignore[misc]
            raise NotImplementedError

    message = _refusal(clock)
    assert "'clock'" in message
    assert "reads no finding kind" in message


def test_a_missing_return_annotation_is_refused() -> None:
    def intake(case: Case):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    message = _refusal(intake)
    assert "'intake'" in message
    assert "return annotation" in message


@pytest.mark.parametrize(
    "annotation",
    [int, str, Any, list[int], list[Note | None], Note | int, tuple[Note, Case], dict[str, Note]],
    ids=["int", "str", "Any", "list-int", "list-optional", "union-int", "fixed-tuple", "dict"],
)
def test_an_unsupported_return_annotation_is_refused(annotation: Any) -> None:
    def intake(case): ...  # type: ignore[no-untyped-def]

    intake.__annotations__ = {"case": Case, "return": annotation}
    message = _refusal(intake)
    assert "'intake'" in message


def test_an_annotation_that_cannot_be_resolved_is_refused_with_a_hint() -> None:
    class Local(Finding):  # not at module level: postponed annotations cannot see it
        kind_name = "tests.agents.spec.Local"
        text: str

    def intake(case: Local) -> Note:
        raise NotImplementedError

    message = _refusal(intake)
    assert "'intake'" in message
    assert "module level" in message


@pytest.mark.parametrize("retries", [-1, -10, 1.5, True, "1", None])
def test_bad_retries_are_refused(retries: Any) -> None:
    def intake(case: Case) -> Note:
        raise NotImplementedError

    message = _refusal(intake, retries=retries)
    assert "'intake'" in message
    assert "retries" in message


@pytest.mark.parametrize("timeout", [0, 0.0, -1, -0.5, float("nan"), "8"])
def test_bad_timeouts_are_refused(timeout: Any) -> None:
    def intake(case: Case) -> Note:
        raise NotImplementedError

    message = _refusal(intake, timeout=timeout)
    assert "'intake'" in message
    assert "timeout" in message


@pytest.mark.parametrize("rating", [1.5, "high", True, None])
def test_bad_ratings_are_refused(rating: Any) -> None:
    def intake(case: Case) -> Note:
        raise NotImplementedError

    message = _refusal(intake, rating=rating)
    assert "'intake'" in message
    assert "rating" in message


def test_when_asking_for_a_parameter_the_agent_does_not_have_is_refused() -> None:
    def intake(case: Case) -> Note:
        raise NotImplementedError

    message = _refusal(intake, when=lambda case, ent: ent.entitled)
    assert "'intake'" in message
    assert "ent" in message
    assert "case" in message  # lists what it may take


@pytest.mark.parametrize("param", ["view", "ctx"])
def test_when_asking_for_the_view_or_context_is_refused(param: str) -> None:
    def intake(case: Case, view: BoardView, ctx: AgentContext) -> Note:
        raise NotImplementedError

    guard = (lambda view: True) if param == "view" else (lambda ctx: True)
    message = _refusal(intake, when=guard)
    assert "'intake'" in message
    assert param in message


def test_when_must_be_callable() -> None:
    def intake(case: Case) -> Note:
        raise NotImplementedError

    message = _refusal(intake, when=True)
    assert "'intake'" in message
    assert "callable" in message


@pytest.mark.parametrize("name", ["line\nbreak", "tab\there"])
def test_an_unprintable_name_is_refused(name: str) -> None:
    def intake(case: Case) -> Note:
        raise NotImplementedError

    with pytest.raises(WorkflowError, match="needs a name"):
        agent(name=name)(intake)
