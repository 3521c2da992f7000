"""Analytic FLOPs counting: a genome's layers priced by per-layer formulas.

One entry point, ``cost_model(genome, num_classes)``, gives the genome's ``CostModel``: the
``PassCosts`` (one forward, one weight-gradient and one input-gradient pass) of any (batch, seq)
batch, and the price of any ``Work`` (Σ B, Σ B·L, Σ B·L² of the batches run). A training step's
FLOPs are ``PassCosts.step_flops(StepPasses)``. ``breakdown`` splits a count per block for tables.
"""

from aiperf.flops.counter import BlockFlops, CostModel, breakdown, cost_model
from aiperf.flops.formulas import FLOPS_CONVENTION, FlopsError
from aiperf.flops.passes import PLAIN_STEP, PassCosts, StepPasses, Work, step_passes, uegr_passes

__all__ = [
    "FLOPS_CONVENTION",
    "PLAIN_STEP",
    "BlockFlops",
    "CostModel",
    "FlopsError",
    "PassCosts",
    "StepPasses",
    "Work",
    "breakdown",
    "cost_model",
    "step_passes",
    "uegr_passes",
]
