"""How many passes one training step runs, and their FLOPs: the link from a step to the counter.

A step declares its passes (plain training: 1 forward, 1 full backward); the counter
(``aiperf.flops.counter.cost_model``) prices one of each for any batch shape, and
``PassCosts.step_flops`` the step. ``Work`` sums the batch shapes a trial ran, for pricing.
A *full* backward computes weight and input gradients of every layer; an *input-only* backward
(UEGR's adversarial δ) computes input gradients through every layer and no weight gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import ConfigDict, Field

from aiperf.spec import UegrSpec


@dataclass(frozen=True)
class StepPasses:
    forward: int = 1
    backward_full: int = 1
    backward_input: int = 0


PLAIN_STEP = StepPasses()

# A count read back from a ledger: never negative, and small enough for a float's exponent.
Count = Annotated[int, Field(ge=0, lt=2**63)]


def uegr_passes(uegr: UegrSpec) -> StepPasses:
    """The passes one UEGR step runs: 1 + n_adv + K forward, n_adv input-only and 1 + K full
    backward. The K sub-models run only when a term uses them: α > 0 (their adversarial CE), or
    β > 0 with at least two members in the JS divergence (of one it is identically zero); δ only
    when the sub-models see it."""
    js_members = uegr.k + (1 if uegr.js_include_clean else 0)
    subs = uegr.k if uegr.alpha > 0 or (uegr.beta > 0 and js_members > 1) else 0
    adv = uegr.adv_steps if uegr.epsilon > 0 and subs else 0
    return StepPasses(forward=1 + adv + subs, backward_full=1 + subs, backward_input=adv)


def step_passes(uegr: UegrSpec) -> StepPasses:
    """The passes of a trial's training step: UEGR's, or plain training's when it is off."""
    return uegr_passes(uegr) if uegr.enabled else PLAIN_STEP


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


@dataclass(frozen=True, slots=True)
class Work:
    """What a set of batches amounts to for the counter: Σ B, Σ B·L and Σ B·L² over the batches
    (L = each batch's padded length), and the real (unpadded) tokens among the B·L positions.

    FLOPs are a polynomial in the batch shape, so these sums are all a count needs: anyone can
    re-derive the FLOPs of a report from its genome and its recorded ``Work``."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # read back from ledgers: no stray keys

    samples: Count = 0
    tokens: Count = 0
    tokens_sq: Count = 0
    real_tokens: Count = 0

    def plus(self, batch: int, seq: int, real_tokens: int, times: int = 1) -> Work:
        """This work and ``times`` passes over one (batch, seq) batch."""
        return self + Work(batch, batch * seq, batch * seq * seq, real_tokens) * times

    def __mul__(self, times: int) -> Work:
        return Work(
            times * self.samples,
            times * self.tokens,
            times * self.tokens_sq,
            times * self.real_tokens,
        )  # fmt: skip  (field by field: a ledger's audit sums hundreds of thousands)

    def __add__(self, other: Work) -> Work:
        return Work(
            self.samples + other.samples, self.tokens + other.tokens,
            self.tokens_sq + other.tokens_sq, self.real_tokens + other.real_tokens,
        )  # fmt: skip
