"""What `slateboard metrics` prints: the `WorkflowMetrics` document as JSON, or as lines and one table of agents.

Both are rendered from the same document, so the text and `--json` say the same.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from slateboard.blackboard.board import Blackboard
from slateboard.cli.console import print_json
from slateboard.cli.console import shown as escape
from slateboard.observe.maturity import MaturitySignals, Signal, maturity
from slateboard.observe.metrics import STATUSES, WorkflowMetrics, metrics

__all__ = ("render", "render_maturity", "show_metrics")


def show_metrics(console: Console, blackboard: Blackboard, boards: Sequence[str] | None, *, as_json: bool) -> None:
    """Compute the metrics of `boards` (all when None or empty) and print them on `console` (JSON on stdout)."""
    found = metrics(blackboard, boards)
    signals = maturity(blackboard, boards)
    if as_json:
        print_json({**found.model_dump(mode="json"), "maturity": signals.model_dump(mode="json")})
        return
    console.print(f"[bold]workflow metrics[/bold] of {escape(blackboard.url)}")
    for item in [*render(found), render_maturity(signals)]:
        console.print(item)


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}"


def _counts(counts: dict[str, int], empty: str = "none") -> str:
    return ", ".join(f"{name or '(no reason given)'}: {n}" for name, n in counts.items()) or empty


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def render(found: WorkflowMetrics) -> list[str | Table]:
    """The metrics as Rich renderables: markup lines (stored text escaped) and the table of agents."""
    b, c, a, k = found.boards, found.citations, found.approvals, found.commits
    lines: list[str | Table] = [
        f"boards: {b.total} ({found.entries} entries"
        + (f", {found.unreadable} unreadable record(s) skipped" if found.unreadable else "")
        + ")",
        f"  routed to a person: {b.routed_to_person} of {b.total} ({_pct(b.routed_share)})",
        escape(f"  last decision: {_counts(b.last_decision)}"),
        escape(f"  escalation reasons (by rule): {_counts(b.escalations)}"),
    ]
    if found.agents:
        lines.append(_agents_table(found))
    else:
        lines.append("agents: no attempts recorded")
    lines += [
        f"citations: {c.findings} agent-written finding(s); {c.cited} cite a source ({_pct(c.coverage)}), "
        f"{c.approved_cited} an approved source ({_pct(c.approved_coverage)})",
        f"approvals: {a.requested} requested; {a.approved} approved ({a.edited} with edits), {a.rejected} rejected, "
        f"{a.pending} pending; approval rate {_pct(a.approval_rate)}, correction rate {_pct(a.correction_rate)}",
        escape(f"  rejected by reviewers: {_counts(a.rejection_reasons)}"),
        escape(f"  denied by policy (by rule): {_counts(a.denied_by_rule)}"),
        f"commits: {k.applied} applied, {k.dead_lettered} dead-lettered, {k.in_doubt} in doubt "
        f"({k.doubted} ever), {k.compensated} compensated; rollback rate {_pct(k.rollback_rate)}",
        escape(f"  sinks: {_counts(k.sinks)}"),
    ]
    m = found.cost
    if m.model_attempts:
        lines.append(
            f"model cost: {_dollars(m.total)} over {m.model_attempts} model attempt(s) "
            f"({m.input_tokens} input, {m.output_tokens} output tokens"
            + (f", {m.unpriced} unpriced" if m.unpriced else "")
            + f"); per completed run {_dollars(m.per_completed_run)} ({m.completed_runs} completed)"
        )
        for agent in found.agents:
            if agent.model_attempts:
                lines.append(
                    escape(f"  {agent.agent}: {_dollars(agent.cost)} over {agent.model_attempts} attempt(s)")
                    + (f", {agent.unpriced} unpriced" if agent.unpriced else "")
                )
    return lines


def _dollars(value: float | None) -> str:
    return "n/a" if value is None else f"${value:.6f}"


def _agents_table(found: WorkflowMetrics) -> Table:
    table = Table(
        title="agents (cycle: from the decision that scheduled a task to its recorded attempts; an upper bound)",
        title_justify="left",
    )
    table.add_column("agent", no_wrap=True)
    table.add_column("attempts", justify="right", no_wrap=True)
    table.add_column("by status")
    for column in ("failed", "timed out", "retries", "cycle mean s", "cycle max s"):
        table.add_column(column, justify="right", no_wrap=True)
    for agent in found.agents:
        table.add_row(
            escape(agent.agent),
            str(agent.attempts),
            ", ".join(f"{status} {agent.by_status[status]}" for status in STATUSES if agent.by_status[status]),
            _pct(agent.failure_rate),
            _pct(agent.timeout_rate),
            str(agent.retries),
            _seconds(agent.cycle_time.mean_seconds),
            _seconds(agent.cycle_time.max_seconds),
        )
    return table


def _value(signal: Signal) -> str:
    if signal.value is None:
        return "n/a"
    if signal.unit == "seconds":
        return f"{signal.value:.1f} s"
    return f"{signal.value:.1%}"


def render_maturity(signals: MaturitySignals) -> Table:
    """The four maturity signals of seed 004 beside the article's targets."""
    table = Table(title="maturity signals (targets from the field, seed 004)", title_justify="left")
    for column in ("signal", "value", "target", "met"):
        table.add_column(column, no_wrap=True)
    table.add_column("from")
    for signal in signals.signals:
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "n/a"}[signal.met]
        table.add_row(signal.title, _value(signal), escape(signal.target), met, escape(signal.detail))
    return table
