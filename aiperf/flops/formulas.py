"""Per-layer FLOP formulas: a registry from layer kind to its forward and backward counts.

The counting convention is ``FLOPS_CONVENTION`` below, written once: ``summary.json`` carries it
and every count in ``aiperf.flops`` follows it. In detail:

- a multiply-add is 2 FLOPs (as ``torch.utils.flop_counter``; fvcore counts 1 per MAC);
- Conv1d/Conv2d are dense (groups = 1); a fused SDPA is its two attention matmuls, dense S × S
  (no causal halving), with the padded positions counted;
- the backward of a weighted layer is its input gradient (= forward) plus its weight gradient
  (= forward); a matmul of two activations (attention, bmm) has no weights, so its backward is
  a gradient to each operand, 2 × forward;
- GELU, dropout and pooling are elementwise; the loss is not counted either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

FLOPS_CONVENTION = (
    "1 multiply-add = 2 FLOPs; counted: linear, conv and the two attention matmuls (QK^T, AV, "
    "dense S^2), forward and backward as autograd needs them; not counted: elementwise ops, "
    "norms, softmax, embedding lookups, the optimizer, recomputation; padded positions count "
    "as run; headline = training + evaluation FLOPs"
)


@dataclass(frozen=True)
class LayerShape:
    """The sizes one layer runs at: ``batch`` samples of ``tokens`` positions each."""

    batch: int  # B
    tokens: int  # S; 1 for a layer that runs on a pooled (B, D) vector
    in_features: int  # input channels; the model width D for an attention matmul
    out_features: int
    kernel: int = 1  # conv: kernel positions (k, or kh·kw); 'same' padding keeps S positions


@dataclass(frozen=True)
class LayerFormula:
    """Three pure functions of a LayerShape, each returning FLOPs for one pass of that layer."""

    forward: Callable[[LayerShape], int]
    input_grad: Callable[[LayerShape], int]
    weight_grad: Callable[[LayerShape], int]


def _linear_flops(s: LayerShape) -> int:
    return 2 * s.batch * s.tokens * s.in_features * s.out_features


def _conv_flops(s: LayerShape) -> int:
    """Conv1d/Conv2d with groups = 1: ``tokens`` = output positions (S, or H_out·W_out)."""
    return 2 * s.batch * s.tokens * s.in_features * s.out_features * s.kernel


def _attn_matmul_flops(s: LayerShape) -> int:
    """QKᵀ (B, H, S, dh) @ (B, H, dh, S) or AV (B, H, S, S) @ (B, H, S, dh): 2·B·S²·D either way."""
    return 2 * s.batch * s.tokens * s.tokens * s.in_features


def _both_operands_flops(s: LayerShape) -> int:
    return 2 * _attn_matmul_flops(s)


def _no_weights(s: LayerShape) -> int:
    return 0


FORMULAS: dict[str, LayerFormula] = {
    "linear": LayerFormula(_linear_flops, _linear_flops, _linear_flops),
    "conv1d": LayerFormula(_conv_flops, _conv_flops, _conv_flops),
    "conv2d": LayerFormula(_conv_flops, _conv_flops, _conv_flops),
    "bmm": LayerFormula(_linear_flops, lambda s: 2 * _linear_flops(s), _no_weights),
    "attn_scores": LayerFormula(_attn_matmul_flops, _both_operands_flops, _no_weights),
    "attn_values": LayerFormula(_attn_matmul_flops, _both_operands_flops, _no_weights),
}


class FlopsError(ValueError):
    """A layer kind or block type the counter has no formula for: counting it as 0 would lie."""


def formula_for(kind: str) -> LayerFormula:
    """The formula of a layer kind; FlopsError (listing the known kinds) when there is none."""
    formula = FORMULAS.get(kind)
    if formula is None:
        known = ", ".join(sorted(FORMULAS))
        raise FlopsError(f"no FLOPs formula for layer kind {kind!r} (known: {known})")
    return formula
