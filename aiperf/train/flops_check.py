"""The runtime FLOPs self-check: one real step of the trial's model under torch's
``FlopCounterMode``, compared with the analytic count before the trial's timed work starts
(the scorer marks the run INVALID when the difference exceeds 1%).

It runs on a copy of the model with a throwaway optimizer and forked RNG, so the trial trains
exactly as it would without the check. Our models use no op whose FlopCounterMode count is known
to be wrong (fused SDPA, LSTM, grouped convolutions), so no correction is applied here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from aiperf.train.step import Batch, PlainStep


@dataclass(frozen=True)
class FlopsCheck:
    analytic_flops: int
    measured_flops: int

    @property
    def rel_error(self) -> float:
        return abs(self.measured_flops - self.analytic_flops) / max(self.measured_flops, 1)


def check_step_flops(
    model: torch.nn.Module,
    build_step: Callable[[torch.nn.Module], PlainStep],
    batch: Batch,
    analytic_flops: int,
) -> FlopsCheck:
    """Count one real step of a copy of ``model`` and compare it with ``analytic_flops``."""
    twin = copy.deepcopy(model)
    twin.checkpoint_blocks = False  # recomputation is never counted, so the check runs without
    step = build_step(twin)
    optimizer = torch.optim.AdamW(twin.parameters())
    devices = [torch.device(batch[0].device)] if batch[0].is_cuda else []
    with torch.random.fork_rng(devices=devices), FlopCounterMode(display=False) as counter:
        step(optimizer, batch)
    return FlopsCheck(analytic_flops, int(counter.get_total_flops()))
