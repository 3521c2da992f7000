"""What ``aiperf compare`` shows and writes: the per-timestamp table for the console, and
``comparison.csv``, ``comparison.json`` and ``comparison.png`` (``aiperf.score.compare`` computes
the statistics)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

from rich.table import Table

from aiperf.report.format import common_scale, percent, scaled
from aiperf.report.plots import BLUE, GREY, PALETTE, RED, new_figure, png_bytes, style_axes
from aiperf.rundir import write_bytes_atomic, write_json_atomic, write_text_atomic
from aiperf.score.compare import Comparison

CSV_NAME = "comparison.csv"
JSON_NAME = "comparison.json"
PNG_NAME = "comparison.png"


def write_comparison(comparison: Comparison, out_dir: Path) -> list[Path]:
    """``comparison.csv`` (per timestamp), ``comparison.json`` (everything) and
    ``comparison.png`` (FLOPS per run and the CV against the threshold)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / CSV_NAME, out_dir / JSON_NAME, out_dir / PNG_NAME]
    write_text_atomic(paths[0], comparison.frame().to_csv(index=False))
    write_json_atomic(paths[1], json.loads(json.dumps(asdict(comparison))))
    write_bytes_atomic(paths[2], comparison_plot(comparison))
    return paths


def comparison_plot(comparison: Comparison) -> bytes:
    """Left: FLOPS(t) of every run and their mean; right: CV of FLOPS(t) and the threshold."""
    from matplotlib.ticker import EngFormatter, PercentFormatter

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
    """The per-timestamp statistics for the console, units in the headers so every cell is a
    short number that fits an 80-column terminal; flagged timestamps in red."""
    rows = comparison.rows
    values = [row[key] for row in rows for key in ("flops_mean", "flops_std", "regulated_mean")]
    factor, unit = common_scale(values, "FLOPS")
    title = f"aiperf compare — {len(comparison.runs)} runs; means and std in {unit}"
    table = Table(title=title, caption=_caption(comparison))
    for column in ("t (s)", "FLOPS", "std", "CV", "regulated", "CV", ""):
        table.add_column(column, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(
            f"{row['t_s']:.1f}",
            scaled(row["flops_mean"], factor),
            scaled(row["flops_std"], factor),
            percent(row["flops_cv"]),
            scaled(row["regulated_mean"], factor),
            percent(row["regulated_cv"]),
            "flag" if row["flagged"] else "",
            style="red" if row["flagged"] else None,
        )
    return table


def _caption(comparison: Comparison) -> str:
    acc = comparison.final_accuracy
    return (
        f"final accuracy min {percent(acc['min'])}, max {percent(acc['max'])}, "
        f"std {percent(acc['std'])}; {len(comparison.flagged_s)} of {len(comparison.rows)} "
        f"timestamps above cv_threshold {percent(comparison.cv_threshold)}"
    )
