"""One trial's training: the loop, plain and UEGR steps, evaluation, the wiring from a proposal."""

from aiperf.train.loop import Interval, train_trial
from aiperf.train.step import PlainStep, TrainingDiverged
from aiperf.train.trial import TrialContext, run_trial
from aiperf.train.uegr import UegrStep, make_step, uegr_passes

__all__ = [
    "Interval",
    "PlainStep",
    "TrainingDiverged",
    "TrialContext",
    "UegrStep",
    "make_step",
    "run_trial",
    "train_trial",
    "uegr_passes",
]
