"""The one timing helper the benchmark scripts share (run them from the repository root)."""

from __future__ import annotations

import time
from collections.abc import Callable


def median_seconds(run: Callable[[], object], repeats: int, warm_up: bool = False) -> float:
    """Median wall-clock seconds of ``run`` over ``repeats`` calls (after one unmeasured call
    when ``warm_up``)."""
    if warm_up:
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return _median(times)


def interleaved_medians(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each of ``runs``, timed in alternating rounds after one warm-up call
    each, so a slow patch of a shared machine falls on all of them rather than on one."""
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: _median(spans) for name, spans in times.items()}


def _median(times: list[float]) -> float:
    """The middle time (the upper middle of an even count): a value that was really measured."""
    return sorted(times)[len(times) // 2]
