"""Ledger + spec → the run's ``Summary``: final score at T, validity verdict with reasons, counts.

``Summary`` is the one type every reader of a score uses (the console, the HTML page, the MLPerf
log, ``submit`` and ``check``); ``summary.json`` is its JSON form, keys sorted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from aiperf import __version__
from aiperf.errors import UserError
from aiperf.flops import FLOPS_CONVENTION, Work
from aiperf.score.audit import audit_ledger
from aiperf.score.hardware import hardware_fields, rederived_nodes, utilisation_reasons
from aiperf.score.ledger import Ledger
from aiperf.score.occupancy import slot_use
from aiperf.score.rules import rules_for
from aiperf.score.timeline import (
    TimelinePoint,
    best_report,
    build_timeline,
    run_length_s,
    stability_cv,
)
from aiperf.spec import Spec

SIMULATED = "a simulated run (aiperf simulate): its trials slept on a cost model, none trained"
FLOPS_CHECK_TOLERANCE = 0.01  # the runtime self-check's limit on |measured − analytic| / measured


class SummaryError(UserError):
    """A ``summary.json`` that is not a summary: names the field."""


@dataclass(frozen=True)
class Summary:
    """The scored run: what ``summary.json`` holds, field for field."""

    __pydantic_config__ = ConfigDict(extra="forbid", allow_inf_nan=False)

    run_id: str
    spec_name: str
    seed: int
    aiperf_version: str
    flops: float  # FLOPS at T: (train + eval FLOPs of every finished report) / T
    regulated_score: float  # flops · |ln(1 − best_test_accuracy)|
    best_test_accuracy: float | None  # test accuracy of the best-validation report
    best_val_accuracy: float | None
    duration_s: float  # T: from t0 to the run's end
    total_flops: int
    train_flops: int
    eval_flops: int
    stability_cv: float | None  # CV of FLOPS(t) over the second half of the grid
    padding_share: float | None  # padded share of the token positions run (None: not recorded)
    trials_started: int
    trials_completed: int
    trials_stopped: int
    trials_failed: int
    reports: int
    end_reason: str
    partial: bool
    resumed: int
    nodes_lost: list[str]
    trial_failures: int
    trial_retries: int
    duplicate_reports_skipped: int
    best_trial_id: str | None
    best_genome: dict[str, Any] | None
    robust_accuracy_of_best: float | None  # robust accuracy of the validation-selected model
    rules_version: int | None  # of the rules that scored the run (unofficial: the spec's own)
    division: str  # closed | open | unofficial (aiperf.score.rules)
    division_notes: list[str]  # why the run is open or unofficial
    precision: str
    peak_flops_datasheet: float | None
    peak_flops_measured: float | None
    utilisation_datasheet: float | None
    utilisation_measured: float | None
    energy_j: float | None
    flops_per_watt: float | None  # FLOP per joule
    hardware_notes: list[str]
    flops_convention: str
    valid: bool
    invalid_reasons: list[str]
    slot_occupancy: float | None = None  # busy slot-seconds ÷ (slots × T); None: older summaries

    def to_json(self) -> dict[str, Any]:
        """The plain mapping written to ``summary.json``."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: str | bytes, where: str = "summary.json") -> Summary:
        """A summary read back from its JSON text; SummaryError naming the first bad field."""
        try:
            return _SUMMARY.validate_json(data, strict=True)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "summary"
            raise SummaryError(f"{where}: {field}: {first['msg']}") from None


_SUMMARY = TypeAdapter(Summary)


def score_run(
    ledger: Ledger, spec: Spec, system: dict[str, Any] | None = None
) -> tuple[Summary, list[TimelinePoint]]:
    """The summary and the timeline of a run, from the ledger, the spec (what ran), the rules of
    the shipped spec it names and the devices in ``system.json``."""
    rules = rules_for(spec)
    t0, length_s = ledger.t0, run_length_s(ledger)
    timeline = build_timeline(ledger.reports, t0, length_s, rules.spec.score.grid_points)
    final = timeline[-1]
    nodes = rederived_nodes(system)
    summary = Summary(
        run_id=ledger.start.run_id,
        spec_name=spec.name,
        seed=spec.seed,
        aiperf_version=spec.aiperf_version or __version__,
        flops=final.flops,
        regulated_score=final.regulated_score,
        best_test_accuracy=final.best_test_accuracy,
        best_val_accuracy=final.best_val_accuracy,
        duration_s=length_s,
        total_flops=final.ops_flops,
        train_flops=final.train_ops_flops,
        eval_flops=final.eval_ops_flops,
        stability_cv=stability_cv(timeline),
        padding_share=padding_share(ledger),
        **_trial_counts(ledger),
        **run_events(ledger),
        **_best_trial(ledger, t0 + length_s),
        rules_version=rules.spec.rules_version,  # the version applied
        division=rules.division,
        division_notes=list(rules.notes),
        **hardware_fields(
            final.flops, final.ops_flops, nodes, spec.train.precision, energy(ledger)
        ),
        flops_convention=FLOPS_CONVENTION,
        valid=True,
        invalid_reasons=[],
        slot_occupancy=slot_use(ledger).occupancy,
    )
    reasons = invalid_reasons(summary, rules.spec, ledger) + utilisation_reasons(summary)
    reasons += audit_ledger(ledger, spec, nodes[0])
    return replace(summary, valid=not reasons, invalid_reasons=reasons), timeline


def energy(ledger: Ledger) -> dict[str, Any] | None:
    """The energy the run's end recorded; after a resume only the last segment was measured
    (the master that died took its counters with it), so none, with a note saying why."""
    if ledger.resumes and ledger.run_end is not None:
        return {"note": "energy unknown: the run was resumed and its first segment's was lost"}
    return ledger.run_end.energy if ledger.run_end else None


def invalid_reasons(summary: Summary, rules: Spec, ledger: Ledger) -> list[str]:
    """Every validity rule of ``rules`` the run breaks, each as a sentence (empty: valid)."""
    reasons = []
    if ledger.start.simulated:
        reasons.append(SIMULATED)
    if summary.duration_s < rules.min_duration:
        reasons.append(
            f"run length {summary.duration_s:.1f}s is below the spec's minimum "
            f"{rules.min_duration:.1f}s"
        )
    if summary.partial:
        reasons.append(f"the run is partial: it ended {summary.end_reason}")
    accuracy = summary.best_test_accuracy
    if accuracy is None:
        reasons.append("no trial completed a report interval")
    elif accuracy < rules.quality_gate:
        reasons.append(
            f"best test accuracy {accuracy:.4f} is below the quality gate {rules.quality_gate:.4f}"
        )
    return reasons + flops_check_failures(ledger)


def flops_check_failures(ledger: Ledger) -> list[str]:
    """One reason per trial whose analytic count disagreed with FlopCounterMode by over 1%, or
    that reported without a self-check result (the check is mandatory; a resumed trial carries
    the result of the attempt whose checkpoint it continues)."""
    errors: dict[str, float | None] = {}
    for report in ledger.reports:
        previous = errors.get(report.trial_id, 0.0)
        error = report.flops_check_error
        errors[report.trial_id] = (
            None if error is None or previous is None else max(error, previous)
        )
    unchecked = sorted(trial for trial, error in errors.items() if error is None)
    reasons = [
        f"trial {trial}: analytic FLOPs differ from FlopCounterMode by {100 * error:.2f}% (> 1%)"
        for trial, error in sorted(errors.items())
        if error is not None and error > FLOPS_CHECK_TOLERANCE
    ]
    if unchecked:
        shown = ", ".join(unchecked[:3]) + (
            f" and {len(unchecked) - 3} more" if len(unchecked) > 3 else ""
        )
        reasons.append(f"trials without a FLOPs self-check result: {shown}")
    return reasons


def padding_share(ledger: Ledger) -> float | None:
    """The share of token positions in training and evaluation forward passes that were padding
    (None when a report predates the recorded batch shapes, or nothing ran)."""
    works = [w for r in ledger.reports for w in (r.train_work, r.eval_forward_work)]
    if not works or None in works:
        return None
    total = sum(works, Work())
    return 1.0 - total.real_tokens / total.tokens if total.tokens else None


def run_events(ledger: Ledger) -> dict[str, Any]:
    """How the run went: why it ended, resumes, lost nodes, failures and skipped duplicates."""
    end = ledger.run_end
    reason = end.reason if end else "unfinished"
    started = set(ledger.run_start.nodes if ledger.run_start else [])
    alive = started if end is None or end.alive_nodes is None else set(end.alive_nodes)
    return {
        "end_reason": reason,
        "partial": reason.startswith("interrupted") or reason == "unfinished",
        "resumed": len(ledger.resumes),
        "nodes_lost": sorted(started - alive),
        "trial_failures": len(ledger.failures),
        "trial_retries": sum(1 for f in ledger.failures if f.retrying),
        "duplicate_reports_skipped": ledger.duplicate_reports,
    }


def _trial_counts(ledger: Ledger) -> dict[str, int]:
    statuses = [end.status for end in ledger.trial_ends.values()]
    return {
        "trials_started": len(ledger.trials),
        "trials_completed": statuses.count("completed"),
        "trials_stopped": statuses.count("stopped"),
        "trials_failed": statuses.count("failed"),
        "reports": len(ledger.reports),
    }


def _best_trial(ledger: Ledger, end: float) -> dict[str, Any]:
    """The selected model: the timeline's best report at T (a report ending later never counts)."""
    best = best_report([r for r in ledger.reports if r.end_time <= end + 1e-9])
    if best is None:
        return {"best_trial_id": None, "best_genome": None, "robust_accuracy_of_best": None}
    trial = ledger.trials.get(best.trial_id)
    return {
        "best_trial_id": best.trial_id,
        "best_genome": trial.genome if trial else None,
        "robust_accuracy_of_best": best.robust_accuracy,
    }
