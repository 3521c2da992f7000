"""How far a run has come, read from its ledger as the scorer reads it: the live progress line of
``aiperf run`` and ``aiperf slurm status`` both show this, never numbers of their own."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from aiperf.rundir import LEDGER
from aiperf.score.ledger import Ledger, read_ledger
from aiperf.score.timeline import TimelinePoint, point_at


@dataclass(frozen=True)
class Progress:
    """A running (or finished) run at one moment."""

    elapsed_s: float  # since t0 (to the run's end, once it has one)
    duration_s: float  # the spec's target
    slots: int
    trials_started: int
    trials_running: int
    trials_done: int
    nodes: list[str]  # nodes that have reported
    finished: bool
    score: TimelinePoint  # FLOPS, acc and regulated score at elapsed_s, as the scorer reads them


def run_progress(ledger: Ledger, now: float) -> Progress:
    """The run in ``ledger`` at unix time ``now``; LedgerError before its run_start."""
    start = ledger.start
    end = ledger.run_end.time if ledger.run_end else now
    elapsed = max(end - start.t0, 0.0)
    reports = sorted(ledger.reports, key=lambda r: r.end_time)
    return Progress(
        elapsed_s=elapsed,
        duration_s=start.duration_s,
        slots=start.slots,
        trials_started=len(ledger.trials),
        trials_running=len(ledger.open_trials()),
        trials_done=len(ledger.trial_ends),
        nodes=sorted({r.node for r in ledger.reports}),
        finished=ledger.run_end is not None,
        score=point_at(reports, start.t0, elapsed),
    )


def read_progress(run_dir: Path) -> Progress | None:
    """The progress of the run in ``run_dir`` now; None before its ledger has a run_start."""
    path = run_dir / LEDGER
    if not path.exists():
        return None
    ledger = read_ledger(path)
    return None if ledger.run_start is None else run_progress(ledger, time.time())
