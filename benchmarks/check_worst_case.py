"""``aiperf check`` on the worst bundles of at most 10 MB: wall time and peak memory of each, in
a fresh process as a leaderboard runs it, against the goal (2 s, 300 MB) and against the floor
(the same process checking the smallest honest bundle).

Cases: the largest honest ledger the archive caps allow (every report consistent, so every one is
parsed, audited and re-derived), a gzip bomb, the most members with the largest PAX headers the
caps allow, and one member of incompressible bytes at the member cap.
Usage: python benchmarks/check_worst_case.py
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from aiperf.flops import Work, cost_model, step_passes
from aiperf.models import genome_from_dict
from aiperf.report.outputs import write_derived
from aiperf.rundir import LEDGER, SPEC, SYSTEM
from aiperf.spec import dump_spec, load_spec
from aiperf.submit import SystemDescription, make_bundle
from aiperf.submit.archive import DEFAULT_LIMITS

GOAL_S, GOAL_MB = 2.0, 300.0
T0 = 1_000_000.0
NODE = "10.0.0.1"
GENOME = {
    "embed_dim": 32,
    "blocks": [{"type": "conv", "kernel": 3, "width": 32}],
    "pooling": "mean",
}
UNIT = Work(samples=1, tokens=14, tokens_sq=233, real_tokens=14)  # tiny: lengths 4..24
EVAL_FORWARD = UNIT * (500 + 1000 + 6 * 500)  # tiny's val + test + 6 PGD passes over 500
EVAL_INPUT_GRAD = UNIT * (5 * 500)
SYSTEM_JSON = {
    "nodes": [
        {
            "hostname": "bench",
            "ray_node_ip": NODE,
            "cpu": {"model": "x", "physical_cores": 64, "max_mhz": 3000.0, "flags": ["avx512f"]},
            "gpus": [],
            "measured_gemm_flops": {"cpu": {"fp32": 1e12}},
        }
    ]
}
DESCRIPTION = SystemDescription(
    submitter="bench", system_name="bench", nodes=1, accelerator="none",
    accelerators_per_node=0, accelerator_count=0, cpu="x", memory_gb=0.0, interconnect="none",
)  # fmt: skip


def deep_genome(trial: int) -> dict:
    """A genome of 64 conv blocks whose widths no other trial shares: nothing to re-use."""
    blocks = [
        {"type": "conv", "kernel": 3, "width": 1 + (trial * 64 + i) % 60_000} for i in range(64)
    ]
    return {"embed_dim": 32, "blocks": blocks, "pooling": "mean"}


def ledger_lines(reports: int, epochs: int = 6, distinct: bool = False) -> list[str]:
    """A consistent 2-slot ledger of ``reports`` one-second reports, ``epochs`` per trial (with
    ``distinct``: every trial a new 64-block genome)."""
    spec_uegr = load_spec("tiny").uegr
    trials = reports // epochs
    length = trials // 2 * epochs + epochs + 10.0
    lines = [{"kind": "run_start", "run_id": "bench", "t0": T0, "seed": 1234, "slots": 2,
              "duration_s": length, "trial_resources": {"cpu": 1.0}, "nodes": [NODE],
              "schema": 1}]  # fmt: skip
    for trial in range(trials):
        genome = deep_genome(trial) if distinct else GENOME
        costs = cost_model(genome_from_dict(genome), 2)
        train_work = UNIT * 4000  # one honest epoch of tiny: 4000 samples in 125 steps of 32
        train_flops = costs.step_flops(train_work, step_passes(spec_uegr))
        eval_flops = costs.eval_flops(EVAL_FORWARD, EVAL_INPUT_GRAD)
        start = T0 + (trial // 2) * epochs
        hparams = {"lr": 0.003, "batch_size": 32, "weight_decay": 0.0, "epochs": epochs}
        lines.append({"kind": "trial", "trial_id": f"t{trial}", "trial_index": trial,
                      "time": start, "genome": genome, "hparams": hparams, "uegr": {},
                      "schema": 1})  # fmt: skip
        for epoch in range(epochs):
            lines.append({
                "kind": "report", "schema": 1, "trial_id": f"t{trial}", "report_index": epoch,
                "epoch": epoch + 1, "node": NODE, "device": "cpu", "gpu_ids": [],
                "visible_devices": None, "start_time": start + epoch,
                "end_time": start + epoch + 1, "samples": 4000, "steps": 125,
                "train_flops": train_flops, "eval_flops": eval_flops,
                "flops": train_flops + eval_flops, "loss": 0.5, "val_accuracy": 0.7,
                "test_accuracy": 0.7, "robust_accuracy": 0.6, "flops_check_error": 0.0,
                "train_work": asdict(train_work), "eval_forward_work": asdict(EVAL_FORWARD),
                "eval_input_grad_work": asdict(EVAL_INPUT_GRAD), "num_classes": 2,
            })  # fmt: skip
    lines.append({"kind": "run_end", "time": T0 + length, "reason": "deadline", "energy": None,
                  "alive_nodes": [NODE], "schema": 1})  # fmt: skip
    return [json.dumps(line, sort_keys=True) + "\n" for line in lines]


def at_cap(line_bytes: int, per_report: int) -> int:
    """How many reports fill the ledger up to the archive's member cap."""
    return int(DEFAULT_LIMITS.member_bytes * 0.97) // (line_bytes // per_report)


def honest_bundle(folder: Path, reports: int | None, distinct: bool = False) -> Path:
    """A consistent bundle of ``reports`` reports (None: as many as the member cap allows)."""
    epochs = 1 if distinct else 6
    if reports is None:
        sample = "".join(ledger_lines(60, epochs, distinct))
        reports = at_cap(len(sample.encode()), 60)
    run_dir = folder / f"run-{reports}-{distinct}"
    run_dir.mkdir(parents=True)
    (run_dir / SPEC).write_text(dump_spec(load_spec("tiny")))
    (run_dir / SYSTEM).write_text(json.dumps(SYSTEM_JSON))
    (run_dir / LEDGER).write_text("".join(ledger_lines(reports, epochs, distinct)))
    write_derived(run_dir)
    return make_bundle(run_dir, folder / f"honest-{reports}-{distinct}.tar.gz", DESCRIPTION)


def gzip_bomb(folder: Path, compressed_mb: float = 10.0) -> Path:
    path = folder / "bomb.tar.gz"
    chunk = bytes(1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as out:
        while path.stat().st_size < compressed_mb * 1e6 * 0.98:
            for _ in range(256):
                out.write(chunk)
            out.flush()
    return path


def pax_headers(folder: Path) -> Path:
    """The most members the caps allow, each with the largest PAX header allowed."""
    path = folder / "pax.tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for index in range(DEFAULT_LIMITS.members - 1):
            info = tarfile.TarInfo(f"run/m{index}")
            info.pax_headers = {"comment": "9" * (DEFAULT_LIMITS.header_bytes - 100)}
            tar.addfile(info, io.BytesIO(b""))
    path.write_bytes(gzip.compress(buffer.getvalue()))
    return path


def random_member(folder: Path) -> Path:
    path = folder / "random.tar.gz"
    data = os.urandom(min(DEFAULT_LIMITS.member_bytes, 9_500_000))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("run/noise.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buffer.getvalue(), compresslevel=1))
    return path


def inflated(bundle: Path) -> str:
    """The bundle's size once decompressed, up to 200 MB (a bomb shows as "> 200")."""
    total = 0
    with gzip.open(bundle) as stream:
        while total < 200e6 and (chunk := stream.read(1 << 20)):
            total += len(chunk)
    return f"{total / 1e6:.1f}" if total < 200e6 else "> 200"


def measure(bundle: Path) -> tuple[float, float, str]:
    """Seconds, peak resident MB and the first output line of ``aiperf check`` in a new process."""
    script = (  # VmHWM: this process's own peak (ru_maxrss would include the forking parent's)
        "import re, sys, time; t = time.perf_counter(); from aiperf.cli import main;"
        " code = main(['check', sys.argv[1]]); d = time.perf_counter() - t;"
        " hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1);"
        " print(f'@@ {d} {int(hwm) / 1024}', file=sys.stderr); sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", script, str(bundle)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    stats = next(line for line in done.stderr.splitlines() if line.startswith("@@"))
    seconds, peak = map(float, stats.split()[1:])
    first = (done.stdout.splitlines() or done.stderr.splitlines() or [""])[0]
    return seconds, peak, first.replace(str(bundle), "")[:40]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    table = Table("case", "bundle MB", "inflated MB", "seconds", "× floor", "peak MB", "goal met",
                  "verdict")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        cases = {
            "smallest honest (floor)": honest_bundle(folder, 60),
            "honest, ledger at the member cap": honest_bundle(folder, None),
            "distinct 64-block genomes at the cap": honest_bundle(folder, None, distinct=True),
            "gzip bomb": gzip_bomb(folder),
            "max members × max PAX header": pax_headers(folder),
            "incompressible member": random_member(folder),
        }
        print(f"bundles built in {time.perf_counter() - started:.0f} s")
        floor = None
        for name, bundle in cases.items():
            seconds, peak, verdict = measure(bundle)
            floor = floor or seconds
            ok = seconds <= GOAL_S and peak <= GOAL_MB
            size = bundle.stat().st_size / 1e6
            table.add_row(name, f"{size:.2f}", inflated(bundle), f"{seconds:.2f}",
                          f"{seconds / floor:.1f}", f"{peak:.0f}", "yes" if ok else "NO",
                          verdict)  # fmt: skip
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
