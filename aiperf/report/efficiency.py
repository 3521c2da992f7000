"""``aiperf efficiency RUN``: each trial's achieved FLOP/s while it trained and evaluated, as a
share of its devices' datasheet peak at a chosen precision.

The run's utilisation divides all FLOPs by the whole run's wall clock on every device; this
looks at one trial at a time and leaves out its start-up (model build, FLOPs self-check, batch
probe), so it says how well the training step itself uses the chip.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiperf.rundir import LEDGER, SPEC, read_system, require_run_dir
from aiperf.score.hardware import rederived_nodes, report_peak_at
from aiperf.score.ledger import Ledger, Report, read_ledger
from aiperf.spec import load_spec


@dataclass(frozen=True)
class TrialEfficiency:
    """One trial's counted work, the seconds its report intervals spanned, and its peak."""

    trial_id: str
    node: str
    device: str
    micro_batch: int | None
    flops: int
    busy_s: float  # Σ (end − start) of its report intervals: training and evaluation
    peak_flops: float | None  # its devices' datasheet figure at the precision; None: unknown

    @property
    def achieved_flops(self) -> float:
        return self.flops / self.busy_s if self.busy_s > 0 else 0.0

    @property
    def share_of_peak(self) -> float | None:
        return self.achieved_flops / self.peak_flops if self.peak_flops else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {
            "achieved_flops": self.achieved_flops,
            "share_of_peak": self.share_of_peak,
        }


def trial_efficiencies(
    ledger: Ledger, nodes: list[dict[str, Any]], precision: str
) -> list[TrialEfficiency]:
    """One row per trial that reported, in the order trials started."""
    by_trial: dict[str, list[Report]] = {}
    for report in ledger.reports:
        by_trial.setdefault(report.trial_id, []).append(report)
    rows = []
    for trial_id in ledger.trials:
        reports = by_trial.get(trial_id)
        if not reports:
            continue
        last = reports[-1]
        rows.append(
            TrialEfficiency(
                trial_id=trial_id,
                node=last.node,
                device=last.device,
                micro_batch=last.micro_batch,
                flops=sum(r.flops for r in reports),
                busy_s=sum(max(r.end_time - r.start_time, 0.0) for r in reports),
                peak_flops=report_peak_at(nodes, last, precision),
            )
        )
    return rows


def run_efficiency(run_dir: Path, precision: str | None = None) -> dict[str, Any]:
    """Per-trial rows and their median and best share of the peak (at ``precision``, by default
    the run's training precision), for ``aiperf efficiency``."""
    require_run_dir(run_dir)
    precision = precision or load_spec(run_dir / SPEC).train.precision
    nodes, notes = rederived_nodes(read_system(run_dir))
    rows = trial_efficiencies(read_ledger(run_dir / LEDGER), nodes, precision)
    shares = [row.share_of_peak for row in rows if row.share_of_peak is not None]
    return {
        "precision": precision,
        "trials": [row.to_json() for row in rows],
        "median_share_of_peak": statistics.median(shares) if shares else None,
        "best_share_of_peak": max(shares, default=None),
        "notes": notes,
    }
