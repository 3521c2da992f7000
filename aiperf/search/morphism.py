"""AIPerf-style network morphism: grow children from the best finished trials, rank them with a
surrogate, keep exploring at random.

Explore/exploit rule: the first ``warmup`` proposals, and afterwards each proposal with
probability ``explore``, are random draws from the space; otherwise ``candidates`` children are
made from parents drawn among the ``parents`` best finished trials (one morph, a second with
probability 0.3, and perturbed hyperparameters) and the child with the highest surrogate
upper bound (predicted accuracy + ``kappa`` · uncertainty) is proposed. Trials still running
count as if they had scored what the surrogate predicts for them, so with many in flight the
uncertainty near them is low and children spread out rather than repeat one another.
"""

from __future__ import annotations

import heapq
import math
import random
from typing import Any

import numpy as np

from aiperf.search.base import AiperfSearcher
from aiperf.search.morphs import morph
from aiperf.search.proposal import Proposal
from aiperf.search.space import sample_proposal
from aiperf.search.surrogate import KnnSurrogate, features
from aiperf.spec import SearchSpace


class MorphismSearcher(AiperfSearcher):
    warmup = 6  # random proposals before the surrogate has enough to rank
    explore = 0.15
    candidates = 16
    parents = 5
    kappa = 0.5

    def __init__(self, space: SearchSpace, seed: int, max_trials: int = 0) -> None:
        super().__init__(space, seed, max_trials)
        self.history: list[tuple[dict[str, Any], float]] = []  # finished proposals, scores
        self.surrogate = KnnSurrogate()
        # trial index → (features, predicted score) of the proposals still running
        self.running: dict[int, tuple[np.ndarray, float]] = {}

    def propose(self, index: int) -> dict[str, Any]:
        rng = random.Random(f"{self.seed}:{index}")
        if len(self.history) < self.warmup or rng.random() < self.explore:
            draw = sample_proposal(rng, self.space)
            if len(self.surrogate):
                x = features(draw)[None]
                self.running[index] = (x[0], float(self.surrogate.predict(x)[0][0]))
            return draw
        best = heapq.nlargest(self.parents, self.history, key=lambda item: item[1])
        children = [self._child(rng, [c for c, _ in best]) for _ in range(self.candidates)]
        x = np.stack([features(c) for c in children])
        mean, spread = self._believer().predict(x)
        pick = int(np.argmax(mean + self.kappa * spread))
        self.running[index] = (x[pick], float(mean[pick]))
        return children[pick]

    def _believer(self) -> KnnSurrogate:
        """The surrogate with the running proposals at their predicted scores."""
        if not self.running:
            return self.surrogate
        rows, scores = zip(*self.running.values(), strict=True)
        return self.surrogate.believing(np.stack(rows), np.array(scores))

    def observe(self, proposal: Proposal, score: float | None) -> None:
        self.running.pop(proposal.trial_index, None)
        if score is None or not math.isfinite(score):
            return  # a failed trial says nothing about its architecture's accuracy
        config = proposal.to_config()
        self._learn({key: config[key] for key in ("genome", "hparams", "uegr")}, score)

    def _learn(self, candidate: dict[str, Any], score: float) -> None:
        self.history.append((candidate, score))
        self.surrogate.add(features(candidate), score)

    def _child(self, rng: random.Random, parents: list[dict[str, Any]]) -> dict[str, Any]:
        parent = rng.choice(parents)
        genome, _ = morph(rng, parent["genome"], self.space)
        if rng.random() < 0.3:
            genome, _ = morph(rng, genome, self.space)
        return {
            "genome": genome,
            "hparams": perturb_hparams(rng, parent["hparams"], self.space),
            "uegr": dict(parent["uegr"]),
        }

    def state(self) -> dict[str, Any]:
        return {**super().state(), "history": self.history, "running": self.running}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.history, self.surrogate = [], KnnSurrogate()
        self.running = state.get("running", {})  # absent in searchers saved before it
        for candidate, score in state["history"]:
            self._learn(candidate, score)


def perturb_hparams(
    rng: random.Random, hparams: dict[str, Any], space: SearchSpace
) -> dict[str, Any]:
    """Small moves around a parent's hyperparameters, kept inside the space."""
    lr = hparams["lr"] * math.exp(rng.gauss(0.0, 0.3))
    sizes = sorted(space.batch_size)
    position = sizes.index(hparams["batch_size"]) if hparams["batch_size"] in sizes else 0
    position = min(max(position + rng.choice((-1, 0, 0, 1)), 0), len(sizes) - 1)
    return {
        "lr": min(max(lr, space.lr.min), space.lr.max),
        "batch_size": sizes[position],
        "weight_decay": min(
            max(hparams["weight_decay"] + rng.gauss(0.0, 0.01), space.weight_decay.min),
            space.weight_decay.max,
        ),
        "epochs": min(
            max(hparams["epochs"] + rng.choice((-1, 0, 1)), space.epochs.min), space.epochs.max
        ),
    }
