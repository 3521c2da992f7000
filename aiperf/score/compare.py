"""``aiperf compare``: how reproducible are runs of one spec? FLOPS, accuracy and regulated score of
every run re-read from its ledger at the same timestamps, their spread, and the unstable ones.

Runs may differ in length T: every run is read at t = min(T)·i/n (i = 1 … n, t from each run's
own t0), n = ``grid_points`` (default: the first run's spec). A timestamp is flagged when the
coefficient of variation (sample std / mean) of FLOPS across runs exceeds ``score.cv_threshold``.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiperf.errors import UsageError
from aiperf.rundir import LEDGER, SPEC, require_run_dir
from aiperf.score.ledger import Ledger, read_ledger
from aiperf.score.timeline import TimelinePoint, build_timeline, run_length_s
from aiperf.spec import Spec, load_spec

if TYPE_CHECKING:
    import pandas as pd


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
        raise UsageError(f"compare: needs at least 2 run directories (got {len(run_dirs)})")
    if grid_points is not None and grid_points < 1:
        raise UsageError(f"compare: grid_points must be ≥ 1 (got {grid_points})")
    loaded = [_load(d) for d in run_dirs]
    first_spec = loaded[0][0]
    points = grid_points or first_spec.score.grid_points
    common = min(run_length_s(ledger) for _, ledger in loaded)  # LedgerError without run_start
    series = [
        read_series(label, d, ledger, common, points)
        for label, d, (_, ledger) in zip(_labels(run_dirs), run_dirs, loaded, strict=True)
    ]
    return _comparison(series, first_spec.score.cv_threshold)


def read_series(
    label: str, run_dir: Path, ledger: Ledger, length_s: float, grid_points: int
) -> RunSeries:
    """A run's timeline re-read from its ledger on the grid length_s·i/grid_points."""
    points = build_timeline(ledger.reports, ledger.t0, length_s, grid_points)
    return RunSeries(label, str(run_dir), run_length_s(ledger), points)


def _load(run_dir: Path) -> tuple[Spec, Ledger]:
    require_run_dir(run_dir)
    ledger = read_ledger(run_dir / LEDGER)
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
