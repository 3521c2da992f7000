"""A report's FLOPs re-derived from what the ledger records, without running anything: the
trial's genome, the spec's UEGR settings with the trial's searched knobs, and the batch shapes
(``Work``) the report lists. ``aiperf check`` and the tests hold every report to it."""

from __future__ import annotations

from aiperf.flops import Work, cost_model, step_passes
from aiperf.models import genome_from_dict
from aiperf.score.ledger import LedgerError, Report, TrialStart
from aiperf.spec import Spec


def rederived_flops(
    report: Report, trial: TrialStart, spec: Spec, num_classes: int
) -> tuple[int, int]:
    """(train, eval) FLOPs of ``report``; LedgerError when it predates the recorded shapes."""
    if report.train_work is None or report.eval_forward_work is None:
        raise LedgerError(f"report {report.trial_id}/{report.epoch}: no batch shapes recorded")
    costs = cost_model(genome_from_dict(trial.genome), num_classes)
    passes = step_passes(spec.uegr.with_overrides(trial.uegr))
    input_grad = report.eval_input_grad_work or Work()
    train = costs.step_flops(report.train_work, passes)
    return train, costs.eval_flops(report.eval_forward_work, input_grad)
