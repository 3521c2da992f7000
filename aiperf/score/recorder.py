"""A Ray Tune callback on the master that appends every trial event to the ledger as it arrives.

Ray Tune pickles its callbacks with the experiment. A run resumed after a master crash gets a
restored copy, which adopts the live ledger writer and progress state of the resuming process
(``__setstate__``) and becomes the ``current_recorder``.
"""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from ray import tune

from aiperf.report.console import RunState
from aiperf.score.ledger import LedgerWriter, Report, TrialEnd, TrialFailure, TrialStart

_DERIVED = ("trial_id", "report_index", "flops", "kind", "schema")
_FROM_WORKER = [f.name for f in fields(Report) if f.name not in _DERIVED]
_live: dict[str, LedgerRecorder | None] = {"recorder": None}


def current_recorder() -> LedgerRecorder:
    recorder = _live["recorder"]
    assert recorder is not None, "no run is recording"
    return recorder


class LedgerRecorder(tune.Callback):
    """Turns Tune's trial start / result / failure / end events into ledger records."""

    def __init__(self, writer: LedgerWriter, state: RunState) -> None:
        self.writer = writer
        self.state = state
        self.open_trials: set[str] = set()
        _live["recorder"] = self

    def __getstate__(self) -> dict[str, Any]:
        return {"open_trials": set(self.open_trials)}

    def __setstate__(self, saved: dict[str, Any]) -> None:
        live = current_recorder()
        self.writer, self.state = live.writer, live.state
        self.open_trials = saved["open_trials"] | live.open_trials
        _live["recorder"] = self

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

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.writer.append(TrialFailure(trial.trial_id, time.time(), _error(trial), True))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trial.trial_id, "completed")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error = _error(trial)
        self.writer.append(TrialFailure(trial.trial_id, time.time(), error, False))
        self._end(trial.trial_id, "failed", error)

    def close_open_trials(self, status: str = "stopped") -> None:
        """Trials still running when the run ended (the deadline or a signal stopped them)."""
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


def _error(trial: Any) -> str:
    """The last line of the trial's latest error: the exception and its message."""
    try:
        text = Path(trial.error_file).read_text(encoding="utf-8", errors="replace")
    except (OSError, TypeError):
        return "trial failed (no error file)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "trial failed")[:500]
