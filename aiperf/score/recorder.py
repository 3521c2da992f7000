"""A Ray Tune callback on the master that appends every trial event to the ledger as it arrives.

It keeps no state that the ledger does not hold. Ray Tune pickles its callbacks with the
experiment; a pickled recorder carries only the ledger's path and its clock (``time.time``, or
``aiperf simulate``'s compressed clock). Tune's lifecycle does the rest:
``setup`` (at the start of a run, and again when ``aiperf run --resume`` restores it) opens the
ledger and rebuilds the open trials and the reported (trial, epoch) pairs from it — an epoch redone
after the master died (its trial restored from an older checkpoint) is not written again, so a
ledger never holds two different reports of one epoch; ``on_experiment_end`` (after the deadline,
a signal or the last trial) closes the trials still open as ``stopped`` and closes the file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray import tune

from aiperf.score.ledger import (
    LedgerWriter,
    TrialEnd,
    TrialFailure,
    TrialStart,
    read_ledger,
    report_from_metrics,
)
from aiperf.search.proposal import Proposal


class LedgerRecorder(tune.Callback):
    """Turns Tune's trial start / result / failure / end events into ledger records."""

    def __init__(self, ledger_path: Path, clock: Callable[[], float] = time.time) -> None:
        self.ledger_path = ledger_path
        self.clock = clock
        self.writer = LedgerWriter(ledger_path)
        self.open_trials: set[str] = set()
        self.reported: set[tuple[str, int]] = set()

    def __getstate__(self) -> dict[str, Any]:
        return {"ledger_path": self.ledger_path, "clock": self.clock}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["ledger_path"], state.get("clock", time.time))

    def setup(self, **info: Any) -> None:
        """A run starts or resumes: the trials the ledger shows open are still open, and what it
        has reported stays reported."""
        ledger = read_ledger(self.ledger_path)
        self.open_trials = set(ledger.open_trials())
        self.reported = {(r.trial_id, r.epoch) for r in ledger.reports}

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        """The run ended: trials still running were stopped by it."""
        for trial_id in sorted(self.open_trials):
            self._end(trial_id, "stopped")
        self.writer.close()

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        proposal = Proposal.from_config(trial.config)
        config = proposal.to_config()
        self.writer.append(
            TrialStart(
                trial_id=trial.trial_id,
                trial_index=proposal.trial_index,
                time=self.clock(),
                genome=config["genome"],
                hparams=config["hparams"],
                uegr=config["uegr"],
            )
        )
        self.open_trials.add(trial.trial_id)

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        index = result["training_iteration"] - 1
        report = report_from_metrics(trial.trial_id, index, result)
        if (report.trial_id, report.epoch) in self.reported:
            return  # an epoch redone after a resume: the first report stands
        self.reported.add((report.trial_id, report.epoch))
        self.writer.append(report)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.writer.append(TrialFailure(trial.trial_id, self.clock(), _error(trial), True))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trial.trial_id, "completed")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error = _error(trial)
        self.writer.append(TrialFailure(trial.trial_id, self.clock(), error, False))
        self._end(trial.trial_id, "failed", error)

    def _end(self, trial_id: str, status: str, error: str | None = None) -> None:
        if trial_id not in self.open_trials:
            return
        self.open_trials.discard(trial_id)
        self.writer.append(
            TrialEnd(trial_id=trial_id, time=self.clock(), status=status, error=error)
        )


def _error(trial: Any) -> str:
    """The last line of the trial's latest error: the exception and its message."""
    try:
        text = Path(trial.error_file).read_text(encoding="utf-8", errors="replace")
    except (OSError, TypeError):
        return "trial failed (no error file)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "trial failed")[:500]
