"""Clean accuracy of a model on an encoded split (eval mode, no gradients)."""

from __future__ import annotations

import torch

from aiperf.workload import EncodedSplit


@torch.no_grad()
def accuracy(model: torch.nn.Module, split: EncodedSplit, batch_size: int, device: str) -> float:
    """Fraction of ``split`` the model classifies correctly."""
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
