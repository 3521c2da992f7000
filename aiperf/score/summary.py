"""Ledger + spec → the run's summary: final score at T, validity verdict with reasons, counts."""

from __future__ import annotations

from typing import Any

from aiperf import __version__
from aiperf.score.hardware import hardware_fields, utilisation_reasons
from aiperf.score.ledger import Ledger
from aiperf.score.timeline import TimelinePoint, best_report, build_timeline, stability_cv
from aiperf.spec import Spec

FLOPS_CHECK_TOLERANCE = 0.01  # the runtime self-check's limit on |measured − analytic| / measured
FLOPS_CONVENTION = (
    "1 multiply-add = 2 FLOPs; counted: linear, conv and the two attention matmuls (QK^T, AV, "
    "dense S^2), forward and backward as autograd needs them; not counted: elementwise ops, "
    "norms, softmax, embedding lookups, the optimizer, recomputation; padded positions count "
    "as run; headline = training + evaluation FLOPs"
)


def run_length_s(ledger: Ledger) -> float:
    """T: from t0 to the run's end (or to the last report, when the end was never written)."""
    if ledger.run_start is None:
        raise ValueError("ledger has no run_start record")
    t0 = ledger.run_start["t0"]
    if ledger.run_end is not None:
        return max(ledger.run_end["time"] - t0, 1e-9)
    ends = [r["end_time"] for r in ledger.reports]
    return max(max(ends, default=t0) - t0, 1e-9)


def score_run(
    ledger: Ledger, spec: Spec, system: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[TimelinePoint]]:
    """The summary and the timeline of a run, from the ledger (plus the spec's rules and the
    peaks in ``system.json``)."""
    t0 = ledger.run_start["t0"] if ledger.run_start else 0.0
    length_s = run_length_s(ledger)
    timeline = build_timeline(ledger.reports, t0, length_s, spec.score.grid_points)
    final = timeline[-1]
    summary = {
        "run_id": ledger.run_start["run_id"] if ledger.run_start else None,
        "spec_name": spec.name,
        "seed": spec.seed,
        "aiperf_version": __version__,
        "flops": final.flops,
        "regulated_score": final.regulated_score,
        "best_test_accuracy": final.best_test_accuracy,
        "best_val_accuracy": final.best_val_accuracy,
        "best_robust_accuracy": final.best_robust_accuracy,
        "duration_s": length_s,
        "total_flops": final.ops_flops,
        "train_flops": final.train_ops_flops,
        "eval_flops": final.eval_ops_flops,
        "stability_cv": stability_cv(timeline),
        **_trial_counts(ledger),
        **run_events(ledger),
        **_best_trial(ledger),
        **hardware_fields(
            final.flops,
            final.ops_flops,
            system,
            spec.train.precision,
            ledger.run_end.get("energy") if ledger.run_end else None,
        ),
        "flops_convention": FLOPS_CONVENTION,
    }
    reasons = invalid_reasons(summary, spec, ledger) + utilisation_reasons(summary)
    summary["valid"] = not reasons
    summary["invalid_reasons"] = reasons
    return summary, timeline


def invalid_reasons(summary: dict[str, Any], spec: Spec, ledger: Ledger) -> list[str]:
    """Every validity rule the run breaks, each as a sentence (empty list = valid)."""
    reasons = []
    if summary["duration_s"] < spec.min_duration:
        reasons.append(
            f"run length {summary['duration_s']:.1f}s is below the spec's minimum "
            f"{spec.min_duration:.1f}s"
        )
    if summary["partial"]:
        reasons.append(f"the run is partial: it ended {summary['end_reason']}")
    accuracy = summary["best_test_accuracy"]
    if accuracy is None:
        reasons.append("no trial completed a report interval")
    elif accuracy < spec.quality_gate:
        reasons.append(
            f"best test accuracy {accuracy:.4f} is below the quality gate {spec.quality_gate:.4f}"
        )
    return reasons + flops_check_failures(ledger)


def flops_check_failures(ledger: Ledger) -> list[str]:
    """One reason per trial whose analytic count disagreed with FlopCounterMode by over 1%."""
    errors: dict[str, float] = {}
    for report in ledger.reports:
        error = report.get("flops_check_error")
        if error is not None:
            errors[report["trial_id"]] = max(error, errors.get(report["trial_id"], 0.0))
    return [
        f"trial {trial}: analytic FLOPs differ from FlopCounterMode by {100 * error:.2f}% (> 1%)"
        for trial, error in sorted(errors.items())
        if error > FLOPS_CHECK_TOLERANCE
    ]


def run_events(ledger: Ledger) -> dict[str, Any]:
    """How the run went: why it ended, resumes, lost nodes, failures and skipped duplicates."""
    end = ledger.run_end or {}
    reason = end.get("reason", "unfinished")
    started = set((ledger.run_start or {}).get("nodes", []))
    return {
        "end_reason": reason,
        "partial": reason.startswith("interrupted") or reason == "unfinished",
        "resumed": len(ledger.resumes),
        "nodes_lost": sorted(started - set(end.get("alive_nodes", started))),
        "trial_failures": len(ledger.failures),
        "trial_retries": sum(1 for f in ledger.failures if f["retrying"]),
        "duplicate_reports_skipped": ledger.duplicate_reports,
    }


def _trial_counts(ledger: Ledger) -> dict[str, int]:
    statuses = [end["status"] for end in ledger.trial_ends.values()]
    return {
        "trials_started": len(ledger.trials),
        "trials_completed": statuses.count("completed"),
        "trials_stopped": statuses.count("stopped"),
        "trials_failed": statuses.count("failed"),
        "reports": len(ledger.reports),
    }


def _best_trial(ledger: Ledger) -> dict[str, Any]:
    best = best_report(ledger.reports)
    if best is None:
        return {"best_trial_id": None, "best_genome": None, "robust_accuracy_of_best": None}
    trial = ledger.trials.get(best["trial_id"], {})
    return {
        "best_trial_id": best["trial_id"],
        "best_genome": trial.get("genome"),
        "robust_accuracy_of_best": best.get("robust_accuracy"),
    }
