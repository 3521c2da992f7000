"""Analytic FLOPs counting: per-layer formulas and a counter from genome to per-pass FLOPs."""

from aiperf.flops.counter import (
    BLOCK_OPS,
    BlockFlops,
    LayerOp,
    PassFlops,
    breakdown,
    count_ops,
    eval_flops,
    forward_flops,
    layer_ops,
    op_flops,
    step_flops,
    train_step_flops,
)
from aiperf.flops.formulas import FORMULAS, FlopsError, LayerFormula, LayerShape, formula_for

__all__ = [
    "BLOCK_OPS",
    "FORMULAS",
    "BlockFlops",
    "FlopsError",
    "LayerFormula",
    "LayerOp",
    "LayerShape",
    "PassFlops",
    "breakdown",
    "count_ops",
    "eval_flops",
    "formula_for",
    "forward_flops",
    "layer_ops",
    "op_flops",
    "step_flops",
    "train_step_flops",
]
