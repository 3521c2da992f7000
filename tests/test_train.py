"""One trial's training: it learns, it is deterministic, it reports honest counts."""

from __future__ import annotations

import platform
from copy import deepcopy
from dataclasses import replace

import pytest
import torch

from aiperf.flops import CostModel, Work, cost_model
from aiperf.models import genome_from_dict
from aiperf.search.proposal import Hparams, Proposal
from aiperf.spec import parse_spec
from aiperf.train import TrainingDiverged, TrialContext, run_trial, uegr_passes
from aiperf.train.allocator import keep_freed_memory
from aiperf.train.remote import STATE_FILE
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
        assert report["flops_check_error"] == 0.0
        assert report["micro_batch"] is None  # CPU: no batch probe, every batch runs whole


def test_same_seed_same_result(reports) -> None:
    again = train()
    assert [r["loss"] for r in again] == [r["loss"] for r in reports]
    assert [r["val_accuracy"] for r in again] == [r["val_accuracy"] for r in reports]


def test_other_seed_other_result(reports) -> None:
    assert [r["loss"] for r in train(seed=1, epochs=1)] != [reports[0]["loss"]]


def test_divergence_is_reported() -> None:
    with pytest.raises(TrainingDiverged):
        train(lr=1e30, epochs=1)


# The self-check at trial start: a dropout transformer + conv genome, so training draws random
# numbers (dropout, UEGR's sub-models) that a check leaking RNG or model state would disturb.
CHECKED_GENOME = {
    "embed_dim": 16,
    "blocks": [
        {"type": "transformer", "heads": 2, "ffn_dim": 32},
        {"type": "conv", "kernel": 3, "width": 16},
    ],
    "dropout": 0.1,
}
SMALL = parse_spec(
    {
        "seed": 3,
        "workload": {"train_size": 400, "val_size": 60, "test_size": 60, "max_len": 10},
        "robustness": {"samples": 30, "steps": 2},
    }
)


def checked_run(
    self_check: bool = True, epochs: int = 2, resume: dict | None = None
) -> list[tuple[dict, dict]]:
    """(metrics, state) of every report of a small trial, with or without the self-check; each
    state copied at once (it holds the live model's tensors, as the Ray trainable saves it)."""
    train_spec = SMALL.train.model_copy(update={"flops_self_check": self_check})
    trial_context = replace(TrialContext.from_spec(SMALL), train=train_spec)
    hparams = Hparams(**{**HPARAMS, "epochs": epochs})
    proposal = Proposal(genome_from_dict(CHECKED_GENOME), hparams, trial_index=0, trial_seed=5)
    reports: list[tuple[dict, dict]] = []
    run_trial(proposal, trial_context, lambda m, s: reports.append((m, deepcopy(s))), resume=resume)
    return reports


@pytest.fixture(scope="module")
def checked() -> list[tuple[dict, dict]]:
    return checked_run()


def test_every_report_carries_the_check_and_its_state_too(checked) -> None:
    for metrics, state in checked:
        assert metrics["flops_check_error"] == 0.0  # exact on our models
        assert state["flops_check_error"] == 0.0  # checkpointed for a retried attempt


def test_the_check_leaves_training_bit_identical(checked) -> None:
    unchecked = checked_run(self_check=False)
    assert [m["flops_check_error"] for m, _ in unchecked] == [None, None]  # the scorer's INVALID
    keys = ("loss", "val_accuracy", "test_accuracy", "robust_accuracy", "train_flops")
    assert [[m[k] for k in keys] for m, _ in unchecked] == [
        [m[k] for k in keys] for m, _ in checked
    ]
    final, final_unchecked = checked[-1][1], unchecked[-1][1]
    for rng, rng_unchecked in zip(final["torch_rng"], final_unchecked["torch_rng"], strict=True):
        assert torch.equal(rng, rng_unchecked)
    for name, tensor in final["model"].items():
        assert torch.equal(tensor, final_unchecked["model"][name]), name


def test_a_resumed_trial_carries_its_first_attempts_check(checked, tmp_path, monkeypatch) -> None:
    """Resumed from epoch 1's checkpoint (saved and loaded as the Ray trainable does), the trial
    does not check again and reports the error its first attempt measured — 0.25 here, a value
    no re-run check would give, so a report cannot pass by checking again."""
    state = {**checked[0][1], "flops_check_error": 0.25}
    torch.save(state, tmp_path / STATE_FILE)
    resume = torch.load(tmp_path / STATE_FILE, weights_only=False)

    def no_second_check(*args, **kwargs):
        raise AssertionError("a resumed trial ran the self-check again")

    monkeypatch.setattr("aiperf.train.trial.self_check", no_second_check)
    (metrics, state), *more = checked_run(resume=resume)
    assert not more and metrics["epoch"] == 2
    assert metrics["flops_check_error"] == state["flops_check_error"] == 0.25
    assert metrics["loss"] == checked[1][0]["loss"]  # it continues exactly where it stopped
    without = {k: v for k, v in resume.items() if k != "flops_check_error"}  # an older state
    assert checked_run(resume=without)[0][0]["flops_check_error"] is None


def test_a_trial_reports_a_wrong_eval_count(monkeypatch) -> None:
    """Evaluation priced 5% high: the trial's own check (not just the check's unit tests) sees
    it, because it checks the evaluation and attack counts the trial reports."""
    price = CostModel.eval_flops
    monkeypatch.setattr(CostModel, "eval_flops", lambda *a: int(1.05 * price(*a)))
    metrics, _ = checked_run(epochs=1)[0]
    assert metrics["flops_check_error"] == pytest.approx(0.05, rel=1e-3)
