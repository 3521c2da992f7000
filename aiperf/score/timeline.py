"""Ledger → timeline: Ops(t), FLOPS(t), best accuracy(t) and regulated score(t) on a fixed grid.

t is measured from t0, the moment the search started. ``Ops(t)`` sums the FLOPs of report
records whose work ended by t0 + t; ``FLOPS(t) = Ops(t) / t`` (elapsed wall-clock, so idle slots,
scheduling, evaluation and start-up all lower it); ``acc(t)`` (and the robust accuracy shown with
it) is that of the record with the best validation accuracy reported by t;
``regulated(t) = FLOPS(t) · |ln(1 − acc(t))|``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from aiperf.score.ledger import Ledger, Report

_ACC_CEILING = 1.0 - 1e-9  # keeps |ln(1 - acc)| finite


@dataclass(frozen=True)
class TimelinePoint:
    t_s: float
    ops_flops: int
    flops: float  # FLOPs per second
    train_ops_flops: int
    eval_ops_flops: int
    best_val_accuracy: float | None
    best_test_accuracy: float | None
    robust_accuracy: float | None  # robust accuracy of the best (validation-selected) report
    regulated_score: float
    reports: int


def regulated_score(flops: float, accuracy: float | None) -> float:
    """AIPerf's regulated score: FLOPS weighted by |ln(1 − accuracy)|."""
    if accuracy is None:
        return 0.0
    return flops * abs(math.log(1.0 - min(accuracy, _ACC_CEILING)))


def run_length_s(ledger: Ledger) -> float:
    """T: from t0 to the run's end (or to the last report, when the end was never written)."""
    t0 = ledger.t0
    if ledger.run_end is not None:
        return max(ledger.run_end.time - t0, 1e-9)
    return max(max((r.end_time for r in ledger.reports), default=t0) - t0, 1e-9)


def time_grid(run_length_s: float, grid_points: int) -> list[float]:
    """Every run_length/grid_points seconds, ending exactly at the run length."""
    return [run_length_s * (i + 1) / grid_points for i in range(grid_points)]


def build_timeline(
    reports: list[Report], t0: float, run_length_s: float, grid_points: int
) -> list[TimelinePoint]:
    """The timeline of a run read on its grid; reports must come from completed intervals only.

    One pass over the reports in end order (running sums and the running best), then a binary
    search per grid point: O(n log n + grid · log n), so a long ledger on a fine grid stays fast."""
    ordered = sorted(reports, key=lambda r: r.end_time)
    ends = [r.end_time - t0 for r in ordered]
    train = list(accumulate((r.train_flops for r in ordered), initial=0))
    evaluation = list(accumulate((r.eval_flops for r in ordered), initial=0))
    best: list[Report | None] = [None]
    for report in ordered:
        best.append(_better(best[-1], report))
    points = []
    for t_s in time_grid(run_length_s, grid_points):
        done = bisect_right(ends, t_s + 1e-9)
        points.append(_point(t_s, train[done], evaluation[done], best[done], done))
    return points


def _better(best: Report | None, report: Report) -> Report | None:
    """The best of ``best`` and a report that ended no earlier (a tie keeps the earlier)."""
    if not finite(report.val_accuracy):
        return best
    return report if best is None or report.val_accuracy > best.val_accuracy else best


def point_at(reports: list[Report], t0: float, t_s: float) -> TimelinePoint:
    """The score at t0 + t_s, from the reports whose interval had ended by then."""
    done = [r for r in reports if r.end_time - t0 <= t_s + 1e-9]
    train_ops = sum(r.train_flops for r in done)
    eval_ops = sum(r.eval_flops for r in done)
    return _point(t_s, train_ops, eval_ops, best_report(done), len(done))


def _point(
    t_s: float, train_ops: int, eval_ops: int, best: Report | None, reports: int
) -> TimelinePoint:
    flops = (train_ops + eval_ops) / t_s if t_s > 0 else 0.0
    test_acc = best.test_accuracy if best else None
    return TimelinePoint(
        t_s=t_s,
        ops_flops=train_ops + eval_ops,
        flops=flops,
        train_ops_flops=train_ops,
        eval_ops_flops=eval_ops,
        best_val_accuracy=best.val_accuracy if best else None,
        best_test_accuracy=test_acc,
        robust_accuracy=best.robust_accuracy if best else None,
        regulated_score=regulated_score(flops, test_acc),
        reports=reports,
    )


def best_report(reports: list[Report]) -> Report | None:
    """The run's one "best" rule: the report with the highest validation accuracy (earliest end
    wins a tie; NaN never wins). Its test accuracy is acc(t)."""
    usable = [r for r in reports if finite(r.val_accuracy)]
    if not usable:
        return None
    return max(usable, key=lambda r: (r.val_accuracy, -r.end_time))


def stability_cv(points: list[TimelinePoint]) -> float | None:
    """Coefficient of variation of FLOPS(t) over the second half of the grid."""
    half = [p.flops for p in points[len(points) // 2 :]]
    if len(half) < 2:
        return None
    mean = sum(half) / len(half)
    if mean == 0:
        return None
    var = sum((x - mean) ** 2 for x in half) / (len(half) - 1)
    return math.sqrt(var) / mean


def finite(value: Any) -> bool:
    """A real number that is neither NaN nor infinite (None is not)."""
    return isinstance(value, int | float) and math.isfinite(value)
