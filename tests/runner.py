"""Running `aiperf` as a separate process with its own embedded Ray, isolated by RAY_TMPDIR so
every Ray process it leaves behind (e.g. after SIGKILL) can be found and killed by PID."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from raycluster import _kill_leftovers

SMALL = [
    "--set=workload.train_size=400", "--set=workload.val_size=100", "--set=workload.test_size=100",
    "--set=robustness.samples=30", "--set=min_duration=5s", "--set=quality_gate=0",
    "--set=train.flops_self_check=false", "--set=resources.num_cpus=2",
]  # fmt: skip


def aiperf_env(ray_tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    return {**env, "RAY_TMPDIR": str(ray_tmp), **extra}


def start_aiperf(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    argv = [sys.executable, "-m", "aiperf.cli", *args]
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_reports(ledger: Path, count: int, timeout_s: float, process=None) -> None:
    """Poll the ledger (the condition we wait on) until it holds ``count`` report records."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ledger.exists() and ledger.read_text().count('"kind": "report"') >= count:
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"aiperf exited early: {process.stderr.read()[-2000:]}")
        time.sleep(0.5)  # polling a file another process appends to
    raise TimeoutError(f"fewer than {count} reports in {ledger} after {timeout_s}s")


def cleanup(ray_tmp: Path) -> None:
    _kill_leftovers(ray_tmp)
