"""A synthetic accuracy landscape for simulated trials: no training, a stated formula.

It is not a model of real accuracy. It exists so the searcher in a simulation sees scores with
structure to exploit (capacity with diminishing returns, a best learning rate, a mix of attention
and convolution, regularisation with an optimum, overfitting of very deep stacks) and learning
curves that rise with epochs, plus seeded noise: a search behaves like a search, and the same
proposal and seed always score the same.
"""

from __future__ import annotations

import math
import random
from typing import Any

NOISE = 0.004  # standard deviation of the per-report noise on val and test accuracy


def plateau(candidate: dict[str, Any]) -> float:
    """The accuracy a proposal's learning curve tends to (0.3–0.97)."""
    genome, hparams = candidate["genome"], candidate["hparams"]
    blocks = genome["blocks"]
    depth = len(blocks)
    attention = sum(block["type"] == "transformer" for block in blocks) / max(depth, 1)
    capacity = math.log2(genome["embed_dim"] / 64) + 1.5 * math.log2(1 + depth)
    value = 0.6 + 0.33 * (1 - math.exp(-capacity / 3))
    value += 0.04 * (1 - (attention - 0.6) ** 2 / 0.36)  # a mix of attention and convolution
    value -= 0.02 * max(depth - 8, 0)  # very deep stacks overfit
    value -= 0.05 * (math.log10(hparams["lr"]) + 2.8) ** 2  # best lr ≈ 1.6e-3
    value -= 0.3 * (genome.get("dropout", 0.0) - 0.1) ** 2
    value -= 0.2 * (hparams["weight_decay"] - 0.03) ** 2
    value -= 0.01 * math.log2(hparams["batch_size"] / 128)
    return min(max(value, 0.3), 0.97)


def accuracy_at(
    candidate: dict[str, Any], epoch: int, seed: int, num_classes: int = 2, ceiling: float = 1.0
) -> tuple[float, float]:
    """(val, test) accuracy after ``epoch`` epochs: chance level rising to the plateau (scaled
    to the workload's ``ceiling``) at a rate set by the learning rate, with seeded noise."""
    chance = 1.0 / max(num_classes, 1)
    rate = 0.35 * min(max(candidate["hparams"]["lr"] / 1e-3, 0.3), 3.0) ** 0.5
    top = max(plateau(candidate) * ceiling - 2 * NOISE, chance)
    mean = chance + (top - chance) * (1 - math.exp(-rate * epoch))
    noise = random.Random(f"{seed}:{epoch}")
    val = mean + noise.gauss(0.0, NOISE)
    test = mean + noise.gauss(0.0, NOISE)
    return _clip(val, ceiling), _clip(test, ceiling)


def _clip(value: float, ceiling: float) -> float:
    return min(max(value, 0.0), ceiling)
