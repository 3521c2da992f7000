"""Scoring: ledger of trial reports → timeline of FLOPS / accuracy / regulated score → summary."""

from aiperf.score.ledger import Ledger, LedgerError, LedgerWriter, read_ledger
from aiperf.score.summary import FLOPS_CONVENTION, score_run
from aiperf.score.timeline import TimelinePoint, build_timeline, regulated_score

__all__ = [
    "FLOPS_CONVENTION",
    "Ledger",
    "LedgerError",
    "LedgerWriter",
    "TimelinePoint",
    "build_timeline",
    "read_ledger",
    "regulated_score",
    "score_run",
]
