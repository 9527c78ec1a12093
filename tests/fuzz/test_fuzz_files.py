"""Fuzzing scenario and policy files: whatever the text, loading it gives a Scenario / Policy or raises a
ScenarioError / PolicyError naming the file, never another exception and never a hang."""

import string

import yaml
from hypothesis import given
from hypothesis import strategies as st

from slateboard.errors import PolicyError, ScenarioError, SlateboardError
from slateboard.policies import files as policy_files
from slateboard.policies.policy import Policy
from slateboard.scenarios import files as scenario_files
from slateboard.scenarios.model import Scenario
from tests.fuzz.budget import attempt, fuzz

SCENARIO_KEYS = ["name", "kinds", "agents", "rules", "policy", "sink", "inputs", "expect", "variants", "import",
                 "reads", "writes", "emit", "kind", "sufficient", "contradiction", "disagreement", "min_confidence",
                 "timeout", "retries", "rating", "status", "first", "second", "when", "field", "budget"]  # fmt: skip
POLICY_KEYS = ["default", "rules", "rule", "threshold", "approved", "kind", "field", "when", "action", "target",
               "reason", "priority", "deny", "allow", "escalate", "min_confidence", "require_citations"]  # fmt: skip
WORDS = ["deny", "allow", "memory", "table:t", "Case", "Proposal", "str", "int?", "list[str]", "{subject}",
         "min_confidence", "require_citations", "committed", "[bold]", ":smile:", "../x.yaml"]  # fmt: skip
WORDS = ["deny", "allow", "memory", "table:t", "Case", "Proposal", "str", "int?", "list[str]", "{subject}",
         "min_confidence", "require_citations", "committed", "[bold]", ":smile:", "../x.yaml"]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=12),
)


def documents(keys: list[str]) -> st.SearchStrategy[object]:
    """YAML documents shaped like the files (mappings keyed mostly by real field names), any values."""
    key = st.one_of(st.sampled_from(keys), st.text(string.ascii_letters + "_-", min_size=1, max_size=8))
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(key, inner, max_size=5)),
        max_leaves=25,
    )


HOSTILE_TEXT = st.text(alphabet=st.sampled_from([*"&*!|>-:[]{},#'\"\n\t ?%@`abc019", "\x00", "\ufeff"]))
TOML_PIECES = [*"[]{}=.'\"\n #abc19_-", "rules", "default", "deny", "[[rules]]", "9" * 5000]


def _dump(document: object) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


@fuzz(100)
@given(st.one_of(documents(SCENARIO_KEYS).map(_dump), HOSTILE_TEXT))
def test_a_scenario_file_loads_or_names_the_file(text: str) -> None:
    loaded = attempt(lambda: scenario_files.loads(text, file="fuzz.yaml"))
    if isinstance(loaded, ScenarioError):
        assert loaded.file == "fuzz.yaml", loaded
    elif not isinstance(loaded, SlateboardError):  # else a kind clash between two fuzzed files: typed and named
        assert isinstance(loaded, Scenario)


@fuzz(100)
@given(st.one_of(documents(POLICY_KEYS).map(_dump), HOSTILE_TEXT))
def test_a_yaml_policy_file_loads_or_names_the_file(text: str) -> None:
    loaded = attempt(lambda: policy_files.loads(text, format="yaml", file="fuzz.yaml"))
    assert isinstance(loaded, Policy) or (isinstance(loaded, PolicyError) and loaded.file == "fuzz.yaml"), loaded


@fuzz(100)
@given(
    st.lists(st.sampled_from([*"[]{}=.'\"\n #abc19_-", "rules", "default", "deny", "[[rules]]", "9" * 5000])).map(
        "".join
    )
)
def test_a_toml_policy_file_loads_or_names_the_file(text: str) -> None:
    loaded = attempt(lambda: policy_files.loads(text, format="toml", file="fuzz.toml"))
    assert isinstance(loaded, Policy) or (isinstance(loaded, PolicyError) and loaded.file == "fuzz.toml"), loaded
