"""``mllog.txt``: the run as an MLPerf-style log, one ``:::MLLOG {json}`` line per event, timed
from the ledger and encoded by mlperf-logging's ``MLLogger``.

Keys come from ``mlperf_logging.mllog.constants`` where one exists (``run_start``, ``run_stop``,
``seed``, ``submission_*``, ``cache_clear``, ``epoch_start``, ``epoch_stop``, ``eval_accuracy``);
aiperf's own events (``trial_start``, ``trial_stop``, ``flops``, ``regulated_score``) use the same
shape. ``mllog_rules.yaml`` beside this file states what every log promises, for mlperf-logging's
compliance checker.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlperf_logging.mllog import constants as mlc
from mlperf_logging.mllog.mllog import MLLogger

from aiperf.score import Summary
from aiperf.score.ledger import Ledger
from aiperf.spec import Spec

PREFIX = ":::MLLOG "
POINT, START, END = mlc.POINT_IN_TIME, mlc.INTERVAL_START, mlc.INTERVAL_END
RULES = Path(__file__).with_name("mllog_rules.yaml")
SOURCE_ROOT = str(Path(__file__).parents[2])  # trimmed from the caller's file name MLLogger adds
_LOG = {POINT: MLLogger.event, START: MLLogger.start, END: MLLogger.end}


@dataclass(frozen=True)
class Event:
    """One log line before encoding: mlperf-logging's fields, the time in ms since the epoch."""

    time_ms: int
    event_type: str
    key: str
    value: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)


def event(time_s: float, event_type: str, key: str, value: Any = None, **metadata: Any) -> Event:
    """An event at ``time_s`` (unix seconds), rounded to the millisecond."""
    return Event(round(time_s * 1000), event_type, key, value, metadata)


def mllog_events(
    ledger: Ledger, spec: Spec, summary: Summary, system: dict[str, Any] | None
) -> list[Event]:
    """Submission and run info at t0, every trial's events in time order, then the result."""
    body = sorted(_trial_events(ledger) + _report_events(ledger), key=lambda e: e.time_ms)
    return _header_events(ledger.t0, spec, summary, system) + body + _final_events(ledger, summary)


def render_mllog(events: list[Event]) -> str:
    """The events as ``:::MLLOG`` lines written by ``MLLogger`` into memory; NaN and ±inf become
    null, so every line is strict JSON and the same events always give the same bytes."""
    sink = _Lines()
    logger = logging.Logger("aiperf.mllog", logging.INFO)  # unregistered: no parent, no root
    logger.addHandler(sink)
    mllogger = MLLogger(logger, root_dir=re.escape(SOURCE_ROOT))
    try:
        for e in events:
            meta = _finite(e.metadata)
            _LOG[e.event_type](mllogger, e.key, _finite(e.value), meta, time_ms=e.time_ms)
    finally:
        logger.removeHandler(sink)
    if len(sink.lines) != len(events):
        raise RuntimeError("mllog: logging is disabled (logging.disable); the log is incomplete")
    return "".join(line + "\n" for line in sink.lines)


class _Lines(logging.Handler):
    """Keeps MLLogger's lines in memory; its warnings and encoding errors raise instead."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno != logging.INFO:
            raise ValueError(f"mlperf-logging: {message.strip()}")
        self.lines.append(message)


def _header_events(
    t0: float, spec: Spec, summary: Summary, system: dict[str, Any] | None
) -> list[Event]:
    nodes = (system or {}).get("nodes") or []
    info = {
        mlc.SUBMISSION_BENCHMARK: "aiperf",
        mlc.SUBMISSION_DIVISION: mlc.CLOSED if summary.division == "closed" else mlc.OPEN,
        mlc.SUBMISSION_ORG: "",
        mlc.SUBMISSION_PLATFORM: _platform(system),
        mlc.SUBMISSION_STATUS: mlc.RESEARCH,
        mlc.CACHE_CLEAR: spec.workload.kind == "synthetic",  # generated in memory, no file cache
        mlc.SEED: spec.seed,
        "aiperf_version": summary.aiperf_version,
        "run_id": summary.run_id,
        "spec_name": spec.name,
        "rules_version": summary.rules_version,
        "target_duration_s": spec.duration,
        "min_duration_s": spec.min_duration,
        "quality_gate": spec.quality_gate,
        "precision": spec.train.precision,
        "searcher": spec.search.searcher,
        "number_of_nodes": len(nodes),
        "accelerators_per_node": max((len(n.get("gpus") or []) for n in nodes), default=0),
    }
    points = [event(t0, POINT, key, value) for key, value in info.items()]
    return [*points, event(t0, START, mlc.RUN_START)]


def _platform(system: dict[str, Any] | None) -> str:
    nodes = (system or {}).get("nodes") or []
    if not nodes:
        return "unknown"
    first = nodes[0]
    gpus = first.get("gpus") or []
    cpu = (first.get("cpu") or {}).get("model")
    device = f"{len(gpus)}x {gpus[0].get('name')}" if gpus else cpu
    return f"{len(nodes)}x {first.get('hostname')} ({device})"


def _trial_events(ledger: Ledger) -> list[Event]:
    events = []
    for t in ledger.trials.values():
        proposal = {"trial_id": t.trial_id, "trial_index": t.trial_index, "genome": t.genome}
        tuning = {"hparams": t.hparams, "uegr": t.uegr}
        events.append(event(t.time, START, "trial_start", t.trial_id, **proposal, **tuning))
    for e in ledger.trial_ends.values():
        outcome = {"trial_id": e.trial_id, "status": e.status, "error": e.error}
        events.append(event(e.time, END, "trial_stop", e.trial_id, **outcome))
    return events


def _report_events(ledger: Ledger) -> list[Event]:
    events = []
    for r in ledger.reports:
        where = {mlc.EPOCH_NUM: r.epoch, "trial_id": r.trial_id}
        place = {"node": r.node, "device": r.device, "gpu_ids": r.gpu_ids}
        work = {
            "samples": r.samples,
            "steps": r.steps,
            "train_flops": r.train_flops,
            "eval_flops": r.eval_flops,
            "loss": r.loss,
        }
        accuracy = {"val_accuracy": r.val_accuracy, "robust_accuracy": r.robust_accuracy}
        events += [
            event(r.start_time, START, mlc.EPOCH_START, r.epoch, **where, **place),
            event(r.end_time, END, mlc.EPOCH_STOP, r.epoch, **where, **work),
            event(r.end_time, POINT, mlc.EVAL_ACCURACY, r.test_accuracy, **where, **accuracy),
        ]
    return events


def _final_events(ledger: Ledger, summary: Summary) -> list[Event]:
    end = ledger.run_end.time if ledger.run_end else ledger.t0 + summary.duration_s
    results = {
        "flops": summary.flops,
        "regulated_score": summary.regulated_score,
        "best_test_accuracy": summary.best_test_accuracy,
        "robust_accuracy_of_best": summary.robust_accuracy_of_best,
        "total_flops": summary.total_flops,
    }
    events = [event(end, POINT, key, value) for key, value in results.items()]
    stop = {
        mlc.STATUS: mlc.SUCCESS if summary.valid else mlc.ABORTED,
        "reason": ledger.run_end.reason if ledger.run_end else "no run_end record",
        "invalid_reasons": list(summary.invalid_reasons),
    }
    return [*events, event(end, END, mlc.RUN_STOP, None, **stop)]


def _finite(value: Any) -> Any:
    """A copy of ``value`` with NaN and ±inf replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
