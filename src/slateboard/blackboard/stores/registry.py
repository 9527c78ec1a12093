"""The store registry: which backend opens a URL, found by the URL's scheme.

Built-in and third-party backends are found the same way, through the entry-point group `slateboard.stores`: one
entry point per URL scheme, naming the backend's `StoreBackend`:

```toml
[project.entry-points."slateboard.stores"]
mystore = "mypackage.store:backend"        # opens "mystore://..."
```

A backend's module is imported only when a URL of its scheme is opened, so `memory://` never imports a database
driver. `register_store` adds a backend at run time (a test, a notebook); it takes precedence over an entry point
of the same scheme.
"""

from __future__ import annotations

import contextlib
import re
import threading
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, get_args
from urllib.parse import parse_qs, urlsplit

from slateboard.errors import ConfigurationError, redacted

if TYPE_CHECKING:  # the Store protocol's module re-exports open_store from here
    from slateboard.blackboard.stores.base import Store

__all__ = (
    "GROUP",
    "Durability",
    "DURABILITIES",
    "check_durability",
    "StoreBackend",
    "StoreOpener",
    "StoreOptions",
    "FreshURL",
    "backend_for",
    "open_store",
    "register_store",
    "registered_schemes",
    "scheme_of",
    "backend_for_tests",
    "backends_for_tests",
    "BUILTIN_SCHEMES",
    "unregister_store",
    "UnavailableForTests",
    "BackendNotInstalled",
)

GROUP = "slateboard.stores"
# A source checkout that was never installed has no entry-point metadata: it still opens the built-ins.
_BUILTIN = {
    "memory": "slateboard.blackboard.stores.memory:backend",
    "sqlite": "slateboard.blackboard.stores.sqlite:backend",
}
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")


Durability = Literal["cycle", "relaxed"]
"""How durable a board's appends are before `write` returns (the ledger's writes are always fully durable):

- "cycle" (the default): every append is durable (fsynced) before it returns, so a controller cycle's decision
  is on disk before any agent acts on it and nothing a run reported is lost, even to a power cut.
- "relaxed": appends are committed (atomic, visible to every process, kept if the process is killed) but not
  fsynced one by one; a power cut or an OS crash may lose the last appends before the next fsync, which the next
  ledger write (every commit of a proposal), a checkpoint or a "cycle" writer makes. A run that loses its last
  cycles re-runs them on resume; a commit never happens twice, because the ledger is never relaxed.
"""
DURABILITIES: tuple[Durability, ...] = get_args(Durability)


def check_durability(value: object, *, where: str) -> Durability:
    """`value` as a `Durability`, or a `ConfigurationError` naming `where` it came from."""
    for durability in DURABILITIES:
        if value == durability:
            return durability
    raise ConfigurationError(f"{where}: durability must be one of {', '.join(map(repr, DURABILITIES))}, got {value!r}")


@dataclass(frozen=True)
class StoreOptions:
    """What `Blackboard.open` passes to every backend; a backend ignores the options it has no use for."""

    busy_timeout: float = 10.0  # seconds a write may wait for another writer's lock
    # Open for reading only: create, migrate and write nothing; appends and ledger writes raise ReadOnlyStoreError.
    # Every backend must honour it (a backend with nothing on disk may just refuse writes).
    read_only: bool = False
    # None: the URL's `durability=` query option, else "cycle". A backend that cannot relax keeps "cycle".
    durability: Durability | None = None


class UnavailableForTests(ConfigurationError):
    """Raised by a backend's `test_url` when it cannot make a test store here (no server to reach): the pytest
    plugin skips the test with this message instead of failing it."""


class BackendNotInstalled(ConfigurationError):
    """A registered backend's module cannot be imported here: its driver (an optional extra) is not installed."""


class StoreOpener(Protocol):
    """Opens (creating if needed) the store a URL names; raises `ConfigurationError` naming a bad URL."""

    def __call__(self, url: str, options: StoreOptions, /) -> Store: ...


class FreshURL(Protocol):
    """The URL of a fresh, empty store for one test; `directory` is a new, empty directory it may use."""

    def __call__(self, directory: Path, /) -> str: ...


@dataclass(frozen=True)
class StoreBackend:
    """A store backend: the URL scheme it opens, how, and how tests get a fresh store of it.

    `reopenable`: opening the same URL again reaches the same storage (not so for `memory://`, where each open is
    a new store); the conformance suites then also check a second handle. `aliases`: other schemes it opens.
    """

    scheme: str
    open: StoreOpener
    test_url: FreshURL | None = None
    reopenable: bool = True
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for scheme in (self.scheme, *self.aliases):
            if not _SCHEME.fullmatch(scheme):
                raise ConfigurationError(f"store backend: {scheme!r} is not a URL scheme (lowercase, like 'sqlite')")
        if not callable(self.open):
            raise ConfigurationError(f"store backend {self.scheme!r}: open must be a function (url, options) -> Store")

    def fresh_url(self, directory: Path) -> str:
        """The URL of a fresh, empty store for a test (`directory`: a new, empty directory it may use)."""
        if self.test_url is None:
            raise ConfigurationError(f"the {self.scheme!r} store backend gives no test_url: tests cannot make stores")
        return self.test_url(directory)


class _Registry:
    """The backends known to this process: registered at run time, or loaded from an entry point when first used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._registered: dict[str, StoreBackend] = {}
        self._loaded: dict[str, StoreBackend] = {}
        self._points: dict[str, EntryPoint] | None = None

    def register(self, backend: StoreBackend) -> None:
        with self._lock:
            taken = [s for s in (backend.scheme, *backend.aliases) if s in self._registered]
            if taken:
                raise ConfigurationError(
                    f"store scheme(s) {', '.join(taken)} already registered; unregister_store them first"
                )
            for scheme in (backend.scheme, *backend.aliases):
                self._registered[scheme] = backend

    def unregister(self, scheme: str) -> None:
        with self._lock:
            backend = self._registered.get(scheme)
            if backend is None:
                raise ConfigurationError(f"no store is registered at run time for the scheme {scheme!r}")
            for name in (backend.scheme, *backend.aliases):
                self._registered.pop(name, None)

    def entry_points(self) -> dict[str, EntryPoint]:
        """The group's entry points by scheme (read once), with the built-ins filled in where metadata lacks them."""
        with self._lock:
            if self._points is None:
                found = {point.name: point for point in entry_points(group=GROUP)}
                for scheme, value in _BUILTIN.items():
                    found.setdefault(scheme, EntryPoint(scheme, value, GROUP))
                self._points = found
            return self._points

    def schemes(self) -> list[str]:
        """Every backend's own scheme, known without importing any backend (entry points are named by scheme)."""
        points = self.entry_points()
        with self._lock:
            known = {b.scheme for b in self._registered.values()} | {b.scheme for b in self._loaded.values()}
        return sorted(known | set(points))

    def find(self, scheme: str) -> StoreBackend | None:
        with self._lock:
            backend = self._registered.get(scheme) or self._loaded.get(scheme)
        if backend is not None:
            return backend
        points = self.entry_points()
        if scheme in points:
            return self._load(points[scheme])
        # Perhaps another backend's alias: load the others (only on this miss) and look again.
        for point in points.values():
            with contextlib.suppress(ConfigurationError):  # a broken one says so when its own scheme is opened
                self._load(point)
        with self._lock:
            return self._loaded.get(scheme)

    def _load(self, point: EntryPoint) -> StoreBackend:
        with self._lock:
            if point.name in self._loaded:
                return self._loaded[point.name]
        where = f"entry point {point.name} = {point.value!r} (group {GROUP})"
        try:
            backend = point.load()
        except ImportError as exc:
            raise BackendNotInstalled(
                f"the {point.name}:// store cannot load here ({exc}): install the package that provides it "
                "(slateboard's own PostgreSQL store: pip install 'slateboard[postgres]')"
            ) from exc
        except Exception as exc:
            raise ConfigurationError(f"store backend for {point.name}:// failed to load from {where}: {exc}") from exc
        if not isinstance(backend, StoreBackend):
            raise ConfigurationError(f"{where} names {backend!r}, not a slateboard StoreBackend")
        if backend.scheme != point.name:
            raise ConfigurationError(f"{where} names the backend of {backend.scheme!r}, not of {point.name!r}")
        with self._lock:
            for scheme in (backend.scheme, *backend.aliases):
                self._loaded.setdefault(scheme, backend)
        return backend


_REGISTRY = _Registry()


def register_store(
    scheme: str,
    opener: StoreOpener,
    *,
    test_url: FreshURL | None = None,
    reopenable: bool = True,
    aliases: tuple[str, ...] = (),
) -> StoreBackend:
    """Open URLs of `scheme` with `opener(url, options)`; `test_url` lets the pytest plugin and the conformance
    suites run on it. Takes precedence over an entry point of the same scheme; returns the registered backend."""
    backend = StoreBackend(scheme, opener, test_url, reopenable, aliases)
    _REGISTRY.register(backend)
    return backend


def unregister_store(scheme: str) -> None:
    """Forget a backend `register_store` added (by any of its schemes); entry points are not affected."""
    _REGISTRY.unregister(scheme)


def registered_schemes() -> list[str]:
    """The scheme of every known backend (its aliases aside), sorted, without importing any backend."""
    return _REGISTRY.schemes()


BUILTIN_SCHEMES: tuple[str, ...] = tuple(_BUILTIN)
"""The backends slateboard ships ("memory", "sqlite")."""


def backend_for_tests(scheme: str) -> StoreBackend:
    """The backend of `scheme` that tests can open fresh stores of, or a `ConfigurationError` saying why not
    (`UnavailableForTests`, which the plugin turns into a skip, when its driver is not installed here)."""
    try:
        backend = _REGISTRY.find(scheme)
    except BackendNotInstalled as exc:
        raise UnavailableForTests(str(exc)) from exc
    if backend is None:
        raise ConfigurationError(
            f"no store backend is registered for {scheme!r} (known: {', '.join(registered_schemes())})"
        )
    if backend.test_url is None:
        raise ConfigurationError(f"the {scheme!r} store backend gives no test_url, so tests cannot make fresh stores")
    return backend


def scheme_of(url: str) -> str:
    """The scheme of a store URL ("sqlite" for "sqlite:///x.db"); `ConfigurationError` when it has none."""
    scheme, colon, _ = url.partition(":")
    scheme = scheme.lower()
    if not colon or not _SCHEME.fullmatch(scheme):
        raise ConfigurationError(
            f"store URL {redacted(url)!r} is not understood: it needs a scheme, such as 'sqlite:///path/to/file.db' or "
            f"'memory://' (known schemes: {', '.join(registered_schemes())})"
        )
    return scheme


def backend_for(url: str) -> StoreBackend:
    """The backend that opens `url` (importing its module if it was not yet), or a `ConfigurationError`."""
    scheme = scheme_of(url)
    backend = _REGISTRY.find(scheme)
    if backend is not None:
        return backend
    raise ConfigurationError(
        f"store URL {redacted(url)!r} is not understood: no store is registered for the scheme {scheme!r} "
        f"(known schemes: {', '.join(registered_schemes())}); a backend registers through the entry-point group "
        f"{GROUP!r} or slateboard.blackboard.stores.register_store"
    )


def open_store(
    url: str, *, busy_timeout: float = 10.0, read_only: bool = False, durability: Durability | None = None
) -> Store:
    """Open the store a URL names: "memory://", "sqlite:///path" (relative) / "sqlite:////path" (absolute), or a
    URL of any registered scheme. `read_only`: open it for reading only, changing nothing (see `StoreOptions`).
    `durability`: see `Durability` (None: the URL's, else "cycle")."""
    backend = backend_for(url)
    _check_url(url, busy_timeout)
    if durability is not None:
        durability = check_durability(durability, where="Blackboard.open")
    return backend.open(url, StoreOptions(busy_timeout=busy_timeout, read_only=read_only, durability=durability))


def _check_url(url: str, busy_timeout: float) -> None:
    """Refuse what no backend can open before one tries (a bad port would otherwise wait for a connection that
    cannot come): a `ConfigurationError` naming the value, the URL's password hidden."""
    if "\x00" in url:
        raise ConfigurationError(f"store URL {redacted(url)!r} holds a NUL character")
    if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, int | float) or not 0 <= busy_timeout < 1e9:
        raise ConfigurationError(f"busy_timeout must be a number of seconds from 0 to 1e9, got {busy_timeout!r}")
    try:
        parts = urlsplit(url)
        _ = parts.port  # parsing the port checks it: a number from 0 to 65535
    except ValueError as exc:
        raise ConfigurationError(f"store URL {redacted(url)!r}: {exc}") from None
    for given in parse_qs(parts.query).get("busy_timeout", []):  # the option every file backend reads
        try:
            seconds = float(given)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds < 1e9:
            raise ConfigurationError(
                f"store URL {redacted(url)!r}: busy_timeout must be a number of seconds from 0 to 1e9, got {given!r}"
            )


def backends_for_tests() -> list[StoreBackend]:
    """Every known backend that can make fresh stores for tests, by scheme (imports them all)."""
    found = (_REGISTRY.find(scheme) for scheme in registered_schemes())
    return [backend for backend in found if backend is not None and backend.test_url is not None]
