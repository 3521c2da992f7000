"""What a simulated trial costs: the analytic FLOPs of its proposal and the seconds they take.

An epoch's FLOPs are priced exactly as a real trial prices them (the analytic counter on the
batch shapes of an epoch at the trial's batch size, the UEGR passes it would run, evaluation and
the attack on the spec's splits); the batch shapes are those of one seeded epoch per batch size,
taken at the master from the spec's workload. Seconds = FLOPs ÷ the per-device throughput; a
trial's first epoch also pays the start-up cost (process, data, self-check, batch probe).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiperf.errors import UserError
from aiperf.flops import Work, cost_model, step_passes
from aiperf.search.proposal import Proposal
from aiperf.spec import Spec, UegrSpec

# FLOP/s one simulated GPU sustains on these models: an assumption that makes the standard spec's
# median trial about 10 minutes long; --calibrate takes it from a real run instead.
DEFAULT_THROUGHPUT = 5.0e13
DEFAULT_STARTUP_S = 20.0  # a real trial's first report comes this long after its start
MIN_THROUGHPUT, MAX_THROUGHPUT = 1e6, 1e18  # FLOP/s: what a simulated device may be
MAX_STARTUP_S = 3600.0


@dataclass(frozen=True)
class EpochCost:
    """One simulated epoch: the work it stands for and how long it takes."""

    train_work: Work
    steps: int
    train_flops: int
    eval_flops: int
    seconds: float


@dataclass(frozen=True)
class TrialCosts:
    """Everything a simulated trial needs to price its epochs; picklable, torch-free."""

    throughput: float  # FLOP/s per simulated device
    startup_s: float
    num_classes: int
    epoch_work: dict[int, tuple[Work, int]]  # batch size → (an epoch's Work, its steps)
    eval_forward: Work  # evaluation's forward passes at every report (clean + attack)
    eval_input_grad: Work  # the attack's input-gradient passes
    uegr: UegrSpec
    sizes: tuple[int, int, int]  # sentences in val, test and under attack: accuracies count them
    ceiling: float = 1.0  # the best accuracy the workload allows (1 − its label noise)

    def epoch(self, proposal: Proposal) -> EpochCost:
        """The cost of one epoch of ``proposal``."""
        work, steps = self.epoch_work[proposal.hparams.batch_size]
        model = cost_model(proposal.genome, self.num_classes)
        passes = step_passes(self.uegr.with_overrides(proposal.uegr))
        train = model.step_flops(work, passes)
        evaluation = model.eval_flops(self.eval_forward, self.eval_input_grad)
        return EpochCost(work, steps, train, evaluation, (train + evaluation) / self.throughput)


def trial_costs(spec: Spec, throughput: float, startup_s: float) -> TrialCosts:
    """The costs of the spec's trials, from its workload's batch shapes (loads the workload)."""
    import torch

    from aiperf.workload import load_workload
    from aiperf.workload.batches import training_batches

    workload = load_workload(spec.workload, spec.seed)
    train = workload.train.lengths
    epoch_work = {}
    for size in sorted(set(spec.search.space.batch_size)):
        batches = training_batches(train, size, torch.Generator().manual_seed(spec.seed))
        epoch_work[size] = (_work(train, batches), len(batches))
    val, test = workload.val.lengths, workload.test.lengths
    forward, input_grad = _eval_work(spec, val, test)
    sizes = (len(val), len(test), min(spec.robustness.samples, len(test)))
    return TrialCosts(
        throughput, startup_s, workload.num_classes, epoch_work, forward, input_grad, spec.uegr,
        sizes, 1.0 - getattr(spec.workload, "label_noise", 0.0),
    )  # fmt: skip


def _work(lengths: Any, batches: list[Any]) -> Work:
    """The Work of running ``batches`` (index tensors into ``lengths``), padded per batch."""
    work = Work()
    for index in batches:
        batch_lengths = lengths[index]
        work = work.plus(len(index), max(int(batch_lengths.max()), 1), int(batch_lengths.sum()))
    return work


def _eval_work(spec: Spec, val: Any, test: Any) -> tuple[Work, Work]:
    """Forward and input-gradient Work of one evaluation: clean val and test, then the attack
    (PGD: steps + 1 forward and ``steps`` input-gradient passes on its samples; a word
    substitution attack is priced as one forward pass over them)."""
    from aiperf.workload.batches import eval_batches

    size, robustness = spec.train.eval_batch_size, spec.robustness
    forward = _work(val, eval_batches(val, size)) + _work(test, eval_batches(test, size))
    attacked = test[: robustness.samples]
    if robustness.samples == 0 or len(attacked) == 0:
        return forward, Work()
    once = _work(attacked, eval_batches(attacked, size))
    if robustness.attack != "pgd":
        return forward + once, Work()
    return forward + once * (robustness.steps + 1), once * robustness.steps


def calibrate(run_dir: Path) -> tuple[float, float]:
    """(throughput, start-up seconds) measured by a real run: the median FLOP/s of its reports
    and the median time from a trial's start to its first report's start."""
    from aiperf.rundir import LEDGER
    from aiperf.score.ledger import read_ledger

    ledger = read_ledger(run_dir / LEDGER)
    if ledger.run_start is not None and ledger.run_start.simulated:
        raise UserError(f"--calibrate {run_dir}: a simulated run cannot calibrate a simulation")
    reports = [r for r in ledger.reports if r.end_time > r.start_time]
    if not reports:
        raise UserError(f"--calibrate {run_dir}: the ledger has no report to measure")
    throughput = statistics.median(r.flops / (r.end_time - r.start_time) for r in reports)
    if not MIN_THROUGHPUT <= throughput <= MAX_THROUGHPUT:
        raise UserError(f"--calibrate {run_dir}: its median {throughput:.3g} FLOP/s is no device's")
    first: dict[str, float] = {}
    for report in reports:
        first[report.trial_id] = min(first.get(report.trial_id, math.inf), report.start_time)
    waits = [first[t] - ledger.trials[t].time for t in first if t in ledger.trials]
    startup = min(max(statistics.median(waits), 0.0), MAX_STARTUP_S) if waits else 0.0
    return throughput, startup
