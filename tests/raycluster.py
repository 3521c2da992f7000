"""A real 2-node Ray cluster on one machine for tests: `ray start --head` and `ray start
--address` as separate processes on distinct loopback IPs, with token authentication on.

The machinery is aiperf's own fake-node cluster (``aiperf.simulate.cluster``): every daemon is a
child of a `ray start --block` process started here, so SIGTERM to that PID stops its node;
anything left is killed by PID from the node's temp dir.
"""

from __future__ import annotations

from pathlib import Path

from aiperf.simulate.cluster import LocalRayCluster as RayCluster
from aiperf.simulate.cluster import cluster_env, kill_leftovers, node_ip, start_fake_nodes
from aiperf.simulate.cluster import stop_cluster as stop_cluster

HEAD_IP, WORKER_IP = node_ip(0), node_ip(1)  # never 127.0.0.1: Ray rewrites it to eth0's IP
STORE_BYTES = 200_000_000
_kill_leftovers = kill_leftovers


FAST_HEALTH_CHECKS = {  # a dead node is noticed in ~2 s instead of ~14 s
    "RAY_health_check_initial_delay_ms": "500",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
}


def start_cluster(
    root: Path, port: int, cpus: int = 2, gpus: int = 0, fast_health_checks: bool = False
) -> RayCluster:
    """Head on 127.0.0.2 and a worker on 127.0.0.3 (its files under ``root/node1``), each with
    ``cpus`` and ``gpus`` (logical)."""
    cluster = RayCluster(root, port, cluster_env(FAST_HEALTH_CHECKS if fast_health_checks else {}))
    start_fake_nodes(cluster, 2, cpus, gpus, STORE_BYTES)
    return cluster
