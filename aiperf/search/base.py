"""The searcher interface: a Ray Tune ``Searcher`` that proposes genome + hparams per trial.

Every proposal is ``{"genome": dict, "hparams": dict, "uegr": dict, "trial_index": int,
"trial_seed": int}`` (``uegr`` holds the searched UEGR knobs, often empty);
the trial seed follows from the run seed and the proposal's index, so reruns are reproducible.
"""

from __future__ import annotations

import abc
import pickle
from typing import Any

from ray.tune.search import Searcher

from aiperf.spec import SearchSpace

METRIC = "val_accuracy"


class AiperfSearcher(Searcher, abc.ABC):
    """Base class: counts proposals, stops at ``max_trials`` (0 = never), saves its state."""

    def __init__(self, space: SearchSpace, seed: int, max_trials: int = 0) -> None:
        super().__init__(metric=METRIC, mode="max")
        self.space = space
        self.seed = seed
        self.max_trials = max_trials
        self.proposed = 0

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.max_trials and self.proposed >= self.max_trials:
            return Searcher.FINISHED
        index = self.proposed
        self.proposed += 1
        return {
            **self.propose(index),
            "trial_index": index,
            "trial_seed": self.seed * 1_000_003 + index,
        }

    @abc.abstractmethod
    def propose(self, index: int) -> dict[str, Any]:
        """Proposal number ``index``: ``{"genome": …, "hparams": …, "uegr": …}``."""

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Random search ignores results; model-based searchers override this."""

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as file:
            pickle.dump(self.state(), file)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as file:
            self.load_state(pickle.load(file))

    def state(self) -> dict[str, Any]:
        return {"proposed": self.proposed}

    def load_state(self, state: dict[str, Any]) -> None:
        self.proposed = state["proposed"]
