"""Hand-made ledgers for scoring tests (no training, no Ray), consistent with the audit.

A report's work is given in units: ``train`` units of ``TRAIN_UNIT`` and ``evl`` units of
``EVAL_UNIT`` (one sample of 4 tokens each); its FLOPs are what the trial's genome prices them at,
``train · FT`` and ``evl · FE``, so every report re-derives exactly, as an honest run's does.
"""

from __future__ import annotations

from pathlib import Path

from aiperf.flops import Work, cost_model, step_passes
from aiperf.models import genome_from_dict
from aiperf.score.ledger import LedgerWriter, Report, RunEnd, RunStart, TrialEnd, TrialStart
from aiperf.spec import UegrSpec

T0 = 1000.0
CPU_PEAK = 2 * 1000e6 * 32  # example_system's datasheet fp32 peak: 2 cores × 1 GHz × 32
CPU_MEASURED = 32e9  # and its measured GEMM peak
NODE = "127.0.0.2"
GENOME = {
    "embed_dim": 32,
    "blocks": [{"type": "conv", "kernel": 3, "width": 32}],
    "pooling": "mean",
}
HPARAMS = {"lr": 0.003, "batch_size": 32, "weight_decay": 0.0, "epochs": 2}
# The example's spec fields: a small workload the hand-made reports honestly match (100
# training sentences an epoch; 20 val, 20 test, 20 attacked by 5-step PGD; lengths 4..32).
EXAMPLE = {
    "workload": {"train_size": 100, "val_size": 20, "test_size": 20},
    "robustness": {"samples": 20},
}
# One sentence of average shape (lengths uniform on 4..32: mean 18, mean square 394).
TRAIN_UNIT = Work(samples=1, tokens=18, tokens_sq=394, real_tokens=18)
EVAL_UNIT = Work(samples=1, tokens=18, tokens_sq=394, real_tokens=18)
_COSTS = cost_model(genome_from_dict(GENOME), 2)
FT = _COSTS.step_flops(TRAIN_UNIT, step_passes(UegrSpec()))  # FLOPs of one train unit
FE = _COSTS.eval_flops(EVAL_UNIT, Work())  # FLOPs of one eval unit
# The example's evaluation: val + test + 6 PGD forward passes over 20; 5 input-gradient passes.
EXAMPLE_EVAL = (EVAL_UNIT * (20 + 20 + 6 * 20), EVAL_UNIT * (5 * 20))
EXAMPLE_REPORT_FLOPS = 100 * FT + _COSTS.eval_flops(*EXAMPLE_EVAL)  # every example report's


def flops(train: int, evl: int) -> int:
    """The FLOPs of ``train`` train units and ``evl`` eval units."""
    return train * FT + evl * FE


def report(
    trial: str,
    index: int,
    end: float,
    train: int,
    evl: int,
    val: float,
    test: float,
    evaluation: tuple[Work, Work] | None = None,
    unit: Work = TRAIN_UNIT,
) -> Report:
    """Epoch ``index + 1`` of ``trial``, 5 s long, ending at ``end``: ``train`` training samples of
    shape ``unit`` in batches of 32, and ``evaluation`` (forward, input-gradient work; default
    ``evl`` eval units forward)."""
    forward, input_grad = evaluation or (EVAL_UNIT * evl, Work())
    train_flops = _COSTS.step_flops(unit * train, step_passes(UegrSpec()))
    eval_flops = _COSTS.eval_flops(forward, input_grad)
    return Report(
        trial_id=trial,
        report_index=index,
        epoch=index + 1,
        node=NODE,
        device="cpu",
        gpu_ids=[],
        visible_devices=None,
        start_time=end - 5,
        end_time=end,
        samples=train,
        steps=-(-train // HPARAMS["batch_size"]),
        train_flops=train_flops,
        eval_flops=eval_flops,
        flops=train_flops + eval_flops,
        loss=0.5,
        val_accuracy=val,
        test_accuracy=test,
        robust_accuracy=test - 0.1,
        flops_check_error=0.0,
        train_work=unit * train,
        eval_forward_work=forward,
        eval_input_grad_work=input_grad,
        num_classes=2,
    )


def example_report(trial: str, index: int, end: float, val: float, test: float) -> Report:
    """A report of the example: one honest epoch and evaluation of its spec (``EXAMPLE``)."""
    return report(trial, index, end, 100, 0, val, test, evaluation=EXAMPLE_EVAL)


def write_example_ledger(path: Path) -> None:
    """Two trials, three reports of ``EXAMPLE_REPORT_FLOPS`` each, run length 40 s — the numbers
    the score tests check by hand (score it with a spec holding ``EXAMPLE``)."""
    writer = LedgerWriter(path)
    writer.append(RunStart(run_id="example", t0=T0, seed=1, duration_s=40.0, slots=2))
    for index, trial in enumerate(("a", "b")):
        writer.append(TrialStart(trial, index, T0 + 1, GENOME, HPARAMS, {}))
    writer.append(example_report("a", 0, T0 + 10, 0.60, 0.55))
    writer.append(example_report("b", 0, T0 + 20, 0.70, 0.65))
    writer.append(TrialEnd("b", T0 + 21, "completed"))
    writer.append(example_report("a", 1, T0 + 30, 0.65, 0.90))  # best test, not best val
    writer.append(TrialEnd("a", T0 + 35, "stopped"))
    writer.append(RunEnd(time=T0 + 40, reason="deadline"))
    writer.close()


def cpu_node(hostname: str = "node-a", ip: str = NODE, cores: int = 2, mhz: float = 1000.0):
    """A CPU node of system.json: AVX2+FMA, so its estimated fp32 peak is cores × mhz × 32."""
    return {
        "hostname": hostname,
        "ray_node_ip": ip,
        "platform": "Linux-test",
        "cpu": {
            "model": "Test CPU 9000",
            "logical_cores": cores,
            "physical_cores": cores,
            "max_mhz": mhz,
            "mhz_source": "test",
            "flags": ["avx", "avx2", "fma"],
        },
        "memory_bytes": 8_000_000_000,
        "gpus": [],
        "gpu_note": "no NVIDIA GPU",
        "software": {"python": "3.11", "aiperf": "0.1.0"},
        "measured_gemm_flops": {"cpu": {"fp32": CPU_MEASURED, "bf16": 1e9, "fp16": 1e9}},
    }


def example_system(nodes: list[dict] | None = None) -> dict:
    """system.json of a one-node CPU system: datasheet fp32 peak 64 GFLOPS, measured 32."""
    nodes = nodes if nodes is not None else [cpu_node()]
    return {"cluster": {"address": None, "nodes": []}, "nodes": nodes, "interconnect": None}


# The shipped tiny spec: lengths uniform on 4..24 (mean 14, mean square 233); val 500, test
# 1000, 500 attacked by 5-step PGD.
TINY_UNIT = Work(samples=1, tokens=14, tokens_sq=233, real_tokens=14)
TINY_EVAL = (TINY_UNIT * (500 + 1000 + 6 * 500), TINY_UNIT * (5 * 500))
TINY_TRIALS = {  # trial: (start, planned epochs, [(end of each epoch, val, test)], status)
    "t1": (T0 + 1, 3, [(T0 + 10, 0.62, 0.60), (T0 + 20, 0.70, 0.68), (T0 + 30, 0.74, 0.71)]),
    "t2": (T0 + 1, 2, [(T0 + 12, 0.58, 0.57), (T0 + 24, 0.66, 0.64)]),
    "t3": (T0 + 40, 2, [(T0 + 50, 0.71, 0.69), (T0 + 60, 0.80, 0.77)]),
    "t4": (T0 + 40, 4, [(T0 + 55, 0.64, 0.62), (T0 + 70, 0.69, 0.66), (T0 + 85, 0.72, 0.70)]),
}


def write_tiny_ledger(path: Path, run_id: str = "tiny-test") -> None:
    """A closed-division run of the shipped ``tiny`` spec: 2 slots, 4 trials, 10 reports, 120 s,
    every report an honest epoch and evaluation of it, best test accuracy 0.77 (gate 0.6)."""
    writer = LedgerWriter(path)
    writer.append(RunStart(run_id, T0, 1234, 120.0, 2, {"cpu": 1.0}, [NODE]))
    for index, (trial, (start, epochs, ends)) in enumerate(TINY_TRIALS.items()):
        writer.append(TrialStart(trial, index, start, GENOME, {**HPARAMS, "epochs": epochs}, {}))
        for epoch, (end, val, test) in enumerate(ends):
            writer.append(report(trial, epoch, end, 4000, 0, val, test, TINY_EVAL, TINY_UNIT))
        status = "completed" if len(ends) == epochs else "stopped"
        writer.append(TrialEnd(trial, ends[-1][0] + 1, status))
    writer.append(RunEnd(time=T0 + 120, reason="deadline", energy=None, alive_nodes=[NODE]))
    writer.close()


def write_tiny_run(folder: Path) -> Path:
    """A finished, scored run directory of ``write_tiny_ledger`` under the shipped tiny spec."""
    import json

    from aiperf.report.outputs import write_derived
    from aiperf.rundir import LEDGER, SPEC, SYSTEM
    from aiperf.spec import dump_spec, load_spec

    folder.mkdir(parents=True, exist_ok=True)
    write_tiny_ledger(folder / LEDGER)
    (folder / SPEC).write_text(dump_spec(load_spec("tiny")))
    (folder / SYSTEM).write_text(json.dumps(example_system(), indent=2))
    write_derived(folder)
    return folder
