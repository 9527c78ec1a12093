import pytest

from slateboard import Blackboard


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def bb(slateboard_store: Blackboard) -> Blackboard:
    """A fresh store, once on memory:// and once on a SQLite file: the slateboard pytest plugin's own fixture."""
    return slateboard_store
