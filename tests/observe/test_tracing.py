"""OpenTelemetry spans of real runs, read back from the SDK's in-memory exporter: the span tree of a support case
(run > cycle > agent attempt / policy evaluation / commit > sink call), the board as correlation id on every span,
an error span for a failed sink call, the GenAI attributes of a cassette-backed model agent, and no import at all
without the `otel` extra."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from slateboard import AgentRun, Blackboard, Controller, Decision, Proposal, Verdict, policies, scenarios
from slateboard.commit import CommitLayer
from slateboard.state.records import Commit
from tests.controller.commit_kinds import SUPPORT_AGENTS, SUPPORT_RULES, DownCRM, case
from tests.observe.tracing import recording

pytestmark = pytest.mark.anyio
SUPPORT_POLICY = policies.Policy(policies.min_confidence(0.85), policies.require_citations(approved=True))


def attr(span: ReadableSpan, name: str) -> Any:
    assert span.attributes is not None
    return span.attributes.get(name)


def payloads(history: list[Any], kind: type) -> list[Any]:
    return [e.payload for e in history if isinstance(e.payload, kind)]


@pytest.fixture
def sqlite_bb(tmp_path: Path) -> Any:
    with Blackboard.open(f"sqlite:///{tmp_path / 'traced.db'}") as bb:
        yield bb


async def test_a_support_case_run_is_one_tree_of_spans_carrying_its_board(sqlite_bb: Blackboard) -> None:
    with recording() as spans:
        run = await scenarios.get("support-case").run(sqlite_bb, board="case-42")
    history = await run.board.history()

    root = spans.one("slateboard.run")
    assert root.parent is None
    assert attr(root, "slateboard.board") == "case-42"
    assert attr(root, "slateboard.outcome") == run.outcome.status == "awaiting_approval"
    assert attr(root, "slateboard.version") == len(history)
    assert {s.context.trace_id for s in spans.all()} == {root.context.trace_id}
    assert {attr(s, "slateboard.board") for s in spans.all()} == {"case-42"}

    # One cycle span per decision, each under the run, at the decision's version.
    cycles = spans.children(root, "slateboard.cycle")
    decisions = [(e.version, e.payload) for e in history if isinstance(e.payload, Decision)]
    assert [(attr(c, "slateboard.version"), attr(c, "slateboard.cycle")) for c in cycles] == [
        (v, d.cycle) for v, d in decisions
    ]
    assert [attr(c, "slateboard.decision") for c in cycles] == [d.status for _, d in decisions]
    assert len(spans.all("slateboard.cycle")) == len(cycles)

    # Every recorded attempt has its span, under the cycle that scheduled it.
    attempts = spans.all("slateboard.agent.attempt")
    recorded = sorted((r.agent, r.attempt, r.status) for r in payloads(history, AgentRun))
    traced = sorted(
        (attr(a, "slateboard.agent"), attr(a, "slateboard.attempt"), attr(a, "slateboard.status")) for a in attempts
    )
    assert traced == recorded
    cycle_ids = {c.context.span_id for c in cycles}
    assert all(a.parent is not None and a.parent.span_id in cycle_ids for a in attempts)
    for a in attempts:  # the attempt's version is that of the decision that scheduled it
        parent = next(c for c in cycles if a.parent is not None and c.context.span_id == a.parent.span_id)
        assert attr(a, "slateboard.version") == attr(parent, "slateboard.version")

    # Verdicts and the commit happen in the final cycle; the sink call is under its commit.
    final = cycles[-1]
    verdicts = payloads(history, Verdict)
    evaluations = spans.children(final, "slateboard.policy.evaluate")
    assert sorted(attr(e, "slateboard.outcome") for e in evaluations) == sorted(v.outcome for v in verdicts)
    assert len(spans.all("slateboard.policy.evaluate")) == len(verdicts)
    (commit,) = payloads(history, Commit)
    traced_commit = spans.one("slateboard.commit")
    assert traced_commit.parent is not None
    assert traced_commit.parent.span_id == final.context.span_id
    assert (attr(traced_commit, "slateboard.key"), attr(traced_commit, "slateboard.status")) == (commit.key, "applied")
    assert attr(traced_commit, "slateboard.version") == commit.proposal
    (call,) = spans.all("slateboard.sink.call")
    assert call.parent is not None
    assert call.parent.span_id == traced_commit.context.span_id
    assert attr(call, "slateboard.transactional") is True  # support-case commits to a table in the store
    assert all(s.status.status_code != StatusCode.ERROR for s in spans.all())


async def test_a_timed_out_attempt_is_an_error_span_and_its_retry_is_not(sqlite_bb: Blackboard) -> None:
    with recording() as spans:
        await scenarios.get("support-case/timeout").run(sqlite_bb, board="case-t")
    knowledge = [s for s in spans.all("slateboard.agent.attempt") if attr(s, "slateboard.agent") == "knowledge"]
    assert [(attr(s, "slateboard.attempt"), s.status.status_code) for s in knowledge] == [
        (1, StatusCode.ERROR),
        (2, StatusCode.UNSET),
    ]
    assert "no answer within" in (knowledge[0].status.description or "")


class FlakyCRM(DownCRM):
    """Refuses its first call, then applies."""

    def apply(self, proposal: Proposal, key: str) -> Any:
        if self.calls == 1:
            self.down = False
        return super().apply(proposal, key)


async def test_a_failed_sink_call_is_an_error_span_and_the_retry_that_applies_is_not(sqlite_bb: Blackboard) -> None:
    sink = FlakyCRM()
    controller = Controller(
        SUPPORT_AGENTS, SUPPORT_RULES, policy=SUPPORT_POLICY, sink=CommitLayer(sink, attempts=3, backoff=0)
    )
    with recording() as spans:
        outcome = await controller.run(sqlite_bb.board("case-9"), case("case-9"))
    assert outcome.status == "committed"
    (commit,) = outcome.commits
    assert commit.attempts == 2

    traced = spans.one("slateboard.commit")
    assert (attr(traced, "slateboard.status"), attr(traced, "slateboard.attempts")) == ("applied", 2)
    assert traced.status.status_code == StatusCode.UNSET
    failed, applied = spans.children(traced, "slateboard.sink.call")
    assert [attr(s, "slateboard.attempt") for s in (failed, applied)] == [1, 2]
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.status.description == "RuntimeError: CRM is down"
    (event,) = failed.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.message"] == "CRM is down"
    assert applied.status.status_code == StatusCode.UNSET
    assert {attr(s, "slateboard.board") for s in (traced, failed, applied)} == {"case-9"}
    assert attr(failed, "slateboard.key") == commit.key


async def test_a_dead_lettered_commit_is_an_error_span(sqlite_bb: Blackboard) -> None:
    controller = Controller(
        SUPPORT_AGENTS, SUPPORT_RULES, policy=SUPPORT_POLICY, sink=CommitLayer(DownCRM(), attempts=2, backoff=0)
    )
    with recording() as spans:
        outcome = await controller.run(sqlite_bb.board("case-d"), case("case-d"))
    assert outcome.status == "failed"
    traced = spans.one("slateboard.commit")
    assert attr(traced, "slateboard.status") == "dead"
    assert traced.status.status_code == StatusCode.ERROR
    assert len(spans.children(traced, "slateboard.sink.call")) == 2
    assert attr(spans.one("slateboard.run"), "slateboard.outcome") == "failed"


async def test_a_model_backed_agent_carries_the_genai_attributes_of_its_usage(sqlite_bb: Blackboard) -> None:
    with recording() as spans:
        run = await scenarios.get("support-case/llm").run(sqlite_bb, board="case-llm")
    used = {r.agent: r.usage for r in payloads(await run.board.history(), AgentRun) if r.usage is not None}
    assert used  # the cassette-backed agents reported their model calls
    traced = {attr(s, "slateboard.agent"): s for s in spans.all("slateboard.agent.attempt")}
    for agent, usage in used.items():
        span = traced[agent]
        assert attr(span, "gen_ai.operation.name") == "invoke_agent"
        assert attr(span, "gen_ai.agent.name") == agent
        assert attr(span, "gen_ai.request.model") == usage.model
        assert attr(span, "gen_ai.usage.input_tokens") == usage.input_tokens > 0
        assert attr(span, "gen_ai.usage.output_tokens") == usage.output_tokens > 0
        if usage.provider:
            assert attr(span, "gen_ai.provider.name") == attr(span, "gen_ai.system") == usage.provider
    plain = [s for name, s in traced.items() if name not in used]
    assert plain  # the scripted agents of the same run carry no gen_ai attributes
    assert all(attr(s, "gen_ai.operation.name") is None for s in plain)


def test_iter_sync_steps_in_other_tasks_and_still_nests_every_cycle_under_the_run(tmp_path: Path) -> None:
    with Blackboard.open(f"sqlite:///{tmp_path / 'sync.db'}") as bb, recording() as spans:
        scenario = scenarios.get("support-case")
        controller = scenario.controller()
        cycles = list(controller.iter_sync(bb.board("case-s"), *scenario.inputs("case-s")))
    root = spans.one("slateboard.run")
    assert len(spans.children(root, "slateboard.cycle")) == len(cycles)
    assert attr(root, "slateboard.outcome") == cycles[-1].outcome.status  # type: ignore[union-attr]


def test_stopping_early_ends_the_run_span_as_stopped_not_failed(tmp_path: Path) -> None:
    with Blackboard.open(f"sqlite:///{tmp_path / 'stop.db'}") as bb, recording() as spans:
        scenario = scenarios.get("support-case")
        for _ in scenario.controller().iter_sync(bb.board("case-x"), *scenario.inputs("case-x")):
            break
    root = spans.one("slateboard.run")
    assert attr(root, "slateboard.stopped") is True
    assert root.status.status_code == StatusCode.UNSET


def test_without_the_otel_extra_nothing_is_imported_and_a_run_still_works() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["opentelemetry"] = None  # as if the otel extra were not installed: importing it fails
        from slateboard import Blackboard, scenarios
        from slateboard._internal import telemetry
        with Blackboard.open("memory://") as bb:
            run = scenarios.get("support-case").run_sync(bb, board="case-1")
        assert run.outcome.status == "awaiting_approval", run.outcome
        assert not telemetry.enabled()
        assert telemetry.span("x", board="b") is telemetry.start("y")  # the one shared stand-in
        assert type(telemetry.span("x", board="b")) is telemetry.Span
        print("ok", sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok ['opentelemetry']"  # only the blocked name: nothing under it was loaded


def test_with_the_api_but_no_sdk_spans_are_the_stand_in_and_a_run_works() -> None:
    script = textwrap.dedent(
        """
        from slateboard import Blackboard, scenarios
        from slateboard._internal import telemetry
        with Blackboard.open("memory://") as bb:
            run = scenarios.get("support-case").run_sync(bb, board="case-1")
        assert run.outcome.status == "awaiting_approval", run.outcome
        assert telemetry.enabled()  # the API is there: a provider set later would record
        assert type(telemetry.span("x", board="b")) is telemetry.Span  # the no-op tracer's span is never made current
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
