"""The Ray side of a trial: the Tune trainable, with a checkpoint at every report so a retried
trial (after an exception, an out-of-memory error or a lost node) continues from its last
report instead of redoing — and recounting — work."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from aiperf.search.proposal import Proposal
from aiperf.train.faults import maybe_fail
from aiperf.train.trial import TrialContext, run_trial

STATE_FILE = "training_state.pt"


def tune_trainable(config: dict[str, Any], context: TrialContext) -> None:
    """Runs on a Ray worker: train one proposal, reporting every interval with a checkpoint."""
    import ray

    proposal = Proposal.from_config(config)
    from ray import tune

    where = {
        "node": ray.util.get_node_ip_address(),
        "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
        "visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    checkpoint = tune.get_checkpoint()
    resume = None
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            resume = torch.load(Path(folder) / STATE_FILE, weights_only=False)

    def report(metrics: dict[str, Any], state: dict[str, Any]) -> None:
        maybe_fail(proposal.trial_index, metrics["epoch"])
        with tempfile.TemporaryDirectory() as folder:
            torch.save(state, Path(folder) / STATE_FILE)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    run_trial(proposal, context, report, where, resume)
