"""The simulated trial: a Ray Tune function trainable that sleeps instead of training.

It takes the resources a real trial takes, sleeps (on the simulated clock) for its start-up and
for each epoch the cost model prices, and reports every epoch with the fields a real trial
reports, a checkpoint included, so Ray Tune, the searcher, the recorder and the scorer do the
work they do in a real run. Torch-free: a worker starts in about a second.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiperf.search.proposal import Proposal
from aiperf.simulate.clock import SimClock
from aiperf.simulate.costs import TrialCosts
from aiperf.simulate.landscape import accuracy_at

STATE_FILE = "simulated_state.json"
ROBUST_SHARE = 0.8  # simulated robust accuracy = this share of the test accuracy


@dataclass(frozen=True)
class SimContext:
    """What every simulated trial of a run shares."""

    clock: SimClock
    costs: TrialCosts


def simulated_trainable(config: dict[str, Any], context: SimContext) -> None:
    """Runs on a fake node: sleep through the proposal's epochs, reporting each."""
    import ray
    from ray import tune

    proposal = Proposal.from_config(config)
    clock, costs = context.clock, context.costs
    cost, classes = costs.epoch(proposal), costs.num_classes
    val_n, test_n, attacked_n = costs.sizes
    first = 1 + _resumed_epoch(tune.get_checkpoint())
    if first == 1:
        clock.sleep_until(clock() + costs.startup_s)
    where = {
        "node": ray.util.get_node_ip_address(),
        "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
        "visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    candidate = proposal.to_config()
    for epoch in range(first, proposal.hparams.epochs + 1):
        start = clock()
        clock.sleep_until(start + cost.seconds)
        val, test = accuracy_at(candidate, epoch, proposal.trial_seed, classes, costs.ceiling)
        robust = _counted(ROBUST_SHARE * test, attacked_n) if attacked_n else None
        metrics = {
            **where,
            "epoch": epoch,
            "device": "cuda",
            "start_time": start,
            "end_time": clock(),
            "samples": cost.train_work.samples,
            "steps": cost.steps,
            "train_flops": cost.train_flops,
            "eval_flops": cost.eval_flops,
            "loss": 1.0 - val,
            "val_accuracy": _counted(val, val_n),
            "test_accuracy": _counted(test, test_n),
            "robust_accuracy": robust,
            "flops_check_error": None,
            "train_work": asdict(cost.train_work),
            "eval_forward_work": asdict(costs.eval_forward),
            "eval_input_grad_work": asdict(costs.eval_input_grad),
            "num_classes": costs.num_classes,
            "micro_batch": None,
        }
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / STATE_FILE).write_text(json.dumps({"epoch": epoch}))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def _counted(accuracy: float, sentences: int) -> float:
    """An accuracy a split of ``sentences`` can show: a whole number of them right."""
    return round(accuracy * sentences) / max(sentences, 1)


def _resumed_epoch(checkpoint: Any) -> int:
    """The last epoch a retried trial reported (0 for a fresh one)."""
    if checkpoint is None:
        return 0
    with checkpoint.as_directory() as folder:
        return int(json.loads((Path(folder) / STATE_FILE).read_text())["epoch"])
