"""One trial's training loop: AdamW over epochs, evaluation and a report after every epoch.

The loop knows nothing of Ray, of UEGR or of how FLOPs are counted: it is handed a training
step, an evaluator, ``flops_per_step`` (batch size → FLOPs of one step) and a callback that
receives every report interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from aiperf.search.proposal import Hparams
from aiperf.train.evaluate import Evaluation
from aiperf.train.step import PlainStep
from aiperf.workload import EncodedSplit


@dataclass(frozen=True)
class Interval:
    """What one report interval (one epoch + its evaluation) did and reached."""

    epoch: int
    start_time: float
    end_time: float
    samples: int
    steps: int
    train_flops: int
    eval_flops: int
    loss: float
    val_accuracy: float
    test_accuracy: float
    robust_accuracy: float | None


def train_trial(
    step: PlainStep,
    train: EncodedSplit,
    hparams: Hparams,
    evaluate: Callable[[torch.nn.Module], Evaluation],
    flops_per_step: Callable[[int], int],
    on_report: Callable[[Interval, dict[str, Any]], None],
    seed: int,
    resume: dict[str, Any] | None = None,
) -> list[Interval]:
    """Train ``step.model`` for ``hparams.epochs`` epochs, reporting after each with the state to
    resume from; seeded, and a resumed trial continues exactly as if it had never stopped."""
    model = step.model.train()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=hparams.lr, weight_decay=hparams.weight_decay
    )
    shuffle = torch.Generator().manual_seed(seed)
    first = 1 if resume is None else load_training_state(resume, step, optimizer, shuffle) + 1
    intervals = []
    for epoch in range(first, hparams.epochs + 1):
        start = time.time()
        order = torch.randperm(len(train), generator=shuffle)
        batches = order.split(hparams.batch_size)
        losses, flops = _epoch(step, optimizer, train, batches, flops_per_step)
        result = evaluate(model)
        interval = Interval(
            epoch=epoch,
            start_time=start,
            end_time=time.time(),
            samples=len(train),
            steps=len(losses),
            train_flops=flops,
            eval_flops=result.flops,
            loss=sum(losses) / max(len(losses), 1),
            val_accuracy=result.val_accuracy,
            test_accuracy=result.test_accuracy,
            robust_accuracy=result.robust_accuracy,
        )
        intervals.append(interval)
        on_report(interval, training_state(epoch, step, optimizer, shuffle))
    return intervals


def training_state(
    epoch: int, step: PlainStep, optimizer: torch.optim.Optimizer, shuffle: torch.Generator
) -> dict[str, Any]:
    """Everything a retried trial needs to continue after ``epoch`` (model, optimizer, RNGs)."""
    return {
        "epoch": epoch,
        "model": step.model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step.state_dict(),
        "shuffle_rng": shuffle.get_state(),
        "torch_rng": torch.get_rng_state(),
    }


def load_training_state(
    state: dict[str, Any],
    step: PlainStep,
    optimizer: torch.optim.Optimizer,
    shuffle: torch.Generator,
) -> int:
    """Restore a ``training_state``; returns the last completed epoch."""
    step.model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    step.load_state_dict(state["step"])
    shuffle.set_state(state["shuffle_rng"])
    torch.set_rng_state(state["torch_rng"])
    return state["epoch"]


def _epoch(
    step: PlainStep,
    optimizer: torch.optim.Optimizer,
    train: EncodedSplit,
    batches: tuple[torch.Tensor, ...],
    flops_per_step: Callable[[int], int],
) -> tuple[list[float], int]:
    """One pass over ``batches`` of train indices: the losses and the FLOPs of every step."""
    losses, flops = [], 0
    for index in batches:
        batch = (
            train.tokens[index].to(step.device),  # (B, S)
            train.mask[index].to(step.device),  # (B, S)
            train.labels[index].to(step.device),  # (B,)
        )
        losses.append(step(optimizer, batch))
        flops += flops_per_step(len(index))
    return losses, flops
