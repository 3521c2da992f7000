"""A worker node dies mid-run (its Ray processes killed by PID): its trials are retried on the
surviving node from their last checkpoint, the run finishes, and the ledger stays consistent."""

from __future__ import annotations

import json
import os
import signal

import pytest
from raycluster import HEAD_IP, WORKER_IP, _kill_leftovers, start_cluster, stop_cluster
from runner import SMALL, start_aiperf, wait_for_reports

from aiperf.score import read_ledger

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path_factory):
    running = start_cluster(tmp_path_factory.mktemp("ray"), port=6393, fast_health_checks=True)
    yield running
    stop_cluster(running)


def test_the_run_survives_a_lost_node(cluster, tmp_path) -> None:
    out = tmp_path / "run"
    args = ["run", "--nodes", "2", "--address", cluster.address, "--duration", "45s"]
    args += ["--out", str(out), "--json", *SMALL, "--set=search.space.epochs={min: 4, max: 8}"]
    process = start_aiperf([a for a in args if a != "--set=resources.num_cpus=2"], cluster.env)
    ledger_path = out / "ledger.jsonl"
    wait_for_reports(ledger_path, 3, 150, process)
    worker = cluster.processes[1]
    os.killpg(worker.pid, signal.SIGKILL)  # the worker's `ray start --block` and its daemons
    _kill_leftovers(cluster.root / "node1")
    killed_at = max(r.end_time for r in read_ledger(ledger_path).reports)
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 0, stderr[-3000:]
    summary = json.loads(stdout)
    ledger = read_ledger(ledger_path)
    assert summary["nodes_lost"] == [WORKER_IP]
    assert {r.node for r in ledger.reports if r.end_time > killed_at + 5} <= {HEAD_IP}
    assert ledger.duplicate_reports == 0  # no (trial, epoch) written twice
    assert set(ledger.trial_ends) == set(ledger.trials)  # every trial accounted for
    assert summary["trials_completed"] >= 1
