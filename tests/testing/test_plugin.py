"""The pytest plugin (slateboard.testing.plugin), exercised the way users meet it: inner test sessions run by pytester.

One run goes through a real subprocess, to prove the pytest11 entry point loads the plugin in a fresh interpreter;
the rest run in process (the same entry point loads it there too). Inner tests use real memory stores and real
SQLite files, and the tamper tests edit those files with sqlite3 behind the board's back.
"""

import re
import textwrap
from importlib.metadata import entry_points

import hypothesis
import pytest

import slateboard.blackboard.stores.sqlite
import slateboard.scenarios.support_case

pytest_plugins = ["pytester"]

# Pytester forgets the modules an inner session imported; these heavy ones (the hypothesis plugin's report, the
# SQLite store, the built-in scenario) are imported here once so each inner session does not import them again.
_KEEP_IMPORTED = (hypothesis, slateboard.blackboard.stores.sqlite, slateboard.scenarios.support_case)

FIXTURES = (
    "slateboard_memory",
    "slateboard_sqlite",
    "slateboard_store_kind",
    "slateboard_store",
    "slateboard_board",
    "slateboard_scenario",
    "scenario_run",
    "slateboard_fresh",
    "slateboard_fresh_kind",
)

# Shared by every inner test file. One module name for all of them, so re-importing it in each inner session
# re-registers the same finding kind instead of clashing with an earlier copy.
PRELUDE = """
import sqlite3

import anyio
import pytest

from slateboard import Finding
from slateboard.errors import ConfigurationError
from slateboard.scenarios import Expectation, get


class PluginMemo(Finding):
    kind_name = "plugintest.Memo"
    text: str


def write(board, count):
    async def go():
        for i in range(count):
            await board.write(PluginMemo(subject="s", text=f"memo {i}", confidence=0.9), author="tester")
        return await board.view()

    return anyio.run(go)


def raw(blackboard):
    conn = sqlite3.connect(blackboard.store.path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS slateboard_entries_no_update")
    conn.execute("DROP TRIGGER IF EXISTS slateboard_entries_no_delete")
    return conn
"""


def inner(pytester: pytest.Pytester, body: str) -> None:
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    pytester.makepyfile(test_inner=PRELUDE + textwrap.dedent(body))


def passed(result: pytest.RunResult) -> set[str]:
    return {line.split("::", 1)[1].split(" ")[0] for line in result.outlines if " PASSED" in line and "::" in line}


STORE_PROBE = """
    def test_probe(slateboard_store, slateboard_store_kind):
        assert slateboard_store.url.startswith({"memory": "memory://", "sqlite": "sqlite:"}[slateboard_store_kind])
"""


@pytest.mark.slow
def test_the_entry_point_loads_the_plugin_in_a_fresh_interpreter(pytester: pytest.Pytester) -> None:
    (ours,) = [ep for ep in entry_points(group="pytest11") if ep.name == "slateboard"]
    assert ours.value == "slateboard.testing.plugin"
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    # Without hypothesis's own plugin, whose report imports all of hypothesis, nor langsmith's (the bench extra's),
    # which imports its API client: only ours matters here.
    result = pytester.runpytest_subprocess(
        "--fixtures", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:langsmith_plugin"
    )
    assert result.ret == 0
    out = result.stdout.str()
    for name in FIXTURES:
        assert re.search(rf"^{name}( \[session scope\])? -- ", out, re.MULTILINE), name
    assert "slateboard/testing/plugin.py" in out
    assert "verified at teardown" in out  # the fixtures' documentation is what --fixtures shows


def test_each_fixture_works_on_both_stores_and_every_test_gets_a_fresh_store(pytester: pytest.Pytester) -> None:
    inner(
        pytester,
        """
        def test_memory(slateboard_memory):
            assert slateboard_memory.url == "memory://"
            assert write(slateboard_memory.board("b"), 2).version == 2

        def test_sqlite(slateboard_sqlite, tmp_path):
            assert slateboard_sqlite.store.path == tmp_path / "slateboard.db"
            assert write(slateboard_sqlite.board("b"), 2).version == 2
            assert slateboard_sqlite.store.path.is_file()

        def test_store_first(slateboard_store, slateboard_store_kind):
            assert slateboard_store.url.split(":")[0] == slateboard_store_kind
            assert write(slateboard_store.board("b"), 3).version == 3

        def test_store_second(slateboard_store):
            assert slateboard_store.boards() == []
            assert write(slateboard_store.board("b"), 1).version == 1  # nothing left from test_store_first

        def test_board(slateboard_board, slateboard_store):
            assert slateboard_board.name == "test_board"
            assert slateboard_store.board("test_board") is slateboard_board
            view = write(slateboard_board, 3)
            assert [m.text for m in view.findings(PluginMemo)] == ["memo 0", "memo 1", "memo 2"]

        def test_scenario(slateboard_scenario, slateboard_store):
            run = slateboard_scenario("support-case/conflict")
            assert run.ok, run.problems
            assert run.outcome.status == "escalated"
            assert run.board.store is slateboard_store.store
            again = slateboard_scenario(get("support-case", "low-intake"), board="mine", expect="committed")
            assert again.board.name == "mine"
            assert again.problems == ["status is 'escalated', expected 'committed'"]
            assert slateboard_scenario.runs == (run, again)

        @pytest.mark.anyio
        async def test_async(slateboard_board, slateboard_scenario):
            await slateboard_board.write(PluginMemo(subject="s", text="a", confidence=1.0), author="tester")
            run = await slateboard_scenario.run("support-case/policy-conflict")
            assert run.ok, run.problems
            with pytest.raises(ConfigurationError, match="cannot run inside an event loop"):
                slateboard_scenario("support-case/conflict")
        """,
    )
    result = pytester.runpytest_inprocess("-v")
    stored = ("test_store_first", "test_store_second", "test_board", "test_scenario")
    expected = {"test_memory", "test_sqlite"}
    expected |= {f"{name}[{kind}]" for name in stored for kind in ("memory", "sqlite")}
    expected |= {f"test_async[{backend}-{kind}]" for backend in ("asyncio", "trio") for kind in ("memory", "sqlite")}
    assert passed(result) == expected
    # postgresql is registered too: with no server given to this inner session, its copies skip, saying why.
    result.assert_outcomes(passed=len(expected), skipped=len(stored) + 2)


def test_the_marker_passes_on_a_matching_expectation_and_hands_the_run_to_the_test(pytester: pytest.Pytester) -> None:
    inner(
        pytester,
        """
        @pytest.mark.slateboard_scenario("support-case/conflict")
        def test_own_expectation(scenario_run, slateboard_store):
            assert scenario_run.outcome.status == "escalated"
            assert scenario_run.board.store is slateboard_store.store

        @pytest.mark.slateboard_scenario(get("support-case", "uncited"), expect="rejected", board="b7")
        def test_object_and_status(scenario_run):
            assert (scenario_run.board.name, scenario_run.outcome.status) == ("b7", "rejected")

        @pytest.mark.slateboard_scenario(
            "support-case/low-intake", expect=Expectation("escalated", reasons=("support.Intake < 0.75",), commits=0)
        )
        def test_explicit_expectation():
            pass

        @pytest.mark.slateboard_scenario("support-case/policy-conflict")
        class TestOnAClass:
            def test_method(self, scenario_run):
                assert scenario_run.scenario.variant == "policy-conflict"


        class Shared:
            def test_shared(self, request, slateboard_store):
                # the marked subclass runs the scenario; the unmarked one, sharing the function, does not
                assert ("scenario_run" in request.fixturenames) == isinstance(self, TestMarked)


        @pytest.mark.slateboard_scenario("support-case/conflict")
        class TestMarked(Shared):
            pass


        class TestUnmarked(Shared):
            pass
        """,
    )
    result = pytester.runpytest_inprocess("-v")
    names = (
        "test_own_expectation",
        "test_object_and_status",
        "test_explicit_expectation",
        "TestOnAClass::test_method",
        "TestMarked::test_shared",
        "TestUnmarked::test_shared",
    )
    assert passed(result) == {f"{name}[{kind}]" for name in names for kind in ("memory", "sqlite")}
    result.assert_outcomes(passed=12, skipped=6)  # the postgresql copies: no server in this inner session


def test_the_marker_fails_a_mismatch_listing_the_problems_and_skips_the_body(pytester: pytest.Pytester) -> None:
    inner(
        pytester,
        """
        @pytest.mark.slateboard_scenario(
            "support-case/conflict", expect=Expectation("committed", reasons=("no such reason",), commits=1)
        )
        def test_mismatch(scenario_run):
            raise AssertionError("the body ran")

        @pytest.mark.slateboard_scenario("support-case/uncited", expect="committed")
        def test_without_asking_for_the_run():
            raise AssertionError("the body ran")

        @pytest.mark.slateboard_scenario("support-case/low-intake", expect="committed")
        class TestMarkedClass:
            def test_method(self):
                raise AssertionError("the body ran")
        """,
    )
    result = pytester.runpytest_inprocess("--slateboard-store=memory")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*_ test_mismatch[[]memory[]] _*",
            "scenario 'support-case/conflict' on memory:// (board 'support-case-conflict') did not end as expected:",
            "  - status is 'escalated', expected 'committed'",
            "  - no reason mentions 'no such reason'",
            "  - 0 commit(s), expected 1",
            "outcome: escalated",
            "  reason: *entitlement contradicts a policy exception*",
            "*_ test_without_asking_for_the_run[[]memory[]] _*",
            "scenario 'support-case/uncited' *",
            "  - status is 'rejected', expected 'committed'",
            "*_ TestMarkedClass.test_method[[]memory[]] _*",
            "scenario 'support-case/low-intake' *",
            "  - status is 'escalated', expected 'committed'",
        ]
    )
    assert "the body ran" not in result.stdout.str()


def test_marker_misuse_is_a_clear_error(pytester: pytest.Pytester) -> None:
    inner(
        pytester,
        """
        def test_no_marker(scenario_run):
            pass

        @pytest.mark.slateboard_scenario("support-case/conflict", expected="escalated")
        def test_bad_keyword():
            pass

        @pytest.mark.slateboard_scenario("support-case/sideways")
        def test_unknown_variant():
            pass
        """,
    )
    result = pytester.runpytest_inprocess("--slateboard-store=memory")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines_random(
        [
            "*scenario_run needs @pytest.mark.slateboard_scenario(scenario, expect=...) on the test*",
            # (no brackets: fnmatch reads them as a character class)
            "*takes one scenario and optionally expect= and board=, got args ('support-case/conflict',) and keywords*",
            "*@pytest.mark.slateboard_scenario: support-case has no variant 'sideways'*",
        ]
    )


def test_teardown_verification_catches_a_board_file_edited_behind_its_back(pytester: pytest.Pytester) -> None:
    inner(
        pytester,
        """
        def test_edited(slateboard_board, slateboard_store):
            write(slateboard_board, 3)
            raw(slateboard_store).execute(
                "UPDATE slateboard_entries SET payload = replace(payload, 'memo 1', 'memo 9') WHERE version = 2"
            )

        def test_truncated(slateboard_board, slateboard_store):
            write(slateboard_board, 3)
            raw(slateboard_store).execute("DELETE FROM slateboard_entries WHERE version = 3")

        def test_scenario_board_edited(slateboard_scenario, slateboard_store):
            run = slateboard_scenario("support-case/conflict")
            raw(slateboard_store).execute(
                "UPDATE slateboard_entries SET author = 'mallory' WHERE board = ? AND version = 4", (run.board.name,)
            )

        def test_untouched(slateboard_board, slateboard_scenario):
            write(slateboard_board, 3)
            slateboard_scenario("support-case/conflict")
        """,
    )
    result = pytester.runpytest_inprocess("--slateboard-store=sqlite")
    # The test bodies pass; the tampering is an error at teardown of each tampered test, and only there.
    result.assert_outcomes(passed=4, errors=3)
    result.stdout.fnmatch_lines_random(
        [
            "*ERROR at teardown of test_edited[[]sqlite[]]*",
            "*ERROR at teardown of test_truncated[[]sqlite[]]*",
            "*ERROR at teardown of test_scenario_board_edited[[]sqlite[]]*",
            "slateboard: verification failed at teardown:",
            "  board 'test_edited' on sqlite:*: *version 2*",
            "  board 'test_truncated' on sqlite:*: truncated to 2 of 3 entries",
            "  board 'support-case-conflict' on sqlite:*: *version 4*",
        ]
    )
    assert "test_untouched" not in "".join(line for line in result.outlines if "ERROR" in line)


@pytest.mark.parametrize(
    ("args", "ini", "kinds"),
    [
        ((), "", {"memory", "postgresql", "sqlite"}),
        (("--slateboard-store=both",), "", {"memory", "sqlite"}),
        (("--slateboard-store=all",), "", {"memory", "postgresql", "sqlite"}),
        ((), "sqlite, memory", {"memory", "sqlite"}),
        (("--slateboard-store=memory",), "", {"memory"}),
        (("--slateboard-store", "sqlite"), "", {"sqlite"}),
        ((), "sqlite", {"sqlite"}),
        (("--slateboard-store=memory",), "sqlite", {"memory"}),  # the command line wins over the ini file
    ],
)
def test_the_command_line_option_and_the_ini_option_select_the_stores(
    pytester: pytest.Pytester, args: tuple[str, ...], ini: str, kinds: set[str]
) -> None:
    inner(pytester, STORE_PROBE)
    if ini:
        pytester.makeini(f"[pytest]\naddopts = --strict-markers -p no:cacheprovider\nslateboard_store = {ini}\n")
    result = pytester.runpytest_inprocess("-v", *args)
    # postgresql's copy skips: this inner session is given no server (SLATEBOARD_TEST_POSTGRES).
    runs = kinds - {"postgresql"}
    assert passed(result) == {f"test_probe[{kind}]" for kind in runs}
    result.assert_outcomes(passed=len(runs), skipped=len(kinds) - len(runs))


def test_a_bad_store_choice_stops_the_session_naming_the_registered_stores(pytester: pytest.Pytester) -> None:
    inner(pytester, STORE_PROBE)
    bad_option = pytester.runpytest_inprocess("--slateboard-store=postgres")
    assert bad_option.ret == pytest.ExitCode.USAGE_ERROR
    choices = "choose one of memory, postgresql, sqlite, all, both"
    bad_option.stderr.fnmatch_lines([f"*--slateboard-store 'postgres': {choices}*"])
    pytester.makeini("[pytest]\nslateboard_store = mysql\n")
    bad_ini = pytester.runpytest_inprocess()
    assert bad_ini.ret == pytest.ExitCode.USAGE_ERROR
    bad_ini.stderr.fnmatch_lines(["*slateboard_store = 'mysql': choose one of memory, postgresql, sqlite, all, both*"])


# A third party's store, registered by a conftest.py through the registry's API (and forgotten when the inner
# session ends, since it runs in this process).
REGISTERING_CONFTEST = """
from tests.blackboard import wrapped

_registration = wrapped.registered()
_registration.__enter__()


def pytest_unconfigure(config):
    _registration.__exit__(None, None, None)
"""

WRAPPED_PROBE = """
    def test_probe(slateboard_store, slateboard_store_kind):
        assert slateboard_store.url.startswith(slateboard_store_kind + ":")
        assert write(slateboard_store.board("b"), 2).version == 2
"""


def test_a_store_a_conftest_registers_is_a_choice_and_part_of_all(pytester: pytest.Pytester) -> None:
    inner(pytester, WRAPPED_PROBE)
    pytester.makeconftest(REGISTERING_CONFTEST)
    only = pytester.runpytest_inprocess("-v", "--slateboard-store=wrapped")
    assert passed(only) == {"test_probe[wrapped]"}
    every = pytester.runpytest_inprocess("-v")
    assert passed(every) == {f"test_probe[{kind}]" for kind in ("memory", "sqlite", "wrapped")}
    some = pytester.runpytest_inprocess("-v", "--slateboard-store", "wrapped", "--slateboard-store", "memory")
    assert passed(some) == {"test_probe[wrapped]", "test_probe[memory]"}


def test_a_conftest_fixture_runs_everything_on_its_own_store(pytester: pytest.Pytester) -> None:
    """As with anyio's `anyio_backend`: a conftest's `slateboard_store_kind` replaces the plugin's, parameters and
    all, for the fixtures, the marker and the conformance suites alike."""
    inner(
        pytester,
        WRAPPED_PROBE
        + """
    def test_board(slateboard_board):
        assert slateboard_board.store.url.startswith("wrapped://")

    @pytest.mark.slateboard_scenario("support-case/conflict")
    def test_marker(scenario_run):
        assert scenario_run.board.store.url.startswith("wrapped://")

    from slateboard.testing.commit_conformance import LedgerConformance
    from slateboard.testing.conformance import BlackboardConformance, OnRegisteredStores

    class TestStore(OnRegisteredStores, BlackboardConformance):
        pass

    class TestLedger(OnRegisteredStores, LedgerConformance):
        pass
    """,
    )
    pytester.makeconftest(
        REGISTERING_CONFTEST
        + """
import pytest


@pytest.fixture(params=["wrapped"])
def slateboard_store_kind(request):
    return request.param
"""
    )
    # The stores the option names are ignored: the conftest's fixture decides.
    result = pytester.runpytest_inprocess(
        "-v",
        "--slateboard-store=memory",
        "-k",
        "probe or board or marker or versions or reopened or second_handle or atomically",
    )
    names = passed(result)
    assert {"test_probe[wrapped]", "test_board[wrapped]", "test_marker[wrapped]"} <= names
    assert {
        "TestStore::test_reopened_store_keeps_every_entry[asyncio-wrapped]",
        "TestLedger::test_a_second_handle_sees_rows_and_locks[wrapped]",
    } <= names
    assert not any("memory" in name or "sqlite" in name for name in names)
    result.assert_outcomes(passed=len(names))


def test_a_test_can_pin_one_store_by_parametrizing_the_kind(pytester: pytest.Pytester) -> None:
    inner(
        pytester,
        """
        @pytest.mark.parametrize("slateboard_store_kind", ["sqlite"])
        def test_pinned(slateboard_store):
            assert slateboard_store.url.startswith("sqlite:")
        """,
    )
    result = pytester.runpytest_inprocess("-v", "--slateboard-store=memory")
    assert passed(result) == {"test_pinned[sqlite]"}


SCENARIO_FILE = """\
name: plugin-quote
kinds: {Lead: {company: str}}
agents:
  - {name: quoter, reads: [Lead], writes: Proposal,
     emit: {action: quote, target: Quote/1, changes: {Total: 900}, confidence: 0.9}}
rules: [{sufficient: {kind: Proposal}}]
policy: {rules: [{rule: allow}]}
sink: memory
inputs: [{kind: Lead, company: ACME}]
expect: {status: STATUS, commits: 1}
"""


def test_a_scenario_file_runs_as_a_test_through_the_marker(pytester: pytest.Pytester) -> None:
    (pytester.path / "good.yaml").write_text(SCENARIO_FILE.replace("STATUS", "committed"))
    (pytester.path / "bad.yaml").write_text(
        SCENARIO_FILE.replace("plugin-quote", "plugin-quote-2").replace("STATUS", "rejected")
    )
    inner(
        pytester,
        """
        @pytest.mark.slateboard_scenario("good.yaml")
        def test_good(scenario_run):
            assert scenario_run.scenario.name == "plugin-quote"

        @pytest.mark.slateboard_scenario("bad.yaml")
        def test_bad():
            pass

        def test_factory_takes_a_path(slateboard_scenario):
            assert slateboard_scenario("good.yaml").outcome.status == "committed"
        """,
    )
    result = pytester.runpytest_inprocess("-v")
    assert passed(result) == {
        "test_good[memory]",
        "test_good[sqlite]",
        "test_factory_takes_a_path[memory]",
        "test_factory_takes_a_path[sqlite]",
    }
    result.assert_outcomes(passed=4, failed=2, skipped=3)  # skipped: the postgresql copies, given no server
    result.stdout.fnmatch_lines(["*status is 'committed', expected 'rejected'*"])
