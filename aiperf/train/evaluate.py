"""Evaluation at every report: clean val and test accuracy, robust test accuracy, their FLOPs."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aiperf.train.attacks import EvalContext, robust_accuracy
from aiperf.workload import EncodedSplit


@torch.no_grad()
def accuracy(model: torch.nn.Module, split: EncodedSplit, batch_size: int, device: str) -> float:
    """Fraction of ``split`` the model classifies correctly (eval mode)."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(split), batch_size):
        tokens = split.tokens[start : start + batch_size].to(device)  # (B, S)
        mask = split.mask[start : start + batch_size].to(device)  # (B, S)
        labels = split.labels[start : start + batch_size].to(device)  # (B,)
        correct += (model(tokens, mask).argmax(dim=-1) == labels).sum().item()
    model.train(was_training)
    return correct / max(len(split), 1)


@dataclass(frozen=True)
class Evaluation:
    val_accuracy: float
    test_accuracy: float
    robust_accuracy: float | None  # None when robustness evaluation is off
    flops: int  # clean forward passes + the attack's passes


@dataclass(frozen=True)
class Evaluator(EvalContext):
    """Evaluates a model on a workload's val and test splits and under the spec's attack."""

    def __call__(self, model: torch.nn.Module) -> Evaluation:
        val, test = self.workload.val, self.workload.test
        attack = robust_accuracy(model, self)
        clean_flops = self.costs(len(val) + len(test)).forward_flops
        return Evaluation(
            val_accuracy=accuracy(model, val, self.batch_size, self.device),
            test_accuracy=accuracy(model, test, self.batch_size, self.device),
            robust_accuracy=attack.accuracy if attack else None,
            flops=clean_flops + (attack.flops if attack else 0),
        )
