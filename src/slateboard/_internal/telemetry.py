"""Spans for OpenTelemetry, when the `otel` extra is installed; a stand-in that does nothing when it is not.

Every layer that does something worth timing opens a span here: the run, each cycle, each agent attempt, each
policy evaluation, each commit and each sink call. A span carries the board it works on as its correlation id
(`slateboard.board`, and `slateboard.version` where a version is known); spans opened inside it (in the same task,
or in tasks it starts) inherit both, so an agent attempt names its board without the runner knowing it.

Without `opentelemetry-api` nothing is imported and a span is one shared object whose methods do nothing. With it,
spans go to the global tracer provider: the API's default drops them, an SDK `TracerProvider` set by the user
exports them (docs/observability.md). This module imports no slateboard layer, so any layer may use it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span as OtelSpan
    from opentelemetry.trace import Tracer

__all__ = ("Span", "span", "start", "genai", "enabled", "TRACER_NAME", "BOARD", "VERSION")

TRACER_NAME: Final = "slateboard"
BOARD: Final = "slateboard.board"
VERSION: Final = "slateboard.version"
PREFIX: Final = "slateboard."

Value = str | bool | int | float
# The board and version spans opened in this context inherit (set only while a traced span is open).
_WHERE: ContextVar[tuple[str | None, int | None]] = ContextVar("slateboard_trace_where", default=(None, None))
_UNSET: Final = object()
_tracer: object = _UNSET
_api: Any = None  # the opentelemetry.trace module, once imported
_provider_from_env = False


def _get_tracer() -> Tracer | None:
    global _tracer, _api, _provider_from_env  # noqa: PLW0603 - one lazy import per process, then a plain read
    if _tracer is _UNSET:
        try:
            from opentelemetry import trace  # noqa: PLC0415 - optional: the `otel` extra
            from opentelemetry.environment_variables import OTEL_PYTHON_TRACER_PROVIDER  # noqa: PLC0415
        except ImportError:
            _tracer = None
        else:
            # A proxy until the user sets a provider; it forwards to that provider from then on.
            _tracer = trace.get_tracer(TRACER_NAME)
            _api = trace
            _provider_from_env = OTEL_PYTHON_TRACER_PROVIDER in os.environ
    return _tracer  # type: ignore[return-value]


def _unrecorded() -> bool:
    """Whether no tracer provider is set yet, so the API would only hand out non-recording spans: building one
    costs several microseconds a span, on every cycle of every run of a program that has the API but no SDK.
    (The API keeps the provider set by `set_tracer_provider` in this module attribute; one named by the
    environment variable is loaded on first use, so it is left to the API.)"""
    return _api is not None and not _provider_from_env and _api._TRACER_PROVIDER is None


def enabled() -> bool:
    """Whether spans are recorded at all (the `otel` extra is installed)."""
    return _get_tracer() is not None


class Span:
    """A span slateboard opened: a context manager that makes it current while its block runs.

    `set(**fields)` adds `slateboard.<field>` attributes (None values are left out); `set_attributes` adds
    attributes under their own names (the `gen_ai.*` ones); `fail(message)` marks it an error. An exception that
    leaves the block is recorded on it and marks it an error too. This base class is the stand-in: it does nothing.
    """

    __slots__ = ()

    def __enter__(self) -> Span:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        return None

    def set(self, **fields: Value | None) -> None:
        """Add `slateboard.<name>` attributes."""

    def set_attributes(self, attributes: Mapping[str, Value]) -> None:
        """Add attributes under their own names."""

    def fail(self, message: str) -> None:
        """Mark the span an error, with `message` as its status description."""

    def end(self) -> None:
        """End a span opened with `start` (a span used as a context manager ends with its block)."""

    def child(self, name: str, /, *, version: int | None = None, **fields: Value | None) -> Span:
        """A span under this one (made current while its block runs), whatever span is current now; it carries
        this one's board, and `version` (default: this one's)."""
        return self


_NOTHING: Final = Span()


class _Traced(Span):
    __slots__ = ("_board", "_exit", "_otel", "_token", "_version")

    def __init__(self, otel: OtelSpan, board: str | None, version: int | None) -> None:
        self._otel, self._board, self._version = otel, board, version
        self._token: Token[tuple[str | None, int | None]] | None = None
        self._exit: AbstractContextManager[OtelSpan] | None = None

    def __enter__(self) -> Span:
        from opentelemetry import trace  # noqa: PLC0415 - imported already when a span exists

        self._exit = trace.use_span(self._otel, end_on_exit=True)
        self._exit.__enter__()
        self._token = _WHERE.set((self._board, self._version))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._token is not None:
            _WHERE.reset(self._token)
        if self._exit is not None:
            self._exit.__exit__(kind, error, trace)  # records `error` and sets the status, then ends the span

    def set(self, **fields: Value | None) -> None:
        self._otel.set_attributes(_named(fields))

    def set_attributes(self, attributes: Mapping[str, Value]) -> None:
        self._otel.set_attributes(attributes)

    def fail(self, message: str) -> None:
        from opentelemetry.trace import Status, StatusCode  # noqa: PLC0415

        self._otel.set_status(Status(StatusCode.ERROR, message))

    def end(self) -> None:
        self._otel.end()

    def child(self, name: str, /, *, version: int | None = None, **fields: Value | None) -> Span:
        from opentelemetry import trace  # noqa: PLC0415

        parent = trace.set_span_in_context(self._otel)
        return _open(name, parent, self._board, self._version if version is None else version, fields)


def _named(fields: Mapping[str, Value | None]) -> dict[str, Value]:
    return {PREFIX + name: value for name, value in fields.items() if value is not None}


def _open(  # noqa: PLR0917 - private, called from three places
    name: str,
    parent: Context | None,
    board: str | None,
    version: int | None,
    fields: Mapping[str, Value | None],
    kind: type[_Traced] = _Traced,
) -> Span:
    tracer = _get_tracer()
    if tracer is None or _unrecorded():
        return _NOTHING
    inherited_board, inherited_version = _WHERE.get()
    board = board if board is not None else inherited_board
    version = version if version is not None else inherited_version
    attributes = _named(fields)
    if board is not None:
        attributes[BOARD] = board
    if version is not None:
        attributes[VERSION] = version
    opened = tracer.start_span(name, context=parent, attributes=attributes)
    if not opened.get_span_context().is_valid:
        # The API's no-op tracer (no SDK provider set): nothing records this span or any under it, so it need
        # not become current either. (An SDK's span, even one its sampler drops, is valid and is kept current,
        # so that the spans under it follow its sampling decision.)
        return _NOTHING
    return kind(opened, board, version)


def span(name: str, /, *, board: str | None = None, version: int | None = None, **fields: Value | None) -> Span:
    """A span named `name` under the current one, made current while its `with` block runs.

    `board` and `version` default to those of the span it is opened in; `fields` become `slateboard.<name>`
    attributes. Without the `otel` extra this returns a shared stand-in at once.
    """
    if _tracer is None:  # the common no-extra case: no lookup, no allocation
        return _NOTHING
    if _tracer is not _UNSET and _unrecorded():  # the API but no provider: the stand-in too, without `_open`
        return _NOTHING
    return _open(name, None, board, version, fields)


def start(name: str, /, *, board: str | None = None, version: int | None = None, **fields: Value | None) -> Span:
    """A span that is not made current: for a span that outlives the code that opens it (a run that yields its
    cycles one at a time). Open spans under it with `child`, and `end` it."""
    if _tracer is None:
        return _NOTHING
    return _open(name, None, board, version, fields, kind=_Detached)


class _Detached(_Traced):
    """A `start`ed span: its `with` block ends it (recording an error that leaves it) but never makes it current,
    so it may hold across an async generator's `yield`s, which may resume in another task."""

    __slots__ = ()

    def __enter__(self) -> Span:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if isinstance(error, GeneratorExit):
            self.set(stopped=True)  # the caller stopped iterating early: not an error
        elif error is not None:
            self._otel.record_exception(error)
            self.fail(f"{type(error).__name__}: {error}")
        self._otel.end()


def genai(*, agent: str, model: str, provider: str | None, input_tokens: int, output_tokens: int) -> dict[str, Value]:
    """The OpenTelemetry GenAI semantic-convention attributes of one model-backed agent attempt."""
    attributes: dict[str, Value] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": agent,
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.output_tokens": output_tokens,
    }
    if provider:
        # `gen_ai.provider.name` is the current name; `gen_ai.system` the one older backends still read.
        attributes["gen_ai.provider.name"] = provider
        attributes["gen_ai.system"] = provider
    return attributes
