"""Scoring: ledger of trial reports → timeline of FLOPS / accuracy / regulated score → summary.

Modules: ``ledger`` (the record types, the writer and the validating reader), ``timeline`` (the
score at any time: FLOPS(t), acc(t), regulated(t), the one "best report" rule), ``summary``
(the ``Summary`` of a run and its validity), ``hardware`` (utilisation and energy), ``progress``
(a running run, as the console and ``aiperf slurm status`` show it), ``compare`` (runs of one
spec at the same timestamps), ``recorder`` (the Ray Tune callback that writes the ledger; imports
ray, so it is not imported here). Nothing here imports ``aiperf.report``.
"""

from aiperf.score.ledger import Ledger, LedgerError, LedgerWriter, read_ledger
from aiperf.score.summary import Summary, SummaryError, score_run
from aiperf.score.timeline import TimelinePoint, build_timeline, regulated_score

__all__ = [
    "Ledger",
    "LedgerError",
    "LedgerWriter",
    "Summary",
    "SummaryError",
    "TimelinePoint",
    "build_timeline",
    "read_ledger",
    "regulated_score",
    "score_run",
]
