"""`AgentRun.usage` is additive: a payload written before it decodes (usage None) and encodes back byte for byte,
so old boards verify and hash as they did; one with usage round-trips."""

from __future__ import annotations

from slateboard.agents.usage import ModelUsage
from slateboard.blackboard.records import decode_record, encode_record
from slateboard.state.records import AgentRun

OLD = '{"agent":"a","subject":"s","inputs":[[1]],"attempt":1,"status":"ok","error":"","outputs":1}'


def test_an_agent_run_written_before_usage_decodes_and_encodes_unchanged() -> None:
    run = decode_record(AgentRun.kind_name, 1, OLD, where="old board v3")
    assert isinstance(run, AgentRun)
    assert run.usage is None
    assert encode_record(run)[2] == OLD


def test_an_agent_run_with_usage_round_trips() -> None:
    usage = ModelUsage(model="m", provider="p", prompt_hash="h", input_tokens=3, output_tokens=4, cost=0.5)
    run = AgentRun(agent="a", subject="s", inputs=((1,),), attempt=1, status="ok", outputs=1, usage=usage)
    kind, version, payload = encode_record(run)
    assert decode_record(kind, version, payload, where="b v1") == run
