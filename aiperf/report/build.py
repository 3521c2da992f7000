"""``aiperf report RUN``: re-score a run directory from its ledger, then write the report files.

Writes (beside the ledger) ``summary.json``, ``trials.csv``, ``timeline.csv`` (re-derived),
``plots/*.png``, ``report.html``, ``summary.md`` and ``mllog.txt``.
"""

from __future__ import annotations

from pathlib import Path

from aiperf.report.html import render_html
from aiperf.report.markdown import render_markdown
from aiperf.report.mllog import mllog_events, render_mllog
from aiperf.report.outputs import write_derived
from aiperf.report.plots import render_plots, write_plots
from aiperf.rundir import (
    MLLOG,
    PLOTS,
    REPORT_HTML,
    SPEC,
    SUMMARY_MD,
    require_run_dir,
    write_text_atomic,
)
from aiperf.score import Summary


def build_report(run_dir: Path) -> Summary:
    """Recompute the summary from the ledger (as ``aiperf run`` did), write every report file
    and return the summary."""
    require_run_dir(run_dir)
    scored = write_derived(run_dir)
    spec, ledger, system = scored.spec, scored.ledger, scored.system
    summary, timeline = scored.summary, scored.timeline
    plots = render_plots(timeline, ledger, summary, spec.quality_gate)
    paths = write_plots(plots, run_dir / PLOTS)
    spec_text = (run_dir / SPEC).read_text(encoding="utf-8")
    page = render_html(summary, timeline, ledger, spec_text, system, plots)
    write_text_atomic(run_dir / REPORT_HTML, page)
    links = [f"{PLOTS}/{path.name}" for path in paths]
    write_text_atomic(run_dir / SUMMARY_MD, render_markdown(summary, timeline, links))
    events = mllog_events(ledger, spec, summary, system)
    write_text_atomic(run_dir / MLLOG, render_mllog(events))
    return summary
