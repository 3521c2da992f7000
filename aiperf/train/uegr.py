"""UEGR: one training step with the bi-stage regularizer.

Forward stage: clean pass; adversarial δ on the word embeddings (FGM / PGD); K sub-model passes
on ``e + δ`` with dropout rates from ``[dropout_min, dropout_max]``;
``L = CE(clean) + α · mean_k CE(z_k) + β · JS(P_1..P_K)``. Backward stage: one backward of L,
then the update is confined to the most salient ρ of the encoder blocks' parameters.
Passes whose weight is zero, or whose terms are zero by construction (a JS divergence of one
member), are not run and not counted (``aiperf.flops.passes.uegr_passes``), so α = β = 0, ε = 0,
ρ = 1 is plain training, bit for bit.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from aiperf.flops.passes import uegr_passes
from aiperf.spec import TrainSpec, UegrSpec
from aiperf.train.adversarial import perturbation
from aiperf.train.divergence import js_divergence
from aiperf.train.saliency import SelectiveUpdate
from aiperf.train.step import Batch, PlainStep


def maskable_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The encoder blocks' parameters; embeddings and the classifier head always update."""
    return list(model.blocks.parameters())


class UegrStep(PlainStep):
    """A UEGR training step for a model with ``embed_words`` / ``encode`` / ``dropout_rate``."""

    def __init__(
        self, model: torch.nn.Module, settings: TrainSpec, device: str, uegr: UegrSpec, seed: int
    ) -> None:
        super().__init__(model, settings, device)
        self.uegr = uegr
        self.passes = uegr_passes(uegr)
        self.selective = SelectiveUpdate(maskable_parameters(model), uegr) if uegr.rho < 1 else None
        self.rng = torch.Generator().manual_seed(seed)  # dropout-rate draws, δ's random start
        self.rates: list[float] = []  # the sub-models' dropout rates of the current step

    def loss(self, batch: Batch) -> torch.Tensor:
        tokens, mask, labels = batch
        with self.autocast():
            e = self.model.embed_words(tokens)  # (B, S, D)
            clean = self.model.encode(e, mask)  # (B, C)
        loss = F.cross_entropy(clean.float(), labels)
        if self.passes.backward_full == 1:
            return loss
        e_adv = e + self.delta(e, mask, labels)  # δ detached: e keeps its graph
        subs = []
        for rate in self.rates:
            with self.model.dropout_rate(rate), self.autocast():
                subs.append(self.model.encode(e_adv, mask))  # (B, C)
        adv_ce = torch.stack([F.cross_entropy(z.float(), labels) for z in subs]).mean()
        members = [*subs, clean] if self.uegr.js_include_clean else subs
        return loss + self.uegr.alpha * adv_ce + self.uegr.beta * js_divergence(members)

    def delta(self, e: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The adversarial perturbation of the word embeddings (zero when ε = 0)."""
        if self.passes.backward_input == 0:
            return torch.zeros_like(e)

        def loss_of(x: torch.Tensor) -> torch.Tensor:
            with self.autocast():
                return F.cross_entropy(self.model.encode(x, mask).float(), labels)

        random_start = self.uegr.adv_init == "random"
        return perturbation(
            loss_of, e, mask, self.uegr.epsilon, self.uegr.adv_steps, random_start, self.rng
        )

    def begin(self) -> None:
        """Draw the step's dropout rates once: every micro-batch of the step uses them."""
        self.rates = self.dropout_rates()

    def dropout_rates(self) -> list[float]:
        """K rates: evenly spaced over the range, or redrawn uniformly every step."""
        low, high, k = self.uegr.dropout_min, self.uegr.dropout_max, self.uegr.k
        if self.uegr.dropout_schedule == "random":
            return (low + (high - low) * torch.rand(k, generator=self.rng)).tolist()
        if k == 1:
            return [(low + high) / 2]
        return [low + (high - low) * i / (k - 1) for i in range(k)]

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {**super().state_dict(), "rng": self.rng.get_state()}
        if self.selective is not None:
            state["selective"] = self.selective.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.rng.set_state(state["rng"])
        if self.selective is not None:
            self.selective.load_state_dict(state["selective"])

    def update(self, optimizer: torch.optim.Optimizer) -> None:
        if self.selective is None:
            super().update(optimizer)
            return
        self.selective.before_step(optimizer)
        super().update(optimizer)
        self.selective.after_step(optimizer)


def make_step(
    model: torch.nn.Module, settings: TrainSpec, device: str, uegr: UegrSpec, seed: int
) -> PlainStep:
    """The training step a trial uses: UEGR unless ``uegr.enabled`` is false."""
    if not uegr.enabled:
        return PlainStep(model, settings, device)
    return UegrStep(model, settings, device, uegr, seed)
