"""The shared projection of a board's log: slateboard's own records, the status words, and what the log says now.

It sits above agents and below policies, the commit layer, the controller and `observe`, which all read it:

- `records`: what the controller, the policy and the commit layer write (runs, decisions, verdicts, approvals,
  commits), and `proposal`: the `Proposal` finding.
- `vocabulary`: every status word, defined once.
- `projection`: `BoardState`, folded entry by entry: the findings rules read, agent runs, decisions, live proposals.
- `keys`: `KeyBook`, where each idempotency key stands, folded from the same entries one at a time; the controller,
  the metrics and the audit all read it.
"""

from slateboard.state.keys import KeyBook, KeyState
from slateboard.state.projection import BoardState, append, live_proposals
from slateboard.state.proposal import Proposal

__all__ = ("BoardState", "KeyBook", "KeyState", "Proposal", "append", "live_proposals")
