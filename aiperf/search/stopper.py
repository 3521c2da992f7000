"""When a run stops: at its deadline, or on the first SIGINT / SIGTERM (gracefully: trials stop,
the ledger is closed, a partial summary is written); a second signal exits at once.

Ledger lines are written whole between signals and derived files are renamed into place, so even
the immediate exit leaves no torn file behind.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

from ray.tune import Stopper

from aiperf.errors import EXIT_INTERRUPTED

# The signal that asked for a stop. Module-level because Ray Tune pickles the stopper with the
# experiment and a resumed run gets a restored copy: every copy must see the same request.
_requested: dict[str, str | None] = {"signal": None}


def stop_requested() -> str | None:
    return _requested["signal"]


class RunStopper(Stopper):
    """Ray Tune stopper: stop every trial at ``deadline`` (unix seconds) or when asked to.

    The deadline is absolute, so a resumed run ends when the original one would have: the time
    the master was down counts as elapsed (honest)."""

    def __init__(self, deadline: float, clock: Callable[[], float] = time.time) -> None:
        self.deadline = deadline
        self.clock = clock  # time.time, or aiperf simulate's compressed clock

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return self.stop_all()

    def stop_all(self) -> bool:
        return stop_requested() is not None or self.clock() >= self.deadline


def install_signal_handlers() -> None:
    """First SIGINT/SIGTERM: a graceful stop; second: exit now (files are already whole)."""
    _requested["signal"] = None

    def handle(signum: int, frame: Any) -> None:
        if _requested["signal"] is not None:
            os._exit(EXIT_INTERRUPTED)
        _requested["signal"] = signal.Signals(signum).name

    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"  # Tune must not take SIGINT from us
    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
