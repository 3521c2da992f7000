"""The searcher interface: a Ray Tune ``Searcher`` that proposes genome + hparams per trial.

A subclass draws candidates ``{"genome", "hparams", "uegr"}`` (plain JSON mappings it may edit);
the base turns each into a ``Proposal`` numbered in order, whose seed follows from the run seed
and the index (reruns are reproducible), and hands Ray Tune ``Proposal.to_config()``.
"""

from __future__ import annotations

import abc
import pickle
from typing import Any

from ray.tune.search import Searcher

from aiperf.search.proposal import Proposal
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
        self.pending: dict[str, Proposal] = {}  # trial id → its proposal, until it ends

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.max_trials and self.proposed >= self.max_trials:
            return Searcher.FINISHED
        index = self.proposed
        self.proposed += 1
        proposal = Proposal.from_draw(self.propose(index), index, self.seed)
        self.pending[trial_id] = proposal
        return proposal.to_config()

    @abc.abstractmethod
    def propose(self, index: int) -> dict[str, Any]:
        """Candidate number ``index``: ``{"genome": …, "hparams": …, "uegr": …}``."""

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        proposal = self.pending.pop(trial_id, None)
        if proposal is not None:
            score = None if error or not result else result.get(METRIC)
            self.observe(proposal, score)

    def observe(self, proposal: Proposal, score: float | None) -> None:
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
