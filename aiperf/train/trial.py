"""One trial, wired: workload → model from genome → training step → loop → reports.

Ray-free, so ``aiperf train`` and tests run it directly; the Tune trainable passes Ray's report.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from aiperf.flops import cost_model
from aiperf.models import build_model
from aiperf.search.proposal import Proposal
from aiperf.spec import RobustnessSpec, Spec, TrainSpec, UegrSpec, WorkloadSpec
from aiperf.train.allocator import keep_freed_memory
from aiperf.train.evaluate import Evaluator
from aiperf.train.flops_check import check_step_flops
from aiperf.train.loop import Interval, train_trial
from aiperf.train.step import Batch, PlainStep
from aiperf.train.uegr import make_step
from aiperf.workload import EncodedSplit, load_workload
from aiperf.workload.batches import gather


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a run shares: data, training settings, UEGR, the attack, threads."""

    workload: WorkloadSpec
    train: TrainSpec
    uegr: UegrSpec
    robustness: RobustnessSpec
    data_seed: int
    threads: int = 1

    @classmethod
    def from_spec(cls, spec: Spec) -> TrialContext:
        return cls(
            workload=spec.workload,
            train=spec.train,
            uegr=spec.uegr,
            robustness=spec.robustness,
            data_seed=spec.seed,
            threads=spec.resources.cpus_per_trial,
        )


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def run_trial(
    proposal: Proposal,
    context: TrialContext,
    report: Callable[[dict[str, Any], dict[str, Any]], None],
    where: dict[str, Any] | None = None,
    resume: dict[str, Any] | None = None,
) -> list[Interval]:
    """Train ``proposal`` (continuing from ``resume``, a state it reported), passing every report
    interval to ``report`` as (metrics, training state to resume from)."""
    torch.set_num_threads(context.threads)
    keep_freed_memory()
    genome, hparams = proposal.genome, proposal.hparams
    workload = load_workload(context.workload, context.data_seed)
    torch.manual_seed(proposal.trial_seed)
    model = build_model(genome, len(workload.vocab), workload.num_classes, workload.max_len)
    device = default_device()
    model.to(device)
    model.checkpoint_blocks = context.train.activation_checkpointing
    uegr = context.uegr.with_overrides(proposal.uegr)

    def build_step(net: torch.nn.Module) -> PlainStep:
        return make_step(net, context.train, device, uegr, proposal.trial_seed)

    costs = cost_model(genome, workload.num_classes)
    step = build_step(model)
    check_error = None  # a resumed trial was checked before its first report
    if context.train.flops_self_check and resume is None:
        batch = first_batch(workload.train, hparams.batch_size, device)
        analytic = costs.costs(*batch[0].shape).step_flops(step.passes)
        check_error = check_step_flops(model, build_step, batch, analytic).rel_error
    extra = {"node": socket.gethostname(), "gpu_ids": [], "visible_devices": None, **(where or {})}
    extra |= {"device": device, "flops_check_error": check_error}
    evaluate = Evaluator(workload, context.robustness, costs, context.train.eval_batch_size, device)
    return train_trial(
        step,
        workload.train,
        hparams,
        evaluate,
        lambda work: costs.step_flops(work, step.passes),
        lambda interval, state: report({**asdict(interval), **extra}, state),
        seed=proposal.trial_seed,
        resume=resume,
    )


def first_batch(train: EncodedSplit, batch_size: int, device: str) -> Batch:
    """The first ``batch_size`` training samples as one batch of mixed lengths, cut to its
    longest, for the FLOPs self-check."""
    return gather(train, torch.arange(min(batch_size, len(train))), device)
