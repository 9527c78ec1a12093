"""Fuzzing store URLs: `open_store` opens a store or raises a SlateboardError (ConfigurationError, StoreError)
that names the URL with its password hidden; never another exception, never a wait for a server that a bad URL
cannot reach."""

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from slateboard.blackboard.stores.registry import open_store
from slateboard.errors import SlateboardError
from tests.fuzz.budget import attempt, fuzz

SECRET = "hunter2secret"  # noqa: S105 - the password the errors must not show
PORTS = st.one_of(
    st.integers(min_value=65_536, max_value=10**30).map(str),
    st.integers(max_value=-1).map(str),
    st.text(alphabet="abc:[]%-+. ", min_size=1, max_size=5),
)


@st.composite
def urls(draw: st.DrawFn, directory: str) -> str:
    kind = draw(st.sampled_from(["sqlite", "memory", "postgresql", "junk"]))
    if kind == "sqlite":
        name = draw(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/"), min_size=1, max_size=12))
        query = draw(st.sampled_from(["", "?busy_timeout=1e999", "?busy_timeout=-1", "?mode=ro", "?x=%00", "?"]))
        slashes = draw(st.sampled_from(["//", "///", "////"]))
        return f"sqlite:{slashes}{directory}/{name}.db{query}"
    if kind == "memory":
        return "memory://" + draw(st.text(max_size=10))
    if kind == "postgresql":  # only ports that cannot be right: the URL must be refused before any connection
        host = draw(st.sampled_from(["localhost", "[::1", "h", ""]))
        return f"postgresql://ana:{SECRET}@{host}:{draw(PORTS)}/db"
    return draw(st.text(max_size=20))


@fuzz(100)
@given(data=st.data())
def test_a_url_opens_or_is_refused_with_a_typed_error_that_hides_the_password(
    tmp_path: Path, data: st.DataObject
) -> None:
    url = data.draw(urls(str(tmp_path)))
    busy = data.draw(st.one_of(st.just(1.0), st.floats(allow_nan=True), st.integers(min_value=-5, max_value=10**12)))
    opened = attempt(lambda: open_store(url, busy_timeout=busy))
    if isinstance(opened, SlateboardError):
        assert SECRET not in str(opened)
    else:
        opened.close()
