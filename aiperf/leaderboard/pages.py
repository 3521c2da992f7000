"""What the pages draw, from the re-scored run of a stored bundle — never from a file it carries:
the report's plots (FLOPS, regulated score, accuracy over time, the trial Gantt) and two runs'
FLOPS(t) on one plot. Plots of a bundle are rendered once and cached in the store."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from aiperf.leaderboard.db import Submission
from aiperf.leaderboard.store import BundleStore, StoreError
from aiperf.report.plots import new_figure, png_bytes, render_plots, style_axes
from aiperf.rundir import SYSTEM, write_bytes_atomic
from aiperf.submit.archive import read_members
from aiperf.submit.bundle import RUN_PREFIX
from aiperf.submit.check import Scored, rescore_members

PLOTS = ("flops", "regulated", "accuracy", "gantt")


def plot_png(store: BundleStore, sha: str, name: str) -> bytes:
    """The plot ``name`` of an accepted bundle, rendered on first use."""
    if name not in PLOTS:
        raise StoreError(f"no plot {name[:40]!r}")
    path = store.plot(sha, name)
    if not path.exists():
        scored = rescored(store, sha)
        plots = render_plots(scored.timeline, scored.ledger, scored.summary,
                             scored.spec.quality_gate)  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        for plot in PLOTS:
            write_bytes_atomic(store.plot(sha, plot), plots[plot])
    return path.read_bytes()


@lru_cache(maxsize=32)
def _rescored(store_root: str, sha: str) -> Scored:
    store = BundleStore(Path(store_root))
    members, _ = read_members(store.path(sha))
    failures: list[str] = []
    scored = rescore_members(members, json.loads(members[RUN_PREFIX + SYSTEM]), failures)
    if scored is None:
        raise StoreError(f"bundle {sha[:12]} no longer re-scores: {'; '.join(failures)[:200]}")
    return scored


def rescored(store: BundleStore, sha: str) -> Scored:
    """The re-scored run of an accepted bundle (kept for the last few bundles drawn)."""
    return _rescored(str(store.root), sha)


def compare_png(store: BundleStore, pair: list[Submission]) -> bytes:
    """FLOPS(t) of two accepted submissions on one plot."""
    fig = new_figure((6.4, 3.6))
    ax = fig.add_subplot()
    for submission, colour in zip(pair, ("#1f77b4", "#d62728"), strict=True):
        if submission.status != "accepted":
            continue
        timeline = rescored(store, submission.sha256).timeline
        ax.plot([p.t_s for p in timeline], [p.flops for p in timeline], color=colour,
                linewidth=2, label=f"#{submission.id} {submission.system_name}")  # fmt: skip
    style_axes(ax, "FLOPS(t) of both runs", "FLOPS")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return png_bytes(fig)
