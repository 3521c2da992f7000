"""One trial, wired: workload → model from genome → training step → loop → reports.

Ray-free, so ``aiperf train`` and tests run it directly; the Tune trainable passes Ray's report.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from aiperf.flops import StepPasses, cost_model
from aiperf.hw.tf32 import set_tf32
from aiperf.models import build_model
from aiperf.search.proposal import Proposal
from aiperf.spec import RobustnessSpec, Spec, TrainSpec, UegrSpec, WorkloadSpec
from aiperf.train.allocator import keep_freed_memory
from aiperf.train.evaluate import Evaluator
from aiperf.train.fit import fit_batch
from aiperf.train.flops_check import SelfCheck, self_check
from aiperf.train.loop import Interval, train_trial
from aiperf.train.step import Batch, PlainStep
from aiperf.train.uegr import make_step
from aiperf.workload import EncodedSplit, load_workload
from aiperf.workload.batches import gather

log = logging.getLogger(__name__)
CHECK_ERROR = "flops_check_error"  # the self-check's error: a report field and a state key
# Rows of the self-check's training step: the count is a polynomial in the batch shape, so a
# few rows check it as well as a whole batch, and the math-backend attention the check runs
# (B·H·S² per layer) stays small before the batch probe has sized anything.
CHECK_ROWS = 16


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a run shares: data, training settings, UEGR, the attack, threads."""

    workload: WorkloadSpec
    train: TrainSpec
    uegr: UegrSpec
    robustness: RobustnessSpec
    data_seed: int
    threads: int = 1
    gpu_share: float = 1.0  # the fraction of a GPU a trial is given (its memory budget)

    @classmethod
    def from_spec(cls, spec: Spec) -> TrialContext:
        return cls(
            workload=spec.workload,
            train=spec.train,
            uegr=spec.uegr,
            robustness=spec.robustness,
            data_seed=spec.seed,
            threads=spec.resources.cpus_per_trial,
            gpu_share=min(spec.resources.gpus_per_trial or 1.0, 1.0),
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
    interval to ``report`` as (metrics, training state to resume from). A fresh trial runs the
    FLOPs self-check first (unless the spec turns it off); a resumed one carries the error its
    checkpoint recorded, so every report of a checked trial has a ``flops_check_error``."""
    torch.set_num_threads(context.threads)
    keep_freed_memory()
    set_tf32(False)  # fp32 is fp32: its utilisation is measured against the fp32 peak
    genome, hparams = proposal.genome, proposal.hparams
    device = default_device()
    workload = load_workload(context.workload, context.data_seed).to(device)
    torch.manual_seed(proposal.trial_seed)
    model = build_model(genome, len(workload.vocab), workload.num_classes, workload.max_len)
    model.to(device)
    model.checkpoint_blocks = context.train.activation_checkpointing
    uegr = context.uegr.with_overrides(proposal.uegr)

    def build_step(net: torch.nn.Module) -> PlainStep:
        return make_step(net, context.train, device, uegr, proposal.trial_seed)

    costs = cost_model(genome, workload.num_classes)
    step = build_step(model)
    evaluate = Evaluator(
        workload, context.robustness, costs, context.train.eval_batch_size, device,
        context.train.precision,
    )  # fmt: skip
    check_error = carried_check_error(resume)
    if context.train.flops_self_check and resume is None:
        check = check_trial(model, build_step, step.passes, evaluate, hparams.batch_size)
        check_error = check.rel_error
    fit = fit_batch(step, workload.train, hparams.batch_size, context.gpu_share)
    log.info("trial %s: batch probe: %s", proposal.trial_index, fit.note)
    step.micro_batch = fit.micro_batch
    extra = {"node": socket.gethostname(), "gpu_ids": [], "visible_devices": None, **(where or {})}
    extra |= {"device": device, CHECK_ERROR: check_error, "num_classes": workload.num_classes}

    def on_report(interval: Interval, state: dict[str, Any]) -> None:
        metrics = {**asdict(interval), **extra, "micro_batch": step.micro_batch}
        report(metrics, {**state, CHECK_ERROR: check_error})

    return train_trial(
        step,
        workload.train,
        hparams,
        evaluate,
        lambda work: costs.step_flops(work, step.passes),
        on_report,
        seed=proposal.trial_seed,
        resume=resume,
    )


def check_trial(
    model: torch.nn.Module,
    build_step: Callable[[torch.nn.Module], PlainStep],
    passes: StepPasses,
    evaluate: Evaluator,
    batch_size: int,
) -> SelfCheck:
    """The FLOPs self-check at a trial's first start: a step of ``passes`` on the first
    ``CHECK_ROWS`` (at most a batch) training samples, then evaluation and the attack as
    ``evaluate`` runs and prices them."""
    batch = first_batch(evaluate.workload.train, min(batch_size, CHECK_ROWS), evaluate.device)
    analytic = evaluate.costs.costs(*batch[0].shape).step_flops(passes)
    return self_check(model, build_step, batch, analytic, evaluate)


def carried_check_error(resume: dict[str, Any] | None) -> float | None:
    """The self-check error a resumed trial carries: that of the attempt whose checkpoint it
    continues from (checked at its first start); None for a fresh trial or a state without one."""
    return None if resume is None else resume.get(CHECK_ERROR)


def first_batch(train: EncodedSplit, batch_size: int, device: str) -> Batch:
    """The first ``batch_size`` training samples as one batch of mixed lengths, cut to its
    longest, for the FLOPs self-check."""
    return gather(train, torch.arange(min(batch_size, len(train))), device)
