"""Finding kinds, agents, rules and policies for the what-if tests (module level, so annotations resolve).

A warranty request (seed 000): a checker agent says whether the customer is entitled, and an updater proposes the
Salesforce update. The `Request` input scripts how sure each is and whether the update can be undone, so one set of
agents reaches every verdict.
"""

from slateboard import Citation, Finding, Proposal, agent, policies, rules


class Request(Finding):
    """A warranty request; the other fields script the agents' answers."""

    kind_name = "tests.whatif.Request"
    check_confidence: float = 0.9
    propose_confidence: float = 0.9
    reversible: bool = True


class Check(Finding):
    kind_name = "tests.whatif.Check"
    entitled: bool


@agent(name="checker")
def checker(request: Request) -> Check:
    return Check(subject=request.subject, entitled=True, confidence=request.check_confidence)


@agent(name="updater")
def updater(request: Request, check: Check) -> Proposal:
    return Proposal(
        subject=request.subject,
        action="update",
        target=f"Case/{request.subject}",
        changes={"Status": "Resolved" if check.entitled else "Rejected"},
        confidence=request.propose_confidence,
        citations=(Citation(source="contracts", approved=True),),
        reversible=request.reversible,
    )


AGENTS = (checker, updater)
RULES = (rules.sufficient(Check, min_confidence=0.5), rules.sufficient(Proposal))
POLICY = policies.Policy(policies.min_confidence(0.8), policies.require_approval())
"""The recorded policy: confident proposals are allowed; irreversible ones wait for a person."""
STRICTER = policies.Policy(
    policies.min_confidence(0.8),
    policies.require_approval(lambda p: True, reason="every update waits for a person", id="approve-all"),
)
DENYING = policies.Policy(policies.min_confidence(0.95, effect="deny"), policies.require_approval())
LOOSER = policies.Policy(policies.min_confidence(0.8))
