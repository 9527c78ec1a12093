"""The command line's renderers, in-process: the audit on arbitrary stored rows and on every record kind of the
commit layer, an entry line for every kind of entry, and a run's outcome."""

import io
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from slateboard import Proposal
from slateboard.blackboard.entries import StoredEntry
from slateboard.blackboard.records import Record, encode_record
from slateboard.cli.render import history_table, render_audit
from slateboard.controller import AgentRun
from slateboard.observe.audit import build_audit
from slateboard.state.records import ApprovalDecision, CommitFailure, Compensation, DoubtResolved, Verdict, Vote

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_CITATION = st.dictionaries(st.sampled_from(["source", "version", "approved", "locator"]), _JSON, max_size=4)
_FINDING_LIKE = st.fixed_dictionaries(
    {"subject": _JSON, "confidence": _JSON}, optional={"citations": st.lists(_CITATION, max_size=2) | _JSON}
)
_AGENT_RUN = st.builds(
    AgentRun,
    agent=st.sampled_from(["a", "b"]),
    subject=st.just("s"),
    inputs=st.lists(st.lists(st.integers(0, 12), max_size=3).map(tuple), max_size=2).map(tuple),
    attempt=st.integers(1, 3),
    status=st.sampled_from(["ok", "timeout", "error"]),
    outputs=st.integers(0, 4),
).map(lambda run: run.model_dump_json())
_PAYLOAD = st.one_of(
    st.text(max_size=12), _JSON.map(json.dumps), _FINDING_LIKE.map(json.dumps), _AGENT_RUN
)  # not JSON; any JSON; a finding of an unknown kind; a valid run


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["slateboard.AgentRun", "slateboard.Decision", "slateboard.Commit", "nobody.Knows"]),
            st.sampled_from(["input", "slateboard.controller", "ana"]),
            _PAYLOAD,
        ),
        min_size=1,
        max_size=10,
    )
)
def test_the_audit_renders_any_stored_rows_without_failing(rows: list[tuple[str, str, str]]) -> None:
    stored = [
        StoredEntry(seq=v, board="b", version=v, kind=kind, schema_version=1, author=author,
                    recorded_at="2026-01-01T00:00:00+00:00", payload=payload, hash=f"{v:064x}")
        for v, (kind, author, payload) in enumerate(rows, start=1)
    ]  # fmt: skip
    audit = build_audit("b", "memory://", stored)
    assert [e.version for e in audit.timeline] == list(range(1, len(rows) + 1))
    assert all(not e.typed for e in audit.timeline if e.kind == "nobody.Knows")
    for event in audit.timeline:
        if event.type == "run":  # what it read and wrote are entries of this board, never invented ones
            assert {r.version for r in (*event.read, *event.wrote)} <= set(range(1, len(rows) + 1))
    document: dict[str, Any] = json.loads(json.dumps(audit.model_dump(mode="json")))
    assert len(document["timeline"]) == len(rows)
    lines = render_audit(audit)
    assert lines[0].startswith("[bold]audit of 'b'[/bold]")
    assert lines[-1].startswith("state: ")
    out = Console(file=io.StringIO(), width=100)
    for line in lines:
        out.print(line)  # valid markup: stored text is escaped, never read as a style
    assert history_table("b", stored).row_count == len(rows)


def test_every_record_of_the_commit_layer_has_its_line_in_the_audit() -> None:
    deny = Vote(rule="allowed_fields", effect="deny", message="Owner may not be changed", findings=(1,))
    records: list[Record] = [
        Proposal(subject="s", action="update", target="T/1", changes={"Owner": "x"}, confidence=0.9, reversible=False),
        Verdict(key="k1", proposal=1, action="update", target="T/1", outcome="deny", reasons=(deny,),
                votes=(deny, Vote(rule="min_confidence(0.85)", effect="allow", message="0.9 reaches 0.85")),
                policy="p-1", at=1),
        ApprovalDecision(key="k1", decision="rejected", reviewer="bo", reason="wrong product line"),
        CommitFailure(key="k2", proposal=1, target="T/1", status="in_doubt", error="sink timed out", attempts=2),
        DoubtResolved(key="k2", applied=True, reviewer="cy", receipt={"id": 3}, note="found in the CRM"),
        Compensation(key="k2", target="T/1", reviewer="dee", reason="applied twice by hand", receipt={"undone": 1}),
        AgentRun(agent="crm", subject="s", inputs=((1,),), attempt=2, status="timeout", error="took over 8 s"),
    ]  # fmt: skip
    rows = []
    for version, record in enumerate(records, start=1):
        kind, schema, payload = encode_record(record)
        rows.append(StoredEntry(seq=version, board="b", version=version, kind=kind, schema_version=schema,
                                author="system", recorded_at="t", payload=payload, hash=f"h{version}"))  # fmt: skip
    audit = build_audit("b", "memory://", rows)
    text = "\n".join(render_audit(audit))
    for expected in (
        'proposal [/bold] update T/1 by system (confidence 0.9): {"Owner": "x"}',
        "(irreversible)",
        "verdict  [/bold] deny for update T/1 (proposal v1, key k1)",
        "policy p-1, judged on the board at v1",
        "deciding: allowed_fields (deny): Owner may not be changed",
        "other votes: min_confidence(0.85) (allow): 0.9 reaches 0.85",
        "approval [/bold] rejected by bo (key k1)",
        "reason: wrong product line",
        "failure  [/bold] in_doubt: T/1 (key k2, 2 attempt(s)): sink timed out",
        'resolved [/bold] key k2 applied, checked by cy: receipt {"id": 3}; note: found in the CRM',
        'undo     [/bold] T/1 undone by dee (key k2): applied twice by hand; receipt {"undone": 1}',
        "run      [/bold] crm on 's', attempt 2: timeout (took over 8 s)",
        "knew: v1 slateboard.Proposal by system",
        "crm: 1 attempt(s) (1 timeout); knew v1; wrote nothing",
    ):
        assert expected in text, expected
    assert audit.committed == ()  # applied (found in doubt), then undone
    assert audit.status is None
