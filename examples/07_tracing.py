"""Tracing a run with OpenTelemetry, and reading its structured logs and maturity signals.

Run it: `python examples/07_tracing.py` (a memory store; `--db URL` to keep the boards). Needs the `otel` extra for
the spans and the SDK to export them (`pip install 'slateboard[otel]' opentelemetry-sdk`); without them it still
runs the case and prints the logs and the signals, and says the spans were not recorded.

It sets an SDK `TracerProvider` (here with an in-memory exporter; in production an OTLP exporter to your collector),
turns on slateboard's log events as JSON lines, runs the built-in support case, then prints the span tree (every
span carries the board as `slateboard.board`) and the four maturity signals of the orchestration article (seed 004)
against its targets.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from slateboard import Blackboard, scenarios
from slateboard.observe.maturity import maturity


class JsonLines(logging.Formatter):
    """One JSON object per log record: the message plus slateboard's `extra` fields (board, version, event, ...)."""

    FIELDS = ("board", "version", "event", "status", "cycle", "key", "outcome", "target", "sink")

    def format(self, record: logging.LogRecord) -> str:
        fields = {name: getattr(record, name) for name in self.FIELDS if hasattr(record, name)}
        return json.dumps({"logger": record.name, "level": record.levelname, **fields, "message": record.getMessage()})


def log_as_json() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    logger = logging.getLogger("slateboard")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def tracer() -> Any:
    """An SDK provider exporting to memory, set as the global one; None without the SDK."""
    try:
        from opentelemetry import trace  # noqa: PLC0415 - optional: the otel extra and the SDK
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: PLC0415
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: PLC0415
    except ImportError:
        return None
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    # In production: BatchSpanProcessor(OTLPSpanExporter(endpoint=...)) from opentelemetry-exporter-otlp.
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


def print_tree(spans: list[Any]) -> None:
    children: dict[int | None, list[Any]] = {}
    for span in sorted(spans, key=lambda s: s.start_time):
        children.setdefault(span.parent.span_id if span.parent else None, []).append(span)

    def show(span: Any, depth: int) -> None:
        attributes = dict(span.attributes)
        said = ", ".join(
            f"{name.removeprefix('slateboard.')}={value}"
            for name, value in attributes.items()
            if name not in {"slateboard.board"} and not name.startswith("gen_ai.")
        )
        error = " [ERROR]" if span.status.status_code.name == "ERROR" else ""
        print(f"{'  ' * depth}{span.name} ({said}){error}")
        for child in children.get(span.context.span_id, []):
            show(child, depth + 1)

    for root in children.get(None, []):
        print(f"trace of board {root.attributes['slateboard.board']}:")
        show(root, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="memory://", help="store URL (default: memory://)")
    parser.add_argument("--quick", action="store_true", help="the same small run (for CI)")
    args = parser.parse_args()

    exporter = tracer()
    log_as_json()
    with Blackboard.open(args.db) as bb:
        run = scenarios.get("support-case/timeout").run_sync(bb, board="case-42")
        print(f"outcome: {run.outcome.status}")
        if exporter is None:
            print("spans not recorded: pip install 'slateboard[otel]' opentelemetry-sdk")
        else:
            spans = exporter.get_finished_spans()
            print_tree(list(spans))
            if {s.attributes["slateboard.board"] for s in spans} != {"case-42"}:
                raise SystemExit("every span should carry the board")
        for signal in maturity(bb).signals:
            value = "n/a" if signal.value is None else f"{signal.value:.3g}"
            print(
                f"{signal.title}: {value} {signal.unit} (target {signal.target}; met: {signal.met}) - {signal.detail}"
            )


if __name__ == "__main__":
    main()
