"""Evaluation at every report: clean val and test accuracy, robust test accuracy, their FLOPs."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aiperf.flops import Work
from aiperf.train.attacks import EvalContext, robust_accuracy
from aiperf.train.step import autocast
from aiperf.workload import EncodedSplit
from aiperf.workload.batches import eval_batches, gather


@torch.no_grad()
def accuracy(
    model: torch.nn.Module, split: EncodedSplit, batch_size: int, device: str
) -> tuple[float, Work]:
    """Fraction of ``split`` the model classifies correctly (eval mode, length-aware batches),
    and the forward passes that took."""
    was_training = model.training
    model.eval()
    correct, work = 0, Work()
    lengths = split.lengths
    for index in eval_batches(lengths, batch_size):
        tokens, mask, labels = gather(split, index, device)  # (B, L), (B, L), (B,)
        correct += (model(tokens, mask).argmax(dim=-1) == labels).sum()  # on the device
        work = work.plus(len(index), tokens.shape[1], int(lengths[index].sum()))
    model.train(was_training)
    return int(correct) / max(len(split), 1), work


@dataclass(frozen=True)
class Evaluation:
    val_accuracy: float
    test_accuracy: float
    robust_accuracy: float | None  # None when robustness evaluation is off
    flops: int  # clean forward passes + the attack's passes
    forward_work: Work  # every forward pass: clean val and test, and the attack's
    input_grad_work: Work  # the attack's input-gradient passes


@dataclass(frozen=True)
class Evaluator(EvalContext):
    """Evaluates a model on a workload's val and test splits and under the spec's attack."""

    def __call__(self, model: torch.nn.Module) -> Evaluation:
        size, device = self.batch_size, self.device
        with autocast(self.precision, device):
            val_accuracy, val_work = accuracy(model, self.workload.val, size, device)
            test_accuracy, test_work = accuracy(model, self.workload.test, size, device)
            attack = robust_accuracy(model, self)
        forward = val_work + test_work + (attack.forward_work if attack else Work())
        input_grad = attack.input_grad_work if attack else Work()
        return Evaluation(
            val_accuracy=val_accuracy,
            test_accuracy=test_accuracy,
            robust_accuracy=attack.accuracy if attack else None,
            flops=self.costs.eval_flops(forward, input_grad),
            forward_work=forward,
            input_grad_work=input_grad,
        )
