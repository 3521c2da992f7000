"""What ``aiperf flops`` shows: a genome's FLOPs per block, per pass, per training step and per
evaluated sample, for a batch shape and the passes a training step runs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiperf.flops.counter import breakdown, cost_model
from aiperf.flops.passes import StepPasses
from aiperf.models.genome import Genome


def flops_report(
    genome: Genome,
    batch: int,
    seq: int,
    num_classes: int,
    passes: StepPasses,
    attack_steps: int = 0,
) -> dict[str, Any]:
    """Per-block forward/backward, per-pass costs and the totals, as plain JSON-ready data."""
    model = cost_model(genome, num_classes)
    costs, per_sample = model.costs(batch, seq), model.costs(1, seq)
    train_step = costs.step_flops(passes)
    return {
        "batch": batch,
        "seq": seq,
        "num_classes": num_classes,
        "blocks": [asdict(row) for row in breakdown(genome, batch, seq, num_classes)],
        "pass_costs": asdict(costs),
        "step_passes": asdict(passes),
        "totals": {
            "train_step_flops": train_step,
            "train_flops_per_sample": train_step / batch,
            "eval_flops_per_sample": per_sample.forward_flops,
            "pgd_attack_flops_per_sample": attack_steps
            * (per_sample.forward_flops + per_sample.input_grad_flops)
            + per_sample.forward_flops,
        },
    }
