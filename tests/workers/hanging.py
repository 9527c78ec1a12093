"""A scenario whose one agent never returns (until cancelled): a board a worker is busy with for as long as a test
needs. `STARTED` is set when the agent starts, in the process that runs it."""

from __future__ import annotations

import threading

import anyio

from slateboard import Finding, agent, rules
from slateboard.scenarios import Scenario

STARTED = threading.Event()


class Ticket(Finding):
    text: str


class Answer(Finding):
    text: str


@agent(timeout=None, retries=0)
async def stuck(ticket: Ticket) -> Answer:
    STARTED.set()
    await anyio.sleep_forever()
    raise AssertionError("unreachable")  # pragma: no cover


scenario = Scenario(
    name="hanging",
    agents=(stuck,),
    rules=(rules.sufficient(Answer, min_confidence=0.5),),
    inputs=lambda board: [Ticket(subject=board, text="help", confidence=1.0)],
    kinds=(Ticket, Answer),
)
