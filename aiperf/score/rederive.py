"""A report's FLOPs re-derived from what the ledger records, without running anything: the
trial's genome, the spec's UEGR settings with the trial's searched knobs, and the batch shapes
(``Work``) the report lists. The ledger audit holds every report to it."""

from __future__ import annotations

from aiperf.flops import CostModel, StepPasses, Work, cost_model, step_passes
from aiperf.models import genome_from_dict
from aiperf.score.ledger import LedgerError, Report, TrialStart
from aiperf.spec import Spec

Pricing = tuple[CostModel, StepPasses]


def trial_pricing(trial: TrialStart, spec: Spec, num_classes: int) -> Pricing:
    """The cost model of the trial's genome and the passes of its training step; a ValueError
    (GenomeError, a validation error) when the trial's genome or UEGR knobs are not valid."""
    costs = cost_model(genome_from_dict(trial.genome), num_classes)
    return costs, step_passes(spec.uegr.with_overrides(trial.uegr))


def report_flops(report: Report, pricing: Pricing) -> tuple[int, int]:
    """(train, eval) FLOPs of ``report`` at ``pricing``; LedgerError when it lacks its shapes."""
    if report.train_work is None or report.eval_forward_work is None:
        raise LedgerError(f"report {report.trial_id}/{report.epoch}: no batch shapes recorded")
    costs, passes = pricing
    input_grad = report.eval_input_grad_work or Work()
    train = costs.step_flops(report.train_work, passes)
    return train, costs.eval_flops(report.eval_forward_work, input_grad)


def rederived_flops(
    report: Report, trial: TrialStart, spec: Spec, num_classes: int
) -> tuple[int, int]:
    """(train, eval) FLOPs of ``report``; LedgerError when it predates the recorded shapes."""
    return report_flops(report, trial_pricing(trial, spec, num_classes))
