"""The runner: timeouts per attempt, the retry rule, and checks on what an agent returns (invariant 4)."""

import math
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from slateboard import Blackboard, Finding, agent
from slateboard.agents import AgentContext
from slateboard.agents.runner import RECOVERABLE, Attempt, collect_outputs, run_agent
from slateboard.blackboard.view import BoardView
from slateboard.errors import ConflictError, InvalidFindingError, PermissionDeniedError, WorkflowError

pytestmark = pytest.mark.anyio

FAST = 0.05  # a timeout that a test can afford to wait for
PATIENT = 0.5  # for an agent whose answering attempt runs in a thread: a loaded machine may start it late
QUICK = 2.0  # an overrun agent must be abandoned well before this


class Case(Finding):
    kind_name = "tests.agents.runner.Case"
    description: str


class Evidence(Finding):
    kind_name = "tests.agents.runner.Evidence"
    text: str


class Warranty(Evidence):
    kind_name = "tests.agents.runner.Warranty"
    months: int


class Entitlement(Finding):
    kind_name = "tests.agents.runner.Entitlement"
    entitled: bool


class Note(Finding):
    kind_name = "tests.agents.runner.Note"
    text: str


CASE = Case(subject="case-1", description="screen cracked", confidence=1.0)


def entitled(value: bool = True, confidence: float = 0.9) -> Entitlement:
    return Entitlement(subject="case-1", entitled=value, confidence=confidence)


def note(text: str) -> Note:
    return Note(subject="case-1", text=text, confidence=0.8)


def with_case(number: int) -> Mapping[str, Any]:
    return {"case": CASE}


def statuses(attempts: list[Attempt]) -> list[str]:
    return [a.status for a in attempts]


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Lets a blocked worker thread finish once its test is over."""
    event = threading.Event()
    yield event
    event.set()


# --- success -------------------------------------------------------------------------------------------------


async def test_an_ok_attempt_returns_the_outputs() -> None:
    @agent
    async def entitlement(case: Case) -> Entitlement:
        return entitled(case.description == "screen cracked")

    attempts = await run_agent(entitlement, with_case)
    assert attempts == [Attempt(1, "ok", "", (entitled(True),))]


async def test_a_sync_agent_returns_its_outputs_too() -> None:
    @agent
    def entitlement(case: Case) -> Entitlement:
        return entitled(False)

    attempts = await run_agent(entitlement, with_case)
    assert statuses(attempts) == ["ok"]
    assert attempts[0].outputs == (entitled(False),)


@pytest.mark.parametrize("blocking", [False, True])
async def test_a_non_blocking_sync_agent_runs_on_the_event_loop_thread_and_others_in_a_worker(blocking: bool) -> None:
    ran_on: list[int] = []

    @agent(blocking=blocking)
    def entitlement(case: Case) -> Entitlement:
        ran_on.append(threading.get_ident())
        return entitled(True)

    attempts = await run_agent(entitlement, with_case)
    assert statuses(attempts) == ["ok"]
    assert (ran_on == [threading.get_ident()]) is not blocking


def test_blocking_false_is_refused_for_an_async_agent_and_a_non_bool_is_refused() -> None:
    async def entitlement(case: Case) -> Entitlement:
        return entitled(True)

    with pytest.raises(WorkflowError, match="blocking=False is for sync agents"):
        agent(blocking=False)(entitlement)
    with pytest.raises(WorkflowError, match="blocking must be True or False"):
        agent(blocking="no")(entitlement)  # type: ignore[call-overload]


async def test_a_union_agent_may_return_any_member() -> None:
    @agent
    async def judge(case: Case) -> Entitlement | Note:
        return note("unsure")

    attempts = await run_agent(judge, with_case)
    assert statuses(attempts) == ["ok"]
    assert attempts[0].outputs == (note("unsure"),)


async def test_a_subclass_of_a_declared_kind_may_be_returned() -> None:
    @agent
    async def lookup(case: Case) -> Evidence:
        return Warranty(subject="case-1", text="12 months", months=12, confidence=0.7)

    attempts = await run_agent(lookup, with_case)
    assert statuses(attempts) == ["ok"]
    assert isinstance(attempts[0].outputs[0], Warranty)


async def test_an_optional_agent_returning_none_is_ok_with_no_outputs() -> None:
    @agent
    async def maybe(case: Case) -> Entitlement | None:
        return None

    attempts = await run_agent(maybe, with_case)
    assert attempts == [Attempt(1, "ok")]
    assert attempts[0].outputs == ()


async def test_an_agent_that_writes_nothing_is_ok_with_no_outputs() -> None:
    seen: list[Case] = []

    @agent
    def observer(case: Case) -> None:
        seen.append(case)

    attempts = await run_agent(observer, with_case)
    assert attempts == [Attempt(1, "ok")]
    assert seen == [CASE]


@pytest.mark.parametrize("container", [list, tuple])
async def test_a_many_agent_returns_all_its_outputs_in_order(container: type) -> None:
    @agent
    async def notes(case: Case) -> list[Note | Entitlement]:
        return container([note("a"), entitled(), note("b")])  # type: ignore[no-any-return]

    attempts = await run_agent(notes, with_case)
    assert statuses(attempts) == ["ok"]
    assert attempts[0].outputs == (note("a"), entitled(), note("b"))


@pytest.mark.parametrize("empty", [[], None], ids=["empty-list", "none"])
async def test_a_many_agent_may_return_nothing(empty: Any) -> None:
    @agent
    async def notes(case: Case) -> list[Note]:
        return empty  # type: ignore[no-any-return]

    assert await run_agent(notes, with_case) == [Attempt(1, "ok")]


async def test_a_timeout_of_none_means_no_limit() -> None:
    @agent(timeout=None)
    async def patient(case: Case) -> Note:
        await anyio.sleep(FAST)
        return note("done")

    assert statuses(await run_agent(patient, with_case)) == ["ok"]


async def test_an_agent_receives_the_view_and_context_it_asks_for() -> None:
    with Blackboard.open("memory://") as bb:
        board = bb.board("case-1")
        await board.write(CASE, author="intake-form")
        view = await board.view()

        @agent
        async def contextual(case: Case, view: BoardView, ctx: AgentContext) -> Note:
            return note(f"{ctx.agent}@{ctx.attempt} v{view.version} {view.latest(Case) == case}")

        def arguments(n: int) -> Mapping[str, Any]:
            context = AgentContext(agent="contextual", subject="case-1", attempt=n, view=view)
            return {"case": CASE, "view": view, "ctx": context}

        attempts = await run_agent(contextual, arguments)
    assert attempts[0].outputs == (note("contextual@1 v1 True"),)


# --- timeouts and the retry rule -----------------------------------------------------------------------------


async def test_a_timeout_then_success_gives_two_attempts() -> None:
    @agent(timeout=FAST, retries=1)
    async def flaky(case: Case) -> Note:
        calls.append(case)
        if len(calls) == 1:
            await anyio.sleep_forever()  # a hang: the timeout ends it
        return note("second time lucky")

    calls: list[Case] = []
    started = time.monotonic()
    attempts = await run_agent(flaky, with_case)
    assert time.monotonic() - started < QUICK
    assert statuses(attempts) == ["timeout", "ok"]
    assert [a.number for a in attempts] == [1, 2]
    assert attempts[0].outputs == ()
    assert "0.05 s" in attempts[0].error
    assert attempts[1].outputs == (note("second time lucky"),)
    assert len(calls) == 2


async def test_retries_zero_means_one_attempt() -> None:
    @agent(timeout=FAST, retries=0)
    async def slow(case: Case) -> Note:
        await anyio.sleep_forever()
        return note("never")

    attempts = await run_agent(slow, with_case)
    assert statuses(attempts) == ["timeout"]


async def test_every_retry_is_used_for_a_recoverable_failure() -> None:
    @agent(timeout=FAST, retries=3)
    async def slow(case: Case) -> Note:
        await anyio.sleep_forever()
        return note("never")

    started = time.monotonic()
    attempts = await run_agent(slow, with_case)
    assert time.monotonic() - started < QUICK
    assert statuses(attempts) == ["timeout"] * 4
    assert [a.number for a in attempts] == [1, 2, 3, 4]


async def test_an_ordinary_exception_is_retried_once() -> None:
    calls: list[int] = []

    @agent
    async def broken(case: Case) -> Note:
        calls.append(1)
        raise KeyError("missing-field")

    attempts = await run_agent(broken, with_case)
    assert statuses(attempts) == ["error", "error"]
    assert len(calls) == 2
    assert all(a.outputs == () for a in attempts)
    assert attempts[0].error == "KeyError: 'missing-field'"


async def test_an_error_then_success_stops_retrying() -> None:
    calls: list[int] = []

    @agent(retries=5)
    def transient(case: Case) -> Note:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("reset by peer")
        return note("ok now")

    attempts = await run_agent(transient, with_case)
    assert statuses(attempts) == ["error", "ok"]
    assert attempts[0].error == "ConnectionError: reset by peer"
    assert len(calls) == 2


async def test_a_long_error_is_shortened() -> None:
    @agent(retries=0)
    async def verbose(case: Case) -> Note:
        raise RuntimeError("x" * 5000)

    (attempt,) = await run_agent(verbose, with_case)
    assert attempt.status == "error"
    assert len(attempt.error) == 500
    assert attempt.error.startswith("RuntimeError: xxx")
    assert attempt.error.endswith("...")


@pytest.mark.parametrize("is_async", [True, False], ids=["async", "sync"])
async def test_a_conflict_is_never_retried(is_async: bool) -> None:
    calls: list[int] = []

    def body(case: Case) -> Note:
        calls.append(1)
        raise ConflictError("entitlement contradicts a policy exception")

    if is_async:

        @agent(retries=3)
        async def conflicted(case: Case) -> Note:
            return body(case)
    else:

        @agent(retries=3)
        def conflicted(case: Case) -> Note:
            return body(case)

    attempts = await run_agent(conflicted, with_case)
    assert statuses(attempts) == ["conflict"]
    assert len(calls) == 1
    assert "entitlement contradicts a policy exception" in attempts[0].error
    assert attempts[0].error.startswith("ConflictError")


def test_only_timeouts_and_errors_are_recoverable() -> None:
    assert frozenset({"timeout", "error"}) == RECOVERABLE


# --- invariant 4: only declared kinds, only valid findings ---------------------------------------------------


async def test_an_undeclared_kind_is_denied_and_not_retried() -> None:
    calls: list[int] = []

    @agent(retries=3)
    async def sneaky(case: Case) -> Note:
        calls.append(1)
        return entitled()  # type: ignore[return-value]

    attempts = await run_agent(sneaky, with_case)
    assert statuses(attempts) == ["denied"]
    assert attempts[0].outputs == ()
    assert len(calls) == 1
    error = attempts[0].error
    assert error.startswith("PermissionDeniedError")
    assert "'sneaky'" in error
    assert Entitlement.kind_name in error
    assert Note.kind_name in error  # what it does declare


def test_permission_denied_names_agent_and_kind() -> None:
    @agent
    def sneaky(case: Case) -> Note:
        raise NotImplementedError

    with pytest.raises(PermissionDeniedError) as caught:
        collect_outputs(sneaky, entitled())
    assert caught.value.agent == "sneaky"
    assert caught.value.kind == Entitlement.kind_name
    assert "'sneaky'" in str(caught.value)
    assert Entitlement.kind_name in str(caught.value)


async def test_a_base_kind_is_denied_to_an_agent_declaring_a_subclass() -> None:
    @agent
    async def warranty(case: Case) -> Warranty:
        return Evidence(subject="case-1", text="some evidence", confidence=0.5)  # type: ignore[return-value]

    attempts = await run_agent(warranty, with_case)
    assert statuses(attempts) == ["denied"]
    assert Evidence.kind_name in attempts[0].error


async def test_an_agent_that_declares_nothing_is_denied_any_finding() -> None:
    @agent
    async def observer(case: Case) -> None:
        return note("sneaky")  # type: ignore[return-value]

    attempts = await run_agent(observer, with_case)
    assert statuses(attempts) == ["denied"]
    assert "declares only: nothing" in attempts[0].error


async def test_one_undeclared_kind_in_a_list_denies_the_whole_answer() -> None:
    @agent(retries=2)
    async def notes(case: Case) -> list[Note]:
        return [note("fine"), entitled(), note("also fine")]  # type: ignore[list-item]

    attempts = await run_agent(notes, with_case)
    assert statuses(attempts) == ["denied"]
    assert attempts[0].outputs == ()


@pytest.mark.parametrize(
    "result",
    ["a finding, honestly", 42, {"subject": "case-1", "text": "t", "confidence": 1.0}, CASE.model_dump()],
    ids=["str", "int", "dict", "dumped-finding"],
)
async def test_a_non_finding_is_invalid_and_not_retried(result: Any) -> None:
    calls: list[int] = []

    @agent(retries=3)
    async def confused(case: Case) -> Note:
        calls.append(1)
        return result  # type: ignore[no-any-return]

    attempts = await run_agent(confused, with_case)
    assert statuses(attempts) == ["invalid"]
    assert len(calls) == 1
    assert attempts[0].error.startswith("InvalidFindingError")
    assert "'confused'" in attempts[0].error


@pytest.mark.parametrize("confidence", [math.nan, math.inf, -0.1, 1.5])
async def test_an_invalid_finding_is_invalid_and_not_retried(confidence: float) -> None:
    calls: list[int] = []

    @agent(retries=3)
    async def overconfident(case: Case) -> Note:
        calls.append(1)
        return Note.model_construct(subject="case-1", text="t", confidence=confidence, citations=())

    attempts = await run_agent(overconfident, with_case)
    assert statuses(attempts) == ["invalid"]
    assert len(calls) == 1
    assert attempts[0].outputs == ()
    assert "confidence" in attempts[0].error
    assert Note.kind_name in attempts[0].error


async def test_a_finding_the_agent_fails_to_build_is_invalid() -> None:
    @agent(retries=3)
    async def careless(case: Case) -> Note:
        return Note(subject="case-1", text="t", confidence=2.0)  # raises InvalidFindingError inside the agent

    attempts = await run_agent(careless, with_case)
    assert statuses(attempts) == ["invalid"]
    assert "confidence" in attempts[0].error


async def test_none_from_a_non_optional_agent_is_invalid() -> None:
    @agent(retries=3)
    async def silent(case: Case) -> Note:
        return None  # type: ignore[return-value]

    attempts = await run_agent(silent, with_case)
    assert statuses(attempts) == ["invalid"]
    assert "'silent'" in attempts[0].error
    assert "returned None" in attempts[0].error


async def test_a_single_finding_from_a_many_agent_is_invalid() -> None:
    @agent
    async def notes(case: Case) -> list[Note]:
        return note("not in a list")  # type: ignore[return-value]

    attempts = await run_agent(notes, with_case)
    assert statuses(attempts) == ["invalid"]
    assert "must return a list" in attempts[0].error


async def test_a_list_from_a_single_agent_is_invalid() -> None:
    @agent
    async def one(case: Case) -> Note:
        return [note("a")]  # type: ignore[return-value]

    attempts = await run_agent(one, with_case)
    assert statuses(attempts) == ["invalid"]


async def test_one_invalid_finding_in_a_list_invalidates_the_answer() -> None:
    @agent
    async def notes(case: Case) -> list[Note]:
        return [note("a"), Note.model_construct(subject="case-1", text="b", confidence=math.nan, citations=())]

    attempts = await run_agent(notes, with_case)
    assert statuses(attempts) == ["invalid"]
    assert attempts[0].outputs == ()


def test_collect_outputs_raises_the_documented_errors() -> None:
    @agent
    def one(case: Case) -> Note:
        raise NotImplementedError

    with pytest.raises(InvalidFindingError):
        collect_outputs(one, None)
    with pytest.raises(InvalidFindingError):
        collect_outputs(one, "text")
    assert collect_outputs(one, note("x")) == (note("x"),)


async def test_a_constructed_finding_missing_a_field_is_invalid() -> None:
    @agent
    async def sloppy(case: Case) -> Note:
        return Note.model_construct(subject="case-1", confidence=0.5)  # no text

    attempts = await run_agent(sloppy, with_case)
    assert statuses(attempts) == ["invalid"]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "fields", [{"subject": "case-1", "text": 123}, {"subject": "", "text": "t"}], ids=["wrong-type", "empty-subject"]
)
async def test_a_constructed_finding_with_a_bad_field_is_invalid(fields: dict[str, Any]) -> None:
    @agent
    async def sloppy(case: Case) -> Note:
        return Note.model_construct(confidence=0.5, citations=(), **fields)

    attempts = await run_agent(sloppy, with_case)
    assert statuses(attempts) == ["invalid"]


# --- sync agents in worker threads ---------------------------------------------------------------------------


async def test_a_sync_agent_runs_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()
    agent_threads: list[int] = []

    @agent
    def blocking(case: Case) -> Note:
        agent_threads.append(threading.get_ident())
        return note("from a thread")

    @agent
    async def nonblocking(case: Case) -> Note:
        agent_threads.append(threading.get_ident())
        return note("from the loop")

    assert statuses(await run_agent(blocking, with_case)) == ["ok"]
    assert statuses(await run_agent(nonblocking, with_case)) == ["ok"]
    assert agent_threads[0] != loop_thread
    assert agent_threads[1] == loop_thread


async def test_a_blocking_sync_agent_does_not_block_the_event_loop(release: threading.Event) -> None:
    ticks: list[int] = []

    @agent(timeout=5, retries=0)
    def blocking(case: Case) -> Note:
        if not release.wait(QUICK):
            raise TimeoutError("never released")
        return note("released")

    async def ticker() -> None:  # runs only while the event loop is free, i.e. while the agent blocks elsewhere
        for i in range(3):
            await anyio.lowlevel.checkpoint()
            ticks.append(i)
        release.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        attempts = await run_agent(blocking, with_case)
    assert ticks == [0, 1, 2]
    assert statuses(attempts) == ["ok"]


async def test_a_sync_agent_that_overruns_is_abandoned(release: threading.Event) -> None:
    finished = threading.Event()

    @agent(timeout=FAST, retries=0)
    def stuck(case: Case) -> Note:
        release.wait(10)
        finished.set()
        return note("too late")

    started = time.monotonic()
    attempts = await run_agent(stuck, with_case)
    elapsed = time.monotonic() - started
    assert statuses(attempts) == ["timeout"]
    assert elapsed < QUICK
    assert not finished.is_set()  # the thread was left behind, still running
    assert attempts[0].outputs == ()


async def test_an_abandoned_sync_agent_is_retried_in_a_fresh_thread(release: threading.Event) -> None:
    threads: list[int] = []

    @agent(timeout=PATIENT, retries=1)
    def stuck_once(case: Case) -> Note:
        threads.append(threading.get_ident())
        if len(threads) == 1:
            release.wait(10)
        return note(f"attempt {len(threads)}")

    started = time.monotonic()
    attempts = await run_agent(stuck_once, with_case)
    assert time.monotonic() - started < QUICK
    assert statuses(attempts) == ["timeout", "ok"]
    assert attempts[1].outputs == (note("attempt 2"),)
    assert threads[0] != threads[1]  # the first thread is still blocked


# --- arguments per attempt -----------------------------------------------------------------------------------


async def test_arguments_receive_the_attempt_number() -> None:
    numbers: list[int] = []
    received: list[str] = []

    def arguments(n: int) -> Mapping[str, Any]:
        numbers.append(n)
        return {"case": Case(subject="case-1", description=f"attempt {n}", confidence=1.0)}

    @agent(timeout=FAST, retries=1)
    async def flaky(case: Case) -> Note:
        received.append(case.description)
        if case.description == "attempt 1":
            await anyio.sleep_forever()
        return note(case.description)

    attempts = await run_agent(flaky, arguments)
    assert numbers == [1, 2]
    assert received == ["attempt 1", "attempt 2"]
    assert statuses(attempts) == ["timeout", "ok"]
    assert attempts[1].outputs == (note("attempt 2"),)


async def test_arguments_are_asked_for_only_as_often_as_there_are_attempts() -> None:
    numbers: list[int] = []

    def arguments(n: int) -> Mapping[str, Any]:
        numbers.append(n)
        return {"case": CASE}

    @agent(retries=4)
    async def fine(case: Case) -> Note:
        return note("first try")

    await run_agent(fine, arguments)
    assert numbers == [1]


async def test_arguments_are_passed_by_keyword() -> None:
    @agent
    async def keyword_only(*, case: Case, more: list[Note]) -> Note:
        return note(f"{case.description} + {len(more)}")

    attempts = await run_agent(keyword_only, lambda n: {"more": [note("x"), note("y")], "case": CASE})
    assert attempts[0].outputs == (note("screen cracked + 2"),)
