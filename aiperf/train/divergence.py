"""The K-way Jensen–Shannon divergence of the sub-models' output distributions (UEGR's L_JS)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

_LOG_FLOOR = 1e-12  # M is clamped before the log so a zero-probability class never gives -inf


def js_divergence(logits: list[torch.Tensor]) -> torch.Tensor:
    """mean_k KL(P_k ‖ M), M = mean_k P_k, averaged over the batch; in float32, in [0, log K].

    ``logits``: K tensors of shape (B, C). K = 1 gives 0.
    """
    log_p = torch.stack([F.log_softmax(z.float(), dim=-1) for z in logits])  # (K, B, C)
    p = log_p.exp()
    log_m = p.mean(dim=0).clamp_min(_LOG_FLOOR).log()  # (B, C)
    kl = (p * (log_p - log_m)).sum(dim=-1)  # (K, B)
    return kl.mean()
