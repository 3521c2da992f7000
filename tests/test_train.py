"""One trial's training: it learns, it is deterministic, it reports honest counts."""

from __future__ import annotations

import platform

import pytest

from aiperf.flops import Work, cost_model
from aiperf.models import genome_from_dict
from aiperf.search.proposal import Hparams, Proposal
from aiperf.spec import parse_spec
from aiperf.train import TrainingDiverged, TrialContext, run_trial, uegr_passes
from aiperf.train.allocator import keep_freed_memory
from aiperf.workload import load_workload

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
SPEC = parse_spec(
    {
        "seed": 7,
        "workload": {"train_size": 3000, "val_size": 300, "test_size": 300, "max_len": 8},
        "robustness": {"samples": 100},
    }
)
WORKLOAD = SPEC.workload


def context() -> TrialContext:
    return TrialContext.from_spec(SPEC)


def train(seed: int = 0, **hparams) -> list[dict]:
    reports: list[dict] = []
    proposal = Proposal(
        genome_from_dict(GENOME), Hparams(**{**HPARAMS, **hparams}), trial_index=0, trial_seed=seed
    )
    run_trial(
        proposal, context(), lambda metrics, _: reports.append(metrics), {"node": "test-node"}
    )
    return reports


@pytest.fixture(scope="module")
def reports() -> list[dict]:
    return train()


def test_freed_memory_stays_in_the_process_under_glibc() -> None:
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("the allocator tuning is glibc's")
    assert keep_freed_memory() is True


def test_a_tiny_model_learns(reports) -> None:
    assert len(reports) == 3
    assert reports[-1]["loss"] < reports[0]["loss"]
    assert reports[-1]["val_accuracy"] > 0.6  # chance is 0.5


def test_reports_count_every_step(reports) -> None:
    costs = cost_model(genome_from_dict(GENOME), 2)
    full, _ = divmod(WORKLOAD.train_size, HPARAMS["batch_size"])
    passes = uegr_passes(SPEC.uegr)
    assert passes.forward == 4 and passes.backward_full == 3 and passes.backward_input == 1
    real = int(load_workload(WORKLOAD, SPEC.seed).train.mask.sum())
    for report in reports:
        work = Work(**report["train_work"])
        assert report["samples"] == work.samples == WORKLOAD.train_size
        assert work.real_tokens == real  # every training sentence once per epoch
        assert real <= work.tokens <= 1.1 * real  # each batch padded to its own longest only
        assert report["steps"] == full + 1
        assert report["train_flops"] == costs.step_flops(work, passes)
        forward, input_grad = (
            Work(**report["eval_forward_work"]),
            Work(**report["eval_input_grad_work"]),
        )
        assert report["eval_flops"] == costs.eval_flops(forward, input_grad) > 0
        assert 0.0 <= report["robust_accuracy"] <= report["test_accuracy"] + 0.1
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
