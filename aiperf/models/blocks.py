"""Block modules, and the registry ``BLOCKS`` from a gene's type to the builder of its module.

Every block maps ``(x, mask) -> x`` with ``x`` of shape ``(B, S, D)`` and ``mask`` a bool ``(B, S)``
that is True on real tokens. ``aiperf.flops`` counts the same layers analytically.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from aiperf.models.genome import BlockGene, ConvGene, GenomeError, TransformerGene


class Dropout(nn.Module):
    """Dropout whose rate ``p`` is a plain attribute, so a model can change every rate at once.

    On CPU the keep mask comes from 16-bit lanes of bulk 64-bit random numbers (``p`` rounded to
    a multiple of 2⁻¹⁶, the scale exact for that rate): about 4× faster than ``F.dropout``'s
    per-element Bernoulli draws, which dominated UEGR's sub-model passes. Elsewhere (and under
    a JIT trace, which cannot view a tensor as another dtype) it is ``F.dropout``."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu" or torch.jit.is_tracing():
            return F.dropout(x, self.p, self.training)
        return x * scaled_keep_mask(x, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def scaled_keep_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """A mask like ``x``: 0 with probability ``p`` (to 2⁻¹⁶), else 1 / (keep probability)."""
    drop = min(round(p * 65536), 65535)  # a rate within 2⁻¹⁷ of 1 still keeps one value in 2¹⁶
    n = x.numel()
    bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_(-(2**63), None)
    lanes = bits.view(torch.int16)[:n].view(x.shape)  # uniform over [-32768, 32767]
    keep = lanes >= drop - 32768
    return keep.to(x.dtype).mul_(65536 / (65536 - drop))


class SelfAttention(nn.Module):
    """Multi-head self-attention over real tokens: padding keys get no weight.

    ``fused`` (the default) runs ``F.scaled_dot_product_attention``, which picks a fused kernel
    on CUDA (memory-efficient or cuDNN: flash attention takes no padding mask); otherwise plain
    matmuls, which also serve dropout on CPU (SDPA's CPU dropout draws per element: UEGR steps
    ran 1.3–2× slower). Both compute the same function and the same two (S × S) products that
    ``aiperf.flops`` counts; the FLOPs self-check runs the fused path under SDPA's math backend
    so that FlopCounterMode sees each one."""

    def __init__(self, embed_dim: int, heads: int, dropout: float, fused: bool = True) -> None:
        super().__init__()
        self.heads = heads
        self.fused = fused
        self.q = nn.Linear(embed_dim, embed_dim)
        self.k = nn.Linear(embed_dim, embed_dim)
        self.v = nn.Linear(embed_dim, embed_dim)
        self.out = nn.Linear(embed_dim, embed_dim)
        self.attn_dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
        # A sample without real tokens attends evenly to every position instead of to none (NaN).
        keys = (mask | ~mask.any(dim=-1, keepdim=True))[:, None, None, :]  # (B, 1, 1, S)
        p = self.attn_dropout.p if self.training else 0.0
        if self.fused and (p == 0 or x.device.type != "cpu"):
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=keys, dropout_p=p)
        else:
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, S, S)
            scores = scores.masked_fill(~keys, float("-inf"))
            context = self.attn_dropout(scores.softmax(dim=-1)) @ v  # (B, H, S, dh)
        return self.out(context.transpose(1, 2).flatten(2))  # (B, S, D)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(B, S, D) -> (B, H, S, D/H)."""
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.heads, -1).transpose(1, 2)


class TransformerBlock(nn.Module):
    """Pre-LayerNorm encoder block: x + attn(LN(x)), then x + FFN(LN(x)) with a GELU FFN."""

    def __init__(self, gene: TransformerGene, embed_dim: int, dropout: float) -> None:
        super().__init__()
        self.residual = gene.residual
        self.attn_norm = nn.LayerNorm(embed_dim)
        self.attn = SelfAttention(embed_dim, gene.heads, dropout)
        self.attn_dropout = Dropout(dropout)
        self.ffn_norm = nn.LayerNorm(embed_dim)
        self.ffn = nn.Sequential(
            nn.Linear(embed_dim, gene.ffn_dim),
            nn.GELU(),
            Dropout(dropout),
            nn.Linear(gene.ffn_dim, embed_dim),
            Dropout(dropout),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = _maybe_residual(x, self.attn_dropout(self.attn(self.attn_norm(x), mask)), self.residual)
        return _maybe_residual(x, self.ffn(self.ffn_norm(x)), self.residual)


class ConvBlock(nn.Module):
    """x + pointwise(GELU(conv_k(LN(x)))) over the sequence, with padded positions zeroed first."""

    def __init__(self, gene: ConvGene, embed_dim: int, dropout: float) -> None:
        super().__init__()
        self.residual = gene.residual
        self.norm = nn.LayerNorm(embed_dim)
        self.conv = nn.Conv1d(embed_dim, gene.width, gene.kernel, padding=gene.kernel // 2)
        self.proj = nn.Conv1d(gene.width, embed_dim, 1)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # Zeroing padding keeps the kernel from reading padding tokens into real positions.
        h = (self.norm(x) * mask[..., None]).transpose(1, 2)  # (B, D, S)
        h = self.proj(F.gelu(self.conv(h))).transpose(1, 2)  # (B, S, D)
        return _maybe_residual(x, self.dropout(h), self.residual)


def _maybe_residual(x: torch.Tensor, update: torch.Tensor, residual: bool) -> torch.Tensor:
    return x + update if residual else update


BlockBuilder = Callable[[BlockGene, int, float], nn.Module]

BLOCKS: dict[str, BlockBuilder] = {
    "transformer": TransformerBlock,
    "conv": ConvBlock,
}


def build_block(gene: BlockGene, embed_dim: int, dropout: float) -> nn.Module:
    """The module for one gene, looked up in ``BLOCKS`` by the gene's type."""
    builder = BLOCKS.get(gene.type)
    if builder is None:
        valid = ", ".join(sorted(BLOCKS))
        raise GenomeError(f"genome: unknown block type {gene.type!r} (valid: {valid})")
    return builder(gene, embed_dim, dropout)
