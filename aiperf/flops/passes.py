"""How many passes one training step runs, and their FLOPs: the link from a step to the counter.

A step declares its passes (plain training: 1 forward, 1 full backward); the counter
(``aiperf.flops.counter.pass_costs``) prices one of each, and ``PassCosts.step_flops`` the step.
A *full* backward computes weight and input gradients of every layer; an *input-only* backward
(UEGR's adversarial δ) computes input gradients through every layer and no weight gradient.
"""

from __future__ import annotations

from dataclasses import dataclass


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

    def __add__(self, other: PassCosts) -> PassCosts:
        return PassCosts(
            self.forward_flops + other.forward_flops,
            self.weight_grad_flops + other.weight_grad_flops,
            self.input_grad_flops + other.input_grad_flops,
        )

    def step_flops(self, passes: StepPasses) -> int:
        full_backward = self.weight_grad_flops + self.input_grad_flops
        return (
            passes.forward * self.forward_flops
            + passes.backward_full * full_backward
            + passes.backward_input * self.input_grad_flops
        )
