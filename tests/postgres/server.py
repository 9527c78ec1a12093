"""The test session's throwaway PostgreSQL server: `slateboard.testing.postgres`, re-exported under the name the
tests have always used (tests/conftest.py starts one per xdist worker)."""

from slateboard.testing.postgres import BINARIES, REQUIRE, VARIABLE, Unavailable, binaries, throwaway_server

__all__ = ("BINARIES", "REQUIRE", "VARIABLE", "Unavailable", "binaries", "throwaway_server")
