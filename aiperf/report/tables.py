"""Derived tables of a run (pandas): one row per trial, one row per timestamp."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from aiperf.report.rundir import TIMELINE, TRIALS, write_text_atomic
from aiperf.score.ledger import Ledger
from aiperf.score.timeline import TimelinePoint


def trials_table(ledger: Ledger) -> pd.DataFrame:
    """Per trial: its proposal, where it ran, its work and the best accuracy it reached."""
    reports = pd.DataFrame(ledger.reports)
    rows = []
    for trial_id, trial in ledger.trials.items():
        mine = reports[reports["trial_id"] == trial_id] if len(reports) else reports
        best = mine.loc[mine["val_accuracy"].idxmax()] if len(mine) else None
        end = ledger.trial_ends.get(trial_id, {})
        rows.append(
            {
                "trial_id": trial_id,
                "trial_index": trial["trial_index"],
                "status": end.get("status", "running"),
                "reports": len(mine),
                "node": mine["node"].iloc[-1] if len(mine) else None,
                "flops": int(mine["flops"].sum()) if len(mine) else 0,
                "best_val_accuracy": None if best is None else best["val_accuracy"],
                "test_accuracy_at_best_val": None if best is None else best["test_accuracy"],
                "best_robust_accuracy": mine["robust_accuracy"].max() if len(mine) else None,
                **{f"hp_{k}": v for k, v in trial["hparams"].items()},
                "blocks": "-".join(b["type"] for b in trial["genome"]["blocks"]),
                "embed_dim": trial["genome"]["embed_dim"],
            }
        )
    return pd.DataFrame(rows).sort_values("trial_index") if rows else pd.DataFrame(rows)


def timeline_table(points: list[TimelinePoint]) -> pd.DataFrame:
    return pd.DataFrame([asdict(p) for p in points])


def write_tables(run_dir: Path, ledger: Ledger, points: list[TimelinePoint]) -> None:
    """``trials.csv`` and ``timeline.csv``, each written atomically."""
    write_text_atomic(run_dir / TRIALS, trials_table(ledger).to_csv(index=False))
    write_text_atomic(run_dir / TIMELINE, timeline_table(points).to_csv(index=False))
