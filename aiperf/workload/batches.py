"""Length-aware batches: every batch is padded to its own longest sentence, not to max_len.

Samples are grouped by real length (the buckets). Training shuffles within each bucket, cuts the
length-sorted order into batches of the trial's batch size (a batch spans at most a few
neighbouring lengths) and shuffles the batch order, all from one seeded generator (a resumed
trial restores it, so it gets the same batches). Evaluation and the attacks use one length per
batch, in a fixed order: no padding at all.
"""

from __future__ import annotations

import torch

from aiperf.workload.splits import EncodedSplit


def training_batches(
    lengths: torch.Tensor, batch_size: int, generator: torch.Generator
) -> list[torch.Tensor]:
    """One epoch's index batches: similar lengths together, shuffled within each length, the
    batch order shuffled."""
    shuffled = torch.randperm(len(lengths), generator=generator)
    by_length = shuffled[torch.argsort(lengths[shuffled], stable=True)]
    batches = list(by_length.split(batch_size))
    order = torch.randperm(len(batches), generator=generator)
    return [batches[i] for i in order.tolist()]


def eval_batches(lengths: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Index batches of one length each, in length order (ties in index order): deterministic
    and without padding; evaluation's large batches would otherwise span many lengths."""
    order = torch.argsort(lengths, stable=True)
    counts = torch.unique_consecutive(lengths[order], return_counts=True)[1].tolist()
    return [batch for group in order.split(counts) for batch in group.split(batch_size)]


def gather(
    split: EncodedSplit, index: torch.Tensor, device: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The samples at ``index`` (host indices), cut to their longest real length: tokens (B, L),
    mask (B, L), labels (B,) on ``device``. A split resident there is indexed without a sync."""
    seq = max(int(split.lengths[index].max()), 1) if len(index) else 1
    rows = index.to(split.tokens.device, non_blocking=True)
    return (
        split.tokens[rows, :seq].to(device),
        split.mask[rows, :seq].to(device),
        split.labels[rows].to(device),
    )


def padding_share(split: EncodedSplit, batch_size: int) -> float:
    """The share of padded positions when ``split`` runs in evaluation batches of this size."""
    lengths = split.lengths
    padded = sum(len(b) * max(int(lengths[b].max()), 1) for b in eval_batches(lengths, batch_size))
    return 1.0 - int(lengths.sum()) / max(padded, 1)
