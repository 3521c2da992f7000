"""UEGR's cost beyond its extra passes: measured step time over (plain step time × FLOPs ratio).

1.00 means UEGR costs exactly its extra forward/backward passes; the excess is saliency,
masking, the optimizer-state restore and the small ops between passes. Target on CPU: ≤ 1.10.
Usage: python benchmarks/uegr_overhead.py [--steps 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch
from rich.console import Console
from rich.table import Table

from aiperf.flops import PLAIN_STEP, cost_model
from aiperf.models import build_model, genome_from_dict
from aiperf.spec import TrainSpec, UegrSpec
from aiperf.train import PlainStep, UegrStep

GENOME = genome_from_dict(
    {
        "embed_dim": 64,
        "blocks": [
            {"type": "conv", "kernel": 5, "width": 128},
            {"type": "transformer", "heads": 4, "ffn_dim": 256},
        ],
        "pooling": "mean",
        "dropout": 0.1,
    }
)
VOCAB, CLASSES, BATCH, SEQ = 200, 2, 64, 32


def seconds_per_step(make_step, steps: int) -> float:
    """Median wall time of one optimizer step (after warm-up) on a fixed random batch."""
    torch.manual_seed(0)
    model = build_model(GENOME, VOCAB, CLASSES, SEQ)
    step = make_step(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    batch = (
        torch.randint(2, VOCAB, (BATCH, SEQ)),
        torch.ones(BATCH, SEQ, dtype=torch.bool),
        torch.randint(0, CLASSES, (BATCH,)),
    )
    times = []
    for i in range(steps + 5):
        start = time.perf_counter()
        step(optimizer, batch)
        if i >= 5:
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], step.passes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = TrainSpec()
    plain_s, _ = seconds_per_step(lambda m: PlainStep(m, settings, "cpu"), args.steps)
    plain_flops = cost_model(GENOME, CLASSES).costs(BATCH, SEQ).step_flops(PLAIN_STEP)
    table = Table(title=f"UEGR step overhead — batch {BATCH}, seq {SEQ}, {args.threads} thread(s)")
    for column in ("variant", "ms / step", "FLOPs ratio", "time ratio", "overhead"):
        table.add_column(column, justify="right")
    table.add_row("plain", f"{1e3 * plain_s:.1f}", "1.00", "1.00", "1.000")
    variants = (("UEGR, no masking (ρ=1)", UegrSpec(rho=1.0)), ("UEGR (defaults)", UegrSpec()))
    for name, uegr in variants:
        uegr_s, passes = seconds_per_step(
            lambda m, u=uegr: UegrStep(m, settings, "cpu", u, seed=0), args.steps
        )
        flops_ratio = cost_model(GENOME, CLASSES).costs(BATCH, SEQ).step_flops(passes) / plain_flops
        time_ratio = uegr_s / plain_s
        table.add_row(
            name,
            f"{1e3 * uegr_s:.1f}",
            f"{flops_ratio:.2f}",
            f"{time_ratio:.2f}",
            f"{time_ratio / flops_ratio:.3f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
