"""``aiperf compare``: how reproducible are runs of one spec? FLOPS, accuracy and regulated score of
every run re-read from its ledger at the same timestamps, their spread, and the unstable ones.

Runs may differ in length T: every run is read at t = min(T)·i/n (i = 1 … n, t from each run's
own t0), n = ``grid_points`` (default: the first run's spec). A timestamp is flagged when the
coefficient of variation (sample std / mean) of FLOPS across runs exceeds ``score.cv_threshold``.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiperf.report.rundir import LEDGER, SPEC, RunDirError
from aiperf.score.ledger import Ledger, read_ledger
from aiperf.score.summary import run_length_s
from aiperf.score.timeline import TimelinePoint, build_timeline
from aiperf.spec import Spec, load_spec

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

CSV_NAME = "comparison.csv"
JSON_NAME = "comparison.json"
PNG_NAME = "comparison.png"


@dataclass(frozen=True)
class RunSeries:
    """One run read on the common grid."""

    label: str
    run_dir: str
    length_s: float
    points: list[TimelinePoint]


@dataclass(frozen=True)
class Comparison:
    """Per-timestamp statistics across runs (plain records), the final accuracy spread and the
    timestamps whose FLOPS CV exceeds the threshold."""

    runs: list[str]
    run_dirs: list[str]
    run_lengths_s: list[float]
    grid_s: list[float]
    rows: list[dict[str, Any]]
    final_accuracy: dict[str, Any]
    cv_threshold: float
    flagged_s: list[float] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """The per-timestamp table as a DataFrame (one row per timestamp)."""
        import pandas as pd

        return pd.DataFrame(self.rows)


def compare_runs(run_dirs: list[Path], grid_points: int | None = None) -> Comparison:
    """Align the runs at the same timestamps and measure their spread."""
    if len(run_dirs) < 2:
        raise ValueError(f"compare: needs at least 2 run directories (got {len(run_dirs)})")
    if grid_points is not None and grid_points < 1:
        raise ValueError(f"compare: grid_points must be ≥ 1 (got {grid_points})")
    loaded = [_load(d) for d in run_dirs]
    first_spec = loaded[0][0]
    points = grid_points or first_spec.score.grid_points
    common = min(run_length_s(ledger) for _, ledger in loaded)
    series = [
        read_series(label, d, ledger, common, points)
        for label, d, (_, ledger) in zip(_labels(run_dirs), run_dirs, loaded, strict=True)
    ]
    return _comparison(series, first_spec.score.cv_threshold)


def read_series(
    label: str, run_dir: Path, ledger: Ledger, length_s: float, grid_points: int
) -> RunSeries:
    """A run's timeline re-read from its ledger on the grid length_s·i/grid_points."""
    points = build_timeline(ledger.reports, ledger.run_start["t0"], length_s, grid_points)
    return RunSeries(label, str(run_dir), run_length_s(ledger), points)


def _load(run_dir: Path) -> tuple[Spec, Ledger]:
    for name in (LEDGER, SPEC):
        if not (run_dir / name).is_file():
            raise RunDirError(f"{run_dir}: not a run directory (no {name})")
    ledger = read_ledger(run_dir / LEDGER)
    if ledger.run_start is None:
        raise RunDirError(f"{run_dir}: ledger has no run_start record")
    return load_spec(run_dir / SPEC), ledger


def _labels(run_dirs: list[Path]) -> list[str]:
    """Each run's directory name; repeated names get ``#<position>``."""
    names = [d.name or str(d) for d in run_dirs]
    return [n if names.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(names)]


def _comparison(series: list[RunSeries], cv_threshold: float) -> Comparison:
    grid = [p.t_s for p in series[0].points]
    rows = [_row(i, t, series, cv_threshold) for i, t in enumerate(grid)]
    return Comparison(
        runs=[s.label for s in series],
        run_dirs=[s.run_dir for s in series],
        run_lengths_s=[s.length_s for s in series],
        grid_s=grid,
        rows=rows,
        final_accuracy=accuracy_spread({s.label: s.points[-1].best_test_accuracy for s in series}),
        cv_threshold=cv_threshold,
        flagged_s=[row["t_s"] for row in rows if row["flagged"]],
    )


def _row(index: int, t_s: float, series: list[RunSeries], cv_threshold: float) -> dict[str, Any]:
    flops = [s.points[index].flops for s in series]
    regulated = [s.points[index].regulated_score for s in series]
    accuracy = [s.points[index].best_test_accuracy for s in series]
    row: dict[str, Any] = {"t_s": t_s}
    row |= {f"flops_{k}": v for k, v in spread(flops).items()}
    row |= {f"regulated_{k}": v for k, v in spread(regulated).items()}
    row["flagged"] = row["flops_cv"] is not None and row["flops_cv"] > cv_threshold
    for s, f, r, a in zip(series, flops, regulated, accuracy, strict=True):
        row |= {f"flops[{s.label}]": f, f"regulated[{s.label}]": r, f"accuracy[{s.label}]": a}
    return row


def spread(values: list[float]) -> dict[str, float | None]:
    """Mean, sample standard deviation (n − 1) and CV = std / mean (None when the mean is 0)."""
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else None
    cv = std / mean if std is not None and mean != 0 else None
    return {"mean": mean, "std": std, "cv": cv}


def accuracy_spread(by_run: dict[str, float | None]) -> dict[str, Any]:
    """Min, max, mean and sample std of the runs' accuracy at the last common timestamp."""
    known = [v for v in by_run.values() if v is not None and math.isfinite(v)]
    return {
        "min": min(known, default=None),
        "max": max(known, default=None),
        "mean": statistics.fmean(known) if known else None,
        "std": statistics.stdev(known) if len(known) > 1 else None,
        "by_run": by_run,
    }


def write_comparison(comparison: Comparison, out_dir: Path) -> list[Path]:
    """``comparison.csv`` (per timestamp), ``comparison.json`` (everything) and
    ``comparison.png`` (FLOPS per run and the CV against the threshold)."""
    from aiperf.report.rundir import write_json_atomic, write_text_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / CSV_NAME, out_dir / JSON_NAME, out_dir / PNG_NAME]
    write_text_atomic(paths[0], comparison.frame().to_csv(index=False))
    write_json_atomic(paths[1], json.loads(json.dumps(asdict(comparison))))
    paths[2].write_bytes(comparison_plot(comparison))
    return paths


def comparison_plot(comparison: Comparison) -> bytes:
    """Left: FLOPS(t) of every run and their mean; right: CV of FLOPS(t) and the threshold."""
    from matplotlib.ticker import EngFormatter, PercentFormatter

    from aiperf.report.plots import BLUE, GREY, PALETTE, RED, new_figure, png_bytes, style_axes

    fig = new_figure((12.8, 3.8))
    left, right = fig.subplots(1, 2)
    style_axes(left, "FLOPS(t) of every run", "FLOPS")
    t = comparison.grid_s
    for i, label in enumerate(comparison.runs):
        values = [row[f"flops[{label}]"] for row in comparison.rows]
        left.plot(t, values, "-o", markersize=2, color=PALETTE[i % len(PALETTE)], label=label)
    left.plot(t, [r["flops_mean"] for r in comparison.rows], "--", color="#111827", label="mean")
    left.yaxis.set_major_formatter(EngFormatter(unit=""))
    left.legend(frameon=False, fontsize=7)
    style_axes(right, "CV of FLOPS(t) across runs", "std / mean")
    cv = [math.nan if r["flops_cv"] is None else r["flops_cv"] for r in comparison.rows]
    right.plot(t, cv, "-o", markersize=3, color=BLUE)
    right.axhline(comparison.cv_threshold, color=GREY, linestyle="--", label="cv_threshold")
    flagged = [(r["t_s"], r["flops_cv"]) for r in comparison.rows if r["flagged"]]
    right.scatter([f[0] for f in flagged], [f[1] for f in flagged], color=RED, zorder=3)
    right.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    for ax in (left, right):
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
    return png_bytes(fig)


def comparison_table(comparison: Comparison) -> Table:
    """The per-timestamp statistics for the console; flagged timestamps in red."""
    from rich.table import Table

    from aiperf.report.console import percent, si

    table = Table(
        title=f"aiperf compare — {len(comparison.runs)} runs", caption=_caption(comparison)
    )
    columns = ("t (s)", "FLOPS mean", "FLOPS std", "FLOPS CV", "regulated mean", "regulated CV")
    for column in (*columns, ""):
        table.add_column(column, justify="right")
    for row in comparison.rows:
        table.add_row(
            f"{row['t_s']:.1f}",
            si(row["flops_mean"], "FLOPS"),
            si(row["flops_std"], "FLOPS"),
            percent(row["flops_cv"]),
            si(row["regulated_mean"], "FLOPS"),
            percent(row["regulated_cv"]),
            "CV > threshold" if row["flagged"] else "",
            style="red" if row["flagged"] else None,
        )
    return table


def _caption(comparison: Comparison) -> str:
    from aiperf.report.console import percent

    acc = comparison.final_accuracy
    return (
        f"final accuracy min {percent(acc['min'])}, max {percent(acc['max'])}, "
        f"std {percent(acc['std'])}; {len(comparison.flagged_s)} of {len(comparison.rows)} "
        f"timestamps above cv_threshold {percent(comparison.cv_threshold)}"
    )
