"""The store conformance suite, run on every registered store, and on a third party's store registered at run time."""

from collections.abc import Iterator

import pytest

from slateboard.blackboard.stores import StoreBackend
from slateboard.testing.conformance import BlackboardConformance, OnRegisteredStores
from tests.blackboard import wrapped


class TestStores(OnRegisteredStores, BlackboardConformance):
    """Every store slateboard ships (memory, sqlite), one parametrized copy each, through `slateboard_store_kind`."""


@pytest.fixture(scope="module", autouse=True)
def wrapped_store() -> Iterator[StoreBackend]:
    with wrapped.registered() as backend:
        yield backend


@pytest.mark.parametrize("slateboard_store_kind", [wrapped.SCHEME])
class TestThirdPartyStore(OnRegisteredStores, BlackboardConformance):
    """`wrapped://`, registered through `register_store` as a third party would: the suite opens it by its URL."""
