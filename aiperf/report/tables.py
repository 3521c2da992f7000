"""Derived tables of a run (pandas): one row per trial, one row per timestamp."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from aiperf.rundir import TIMELINE, TRIALS, write_text_atomic
from aiperf.score.ledger import Ledger, Report, TrialStart
from aiperf.score.timeline import TimelinePoint, best_report


def trials_table(ledger: Ledger) -> pd.DataFrame:
    """Per trial: its proposal, where it ran, its work and the best accuracy it reached."""
    by_trial: dict[str, list[Report]] = {trial_id: [] for trial_id in ledger.trials}
    for report in ledger.reports:
        by_trial.setdefault(report.trial_id, []).append(report)
    rows = [_trial_row(trial, by_trial[trial.trial_id], ledger) for trial in ledger.trials.values()]
    return pd.DataFrame(rows).sort_values("trial_index") if rows else pd.DataFrame(rows)


def _trial_row(trial: TrialStart, reports: list[Report], ledger: Ledger) -> dict[str, Any]:
    best = best_report(reports)
    end = ledger.trial_ends.get(trial.trial_id)
    return {
        "trial_id": trial.trial_id,
        "trial_index": trial.trial_index,
        "status": end.status if end else "running",
        "reports": len(reports),
        "node": reports[-1].node if reports else None,
        "flops": sum(r.flops for r in reports),
        "best_val_accuracy": best.val_accuracy if best else None,
        "test_accuracy_at_best_val": best.test_accuracy if best else None,
        "robust_accuracy_at_best_val": best.robust_accuracy if best else None,
        **{f"hp_{k}": v for k, v in trial.hparams.items()},
        "blocks": "-".join(b["type"] for b in trial.genome["blocks"]),
        "embed_dim": trial.genome["embed_dim"],
    }


def timeline_table(points: list[TimelinePoint]) -> pd.DataFrame:
    return pd.DataFrame([asdict(p) for p in points])


def write_tables(run_dir: Path, ledger: Ledger, points: list[TimelinePoint]) -> None:
    """``trials.csv`` and ``timeline.csv``, each written atomically."""
    write_text_atomic(run_dir / TRIALS, trials_table(ledger).to_csv(index=False))
    write_text_atomic(run_dir / TIMELINE, timeline_table(points).to_csv(index=False))
