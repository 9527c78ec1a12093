"""The store registry: URL schemes to backends, from entry points (built-ins and third parties alike) or at run time."""

import subprocess
import sys
import textwrap
from functools import partial
from pathlib import Path

import anyio
import pytest

from slateboard import Blackboard, Finding
from slateboard.blackboard.stores import (
    MemoryStore,
    StoreBackend,
    StoreOptions,
    open_store,
    register_store,
    registered_schemes,
    unregister_store,
)
from slateboard.blackboard.stores import registry as registry_module
from slateboard.blackboard.stores.registry import GROUP, backend_for, backend_for_tests, backends_for_tests
from slateboard.errors import ConfigurationError
from tests.blackboard import wrapped


class Memo(Finding):
    kind_name = "tests.registry.Memo"
    text: str


def test_the_built_ins_are_registered_by_scheme_and_make_test_urls(tmp_path: Path) -> None:
    assert {"memory", "sqlite"} <= set(registered_schemes())
    memory, sqlite = backend_for("memory://"), backend_for("sqlite:///x.db")
    assert (memory.scheme, memory.reopenable, sqlite.scheme, sqlite.reopenable) == ("memory", False, "sqlite", True)
    assert backend_for_tests("sqlite") is sqlite
    assert [b.scheme for b in backends_for_tests()] == registered_schemes()
    with Blackboard.open(sqlite.fresh_url(tmp_path)) as bb:
        assert bb.store.path == tmp_path / "slateboard.db"  # type: ignore[attr-defined]


def test_the_pyproject_declares_the_built_ins_as_entry_points() -> None:
    """Built-ins go the way a third party's store goes: `[project.entry-points."slateboard.stores"]`."""
    text = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert f'[project.entry-points."{GROUP}"]' in text
    assert 'memory = "slateboard.blackboard.stores.memory:backend"' in text
    assert 'sqlite = "slateboard.blackboard.stores.sqlite:backend"' in text


def test_a_source_checkout_without_entry_point_metadata_still_opens_the_built_ins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(registry_module, "entry_points", lambda group: ())
    bare = registry_module._Registry()
    assert bare.schemes() == ["memory", "sqlite"]
    found = bare.find("sqlite")
    assert found is not None
    store = found.open(f"sqlite:///{tmp_path / 'x.db'}", StoreOptions())
    store.close()
    assert (tmp_path / "x.db").is_file()


def test_a_store_registered_at_run_time_opens_by_url_until_unregistered() -> None:
    with wrapped.registered() as backend:
        assert "wrapped" in registered_schemes()
        assert backend_for("wrapped://a") is backend
        with Blackboard.open("wrapped://a") as bb:
            assert isinstance(bb.store, wrapped.WrappedStore)
            anyio.run(partial(bb.board("b").write, Memo(subject="s", text="x", confidence=1.0), author="me"))
        with Blackboard.open("wrapped://a") as again:  # the same name reaches the same storage
            assert again.boards() == ["b"]
        with pytest.raises(ConfigurationError, match="already registered"):
            register_store("wrapped", wrapped.open_wrapped)
    assert "wrapped" not in registered_schemes()
    known = r"known schemes: memory, postgresql, sqlite"
    with pytest.raises(ConfigurationError, match=r"'wrapped://a' is not understood.*" + known):
        Blackboard.open("wrapped://a")
    with pytest.raises(ConfigurationError, match="no store is registered at run time for the scheme 'wrapped'"):
        unregister_store("wrapped")


def test_aliases_open_too_and_run_time_registration_wins_over_an_entry_point() -> None:
    def opener(url: str, options: StoreOptions) -> MemoryStore:
        return MemoryStore(url)

    register_store("memory", opener, aliases=("mem",))
    try:
        assert backend_for("mem://").open is opener
        assert isinstance(open_store("mem://"), MemoryStore)
        assert backend_for("memory://").open is opener
    finally:
        unregister_store("mem")
    assert backend_for("memory://").open is not opener


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: StoreBackend("Not A Scheme", wrapped.open_wrapped), "'Not A Scheme' is not a URL scheme"),
        (lambda: StoreBackend("ok", wrapped.open_wrapped, aliases=("b@d",)), "'b@d' is not a URL scheme"),
        (lambda: StoreBackend("ok", "not a function"), "open must be a function"),  # type: ignore[arg-type]
    ],
)
def test_a_malformed_backend_is_refused(make: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make()  # type: ignore[operator]


def test_a_url_without_a_scheme_names_the_url_and_the_known_schemes() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Blackboard.open("slate.db")
    assert "'slate.db' is not understood" in str(caught.value)
    assert "known schemes: memory, postgresql, sqlite" in str(caught.value)


def test_an_unready_backend_is_not_testable() -> None:
    register_store("untestable", wrapped.open_wrapped)
    try:
        with pytest.raises(ConfigurationError, match="gives no test_url"):
            backend_for_tests("untestable")
        with pytest.raises(ConfigurationError, match="gives no test_url"):
            backend_for("untestable://").fresh_url(Path())
        assert "untestable" not in [b.scheme for b in backends_for_tests()]
    finally:
        unregister_store("untestable")
    with pytest.raises(ConfigurationError, match="no store backend is registered for 'untestable'"):
        backend_for_tests("untestable")


THIRD_PARTY = """
from slateboard.blackboard.stores import MemoryStore, StoreBackend

def _open(url, options):
    return MemoryStore(url)

backend = StoreBackend("acme", _open, test_url=lambda directory: "acme://", reopenable=False, aliases=("acme2",))
elsewhere = StoreBackend("other", _open)
not_a_backend = object()
"""

PROBE = """
import sys
from slateboard import Blackboard
from slateboard.blackboard.stores import registered_schemes
from slateboard.errors import ConfigurationError

print("schemes", registered_schemes())
print("imported before", "acme_store" in sys.modules)
with Blackboard.open("memory://"):
    print("after memory", "acme_store" in sys.modules, "slateboard.blackboard.stores.sqlite" in sys.modules)
with Blackboard.open("acme://x") as bb:
    print("opened", type(bb.store).__name__, "acme_store" in sys.modules)
with Blackboard.open("acme2://x") as bb:
    print("alias", bb.url)
for url in ("broken://", "wrong://", "stray://"):
    try:
        Blackboard.open(url)
    except ConfigurationError as exc:
        print("error", exc)
"""


def test_a_third_party_entry_point_is_imported_only_when_its_scheme_is_opened(tmp_path: Path) -> None:
    """A package that declares `[project.entry-points."slateboard.stores"]`, in a fresh interpreter."""
    (tmp_path / "acme_store.py").write_text(THIRD_PARTY)
    info = tmp_path / "acme_store-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-store\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(f"""
        [{GROUP}]
        acme = acme_store:backend
        broken = acme_store:not_a_backend
        wrong = acme_store:elsewhere
        """)
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    lines = done.stdout.splitlines()
    assert lines[:5] == [
        "schemes ['acme', 'broken', 'memory', 'postgresql', 'sqlite', 'wrong']",
        "imported before False",
        "after memory False False",
        "opened MemoryStore True",
        "alias acme2://x",
    ]
    assert "broken = 'acme_store:not_a_backend'" in lines[5]
    assert "not a slateboard StoreBackend" in lines[5]
    assert "names the backend of 'other', not of 'wrong'" in lines[6]
    assert "'stray://' is not understood" in lines[7]


def test_a_backend_whose_driver_is_missing_is_named_and_skipped_by_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    ghost = registry_module.EntryPoint(name="ghost", value="no_such_driver_xyz.store:backend", group=GROUP)
    with pytest.raises(registry_module.BackendNotInstalled) as caught:
        registry_module._REGISTRY._load(ghost)
    assert "the ghost:// store cannot load here (No module named 'no_such_driver_xyz')" in str(caught.value)
    assert isinstance(caught.value, ConfigurationError)  # opening such a URL is a configuration error

    def missing(scheme: str) -> None:
        raise registry_module.BackendNotInstalled(f"the {scheme}:// store cannot load here")

    monkeypatch.setattr(registry_module._REGISTRY, "find", missing)
    with pytest.raises(registry_module.UnavailableForTests, match="ghost:// store cannot load here"):
        backend_for_tests("ghost")  # the plugin turns this into a skip that says why
