"""A cheap surrogate for ranking candidate trials: k-nearest neighbours on proposal features.

Chosen because it needs no fitting (adding a finished trial is O(1)), predicts in O(N·d) numpy
for N finished trials, stays well under a millisecond per candidate at thousands of trials, and
gives an uncertainty for free (how far the nearest finished trials are).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

FEATURES = (
    "embed_dim", "blocks", "transformers", "convs", "kernel", "width", "ffn", "heads",
    "residual", "max_pool", "dropout", "log_lr", "log_batch", "weight_decay", "epochs",
)  # fmt: skip


def features(proposal: dict[str, Any]) -> np.ndarray:
    """A fixed-length numeric description of a proposal (genome + hparams), in FEATURES order."""
    genome, hparams = proposal["genome"], proposal["hparams"]
    blocks = genome["blocks"]
    convs = [b for b in blocks if b["type"] == "conv"]
    attns = [b for b in blocks if b["type"] == "transformer"]
    return np.array(
        [
            genome["embed_dim"],
            len(blocks),
            len(attns),
            len(convs),
            _mean(b["kernel"] for b in convs),
            _mean(b["width"] for b in convs),
            _mean(b["ffn_dim"] for b in attns),
            _mean(b["heads"] for b in attns),
            _mean(float(b.get("residual", True)) for b in blocks),
            float(genome.get("pooling") == "max"),
            genome.get("dropout", 0.0),
            math.log(hparams["lr"]),
            math.log(hparams["batch_size"]),
            hparams["weight_decay"],
            hparams["epochs"],
        ],
        dtype=np.float64,
    )


def _mean(values: Any) -> float:
    values = list(values)
    return float(sum(values) / len(values)) if values else 0.0


class KnnSurrogate:
    """Inverse-distance-weighted k-NN regression on standardised features."""

    def __init__(self, k: int = 5) -> None:
        self.k = k
        self._x: list[np.ndarray] = []
        self._y: list[float] = []

    def __len__(self) -> int:
        return len(self._y)

    def add(self, x: np.ndarray, y: float) -> None:
        self._x.append(x)
        self._y.append(y)

    def believing(self, pending: np.ndarray, scores: np.ndarray) -> KnnSurrogate:
        """A copy that also holds ``pending`` rows (trials still running) at ``scores`` (what was
        predicted for them): its uncertainty is low near them, so a batch of proposals spreads
        out instead of piling onto one spot (the "kriging believer" of batch optimisation)."""
        if not len(pending):
            return self
        believer = KnnSurrogate(self.k)
        believer._x, believer._y = [*self._x, *pending], [*self._y, *scores.tolist()]
        return believer

    def predict(self, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted score and uncertainty (mean distance to the k nearest) per candidate row."""
        x, y = np.stack(self._x), np.asarray(self._y)  # (N, d), (N,)
        scale = x.std(axis=0) + 1e-9
        distance = np.linalg.norm((candidates[:, None, :] - x[None]) / scale, axis=-1)  # (M, N)
        k = min(self.k, len(y))
        nearest = np.argpartition(distance, k - 1, axis=1)[:, :k]  # (M, k)
        near_d = np.take_along_axis(distance, nearest, axis=1)
        weights = 1.0 / (near_d + 1e-6)
        mean = (weights * y[nearest]).sum(axis=1) / weights.sum(axis=1)
        return mean, near_d.mean(axis=1)
