"""One trial, wired: workload → model from genome → FLOPs counts → training loop → reports.

Ray-free, so ``aiperf train`` and tests run it directly; the Tune trainable passes Ray's report.
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from aiperf.flops import eval_flops, train_step_flops
from aiperf.models import Genome, build_model, genome_from_dict
from aiperf.spec import TrainSpec, WorkloadSpec
from aiperf.train.hparams import Hparams
from aiperf.train.loop import FlopsCounts, Interval, train_trial
from aiperf.workload import Workload, load_workload


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a run shares: the data, the training settings, the threads to use."""

    workload: WorkloadSpec
    train: TrainSpec
    data_seed: int
    threads: int = 1


def flops_counts(genome: Genome, workload: Workload) -> FlopsCounts:
    """Analytic counts for this genome on this workload's padded sequence length."""
    seq, classes = workload.max_len, workload.num_classes

    @functools.lru_cache(maxsize=8)
    def per_step(batch: int) -> int:
        return train_step_flops(genome, batch, seq, classes)

    return FlopsCounts(
        train_step_flops=per_step,
        eval_flops=lambda samples: eval_flops(genome, samples, seq, classes),
    )


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def run_trial(
    config: dict[str, Any],
    context: TrialContext,
    report: Callable[[dict[str, Any]], None],
    node: str | None = None,
) -> list[Interval]:
    """Train the proposal in ``config`` and pass every report interval to ``report`` as a dict."""
    torch.set_num_threads(context.threads)
    genome = genome_from_dict(config["genome"])
    hparams = Hparams.from_dict(config["hparams"])
    workload = load_workload(context.workload, context.data_seed)
    torch.manual_seed(config["trial_seed"])
    model = build_model(genome, len(workload.vocab), workload.num_classes, workload.max_len)
    device = default_device()
    where = {"node": node or socket.gethostname(), "device": device}

    def on_report(interval: Interval) -> None:
        report({**asdict(interval), **where})

    return train_trial(
        model,
        workload,
        hparams,
        context.train,
        flops_counts(genome, workload),
        on_report,
        seed=config["trial_seed"],
        device=device,
    )
