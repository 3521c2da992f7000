"""Hand-made ledgers for scoring tests (no training, no Ray)."""

from __future__ import annotations

from pathlib import Path

from aiperf.score.ledger import LedgerWriter, Report, RunEnd, RunStart, TrialEnd, TrialStart

T0 = 1000.0
GENOME = {
    "embed_dim": 32,
    "blocks": [{"type": "conv", "kernel": 3, "width": 32}],
    "pooling": "mean",
}
HPARAMS = {"lr": 0.001, "batch_size": 32, "weight_decay": 0.0, "epochs": 2}


def report(trial: str, index: int, end: float, train: int, evl: int, val: float, test: float):
    return Report(
        trial_id=trial,
        report_index=index,
        epoch=index + 1,
        node="127.0.0.2",
        device="cpu",
        gpu_ids=[],
        visible_devices=None,
        start_time=end - 5,
        end_time=end,
        samples=100,
        steps=4,
        train_flops=train,
        eval_flops=evl,
        flops=train + evl,
        loss=0.5,
        val_accuracy=val,
        test_accuracy=test,
        robust_accuracy=test - 0.1,
        flops_check_error=0.0,
    )


def write_example_ledger(path: Path) -> None:
    """Two trials, three reports, run length 40 s — the numbers the score tests check by hand."""
    writer = LedgerWriter(path)
    writer.append(RunStart(run_id="example", t0=T0, seed=1, duration_s=40.0))
    for index, trial in enumerate(("a", "b")):
        writer.append(TrialStart(trial, index, T0 + 1, GENOME, HPARAMS, {}))
    writer.append(report("a", 0, T0 + 10, 100, 20, 0.60, 0.55))
    writer.append(report("b", 0, T0 + 20, 200, 30, 0.70, 0.65))
    writer.append(TrialEnd("b", T0 + 21, "completed"))
    writer.append(report("a", 1, T0 + 30, 300, 0, 0.65, 0.90))  # best test, not best val
    writer.append(TrialEnd("a", T0 + 35, "stopped"))
    writer.append(RunEnd(time=T0 + 40, reason="deadline"))
    writer.close()
