"""What counting costs: the analytic counter and the runtime self-check, each as a fraction of
one training step of the same model and batch. Usage: python benchmarks/counter_overhead.py"""

from __future__ import annotations

import torch
from rich.console import Console
from rich.table import Table
from timing import median_seconds

from aiperf.flops import Work, cost_model
from aiperf.models import build_model, genome_from_dict
from aiperf.spec import TrainSpec, UegrSpec
from aiperf.train import UegrStep
from aiperf.train.flops_check import check_step_flops

GENOMES = {
    "small (2 blocks, d=48)": {
        "embed_dim": 48,
        "blocks": [
            {"type": "conv", "kernel": 5, "width": 64},
            {"type": "transformer", "heads": 4, "ffn_dim": 96},
        ],
    },
    "larger (6 blocks, d=128)": {
        "embed_dim": 128,
        "blocks": [{"type": "transformer", "heads": 8, "ffn_dim": 512}] * 3
        + [{"type": "conv", "kernel": 7, "width": 256}] * 3,
    },
}
BATCH, SEQ, VOCAB = 64, 32, 200


def measure(genome_dict: dict) -> tuple[float, float, float]:
    """Seconds of: one UEGR training step, one analytic count, one self-check."""
    genome = genome_from_dict(genome_dict)
    torch.manual_seed(0)
    model = build_model(genome, VOCAB, 2, SEQ)
    step = UegrStep(model, TrainSpec(), "cpu", UegrSpec(), seed=0)
    optimizer = torch.optim.AdamW(model.parameters())
    batch = (
        torch.randint(1, VOCAB, (BATCH, SEQ)),
        torch.ones(BATCH, SEQ, dtype=torch.bool),
        torch.randint(0, 2, (BATCH,)),
    )
    step(optimizer, batch)  # warm-up
    step_s = median_seconds(lambda: step(optimizer, batch), 10)
    costs = cost_model(genome, 2)  # once per trial
    work = Work().plus(BATCH, SEQ, BATCH * SEQ)  # what the loop adds up per step
    count_s = median_seconds(lambda: costs.step_flops(work, step.passes), 200)
    analytic = costs.costs(BATCH, SEQ).step_flops(step.passes)

    def build(net):
        return UegrStep(net, TrainSpec(), "cpu", UegrSpec(), seed=0)

    check_s = median_seconds(lambda: check_step_flops(model, build, batch, analytic), 5)
    return step_s, count_s, check_s


def main() -> None:
    torch.set_num_threads(1)
    table = Table(title=f"cost of counting vs one UEGR step (batch {BATCH}, seq {SEQ}, 1 thread)")
    for column in ("model", "step ms", "counter µs", "counter / step", "self-check / step"):
        table.add_column(column, justify="right")
    for name, genome in GENOMES.items():
        step_s, count_s, check_s = measure(genome)
        table.add_row(
            name,
            f"{1e3 * step_s:.1f}",
            f"{1e6 * count_s:.1f}",
            f"{count_s / step_s:.5f}",
            f"{check_s / step_s:.2f}",
        )
    Console().print(table)
    print("The loop adds each step's batch shape to a Work that the counter prices (column 3);")
    print("the self-check runs once per trial.")


if __name__ == "__main__":
    main()
