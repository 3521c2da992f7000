"""One trial's training loop: AdamW over epochs, evaluation and a report after every epoch.

The loop knows nothing of Ray or of how FLOPs are counted: it is handed two counting functions
and a callback that receives every report interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from aiperf.spec import TrainSpec
from aiperf.train.evaluate import accuracy
from aiperf.train.hparams import Hparams
from aiperf.train.step import plain_step
from aiperf.workload import EncodedSplit, Workload


@dataclass(frozen=True)
class FlopsCounts:
    """Analytic FLOPs of the trial's model, as functions of the work's shape."""

    train_step_flops: Callable[[int], int]  # batch size → FLOPs of one optimizer step
    eval_flops: Callable[[int], int]  # samples → FLOPs of evaluating them


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


def train_trial(
    model: torch.nn.Module,
    workload: Workload,
    hparams: Hparams,
    settings: TrainSpec,
    counts: FlopsCounts,
    on_report: Callable[[Interval], None],
    seed: int,
    device: str = "cpu",
) -> list[Interval]:
    """Train ``model`` for ``hparams.epochs`` epochs, reporting after each; seeded."""
    model.to(device).train()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=hparams.lr, weight_decay=hparams.weight_decay
    )
    shuffle = torch.Generator().manual_seed(seed)
    intervals = []
    for epoch in range(1, hparams.epochs + 1):
        start = time.time()
        samples, steps, train_flops, loss = _epoch(
            model, optimizer, workload.train, hparams, settings, counts, shuffle, device
        )
        val_acc = accuracy(model, workload.val, settings.eval_batch_size, device)
        test_acc = accuracy(model, workload.test, settings.eval_batch_size, device)
        interval = Interval(
            epoch=epoch,
            start_time=start,
            end_time=time.time(),
            samples=samples,
            steps=steps,
            train_flops=train_flops,
            eval_flops=counts.eval_flops(len(workload.val) + len(workload.test)),
            loss=loss,
            val_accuracy=val_acc,
            test_accuracy=test_acc,
        )
        intervals.append(interval)
        on_report(interval)
    return intervals


def _epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    train: EncodedSplit,
    hparams: Hparams,
    settings: TrainSpec,
    counts: FlopsCounts,
    shuffle: torch.Generator,
    device: str,
) -> tuple[int, int, int, float]:
    """One pass over the shuffled train split: (samples, steps, FLOPs, mean loss)."""
    samples = steps = flops = 0
    loss_sum = 0.0
    for index in torch.randperm(len(train), generator=shuffle).split(hparams.batch_size):
        batch = (
            train.tokens[index].to(device),  # (B, S)
            train.mask[index].to(device),  # (B, S)
            train.labels[index].to(device),  # (B,)
        )
        loss_sum += plain_step(
            model, optimizer, batch, settings.precision, settings.grad_clip, device
        )
        samples += len(index)
        steps += 1
        flops += counts.train_step_flops(len(index))
    return samples, steps, flops, loss_sum / max(steps, 1)
