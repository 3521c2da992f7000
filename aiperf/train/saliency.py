"""UEGR's backward stage: parameter saliency, a top-ρ mask, and updates confined to the mask.

Parameters outside the mask must not move at all: their gradient is zeroed, and because AdamW's
momentum and weight decay still move a parameter whose gradient is zero, their values (and the
optimizer's per-element state) are restored after ``optimizer.step()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from aiperf.spec import UegrSpec

Saliency = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_SAMPLE = 1 << 16  # values sampled to bracket the threshold of a large mask
_MARGIN = 0.02  # the bracket's half-width, as a share of values (sampling error ≈ 0.004)

SALIENCY: dict[str, Saliency] = {
    "theta_grad": lambda theta, grad: (theta * grad).abs(),  # first-order loss change
    "grad_squared": lambda theta, grad: grad * grad,  # diagonal Fisher
    "grad": lambda theta, grad: grad.abs(),
}


def top_fraction_masks(
    scores: list[torch.Tensor], rho: float, scope: str = "global"
) -> list[torch.Tensor]:
    """Boolean masks keeping exactly ⌈ρN⌉ highest scores (global) or ⌈ρ·n_t⌉ per tensor."""
    if scope == "per_tensor":
        return [_top_mask(s.flatten(), rho).view_as(s) for s in scores]
    if scope != "global":
        raise ValueError(f"uegr.mask_scope: unknown {scope!r} (valid: global, per_tensor)")
    flat = _top_mask(torch.cat([s.flatten() for s in scores]), rho)
    return [
        part.view_as(s)
        for part, s in zip(flat.split([s.numel() for s in scores]), scores, strict=True)
    ]


def _top_mask(flat: torch.Tensor, rho: float) -> torch.Tensor:
    """Exactly the ⌈ρN⌉ highest of ``flat``; ties at the threshold are taken in index order.
    On a GPU no step of it waits for the device (``kth_by_sort``, ``ties_in_order``)."""
    count = math.ceil(rho * flat.numel())
    if count == flat.numel():
        return torch.ones_like(flat, dtype=torch.bool)
    if flat.device.type != "cpu":
        threshold = kth_by_sort(flat, count)
        return ties_in_order(flat > threshold, flat == threshold, count)
    threshold = kth_largest(flat, count)
    keep = flat > threshold
    missing = count - int(torch.count_nonzero(keep))
    if missing:
        keep[(flat == threshold).nonzero().flatten()[:missing]] = True
    return keep


def kth_by_sort(flat: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k``-th largest value of ``flat`` as a 0-d tensor where ``flat`` lives: one sort, no
    value read back (a GPU sorts tens of millions of values in about a millisecond)."""
    return flat.sort().values[flat.numel() - k]


def ties_in_order(keep: torch.Tensor, ties: torch.Tensor, count: int) -> torch.Tensor:
    """``keep`` plus the first ``ties`` in index order until it holds ``count`` values, computed
    where the tensors live: a running count replaces reading the shortfall back."""
    missing = count - keep.sum()
    return keep | (ties & (ties.cumsum(0) <= missing))


def kth_largest(flat: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k``-th largest value of ``flat``, exactly, in a few linear passes (on CPU).

    A strided sample brackets the value; only the band between the bracket's ends is searched
    (``kthvalue`` over all of a large tensor, or ``topk``, costs 5-10x more). When the bracket
    misses, the whole tensor is searched."""
    n = flat.numel()
    if n <= _SAMPLE:
        return flat.kthvalue(n - k + 1).values
    sample = flat[:: n // _SAMPLE]  # (≥ _SAMPLE,)
    below = (n - k) / n  # the share of values under the threshold
    lo, hi = (
        sample.kthvalue(min(max(round(q * sample.numel()), 1), sample.numel())).values
        for q in (below - _MARGIN, below + _MARGIN)
    )
    rank = k - int(torch.count_nonzero(flat > hi))  # the threshold's rank among values in [lo, hi]
    band = flat[(flat >= lo) & (flat <= hi)]
    if 1 <= rank <= band.numel():
        return band.kthvalue(band.numel() - rank + 1).values
    return flat.kthvalue(n - k + 1).values


class SelectiveUpdate:
    """Confines each optimizer step to the most salient ``rho`` of the maskable parameters."""

    def __init__(self, params: list[torch.nn.Parameter], uegr: UegrSpec) -> None:
        if uegr.saliency not in SALIENCY:
            raise ValueError(f"uegr.saliency: unknown {uegr.saliency!r} (valid: {list(SALIENCY)})")
        self.params = params
        self.uegr = uegr
        self.masks: list[torch.Tensor] | None = None
        self._ema: list[torch.Tensor] | None = None
        self._steps = 0
        self._saved: list[tuple[torch.Tensor, dict[str, torch.Tensor]]] = []

    def before_step(self, optimizer: torch.optim.Optimizer) -> None:
        """After backward: update the mask if due, zero gradients outside it, save what stays."""
        if self.masks is None or self._steps % self.uegr.mask_every == 0:
            self.masks = top_fraction_masks(self._scores(), self.uegr.rho, self.uegr.mask_scope)
        self._steps += 1
        scale = 1.0 / self.uegr.rho if self.uegr.rescale else 1.0
        for param, keep in zip(self.params, self.masks, strict=True):
            if param.grad is not None:
                param.grad.mul_(keep.to(param.grad.dtype) * scale)
        self._saved = [(p.detach().clone(), _elementwise_state(optimizer, p)) for p in self.params]

    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        """After ``optimizer.step()``: put every masked value and optimizer state entry back."""
        assert self.masks is not None, "before_step must run first"
        for param, keep, (value, state) in zip(self.params, self.masks, self._saved, strict=True):
            param.data.copy_(torch.where(keep, param.data, value))
            for name, current in _elementwise_state(optimizer, param, clone=False).items():
                old = state.get(name, torch.zeros_like(current))
                current.copy_(torch.where(keep, current, old))
        self._saved = []

    def state_dict(self) -> dict[str, Any]:
        """Mask, score EMA and step count: what a resumed trial needs to continue identically."""
        return {"masks": self.masks, "ema": self._ema, "steps": self._steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.masks, self._ema, self._steps = state["masks"], state["ema"], state["steps"]

    def _scores(self) -> list[torch.Tensor]:
        saliency = SALIENCY[self.uegr.saliency]
        scores = [
            saliency(p.detach(), p.grad) if p.grad is not None else torch.zeros_like(p)
            for p in self.params
        ]
        decay = self.uegr.saliency_ema
        if decay > 0:
            if self._ema is not None:
                scores = [
                    decay * e + (1 - decay) * s for e, s in zip(self._ema, scores, strict=True)
                ]
            self._ema = scores
        return scores


def _elementwise_state(
    optimizer: torch.optim.Optimizer, param: torch.nn.Parameter, clone: bool = True
) -> dict[str, torch.Tensor]:
    """The optimizer's per-element state of ``param`` (AdamW: exp_avg, exp_avg_sq)."""
    state = optimizer.state.get(param, {})
    return {
        name: (value.clone() if clone else value)
        for name, value in state.items()
        if torch.is_tensor(value) and value.shape == param.shape
    }
