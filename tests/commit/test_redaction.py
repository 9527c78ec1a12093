"""A sink's error is kept in the ledger and on the board for every reader of the store: secrets in it (a URL's
password, a bearer token, an API key) are hidden before it is stored."""

from pathlib import Path

import pytest

from slateboard import Blackboard, CommitFailure, CommitLayer, Controller, Finding, Proposal, agent, policies, rules
from slateboard.commit.calls import without_secrets

SECRETS = ("hunter2", "s3cr3t-token-value", "sk-abcdefghijklmnopqrstuvwx")


class Ticket(Finding):
    kind_name = "tests.commit.redaction.Ticket"


@agent
async def propose(ticket: Ticket) -> Proposal:
    return Proposal(subject=ticket.subject, action="open", target="Ticket/1", changes={"title": "x"}, confidence=1.0)


class LeakySink:
    """An outside sink whose error quotes its request, secrets and all."""

    idempotent = False

    def apply(self, proposal: Proposal, key: str) -> object:
        raise ConnectionError(
            "POST https://api.example.com/tickets failed: connect to postgresql://svc:hunter2@db:5432/crm refused; "
            "headers Authorization: Bearer s3cr3t-token-value, api_key=sk-abcdefghijklmnopqrstuvwx"
        )


def test_a_sink_error_is_stored_with_its_secrets_hidden(tmp_path: Path) -> None:
    controller = Controller(
        [propose],
        [rules.sufficient(Proposal)],
        policy=policies.Policy(default="allow"),
        sink=CommitLayer(LeakySink(), attempts=2, backoff=0.0),
    )
    url = f"sqlite:///{tmp_path / 'leak.db'}"
    with Blackboard.open(url) as bb:
        board = bb.board("t-1")
        controller.run_sync(board, Ticket(subject="t-1", confidence=1.0))
        failures = [e.payload for e in board.history_sync() if isinstance(e.payload, CommitFailure)]
        ledger = bb.store.ledger.rows(None, wait=True)
    assert [f.status for f in failures] == ["dead"]
    stored = [failures[0].error, *(row.error for row in ledger)]
    assert "ConnectionError" in failures[0].error  # the error is still there, only its secrets are not
    assert "postgresql://svc:***@db:5432/crm" in failures[0].error
    for text in stored:
        for secret in SECRETS:
            assert secret not in text
    assert Path(tmp_path / "leak.db").read_bytes().find(b"hunter2") == -1


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("redis://:pw123@cache:6379/0 down", "redis://:***@cache:6379/0 down"),
        ("password=abc&user=x", "password=***&user=x"),
        ('{"token": "t0k3n"}', '{"token": ***}'),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: ***"),
        ("key ghp_abcdefghijklmnopqrstuvwxyz0123 revoked", "key *** revoked"),
        ("plain 404 for Case/42 (key pk-1234)", "plain 404 for Case/42 (key pk-1234)"),
    ],
)
def test_what_looks_like_a_secret_is_hidden_and_nothing_else(said: str, shown: str) -> None:
    assert without_secrets(said) == shown
