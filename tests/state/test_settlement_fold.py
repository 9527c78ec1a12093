"""`BoardState` folds a person's `Settlement`: what it sets aside leaves every lookup, it stands on its subject until
a newer finding of its kinds arrives there, and a close is remembered."""

from slateboard import Blackboard
from slateboard.state.projection import BoardState
from slateboard.state.records import Settlement
from tests.controller.kinds import Entitlement, PolicyCheck


def _claim(entitled: bool) -> Entitlement:
    return Entitlement(subject="s", entitled=entitled, confidence=0.9)


def test_a_settlement_sets_aside_findings_and_stands_until_new_evidence() -> None:
    with Blackboard.open("memory://") as bb:
        board = bb.board("b")
        board.write_sync(_claim(True), author="a")  # v1
        board.write_sync(_claim(False), author="b")  # v2
        board.write_sync(_claim(False), author="a")  # v3: a changed its mind
        board.write_sync(PolicyCheck(subject="s", excluded=True, confidence=1.0), author="k")  # v4
        state = BoardState.of(board.view_sync())
        assert state.newest_per_author(Entitlement, "s") == {"a": 3, "b": 2}
        kinds = ("tests.controller.Entitlement",)
        chosen = Settlement(reviewer="ana", action="choose", escalation=0, subject="s", rules=("r",), kinds=kinds,
                            findings=(2, 3), chosen=2, set_aside=(1, 3))  # fmt: skip
        board.write_sync(chosen, author="ana")  # v5
        state = BoardState.of(board.view_sync())
        # The older finding of `a` does not resurface: everything of the kind but the chosen one is set aside.
        assert state.newest_per_author(Entitlement, "s") == {"b": 2}
        assert (state.newest(Entitlement, "s"), state.every(Entitlement, "s")) == (2, (2,))
        assert state.newest(PolicyCheck, "s") == 4  # another kind, not settled, untouched
        assert state.aside == {1, 3}
        assert [v for v, _ in state.standing("s")] == [5]
        assert state.last_answer_version == 5
        board.write_sync(PolicyCheck(subject="s", excluded=False, confidence=1.0), author="k")  # not a settled kind
        assert BoardState.of(board.view_sync()).standing("s")
        board.write_sync(_claim(True), author="c")  # new evidence of the settled kind reopens it
        state = BoardState.of(board.view_sync())
        assert state.standing("s") == ()
        assert state.newest_per_author(Entitlement, "s") == {"b": 2, "c": 7}
        assert state.closed is None
        board.write_sync(Settlement(reviewer="bo", action="close", escalation=0, reason="duplicate"), author="bo")
        state = BoardState.of(board.view_sync())
        assert state.closed is not None
        assert state.closed[0] == 8
        assert state.closed[1].describe(8) == "closed by bo (v8): duplicate"
