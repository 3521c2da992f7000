"""Genome → ``TextClassifier``: embeddings, the block stack, masked pooling and a classifier head.

The embedding step is split from the rest (``embed_words`` / ``encode``) so a regularizer can
perturb word embeddings, and every dropout rate can be changed at once (``set_dropout``) so it can
run sub-models at other rates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from aiperf.models.blocks import Dropout, SelfAttention, build_block
from aiperf.models.genome import Genome, check_parameter_budget


class TextClassifier(nn.Module):
    """Token ids (B, S) and a real-token mask (B, S) → class logits (B, C)."""

    def __init__(self, genome: Genome, vocab_size: int, num_classes: int, max_len: int) -> None:
        super().__init__()
        dim = genome.embed_dim
        self.dropout = genome.dropout  # the rate every dropout runs at now (``set_dropout``)
        self.max_len = max_len
        self.pooling = genome.pooling
        self.word_embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.pos_embed = nn.Embedding(max_len, dim)
        self.blocks = nn.ModuleList(build_block(g, dim, genome.dropout) for g in genome.blocks)
        self.final_norm = nn.LayerNorm(dim)
        self.classifier = _classifier(dim, genome.classifier_hidden, num_classes, genome.dropout)
        self.checkpoint_blocks = False  # recompute block activations in backward (saves memory)

    def embed_words(self, tokens: torch.Tensor) -> torch.Tensor:
        """Word embeddings only, (B, S) → (B, S, D); positions are added in ``encode``."""
        return self.word_embed(tokens)

    def encode(self, e: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Word embeddings (B, S, D) and mask (B, S) → logits (B, C)."""
        seq = e.shape[1]
        if seq > self.max_len:
            raise ValueError(f"sequence length {seq} exceeds max_len {self.max_len}")
        mask = mask.bool()
        x = e + self.pos_embed(torch.arange(seq, device=e.device))  # (B, S, D)
        for block in self.blocks:
            if self.checkpoint_blocks and self.training and torch.is_grad_enabled():
                # Backward recomputes the block after a sub-model's rate is gone: pass it along.
                x = checkpoint(self._block_at, block, x, mask, self.dropout, use_reentrant=False)
            else:
                x = block(x, mask)
        return self.classifier(self._pool(self.final_norm(x), mask))

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.encode(self.embed_words(tokens), mask)

    def set_dropout(self, p: float) -> None:
        """Set the rate of every dropout in the model."""
        if not 0 <= p < 1:
            raise ValueError(f"dropout rate must be in [0, 1) (got {p})")
        for module in self.modules():
            if isinstance(module, Dropout):
                module.p = p
        self.dropout = p

    def set_fused_attention(self, fused: bool) -> None:
        """Attention through ``scaled_dot_product_attention`` (True) or plain matmuls (False)."""
        for module in self.modules():
            if isinstance(module, SelfAttention):
                module.fused = fused

    @contextmanager
    def dropout_rate(self, p: float) -> Iterator[TextClassifier]:
        """Run the body with every dropout at rate ``p``, then restore the rate before it."""
        before = self.dropout
        self.set_dropout(p)
        try:
            yield self
        finally:
            self.set_dropout(before)

    def _block_at(
        self, block: nn.Module, x: torch.Tensor, mask: torch.Tensor, p: float
    ) -> torch.Tensor:
        """``block(x, mask)`` with every dropout at rate ``p``."""
        with self.dropout_rate(p):
            return block(x, mask)

    def _pool(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masked mean or max over real tokens: (B, S, D) → (B, D); all-padding rows give 0."""
        keep = mask[..., None]  # (B, S, 1)
        if self.pooling == "mean":
            return (x * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1)
        pooled = x.masked_fill(~keep, torch.finfo(x.dtype).min).amax(dim=1)
        return torch.where(keep.any(dim=1), pooled, torch.zeros_like(pooled))


def _classifier(dim: int, hidden: int, num_classes: int, dropout: float) -> nn.Module:
    if hidden == 0:
        return nn.Linear(dim, num_classes)
    return nn.Sequential(
        nn.Linear(dim, hidden), nn.GELU(), Dropout(dropout), nn.Linear(hidden, num_classes)
    )


def build_model(genome: Genome, vocab_size: int, num_classes: int, max_len: int) -> TextClassifier:
    """The text classifier a genome describes; PyTorch default init, so seed torch to repeat it.

    GenomeError before anything is allocated if it would have more than ``MAX_PARAMETERS``."""
    check_parameter_budget(genome, vocab_size, num_classes, max_len)
    return TextClassifier(genome, vocab_size, num_classes, max_len)
