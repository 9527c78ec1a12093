"""docs/testing.md's property-test kit shows code that runs: every Python block of its kit section is, verbatim, part
of examples/15_testing_kit.py, which tests/test_examples.py runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
EXAMPLE = (ROOT / "examples" / "15_testing_kit.py").read_text(encoding="utf-8")


def kit_blocks() -> list[str]:
    section = DOCS.split("## Property tests: the kit", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_kit_section_shows_the_strategies_faults_outcomes_and_conformance() -> None:
    blocks = kit_blocks()
    assert len(blocks) >= 4
    shown = "\n".join(blocks)
    for name in ("sb.evidence", "slateboard_fresh", "outcomes.reaches", "fault.inject", "Faults(", "SinkConformance"):
        assert name in shown, name


def test_every_block_is_code_the_example_runs() -> None:
    for block in kit_blocks():
        assert block.strip() in EXAMPLE, f"docs/testing.md shows code examples/15_testing_kit.py lacks:\n{block}"
