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
    return sorted(times)[len(times) // 2]
