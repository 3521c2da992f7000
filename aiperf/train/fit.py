"""Fitting a trial's batch to its accelerator's memory before the trial's timed work starts.

The searched batch size is a hyperparameter and is kept; what adapts is how many rows run in one
forward/backward pass. On a GPU the probe runs the step's passes on the batch of the longest
training sentences, halving the micro-batch until the peak memory plus the optimizer's state
fits the trial's share of the device; gradient accumulation then makes up the whole batch. On a
CPU there is nothing to fit: every batch runs whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from aiperf.train.step import PlainStep
from aiperf.workload import EncodedSplit
from aiperf.workload.batches import gather

HEADROOM = 0.9  # of the trial's share of device memory: fragmentation, library workspaces
ADAMW_STATE_PER_PARAMETER = 2  # exp_avg and exp_avg_sq, allocated at the first optimizer step


@dataclass(frozen=True)
class BatchFit:
    """What the probe chose for one trial."""

    micro_batch: int | None  # rows per forward/backward; None: the whole batch, no probe ran
    note: str  # how it was chosen, in words


def largest_fitting(batch_size: int, fits: Callable[[int], bool]) -> int | None:
    """The first of ``batch_size``, its half (rounded up), … down to 1 for which ``fits`` holds;
    None when not even one row fits."""
    size = batch_size
    while not fits(size):
        if size == 1:
            return None
        size = (size + 1) // 2
    return size


def fit_batch(step: PlainStep, train: EncodedSplit, batch_size: int, share: float) -> BatchFit:
    """The micro-batch for ``step``'s trial: probed on CUDA against ``share`` (the trial's
    fraction of a GPU) of the device's memory, which a shared GPU then holds this process to;
    a no-op elsewhere."""
    if torch.device(step.device).type != "cuda":
        return BatchFit(None, f"{step.device}: no probe, every batch runs whole")
    device = torch.device(step.device)
    if share < 1:
        torch.cuda.set_per_process_memory_fraction(share, device)
    torch.cuda.empty_cache()  # what the self-check's copies left cached is free again
    free, total = torch.cuda.mem_get_info(device)
    budget = HEADROOM * min(share * total, free + torch.cuda.memory_allocated(device))
    state = ADAMW_STATE_PER_PARAMETER * sum(
        p.numel() * p.element_size() for p in step.model.parameters() if p.requires_grad
    )
    batch = longest_batch(train, batch_size, step.device)
    size = largest_fitting(
        len(batch[2]), lambda rows: peak_bytes(step, batch, rows) + state <= budget
    )
    if size is None:  # the step's own retry finds out whether anything runs at all
        return BatchFit(None, f"not even one row fits {budget / 2**30:.1f} GiB by the probe")
    whole = size >= len(batch[2])
    return BatchFit(
        None if whole else size,
        f"{'whole batch' if whole else f'micro-batch {size}'} of {batch_size} fits "
        f"{budget / 2**30:.1f} GiB",
    )


def longest_batch(train: EncodedSplit, batch_size: int, device: str) -> tuple[torch.Tensor, ...]:
    """The ``batch_size`` longest training sentences as one batch: the worst case a step meets."""
    index = torch.argsort(train.lengths, descending=True, stable=True)[:batch_size]
    return gather(train, index, device)


def peak_bytes(step: PlainStep, batch: tuple[torch.Tensor, ...], rows: int) -> float:
    """Peak device memory of one forward/backward of ``batch`` in micro-batches of ``rows``;
    infinite when it runs out. Model, RNG and step state are left as they were."""
    device = torch.device(step.device)
    saved = step.state_dict()
    torch.cuda.reset_peak_memory_stats(device)
    try:
        with torch.random.fork_rng(devices=[device]):
            step.begin()
            step.accumulate(batch, rows)
        return float(torch.cuda.max_memory_allocated(device))
    except torch.cuda.OutOfMemoryError:
        return float("inf")
    finally:
        step.model.zero_grad(set_to_none=True)
        step.load_state_dict(saved)
        torch.cuda.empty_cache()
