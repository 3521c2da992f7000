"""The report's figures as PNG bytes (matplotlib's Agg renderer, no pyplot state, no display).

Every plot is a pure function of plain records (the timeline, the ledger's reports), so the same
run always gives the same bytes.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiperf.rundir import write_bytes_atomic
from aiperf.score import Summary
from aiperf.score.ledger import Ledger, Report
from aiperf.score.timeline import TimelinePoint, best_report

BLUE, GREEN, RED, PURPLE, GREY = "#2563eb", "#16a34a", "#dc2626", "#9333ea", "#6b7280"
PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16")
STATUS_COLOURS = {"completed": BLUE, "stopped": PURPLE, "failed": RED, "running": GREY}
PLOT_TITLES = {
    "flops": "FLOPS over time",
    "regulated": "Regulated score over time",
    "accuracy": "Clean and robust test accuracy of the selected model over time",
    "gantt": "Trials per node and slot",
    "scatter": "Accuracy vs FLOPs of every trial",
}


@dataclass(frozen=True)
class Interval:
    """One report interval of one trial, in seconds from t0."""

    trial_id: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class TrialSpan:
    """A trial on one node: from its first report's start to its last report's end."""

    trial_id: str
    node: str
    start_s: float
    end_s: float
    intervals: tuple[Interval, ...]


def render_plots(
    timeline: list[TimelinePoint], ledger: Ledger, summary: Summary, quality_gate: float
) -> dict[str, bytes]:
    """Every figure of the report, name → PNG bytes (names are the keys of PLOT_TITLES)."""
    return {
        "flops": flops_plot(timeline),
        "regulated": regulated_plot(timeline),
        "accuracy": accuracy_plot(timeline, quality_gate),
        "gantt": gantt_plot(ledger, summary.duration_s),
        "scatter": scatter_plot(ledger, summary.best_trial_id),
    }


def write_plots(plots: dict[str, bytes], folder: Path) -> list[Path]:
    """``<folder>/<name>.png`` for every figure, each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, png in sorted(plots.items()):
        path = folder / f"{name}.png"
        write_bytes_atomic(path, png)
        paths.append(path)
    return paths


def flops_plot(timeline: list[TimelinePoint]) -> bytes:
    """FLOPS(t) on the score grid, the final value marked."""
    fig, ax = _axes(PLOT_TITLES["flops"], "FLOPS")
    _timeline_line(ax, timeline, [p.flops for p in timeline], BLUE, "FLOPS(t)")
    return png_bytes(fig)


def regulated_plot(timeline: list[TimelinePoint]) -> bytes:
    """regulated(t) = FLOPS(t) · |ln(1 − acc(t))| on the score grid."""
    fig, ax = _axes(PLOT_TITLES["regulated"], "FLOPS")
    values = [p.regulated_score for p in timeline]
    _timeline_line(ax, timeline, values, PURPLE, "regulated(t)")
    return png_bytes(fig)


def accuracy_plot(timeline: list[TimelinePoint], quality_gate: float) -> bytes:
    """acc(t) and the robust accuracy of the same (validation-selected) model, with the quality
    gate."""
    fig, ax = _axes(PLOT_TITLES["accuracy"], "accuracy")
    times = [p.t_s for p in timeline]
    for values, color, label in (
        ([p.best_test_accuracy for p in timeline], GREEN, "clean test acc (best val)"),
        ([p.robust_accuracy for p in timeline], RED, "robust acc (best val)"),
    ):
        ys = [float("nan") if v is None else v for v in values]
        ax.step(times, ys, where="post", color=color, label=label, linewidth=2)
        ax.plot(times, ys, "o", color=color, markersize=3)
    if quality_gate > 0:
        ax.axhline(quality_gate, color=GREY, linestyle="--", linewidth=1, label="quality gate")
    ax.yaxis.set_major_formatter(_percent_formatter())
    ax.set_xlim(left=0)
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    return png_bytes(fig)


def _timeline_line(
    ax: Any, timeline: list[TimelinePoint], values: list[float], color: str, label: str
) -> None:
    from matplotlib.ticker import EngFormatter

    times = [p.t_s for p in timeline]
    ax.plot(times, values, "-o", color=color, markersize=3, linewidth=2, label=label)
    ax.fill_between(times, values, color=color, alpha=0.08)
    if times:
        ax.annotate(
            EngFormatter(unit="FLOPS", places=2)(values[-1]),
            (times[-1], values[-1]),
            textcoords="offset points",
            xytext=(-6, 10),
            ha="right",
            fontsize=8,
            color=color,
        )
    ax.yaxis.set_major_formatter(EngFormatter(unit=""))
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)


def trial_spans(ledger: Ledger) -> list[TrialSpan]:
    """Every trial that reported, per node, from its report start/end times (seconds from t0)."""
    t0 = ledger.t0
    grouped: dict[tuple[str, str], list[Interval]] = defaultdict(list)
    for r in ledger.reports:
        interval = Interval(r.trial_id, r.start_time - t0, r.end_time - t0)
        grouped[(r.node, r.trial_id)].append(interval)
    spans = []
    for (node, trial_id), intervals in grouped.items():
        ordered = tuple(sorted(intervals, key=lambda i: i.start_s))
        end = max(i.end_s for i in ordered)
        spans.append(TrialSpan(trial_id, node, ordered[0].start_s, end, ordered))
    return sorted(spans, key=lambda s: (s.node, s.start_s, s.trial_id))


def pack_slots(spans: list[TrialSpan]) -> dict[str, list[list[TrialSpan]]]:
    """Node → slot rows: each trial goes to the first row free at its start (greedy by start)."""
    rows: dict[str, list[list[TrialSpan]]] = defaultdict(list)
    for span in sorted(spans, key=lambda s: (s.node, s.start_s, s.trial_id)):
        free = [row for row in rows[span.node] if row[-1].end_s <= span.start_s + 1e-9]
        if free:
            free[0].append(span)
        else:
            rows[span.node].append([span])
    return dict(sorted(rows.items()))


def gantt_plot(ledger: Ledger, run_length_s: float) -> bytes:
    """One row per node slot; a bar per report interval coloured by trial; gaps are idle time."""
    slots = pack_slots(trial_spans(ledger))
    labels = [f"{node} · slot {i}" for node, rows in slots.items() for i in range(len(rows))]
    height = 1.4 + 0.42 * max(len(labels), 1)
    fig, ax = _axes(PLOT_TITLES["gantt"], "", size=(12.8, height))
    colours = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(_trial_order(ledger))}
    row = 0
    for rows in slots.values():
        for spans in rows:
            for span in spans:
                _gantt_span(ax, row, span, colours[span.trial_id])
            row += 1
    ax.axvline(run_length_s, color=RED, linestyle="--", linewidth=1)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlim(0, max(run_length_s, 1e-9) * 1.02)
    ax.grid(axis="y", visible=False)
    return png_bytes(fig)


def _gantt_span(ax: Any, row: int, span: TrialSpan, colour: str) -> None:
    ax.hlines(row, span.start_s, span.end_s, color=colour, linewidth=1, alpha=0.6)
    bars = [(i.start_s, i.end_s - i.start_s) for i in span.intervals]
    ax.broken_barh(bars, (row - 0.32, 0.64), facecolors=colour, edgecolor="white", linewidth=0.8)
    if span.end_s - span.start_s > 0:
        ax.text(span.start_s, row - 0.38, span.trial_id, fontsize=6, color=GREY, va="bottom")


def _trial_order(ledger: Ledger) -> list[str]:
    known = sorted(ledger.trials.values(), key=lambda t: t.trial_index)
    ids = [t.trial_id for t in known]
    return ids + sorted({r.trial_id for r in ledger.reports} - set(ids))


@dataclass(frozen=True)
class TrialPoint:
    """One trial on the scatter plot: its work and its best-validation report's accuracies."""

    trial_id: str
    status: str
    flops: int
    test: float
    robust: float | None


def trial_points(ledger: Ledger) -> list[TrialPoint]:
    """Per trial: its total FLOPs, and the test / robust accuracy of its best-validation report."""
    reports: dict[str, list[Report]] = defaultdict(list)
    for r in ledger.reports:
        reports[r.trial_id].append(r)
    points = []
    for trial_id in _trial_order(ledger):
        best = best_report(reports.get(trial_id, []))
        if best is None:
            continue
        end = ledger.trial_ends.get(trial_id)
        flops = sum(r.flops for r in reports[trial_id])
        status = end.status if end else "running"
        points.append(TrialPoint(trial_id, status, flops, best.test_accuracy, best.robust_accuracy))
    return points


def scatter_plot(ledger: Ledger, best_trial_id: str | None) -> bytes:
    """Each trial's work against the test accuracy it reached; hollow marks: robust accuracy."""
    fig, ax = _axes(PLOT_TITLES["scatter"], "test accuracy at best val")
    points = trial_points(ledger)
    for status in sorted({p.status for p in points}):
        _scatter_status(ax, [p for p in points if p.status == status], status)
    best = [p for p in points if p.trial_id == best_trial_id]
    xs, ys = [p.flops for p in best], [p.test for p in best]
    ax.scatter(xs, ys, marker="*", s=200, color="#f59e0b", zorder=4, label="best (val)")
    if points and min(p.flops for p in points) > 0:
        ax.set_xscale("log")
    ax.set_xlabel("FLOPs of the trial, train + eval (hollow: robust accuracy)")
    ax.yaxis.set_major_formatter(_percent_formatter())
    if points:
        ax.legend(loc="lower right", frameon=False, fontsize=8)
    return png_bytes(fig)


def _scatter_status(ax: Any, points: list[TrialPoint], status: str) -> None:
    colour = STATUS_COLOURS.get(status, GREY)
    xs, ys = [p.flops for p in points], [p.test for p in points]
    ax.scatter(xs, ys, color=colour, s=30, label=status, zorder=3)
    robust = [p for p in points if p.robust is not None]
    xs, ys = [p.flops for p in robust], [p.robust for p in robust]
    ax.scatter(xs, ys, facecolors="none", edgecolors=colour, s=30, zorder=3)


def _axes(title: str, ylabel: str, size: tuple[float, float] = (6.4, 3.6)) -> tuple[Any, Any]:
    """A figure with one axes in the report's style (no pyplot: nothing global is touched)."""
    fig = new_figure(size)
    ax = fig.add_subplot()
    style_axes(ax, title, ylabel)
    return fig, ax


def new_figure(size: tuple[float, float]) -> Any:
    """A matplotlib Figure outside pyplot, laid out for the report."""
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=120, layout="constrained")


def style_axes(ax: Any, title: str, ylabel: str, xlabel: str = "seconds since t0") -> None:
    """The report's look: left title, light grid, no top/right spines."""
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold", color="#111827")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8)


def _percent_formatter() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=0)


def png_bytes(fig: Any) -> bytes:
    """The figure as PNG bytes, without the software-version stamp (same run, same bytes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
