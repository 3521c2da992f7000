"""Adversarial perturbations of the word embeddings: FGM (one step) or PGD (projected steps).

δ is normalised per example over tokens × dims (L2), zero on padding, and detached: the caller
adds it to embeddings that keep their graph, so the embeddings still train.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

_NORM_FLOOR = 1e-12
_RANDOM_START = 1e-3  # relative size of the optional random start, in units of ε


def per_example_norm(x: torch.Tensor) -> torch.Tensor:
    """L2 norm over every axis but the first: (B, S, D) → (B, 1, 1)."""
    return x.flatten(1).norm(dim=1).clamp_min(_NORM_FLOOR).view(-1, 1, 1)


def project(delta: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Scale each example's δ back onto the ε-ball where it lies outside."""
    return delta * (epsilon / per_example_norm(delta)).clamp(max=1.0)


def perturbation(
    loss_of: Callable[[torch.Tensor], torch.Tensor],
    embeddings: torch.Tensor,
    mask: torch.Tensor,
    epsilon: float,
    steps: int = 1,
    random_start: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """δ that raises ``loss_of(embeddings + δ)``: ``steps`` normalised gradient steps of size ε,
    each projected onto the ε-ball. One step from zero is FGM and has ‖δ‖ = ε exactly."""
    token_mask = mask.unsqueeze(-1).to(embeddings.dtype)  # (B, S, 1)
    base = embeddings.detach()  # (B, S, D)
    delta = torch.zeros_like(base)
    if random_start:
        noise = torch.randn(base.shape, generator=generator, device="cpu").to(base.device)
        delta = project(noise * token_mask, epsilon * _RANDOM_START)
    for _ in range(steps):
        delta.requires_grad_(True)
        (grad,) = torch.autograd.grad(loss_of(base + delta), delta)
        grad = grad * token_mask  # padding is never perturbed
        delta = project(delta.detach() + epsilon * grad / per_example_norm(grad), epsilon)
    return delta.detach()
