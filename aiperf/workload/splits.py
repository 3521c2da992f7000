"""The two per-split containers: raw text (for word-substitution attacks) and encoded tensors."""

from __future__ import annotations

from dataclasses import dataclass

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
    """One split as tensors a model consumes; shared between trials, so never modify in place."""

    tokens: torch.Tensor  # (N, S) int64, S = max_len, 0 = <pad>
    mask: torch.Tensor  # (N, S) bool, True on real tokens
    labels: torch.Tensor  # (N,) int64

    def __post_init__(self) -> None:
        n = self.labels.shape[0]
        if self.tokens.shape[0] != n or self.mask.shape != self.tokens.shape:
            raise ValueError(
                f"shape mismatch: tokens {tuple(self.tokens.shape)}, "
                f"mask {tuple(self.mask.shape)}, labels {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return self.labels.shape[0]
