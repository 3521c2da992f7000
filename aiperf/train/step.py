"""One optimizer step of plain training: forward, cross-entropy, backward, clip, AdamW."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F

_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite: the trial cannot go on."""


@contextlib.contextmanager
def autocast(precision: str, device: str) -> Iterator[None]:
    """Mixed-precision autocast for ``bf16``/``fp16``; a no-op for ``fp32``."""
    dtype = _AUTOCAST_DTYPES.get(precision)
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.split(":")[0], dtype=dtype):
        yield


def plain_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    precision: str,
    grad_clip: float,
    device: str,
) -> float:
    """Train on one batch (tokens (B, S), mask (B, S), labels (B,)); return the loss."""
    tokens, mask, labels = batch
    optimizer.zero_grad(set_to_none=True)
    with autocast(precision, device):
        logits = model(tokens, mask)  # (B, C)
    loss = F.cross_entropy(logits.float(), labels)
    if not torch.isfinite(loss):
        raise TrainingDiverged(f"loss became {loss.item()}")
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()
