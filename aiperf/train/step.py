"""One optimizer step of plain training: forward, cross-entropy, backward, clip, AdamW.

``PlainStep`` is the template every training method follows: ``loss`` (the forward stage) and
``update`` (the backward stage) are the two places a method such as UEGR changes. A step may run
its batch as micro-batches whose gradients add up to the whole batch's (``micro_batch``, chosen
by ``aiperf.train.fit``); out of device memory it retries the batch with half as many rows.
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


def rng_state(device: str) -> list[torch.Tensor]:
    """The CPU generator's state, and the GPU's when ``device`` is one."""
    cuda = torch.device(device).type == "cuda"
    return [torch.get_rng_state(), *([torch.cuda.get_rng_state(device)] if cuda else [])]


def set_rng_state(device: str, state: list[torch.Tensor]) -> None:
    """Restore what ``rng_state`` returned."""
    torch.set_rng_state(state[0])
    if len(state) > 1:
        torch.cuda.set_rng_state(state[1], device)


class PlainStep:
    """Plain training: one clean forward, one backward, every parameter updates."""

    passes: StepPasses = PLAIN_STEP  # what the FLOPs counter prices per step

    def __init__(self, model: torch.nn.Module, settings: TrainSpec, device: str) -> None:
        self.model = model
        self.settings = settings
        self.device = device
        self.micro_batch: int | None = None  # rows per forward/backward; None: the whole batch

    def __call__(self, optimizer: torch.optim.Optimizer, batch: Batch) -> torch.Tensor:
        """Train on one batch; return its loss, detached and left on the device (reading it
        would wait for the device: the loop checks that losses are finite only now and then)."""
        loss = self.gradients(optimizer, batch)
        self.update(optimizer)
        return loss

    def gradients(self, optimizer: torch.optim.Optimizer, batch: Batch) -> torch.Tensor:
        """The batch's loss, its gradients in ``.grad``. Out of device memory, the batch is run
        again from the same random state in micro-batches of half as many rows, down to one."""
        rows = len(batch[2])
        rng, own = rng_state(self.device), self.state_dict()
        while True:
            optimizer.zero_grad(set_to_none=True)
            size = min(self.micro_batch or rows, rows)
            self.begin()
            try:
                return self.accumulate(batch, size)
            except torch.cuda.OutOfMemoryError:
                if size == 1:
                    raise
            optimizer.zero_grad(set_to_none=True)  # past the except block: the attempt is freed
            torch.cuda.empty_cache()
            set_rng_state(self.device, rng)
            self.load_state_dict(own)
            self.micro_batch = (size + 1) // 2

    def begin(self) -> None:
        """What a step draws once, before its passes (none for plain training)."""

    def accumulate(self, batch: Batch, size: int) -> torch.Tensor:
        """Forward and backward of ``batch`` in micro-batches of ``size`` rows, each loss
        weighted by its share of the rows so that the gradients add up to the whole batch's."""
        rows = len(batch[2])
        if size >= rows:
            loss = self.loss(batch)
            loss.backward()
            return loss.detach()
        total = torch.zeros((), device=batch[2].device)
        for part in zip(*(tensor.split(size) for tensor in batch), strict=True):
            loss = self.loss(part) * (len(part[2]) / rows)
            loss.backward()
            total += loss.detach()
        return total

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
        """The step's own state beyond model and optimizer: its micro-batch size."""
        return {"micro_batch": self.micro_batch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        self.micro_batch = state.get("micro_batch")  # absent from checkpoints before it

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        return autocast(self.settings.precision, self.device)
