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
    op_costs,
    op_flops,
    pass_costs,
    step_flops,
    step_flops_for,
    train_step_flops,
)
from aiperf.flops.formulas import FORMULAS, FlopsError, LayerFormula, LayerShape, formula_for
from aiperf.flops.passes import PLAIN_STEP, PassCosts, StepPasses

__all__ = [
    "BLOCK_OPS",
    "FORMULAS",
    "PLAIN_STEP",
    "BlockFlops",
    "FlopsError",
    "LayerFormula",
    "LayerOp",
    "LayerShape",
    "PassCosts",
    "PassFlops",
    "StepPasses",
    "breakdown",
    "count_ops",
    "eval_flops",
    "formula_for",
    "forward_flops",
    "layer_ops",
    "op_costs",
    "op_flops",
    "pass_costs",
    "step_flops",
    "step_flops_for",
    "train_step_flops",
]
