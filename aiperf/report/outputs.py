"""Derived outputs of a run directory, recomputed from ``ledger.jsonl`` and ``spec.yaml`` alone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiperf.report.tables import write_tables
from aiperf.rundir import LEDGER, SPEC, SUMMARY, read_system, write_json_atomic
from aiperf.score import Ledger, Summary, TimelinePoint, read_ledger, score_run
from aiperf.spec import Spec, load_spec


@dataclass(frozen=True)
class ScoredRun:
    """A run directory read and scored once: what the report and the summary are made from."""

    spec: Spec
    ledger: Ledger
    system: dict[str, Any] | None
    summary: Summary
    timeline: list[TimelinePoint]


def write_derived(run_dir: Path, spec: Spec | None = None) -> ScoredRun:
    """Score the run from its ledger; rewrite summary.json, trials.csv and timeline.csv."""
    spec = spec or load_spec(run_dir / SPEC)
    ledger = read_ledger(run_dir / LEDGER)
    system = read_system(run_dir)
    summary, timeline = score_run(ledger, spec, system)
    write_json_atomic(run_dir / SUMMARY, summary.to_json())
    write_tables(run_dir, ledger, timeline)
    return ScoredRun(spec, ledger, system, summary, timeline)
