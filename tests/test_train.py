"""One trial's training: it learns, it is deterministic, it reports honest counts."""

from __future__ import annotations

import pytest

from aiperf.flops import train_step_flops
from aiperf.models import genome_from_dict
from aiperf.spec import WorkloadSpec, parse_spec
from aiperf.train import TrainingDiverged, TrialContext, run_trial

GENOME = {
    "embed_dim": 32,
    "blocks": [
        {"type": "conv", "kernel": 3, "width": 32},
        {"type": "conv", "kernel": 3, "width": 32},
    ],
    "pooling": "mean",
    "dropout": 0.0,
}
HPARAMS = {"lr": 1e-2, "batch_size": 32, "weight_decay": 0.01, "epochs": 3}
WORKLOAD = WorkloadSpec(train_size=3000, val_size=300, test_size=300, max_len=20)


def context() -> TrialContext:
    return TrialContext(workload=WORKLOAD, train=parse_spec({}).train, data_seed=7)


def train(seed: int = 0, **hparams) -> list[dict]:
    reports: list[dict] = []
    config = {"genome": GENOME, "hparams": {**HPARAMS, **hparams}, "trial_seed": seed}
    run_trial(config, context(), reports.append, node="test-node")
    return reports


@pytest.fixture(scope="module")
def reports() -> list[dict]:
    return train()


def test_a_tiny_model_learns(reports) -> None:
    assert len(reports) == 3
    assert reports[-1]["loss"] < reports[0]["loss"]
    assert reports[-1]["val_accuracy"] > 0.6  # chance is 0.5


def test_reports_count_every_step(reports) -> None:
    genome = genome_from_dict(GENOME)
    full, last = divmod(WORKLOAD.train_size, HPARAMS["batch_size"])
    per_epoch = full * train_step_flops(genome, 32, 20, 2) + train_step_flops(genome, last, 20, 2)
    for report in reports:
        assert report["samples"] == WORKLOAD.train_size
        assert report["steps"] == full + 1
        assert report["train_flops"] == per_epoch
        assert report["eval_flops"] > 0
        assert report["end_time"] > report["start_time"]
        assert (report["node"], report["device"]) == ("test-node", "cpu")


def test_same_seed_same_result(reports) -> None:
    again = train()
    assert [r["loss"] for r in again] == [r["loss"] for r in reports]
    assert [r["val_accuracy"] for r in again] == [r["val_accuracy"] for r in reports]


def test_other_seed_other_result(reports) -> None:
    assert [r["loss"] for r in train(seed=1, epochs=1)] != [reports[0]["loss"]]


def test_divergence_is_reported() -> None:
    with pytest.raises(TrainingDiverged):
        train(lr=1e30, epochs=1)
