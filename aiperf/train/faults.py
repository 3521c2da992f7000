"""Injected faults, for testing that failures are survived and counted honestly.

``AIPERF_FAULTS="3:2:error,5:1:oom"`` makes trial 3 raise at the end of epoch 2 and trial 5 run
out of memory at the end of epoch 1 — each once (a marker file in ``AIPERF_FAULTS_DIR`` records
that it fired), so the retry succeeds. Unset, nothing happens. Real NaN losses need no
injection: a learning rate of 1e20 produces them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch

from aiperf.errors import UserError

FAULTS: dict[str, Callable[[str], BaseException]] = {
    "error": RuntimeError,
    "oom": torch.OutOfMemoryError,
}


def _planned() -> dict[tuple[int, int], str]:
    plan = {}
    for item in filter(None, os.environ.get("AIPERF_FAULTS", "").split(",")):
        trial, epoch, kind = item.split(":")
        if kind not in FAULTS:
            raise UserError(f"AIPERF_FAULTS: unknown kind {kind!r} (valid: {list(FAULTS)})")
        plan[(int(trial), int(epoch))] = kind
    return plan


def maybe_fail(trial_index: int, epoch: int) -> None:
    """Raise the fault planned for this trial and epoch, the first time it is reached."""
    kind = _planned().get((trial_index, epoch))
    if kind is None:
        return
    marker = Path(os.environ["AIPERF_FAULTS_DIR"]) / f"{trial_index}-{epoch}-{kind}"
    if marker.exists():
        return
    marker.touch()
    raise FAULTS[kind](f"injected {kind} in trial {trial_index} at epoch {epoch}")
