"""Simulated time: a clock that runs ``scale`` times faster than the wall from an origin.

Everything a simulated run stamps (the ledger, the trials' reports, the deadline) reads this
clock, so a 10-minute trial compressed 60× sleeps 10 s and is recorded as 10 minutes. The
master's own overheads are real seconds and are stretched by the same factor: a simulation
overstates them by ``scale`` (``simulation.json`` keeps them in wall seconds too).
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class SimClock:
    """Unix seconds that equal the wall clock at ``origin`` and run ``scale`` times faster."""

    origin: float
    scale: float = 1.0

    def __call__(self) -> float:
        return self.origin + (time.time() - self.origin) * self.scale

    def wall_seconds(self, simulated: float) -> float:
        """How long ``simulated`` seconds last on the wall."""
        return simulated / self.scale

    def sleep_until(self, when: float) -> None:
        """Sleep until the simulated time ``when`` (a deadline, so sleeps do not drift)."""
        time.sleep(max(self.wall_seconds(when - self()), 0.0))
