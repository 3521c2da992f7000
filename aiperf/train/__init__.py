"""One trial's training: the loop, its step, evaluation and the wiring from a proposal."""

from aiperf.train.hparams import Hparams
from aiperf.train.loop import FlopsCounts, Interval, train_trial
from aiperf.train.step import TrainingDiverged
from aiperf.train.trial import TrialContext, run_trial

__all__ = [
    "FlopsCounts",
    "Hparams",
    "Interval",
    "TrainingDiverged",
    "TrialContext",
    "run_trial",
    "train_trial",
]
