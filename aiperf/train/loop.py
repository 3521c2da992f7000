"""One trial's training loop: AdamW over epochs, evaluation and a report after every epoch.

The loop knows nothing of Ray, of UEGR or of how FLOPs are counted: it is handed a training
step, an evaluator, ``price`` (the ``Work`` of an epoch's steps → their FLOPs) and a callback that
receives every report interval. Batches are length-aware (``aiperf.workload.batches``): each is
padded to its own longest sentence.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from aiperf.flops import Work
from aiperf.search.proposal import Hparams
from aiperf.train.evaluate import Evaluation
from aiperf.train.step import PlainStep, TrainingDiverged, rng_state, set_rng_state
from aiperf.workload import EncodedSplit
from aiperf.workload.batches import gather, training_batches

# Steps between checks that the training loss is finite: each check waits for the device.
FINITE_CHECK_STEPS = 32


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
    train_work: Work  # the shapes of the epoch's steps: what train_flops prices
    eval_forward_work: Work  # evaluation's forward passes (clean val/test and the attack's)
    eval_input_grad_work: Work  # the attack's input-gradient passes


def train_trial(
    step: PlainStep,
    train: EncodedSplit,
    hparams: Hparams,
    evaluate: Callable[[torch.nn.Module], Evaluation],
    price: Callable[[Work], int],
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
    lengths = train.lengths
    intervals = []
    for epoch in range(first, hparams.epochs + 1):
        start = time.time()
        batches = training_batches(lengths, hparams.batch_size, shuffle)
        loss, work = _epoch(step, optimizer, train, batches, lengths)
        result = evaluate(model)
        interval = Interval(
            epoch=epoch,
            start_time=start,
            end_time=time.time(),
            samples=work.samples,
            steps=len(batches),
            train_flops=price(work),
            eval_flops=result.flops,
            loss=loss,
            val_accuracy=result.val_accuracy,
            test_accuracy=result.test_accuracy,
            robust_accuracy=result.robust_accuracy,
            train_work=work,
            eval_forward_work=result.forward_work,
            eval_input_grad_work=result.input_grad_work,
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
        "torch_rng": rng_state(step.device),  # the CPU's, and the GPU's on one
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
    saved = state["torch_rng"]  # a bare tensor in checkpoints from before GPU states
    set_rng_state(step.device, saved if isinstance(saved, list) else [saved])
    return state["epoch"]


def _epoch(
    step: PlainStep,
    optimizer: torch.optim.Optimizer,
    train: EncodedSplit,
    batches: list[torch.Tensor],
    lengths: torch.Tensor,
) -> tuple[float, Work]:
    """One pass over ``batches`` of train indices: the mean loss and the shapes of every step."""
    total, work = torch.zeros((), device=step.device), Work()
    for count, index in enumerate(batches, 1):
        batch = gather(train, index, step.device)  # (B, L), (B, L), (B,): L = its longest
        total += step(optimizer, batch)
        work = work.plus(len(index), batch[0].shape[1], int(lengths[index].sum()))
        if count % FINITE_CHECK_STEPS == 0:
            finite(total)
    return finite(total) / max(len(batches), 1), work


def finite(loss_sum: torch.Tensor) -> float:
    """The summed loss as a float; TrainingDiverged when it is NaN or infinite."""
    value = loss_sum.item()
    if not math.isfinite(value):
        raise TrainingDiverged(f"the training loss became {value}")
    return value
