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
    """Base class: counts proposals, stops at ``max_trials`` (0 = never), remembers what it
    proposed, hands every finished trial to ``observe`` and saves its state."""

    def __init__(self, space: SearchSpace, seed: int, max_trials: int = 0) -> None:
        super().__init__(metric=METRIC, mode="max")
        self.space = space
        self.seed = seed
        self.max_trials = max_trials
        self.proposed = 0
        self.pending: dict[str, dict[str, Any]] = {}  # trial id → its proposal, until it ends

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.max_trials and self.proposed >= self.max_trials:
            return Searcher.FINISHED
        index = self.proposed
        self.proposed += 1
        config = {
            **self.propose(index),
            "trial_index": index,
            "trial_seed": self.seed * 1_000_003 + index,
        }
        self.pending[trial_id] = config
        return config

    @abc.abstractmethod
    def propose(self, index: int) -> dict[str, Any]:
        """Proposal number ``index``: ``{"genome": …, "hparams": …, "uegr": …}``."""

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        config = self.pending.pop(trial_id, None)
        if config is not None:
            score = None if error or not result else result.get(METRIC)
            self.observe(config, score)

    def observe(self, config: dict[str, Any], score: float | None) -> None:
        """A trial ended with this validation accuracy (None: failed). Random search ignores it."""

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as file:
            pickle.dump(self.state(), file)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as file:
            self.load_state(pickle.load(file))

    def state(self) -> dict[str, Any]:
        """Everything needed to continue the same search; subclasses add their own."""
        return {"proposed": self.proposed, "pending": self.pending}

    def load_state(self, state: dict[str, Any]) -> None:
        self.proposed = state["proposed"]
        self.pending = state["pending"]
