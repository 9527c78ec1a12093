"""Tracing and log overhead: a support case's run time with spans off, on the OpenTelemetry API alone, and exported
by the SDK, and with slateboard's log events on; and the cost of one span, same run.

What runs: the built-in support case (seed 000, happy path: 6 cycles, 7 agent attempts, 2 policy evaluations, one
commit to a table in the store), one board per case on ``memory://`` so the store's fsyncs do not hide the
controller's own costs, ``--cases`` runs back to back per measurement. Configurations, in one process:

* "off": what a process without the ``otel`` extra gets: each span is the shared stand-in (the reference).
* "API only": ``opentelemetry-api`` without an SDK: the API's no-op tracer, as when the extra is installed and no
  provider is set.
* "SDK, in memory": an SDK ``TracerProvider`` with a ``SimpleSpanProcessor`` into an ``InMemorySpanExporter``
  (cleared after each batch): every span recorded, what a test or a local debugging session does. A real
  exporter adds its own cost (batching and the network) on top.
* "logs at INFO": spans off, the ``slateboard`` loggers at INFO into a ``NullHandler``: every event built and
  handled, none written.

The configuration is switched by pointing ``slateboard._internal.telemetry``'s cached tracer at each provider's
tracer (the module reads the global provider once; a benchmark cannot unset a global provider between rounds).
Figures are milliseconds per case, the median of ``--repeats`` batches, configurations interleaved round by round
after a discarded warm-up batch each; ratios are over "off" in the same run. The second table times one
``with telemetry.span(...)`` block (a name, a board and two fields), 10,000 times per figure.

Run it from the repository root::

    python benchmarks/bench_tracing.py            # full run: 100 cases per batch, 5 repeats, about 2 minutes
    python benchmarks/bench_tracing.py --quick    # CI's smoke test: 10 cases, 3 repeats
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider

from harness import Report, Row, Sample, Table, freeze, now, parser, quiet_gc, rounds, since
from slateboard import Blackboard, scenarios
from slateboard._internal import telemetry

SCENARIO = scenarios.get("support-case")
SPANS_PER_FIGURE = 10_000


@dataclass(frozen=True)
class Sizes:
    cases: int
    repeats: int


FULL = Sizes(cases=100, repeats=5)
QUICK = Sizes(cases=10, repeats=3)


class Setting:
    """One configuration: which tracer slateboard's spans go to, and the loggers' level."""

    def __init__(self, tracer: Any, level: int = logging.WARNING, exporter: InMemorySpanExporter | None = None) -> None:
        self.tracer, self.level, self.exporter = tracer, level, exporter

    def apply(self) -> None:
        telemetry._tracer = self.tracer  # the benchmark switches what the module cached
        logging.getLogger("slateboard").setLevel(self.level)

    def clear(self) -> None:
        if self.exporter is not None:
            self.exporter.clear()


def settings() -> dict[str, Setting]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return {
        "off": Setting(None),
        "API only": Setting(NoOpTracerProvider().get_tracer("slateboard")),
        "SDK, in memory": Setting(provider.get_tracer("slateboard"), exporter=exporter),
        "logs at INFO": Setting(None, logging.INFO),
    }


async def run_cases(count: int) -> None:
    with Blackboard.open("memory://") as bb:
        for number in range(count):
            run = await SCENARIO.run(bb, board=f"case-{number}")
            if run.outcome.status != "awaiting_approval":
                raise SystemExit(f"case-{number} ended {run.outcome.status}, not awaiting_approval")


def batch(setting: Setting, cases: int) -> Callable[[], float]:
    def measure() -> float:
        setting.apply()
        with quiet_gc(keep_gc=True):
            start = now()
            anyio.run(run_cases, cases)
            took = since(start)
        setting.clear()
        return took / cases * 1000

    return measure


def one_span(setting: Setting) -> Callable[[], float]:
    def measure() -> float:
        setting.apply()
        with quiet_gc():
            start = now()
            for _ in range(SPANS_PER_FIGURE):
                with telemetry.span("bench.span", board="case-1", agent="intake", attempt=1):
                    pass
            took = since(start)
        setting.clear()
        return took / SPANS_PER_FIGURE * 1e9

    return measure


def main() -> int:
    args = parser(__doc__, repeats=FULL.repeats).parse_args()
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or sizes.repeats
    report = Report("tracing", args, sizes, repeats=repeats)
    logging.getLogger("slateboard").addHandler(logging.NullHandler())
    logging.getLogger("slateboard").propagate = False  # no root handler formats what the benchmark emits
    chosen = settings()
    for setting in chosen.values():  # warm-up: imports, caches, the first SDK spans
        batch(setting, max(2, sizes.cases // 10))()
    freeze()
    runs = rounds(repeats, {name: batch(setting, sizes.cases) for name, setting in chosen.items()})
    reference = Sample.of(runs["off"])
    report.table(
        Table(
            title=f"support case, memory:// ({sizes.cases} cases per batch)",
            rows=tuple(
                Row(label=name, figure=Sample.of(found), unit="ms/case", reference=reference, n=sizes.cases)
                for name, found in runs.items()
            ),
            ratio="configuration / off",
        )
    )
    spans = rounds(repeats, {name: one_span(chosen[name]) for name in ("off", "API only", "SDK, in memory")})
    off = Sample.of(spans["off"])
    report.table(
        Table(
            title="one span opened and closed",
            rows=tuple(
                Row(label=name, figure=Sample.of(found), unit="ns/span", reference=off, n=SPANS_PER_FIGURE)
                for name, found in spans.items()
            ),
            ratio="configuration / off",
        )
    )
    chosen["off"].apply()
    return report.finish()


if __name__ == "__main__":
    raise SystemExit(main())
