"""slateboard: typed findings on a versioned, tamper-evident blackboard, for evidence-driven multi-agent work.

```python
from slateboard import Blackboard, Finding

class Case(Finding):
    description: str

with Blackboard.open("sqlite:///slate.db") as bb:
    board = bb.board("case-42")
    entry = await board.write(Case(subject="case-42", description="...", confidence=1.0), author="intake")
```
"""

from slateboard import errors, policies, rules, scenarios, sinks
from slateboard.agents import Agent, AgentContext, AgentRegistry, agent
from slateboard.blackboard import (
    Blackboard,
    Board,
    BoardView,
    Citation,
    Entry,
    FeedItem,
    Finding,
    Head,
    IndexInfo,
    MemoryStore,
    Record,
    Store,
    upcaster,
)
from slateboard.commit import (
    ApprovalDecision,
    ApprovalRequest,
    Commit,
    CommitFailure,
    CommitLayer,
    Compensation,
    DoubtResolved,
    Proposal,
    Verdict,
)
from slateboard.commit.tools import DeadLetter, RateLimit, Reader, Retry, Tool, ToolCall, ToolRegistry
from slateboard.controller import (
    AgentRun,
    BatchResult,
    BoardResult,
    Controller,
    Cycle,
    Decision,
    Outcome,
    Reason,
    ReplayReport,
    Retraction,
    RetractionReport,
    RunStarted,
    Task,
    WhatIfReport,
    pool,
    retract,
    retract_sync,
)

__version__ = "0.1.0"

__all__ = (
    # the board
    "Blackboard",
    "Board",
    "BoardView",
    "Entry",
    "FeedItem",
    "Head",
    "IndexInfo",
    # what is written on it
    "Record",
    "Finding",
    "Citation",
    "upcaster",
    "Proposal",
    # agents
    "agent",
    "Agent",
    "AgentContext",
    "AgentRegistry",
    # the controller
    "Controller",
    "Cycle",
    "Outcome",
    "BatchResult",
    "BoardResult",
    "ReplayReport",
    "WhatIfReport",
    "rules",
    "pool",
    "retract",
    "retract_sync",
    "RetractionReport",
    # what the controller records
    "AgentRun",
    "Decision",
    "Reason",
    "RunStarted",
    "Retraction",
    "Task",
    # scenarios
    "scenarios",
    # policies and the commit layer
    "policies",
    "sinks",
    "CommitLayer",
    "Verdict",
    "ApprovalRequest",
    "ApprovalDecision",
    "Commit",
    "CommitFailure",
    "DoubtResolved",
    "Compensation",
    # the tool registry
    "ToolRegistry",
    "Tool",
    "ToolCall",
    "RateLimit",
    "Retry",
    "DeadLetter",
    "Reader",
    # plug points
    "Store",
    "MemoryStore",
    # the error tree
    "errors",
)
