"""One optimizer step of plain training: forward, cross-entropy, backward, clip, AdamW.

``PlainStep`` is the template every training method follows: ``loss`` (the forward stage) and
``update`` (the backward stage) are the two places a method such as UEGR changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

from aiperf.flops.passes import PLAIN_STEP, StepPasses
from aiperf.spec import TrainSpec

_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # tokens (B, S), mask (B, S), labels (B,)


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


class PlainStep:
    """Plain training: one clean forward, one backward, every parameter updates."""

    passes: StepPasses = PLAIN_STEP  # what the FLOPs counter prices per step

    def __init__(self, model: torch.nn.Module, settings: TrainSpec, device: str) -> None:
        self.model = model
        self.settings = settings
        self.device = device

    def __call__(self, optimizer: torch.optim.Optimizer, batch: Batch) -> float:
        """Train on one batch; return its loss."""
        optimizer.zero_grad(set_to_none=True)
        loss = self.loss(batch)
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"loss became {loss.item()}")
        loss.backward()
        self.update(optimizer)
        return loss.item()

    def loss(self, batch: Batch) -> torch.Tensor:
        tokens, mask, labels = batch
        with self.autocast():
            logits = self.model(tokens, mask)  # (B, C)
        return F.cross_entropy(logits.float(), labels)

    def update(self, optimizer: torch.optim.Optimizer) -> None:
        if self.settings.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.grad_clip)
        optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        """The step's own state beyond model and optimizer (none for plain training)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        return autocast(self.settings.precision, self.device)
