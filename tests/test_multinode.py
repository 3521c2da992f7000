"""`aiperf run --nodes 2` on a real 2-node Ray cluster (two `ray start` processes on loopback
IPs, token auth on) with logical GPUs: trials land on both nodes, slots follow the resources,
and every trial sees exactly the GPUs Ray gave it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from raycluster import HEAD_IP, WORKER_IP, start_cluster, stop_cluster

from aiperf.score import read_ledger
from aiperf.score.ledger import Report, RunStart

pytestmark = pytest.mark.slow

TINY = [
    "--set=workload.train_size=300", "--set=workload.val_size=100", "--set=workload.test_size=100",
    "--set=robustness.samples=30", "--set=search.space.epochs={min: 1, max: 2}",
    "--set=min_duration=5s", "--set=train.flops_self_check=false",
]  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """2 nodes × (2 logical CPUs, 1 logical GPU) — a GPU Ray hands out on a CPU-only machine."""
    running = start_cluster(tmp_path_factory.mktemp("ray"), port=6391, cpus=2, gpus=1)
    yield running
    stop_cluster(running)


def aiperf_run(cluster, out, *extra: str, duration: str = "40s") -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "aiperf.cli", "run", "--spec", "tiny", "--duration", duration]
    argv += ["--nodes", "2", "--node-timeout", "60s", "--address", cluster.address]
    argv += ["--out", str(out), "--json", *TINY, *extra]
    env = {k: v for k, v in cluster.env.items() if k != "RAY_ADDRESS"}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=240)


def records(out) -> tuple[RunStart, list[Report]]:
    ledger = read_ledger(out / "ledger.jsonl")
    return ledger.run_start, ledger.reports


def test_trials_run_on_both_nodes_with_one_gpu_each(cluster, tmp_path) -> None:
    done = aiperf_run(cluster, tmp_path / "run")
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    start, reports = records(tmp_path / "run")
    assert start.slots == 2 and start.trial_resources == {"cpu": 1.0, "gpu": 1.0}
    assert {r.node for r in reports} == {HEAD_IP, WORKER_IP}
    for r in reports:
        assert len(r.gpu_ids) == 1 and r.visible_devices == r.gpu_ids[0]
        assert r.device == "cpu"  # logical GPUs: no CUDA behind them
    system = json.loads((tmp_path / "run" / "system.json").read_text())
    assert sorted(n["ray_node_ip"] for n in system["nodes"]) == [HEAD_IP, WORKER_IP]
    assert summary["trials_completed"] >= 2


def test_fractional_gpus_double_the_slots(cluster, tmp_path) -> None:
    done = aiperf_run(cluster, tmp_path / "run", "--set=resources.gpus_per_trial=0.5")
    assert done.returncode == 0, done.stderr[-2000:]
    start, reports = records(tmp_path / "run")
    assert start.slots == 4
    assert reports and all(r.gpu_ids == ["0"] == [r.visible_devices] for r in reports)
    assert any(  # two trials trained at the same time on one node's single GPU
        a.trial_id != b.trial_id
        and a.node == b.node
        and a.start_time < b.end_time
        and b.start_time < a.end_time
        for a in reports
        for b in reports
    )


def test_zero_gpu_trials_see_no_gpu(cluster, tmp_path) -> None:
    done = aiperf_run(cluster, tmp_path / "run", "--set=resources.gpus_per_trial=0", duration="25s")
    assert done.returncode == 0, done.stderr[-2000:]
    _, reports = records(tmp_path / "run")
    assert reports and all(r.gpu_ids == [] and r.visible_devices == "" for r in reports)


def test_sysinfo_lists_every_node(cluster) -> None:
    argv = [sys.executable, "-m", "aiperf.cli", "sysinfo", "--json", "--address", cluster.address]
    argv += ["--nodes", "2"]
    done = subprocess.run(argv, env=cluster.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    inventories = json.loads(done.stdout)
    assert sorted(i["ray_node_ip"] for i in inventories) == [HEAD_IP, WORKER_IP]
    assert all(i["peak_flops"]["fp32"]["measured_flops"] > 0 for i in inventories)


def test_too_few_nodes_is_a_clear_error(cluster, tmp_path) -> None:
    argv = [sys.executable, "-m", "aiperf.cli", "run", "--nodes", "3", "--node-timeout", "2s"]
    argv += ["--address", cluster.address, "--out", str(tmp_path / "run")]
    done = subprocess.run(argv, env=cluster.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--nodes 3: waited 2s" in done.stderr and WORKER_IP in done.stderr
    assert done.stderr.strip().count("\n") == 0


def test_a_driver_without_the_token_is_refused(cluster, tmp_path) -> None:
    env = {k: v for k, v in cluster.env.items() if k not in ("RAY_AUTH_TOKEN", "RAY_AUTH_MODE")}
    env["HOME"] = str(tmp_path)  # no ~/.ray/auth_token to fall back on
    argv = [sys.executable, "-m", "aiperf.cli", "run", "--address", cluster.address]
    argv += ["--out", str(tmp_path / "run"), "--node-timeout", "5s"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert not (tmp_path / "run" / "ledger.jsonl").exists()
    assert os.environ.get("RAY_AUTH_MODE") != "disabled"  # never switched off to make this pass
