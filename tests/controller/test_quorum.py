"""Nothing fails silently: failed agents in outcomes, `rules.quorum`, and `sufficient(min_source_confidence=)`.

The scenario is the one that was reported: a claim committed as verified on two sources while the third, the
dissenter, had timed out on every attempt, and the outcome did not mention it. Here three verifiers check a claim;
the archive verifier hangs on every attempt (the runner's timeout ends it, twice).
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from slateboard import Blackboard, Citation, Controller, Finding, Proposal, agent, policies, rules, sinks
from slateboard._internal.describe import describe
from slateboard.errors import ConfigurationError


class Claim(Finding):
    kind_name = "tests.quorum.Claim"
    text: str
    archived: bool = True


class Verification(Finding):
    kind_name = "tests.quorum.Verification"
    verified: bool


def claim(subject: str = "claim-7", **fields: Any) -> Claim:
    return Claim(subject=subject, text="the bridge opened in 1932", confidence=1.0, **fields)


def verification(claim: Claim, confidence: float, source: str) -> Verification:
    return Verification(
        subject=claim.subject, verified=True, confidence=confidence, citations=(Citation(source=source),)
    )


@agent(name="wire", rating=10)
async def wire(claim: Claim) -> Verification:
    return verification(claim, 0.9, "wire-service")


@agent(name="registry", rating=10)
async def registry(claim: Claim) -> Verification:
    return verification(claim, 0.85, "public-registry")


@agent(name="archive", timeout=0.05, retries=1)
async def archive(claim: Claim) -> Verification:
    await anyio.sleep_forever()  # the dissenter never answers: the runner's timeout ends every attempt
    raise AssertionError("unreachable")


@agent(name="late_archive", when=lambda claim: not claim.archived)
async def late_archive(claim: Claim) -> Verification:
    return Verification(subject=claim.subject, verified=False, confidence=0.9)


@agent(name="publish")
async def publish(claim: Claim, checks: list[Verification]) -> Proposal:
    return Proposal(
        subject=claim.subject,
        action="publish",
        target=f"Claim/{claim.subject}",
        changes={"status": "verified"},
        confidence=0.9,
    )


VERIFIED = rules.sufficient(Verification, min_confidence=0.9, min_sources=2)
POLICY = policies.Policy(policies.min_confidence(0.8))


async def run(agents: list[Any], extra: list[Any], *, inputs: Claim | None = None) -> tuple[Any, sinks.Memory, Any]:
    sink = sinks.Memory()
    checks = [VERIFIED, *extra, rules.sufficient(Proposal)]
    controller = Controller([*agents, publish], checks, policy=POLICY, sink=sink)
    with Blackboard.open("memory://") as bb, anyio.fail_after(20):
        outcome = await controller.run(bb.board("b"), inputs or claim())
        return outcome, sink, await controller.replay(bb.board("b"))


@pytest.mark.anyio
async def test_a_claim_committed_on_two_sources_names_the_dissenter_that_timed_out() -> None:
    outcome, sink, replay = await run([wire, registry, archive], [])
    assert outcome.status == "committed"  # the rules asked for two sources, and two answered
    assert len(sink.applied) == 1
    assert replay.identical
    [failure] = outcome.agent_failures
    assert (failure.agent, failure.subject, failure.status, failure.attempts) == ("archive", "claim-7", "timeout", 2)
    assert failure.missing == ("tests.quorum.Verification",)
    assert failure.rests_on == ("registry", "wire")
    expected = (
        "failed-agent: agent archive timed out on every attempt (2) on 'claim-7'",
        "its tests.quorum.Verification finding is missing; the sufficient decision rests on registry and wire",
    )
    assert all(any(part in r for r in outcome.reasons) for part in expected), outcome.reasons
    assert outcome.failure_reasons == (str(failure),)
    assert outcome.reasons == (*outcome.decision_reasons, *outcome.failure_reasons, *outcome.key_reasons)


@pytest.mark.anyio
async def test_a_quorum_refuses_to_decide_without_the_dissenter_and_the_run_fails_naming_it() -> None:
    everyone = rules.quorum(Verification, agents=("wire", "registry", "archive"))
    outcome, sink, replay = await run([wire, registry, archive], [everyone])
    assert outcome.status == "failed"
    assert sink.applied == []
    assert replay.identical
    [why] = [r for r in outcome.reasons if r.startswith(everyone.id)]
    assert "2 of 3 named agent(s) answered" in why
    assert "missing: archive (timed out on every attempt (2))" in why
    assert "the quorum is out of reach while archive failed" in why
    assert [f.agent for f in outcome.agent_failures] == ["archive"]
    assert any("the failed decision rests on registry and wire" in r for r in outcome.reasons)


@pytest.mark.anyio
async def test_a_quorum_of_two_of_three_commits_and_still_names_the_failed_agent() -> None:
    two = rules.quorum(Verification, agents=("wire", "registry", "archive"), min_answers=2)
    outcome, sink, _ = await run([wire, registry, archive], [two])
    assert outcome.status == "committed"
    assert len(sink.applied) == 1
    [met] = [r for r in outcome.decision_reasons if r.startswith(two.id)]
    assert "missing: archive (timed out on every attempt (2))" in met
    assert any(r.startswith("failed-agent: agent archive timed out") for r in outcome.reasons)


@pytest.mark.anyio
async def test_a_quorum_waiting_on_an_agent_that_never_ran_ends_insufficient_saying_so() -> None:
    everyone = rules.quorum(Verification, agents=("wire", "registry", "late_archive"))
    outcome, sink, replay = await run([wire, registry, late_archive], [everyone])
    assert outcome.status == "insufficient"
    assert sink.applied == []
    assert replay.identical
    assert outcome.agent_failures == ()
    assert any("missing: late_archive (has not run yet)" in r for r in outcome.reasons), outcome.reasons


@pytest.mark.anyio
async def test_a_quorum_naming_an_unknown_agent_says_it_can_never_be_reached() -> None:
    typo = rules.quorum(Verification, agents=("wire", "registy"))
    outcome, _, _ = await run([wire, registry], [typo])
    assert outcome.status == "insufficient"
    [why] = [r for r in outcome.reasons if r.startswith(typo.id)]
    assert "registy (not an agent of this controller)" in why
    assert "can never be reached" in why


@pytest.mark.anyio
async def test_a_source_below_the_per_source_minimum_does_not_count_and_is_named() -> None:
    strict = rules.sufficient(Verification, min_sources=2, min_source_confidence=0.88, id="strict")
    outcome, sink, _ = await run([wire, registry], [strict])
    assert outcome.status == "insufficient"
    assert sink.applied == []
    [why] = [r for r in outcome.reasons if r.startswith("strict:")]
    assert "1 independent source(s)" in why
    assert "left out below the per-source minimum of 0.88: registry (0.85, v" in why
    lenient = rules.sufficient(Verification, min_sources=2, min_source_confidence=0.8, id="lenient")
    outcome, sink, _ = await run([wire, registry], [lenient])
    assert outcome.status == "committed"
    assert any("every source reaches the per-source minimum of 0.80" in r for r in outcome.decision_reasons)


@pytest.mark.anyio
async def test_a_failed_agent_is_named_when_the_run_only_recommends() -> None:
    controller = Controller([wire, registry, archive], [VERIFIED])
    with Blackboard.open("memory://") as bb, anyio.fail_after(20):
        outcome = await controller.run(bb.board("b"), claim())
    assert outcome.status == "sufficient"
    assert [f.agent for f in outcome.agent_failures] == ["archive"]
    assert any("failed-agent: agent archive" in r for r in outcome.reasons)


def test_existing_rules_describe_as_before_so_fingerprints_stay() -> None:
    assert describe(rules.sufficient(Verification, min_confidence=0.9, min_sources=2)) == {
        "rule": "_Sufficient",
        "kind": "tests.quorum.Verification",
        "min_confidence": 0.9,
        "min_sources": 2,
        "subject": None,
        "id": "sufficient(tests.quorum.Verification)",
    }
    gated = describe(rules.sufficient(Verification, min_source_confidence=0.7))
    assert isinstance(gated, dict)
    assert gated["min_source_confidence"] == 0.7
    assert describe(rules.quorum(Verification, agents=["a", "b"], min_answers=1)) == {
        "rule": "_Quorum",
        "kind": "tests.quorum.Verification",
        "agents": ["a", "b"],
        "min_answers": 1,
        "subject": None,
        "id": "quorum(tests.quorum.Verification: 1 of a, b)",
    }


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"agents": ()}, "agents"),
        ({"agents": "wire"}, "agents"),
        ({"agents": ("wire", "")}, "agents"),
        ({"agents": ("wire", "wire")}, "twice"),
        ({"agents": ("wire", "registry"), "min_answers": 0}, "min_answers"),
        ({"agents": ("wire", "registry"), "min_answers": 3}, "min_answers"),
        ({"agents": ("wire",), "min_answers": True}, "min_answers"),
    ],
)
def test_a_bad_quorum_is_refused_naming_the_rule_and_the_argument(arguments: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"rules\.quorum: .*{named}"):
        rules.quorum(Verification, **arguments)
    with pytest.raises(ConfigurationError, match=r"rules\.quorum: .* is not a Finding kind"):
        rules.quorum(str, agents=("wire",))  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [1.5, -0.1, True, "0.8"])
def test_a_bad_per_source_minimum_is_refused_naming_the_argument(value: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"rules\.sufficient: min_source_confidence"):
        rules.sufficient(Verification, min_source_confidence=value)
