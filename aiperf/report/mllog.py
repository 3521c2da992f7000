"""``mllog.txt``: the run as an MLPerf-style log, one ``:::MLLOG {json}`` line per event, timed
from the ledger.

Keys follow mlperf-logging where one exists (``run_start``, ``run_stop``, ``seed``,
``submission_*``, ``cache_clear``, ``epoch_start``, ``epoch_stop``, ``eval_accuracy``); aiperf's
own events (``trial_start``, ``trial_stop``, ``flops``, ``regulated_score``) use the same shape.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiperf.score.ledger import Ledger
from aiperf.spec import Spec

PREFIX = ":::MLLOG "
POINT, START, END = "POINT_IN_TIME", "INTERVAL_START", "INTERVAL_END"


def event(time_s: float, event_type: str, key: str, value: Any, **metadata: Any) -> dict[str, Any]:
    """One log record in mlperf-logging's field order."""
    return {
        "namespace": "",
        "time_ms": round(time_s * 1000),
        "event_type": event_type,
        "key": key,
        "value": value,
        "metadata": metadata,
    }


def mllog_events(
    ledger: Ledger, spec: Spec, summary: dict[str, Any], system: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Submission and run info at t0, every trial's events in time order, then the result."""
    t0 = ledger.run_start["t0"] if ledger.run_start else 0.0
    body = _trial_events(ledger) + _report_events(ledger)
    body.sort(key=lambda e: e["time_ms"])  # stable: ties keep their order
    return _header_events(t0, spec, summary, system) + body + _final_events(ledger, t0, summary)


def render_mllog(events: list[dict[str, Any]]) -> str:
    """One ``:::MLLOG`` line per event; non-finite numbers become null (strict JSON)."""
    lines = [PREFIX + json.dumps(_finite(e), allow_nan=False) for e in events]
    return "\n".join(lines) + "\n"


def _header_events(
    t0: float, spec: Spec, summary: dict[str, Any], system: dict[str, Any] | None
) -> list[dict[str, Any]]:
    nodes = (system or {}).get("nodes") or []
    info = {
        "submission_benchmark": "aiperf",
        "submission_division": "open",
        "submission_org": "",
        "submission_platform": _platform(system),
        "submission_status": "research",
        "cache_clear": spec.workload.kind == "synthetic",  # generated in memory, no file cache
        "seed": spec.seed,
        "aiperf_version": summary.get("aiperf_version"),
        "run_id": summary.get("run_id"),
        "spec_name": spec.name,
        "target_duration_s": spec.duration,
        "min_duration_s": spec.min_duration,
        "quality_gate": spec.quality_gate,
        "precision": spec.train.precision,
        "searcher": spec.search.searcher,
        "number_of_nodes": len(nodes),
        "accelerators_per_node": max((len(n.get("gpus") or []) for n in nodes), default=0),
    }
    points = [event(t0, POINT, key, value) for key, value in info.items()]
    return [*points, event(t0, START, "run_start", None)]


def _platform(system: dict[str, Any] | None) -> str:
    nodes = (system or {}).get("nodes") or []
    if not nodes:
        return "unknown"
    first = nodes[0]
    gpus = first.get("gpus") or []
    cpu = (first.get("cpu") or {}).get("model")
    device = f"{len(gpus)}x {gpus[0].get('name')}" if gpus else cpu
    return f"{len(nodes)}x {first.get('hostname')} ({device})"


def _trial_events(ledger: Ledger) -> list[dict[str, Any]]:
    events = []
    for trial in ledger.trials.values():
        meta = {k: trial.get(k) for k in ("trial_id", "trial_index", "genome", "hparams", "uegr")}
        events.append(event(trial["time"], START, "trial_start", trial["trial_id"], **meta))
    for end in ledger.trial_ends.values():
        meta = {"trial_id": end["trial_id"], "status": end["status"], "error": end.get("error")}
        events.append(event(end["time"], END, "trial_stop", end["trial_id"], **meta))
    return events


def _report_events(ledger: Ledger) -> list[dict[str, Any]]:
    events = []
    for r in ledger.reports:
        where = {"epoch_num": r["epoch"], "trial_id": r["trial_id"]}
        work = {k: r[k] for k in ("samples", "steps", "train_flops", "eval_flops", "loss")}
        accuracy = {k: r.get(k) for k in ("val_accuracy", "robust_accuracy")}
        events += [
            event(r["start_time"], START, "epoch_start", r["epoch"], **where, **_place(r)),
            event(r["end_time"], END, "epoch_stop", r["epoch"], **where, **work),
            event(r["end_time"], POINT, "eval_accuracy", r["test_accuracy"], **where, **accuracy),
        ]
    return events


def _final_events(ledger: Ledger, t0: float, summary: dict[str, Any]) -> list[dict[str, Any]]:
    end = ledger.run_end["time"] if ledger.run_end else t0 + summary["duration_s"]
    results = ("flops", "regulated_score", "best_test_accuracy", "best_robust_accuracy")
    events = [event(end, POINT, key, summary.get(key)) for key in results]
    events.append(event(end, POINT, "total_flops", summary["total_flops"]))
    status = "success" if summary["valid"] else "aborted"
    reason = ledger.run_end.get("reason") if ledger.run_end else "no run_end record"
    reasons = summary["invalid_reasons"]
    stop = event(end, END, "run_stop", None, status=status, reason=reason, invalid_reasons=reasons)
    return [*events, stop]


def _finite(value: Any) -> Any:
    """A copy of ``value`` with NaN and ±inf replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _place(report: dict[str, Any]) -> dict[str, Any]:
    """Where a report interval ran: node, device and the GPUs Ray assigned (when recorded)."""
    return {k: report.get(k) for k in ("node", "device", "gpu_ids")}
