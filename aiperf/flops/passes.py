"""How many passes one training step runs, and their FLOPs: the link from a step to the counter.

A step declares its passes (plain training: 1 forward, 1 full backward); the counter prices them.
A *full* backward computes weight and input gradients of every layer; an *input-only* backward
(UEGR's adversarial δ) computes input gradients through every layer and no weight gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiperf.flops.counter import layer_ops
from aiperf.flops.formulas import formula_for
from aiperf.models.genome import Genome


@dataclass(frozen=True)
class StepPasses:
    forward: int = 1
    backward_full: int = 1
    backward_input: int = 0


PLAIN_STEP = StepPasses()


@dataclass(frozen=True)
class PassCosts:
    """FLOPs of one forward, one weight-gradient and one input-gradient pass over a batch."""

    forward_flops: int
    weight_grad_flops: int
    input_grad_flops: int

    def step_flops(self, passes: StepPasses) -> int:
        full_backward = self.weight_grad_flops + self.input_grad_flops
        return (
            passes.forward * self.forward_flops
            + passes.backward_full * full_backward
            + passes.backward_input * self.input_grad_flops
        )


def pass_costs(genome: Genome, batch: int, seq: int, num_classes: int) -> PassCosts:
    """Per-pass FLOPs of the genome's model on a (batch, seq) batch."""
    totals = [0, 0, 0]
    for op in layer_ops(genome, num_classes):
        formula, shape = formula_for(op.kind), op.shape(batch, seq)
        totals[0] += formula.forward(shape)
        totals[1] += formula.weight_grad(shape)
        totals[2] += formula.input_grad(shape)
    return PassCosts(*totals)


def step_flops_for(
    genome: Genome, batch: int, seq: int, num_classes: int, passes: StepPasses = PLAIN_STEP
) -> int:
    """FLOPs of one optimizer step that runs ``passes`` over a (batch, seq) batch."""
    return pass_costs(genome, batch, seq, num_classes).step_flops(passes)
