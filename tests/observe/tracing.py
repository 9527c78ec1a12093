"""One SDK tracer provider per test process, exporting to memory while a tracing test runs.

OpenTelemetry lets a process set its global provider once, so every tracing test shares it: `recording()` arms
the exporter for one test (other tests in the same process, which also make spans, keep nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

__all__ = ("recording", "Spans")


class _Armed(SimpleSpanProcessor):
    armed = False

    def on_end(self, span: ReadableSpan) -> None:
        if self.armed:
            super().on_end(span)


_EXPORTER = InMemorySpanExporter()
_PROCESSOR = _Armed(_EXPORTER)


class Spans:
    """The spans ended while recording, in the order they ended."""

    def all(self, name: str | None = None) -> list[ReadableSpan]:
        return [s for s in _EXPORTER.get_finished_spans() if name is None or s.name == name]

    def one(self, name: str) -> ReadableSpan:
        (found,) = self.all(name)
        return found

    def children(self, parent: ReadableSpan, name: str | None = None) -> list[ReadableSpan]:
        return [s for s in self.all(name) if s.parent is not None and s.parent.span_id == parent.context.span_id]


@contextmanager
def recording() -> Iterator[Spans]:
    """Record the spans ended inside the block (the global SDK provider is set at the first call)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(_PROCESSOR)
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    _PROCESSOR.armed = True
    try:
        yield Spans()
    finally:
        _PROCESSOR.armed = False
