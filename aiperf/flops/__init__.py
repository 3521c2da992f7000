"""Analytic FLOPs counting: a genome's layers priced by per-layer formulas.

One entry point, ``pass_costs(genome, batch, seq, num_classes)``, gives the ``PassCosts`` (one
forward, one weight-gradient and one input-gradient pass) of a batch; a training step's FLOPs are
``PassCosts.step_flops(StepPasses)``. ``breakdown`` splits the same count per block for tables.
"""

from aiperf.flops.counter import BlockFlops, breakdown, pass_costs
from aiperf.flops.formulas import FLOPS_CONVENTION, FlopsError
from aiperf.flops.passes import PLAIN_STEP, PassCosts, StepPasses

__all__ = [
    "FLOPS_CONVENTION",
    "PLAIN_STEP",
    "BlockFlops",
    "FlopsError",
    "PassCosts",
    "StepPasses",
    "breakdown",
    "pass_costs",
]
