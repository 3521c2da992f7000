"""A Ray Tune callback on the master that appends every trial event to the ledger as it arrives."""

from __future__ import annotations

import time
from dataclasses import fields
from typing import Any

from ray import tune

from aiperf.report.console import RunState
from aiperf.score.ledger import LedgerWriter, Report, TrialEnd, TrialStart

_DERIVED = ("trial_id", "report_index", "flops", "kind", "schema")
_FROM_WORKER = [f.name for f in fields(Report) if f.name not in _DERIVED]


class LedgerRecorder(tune.Callback):
    """Turns Tune's trial start / result / complete / error events into ledger records."""

    def __init__(self, writer: LedgerWriter, state: RunState) -> None:
        self.writer = writer
        self.state = state
        self.open_trials: set[str] = set()

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        config = trial.config
        self.writer.append(
            TrialStart(
                trial_id=trial.trial_id,
                trial_index=config["trial_index"],
                time=time.time(),
                genome=config["genome"],
                hparams=config["hparams"],
                uegr=config.get("uegr", {}),
            )
        )
        self.open_trials.add(trial.trial_id)
        self.state.running = len(self.open_trials)

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        report = Report(
            trial_id=trial.trial_id,
            report_index=result["training_iteration"] - 1,
            flops=result["train_flops"] + result["eval_flops"],
            **{name: result[name] for name in _FROM_WORKER},
        )
        self.writer.append(report)
        self.state.ops_flops += report.flops
        if report.val_accuracy > self.state.best.get("val_accuracy", -1.0):
            self.state.best = {
                "val_accuracy": report.val_accuracy,
                "test_accuracy": report.test_accuracy,
            }

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trial.trial_id, "completed")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error = getattr(trial, "error_msg", None) or "trial raised an error"
        self._end(trial.trial_id, "failed", str(error).strip().splitlines()[-1][:500])

    def close_open_trials(self, status: str = "stopped") -> None:
        """Trials still running when the run ended (the deadline stopped them)."""
        for trial_id in sorted(self.open_trials):
            self._end(trial_id, status)

    def _end(self, trial_id: str, status: str, error: str | None = None) -> None:
        if trial_id not in self.open_trials:
            return
        self.open_trials.discard(trial_id)
        self.writer.append(
            TrialEnd(trial_id=trial_id, time=time.time(), status=status, error=error)
        )
        self.state.running = len(self.open_trials)
        self.state.done += 1
