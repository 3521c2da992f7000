"""The two per-split containers: raw text (for word-substitution attacks) and encoded tensors."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class TextSplit:
    """One split as raw sentences and integer labels (0 … num_classes-1)."""

    sentences: tuple[str, ...]
    labels: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.sentences) != len(self.labels):
            raise ValueError(f"{len(self.sentences)} sentences but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class EncodedSplit:
    """One split as tensors a model consumes; shared between trials, so never modify in place.

    ``lengths`` stays on the host wherever the tensors live, so batches of a split resident on a
    GPU are cut to their longest sentence without a device→host copy."""

    tokens: torch.Tensor  # (N, S) int64, S = max_len, 0 = <pad>
    mask: torch.Tensor  # (N, S) bool, True on real tokens
    labels: torch.Tensor  # (N,) int64
    lengths: torch.Tensor | None = field(default=None, repr=False, compare=False)  # (N,), host

    def __post_init__(self) -> None:
        n = self.labels.shape[0]
        if self.tokens.shape[0] != n or self.mask.shape != self.tokens.shape:
            raise ValueError(
                f"shape mismatch: tokens {tuple(self.tokens.shape)}, "
                f"mask {tuple(self.mask.shape)}, labels {tuple(self.labels.shape)}"
            )
        if self.lengths is None:
            object.__setattr__(self, "lengths", self.mask.sum(dim=1).cpu())

    def to(self, device: str) -> EncodedSplit:
        """This split with its tensors on ``device`` (itself when they are on that very device;
        ``"cuda"`` and ``"cuda:0"`` differ here), its host lengths carried over."""
        if self.tokens.device == torch.device(device):
            return self
        moved = (self.tokens.to(device), self.mask.to(device), self.labels.to(device))
        return EncodedSplit(*moved, lengths=self.lengths)

    def __len__(self) -> int:
        return self.labels.shape[0]
