"""A real 2-node Ray cluster on one machine for tests: `ray start --head` and `ray start
--address` as separate processes on distinct loopback IPs, with token authentication on.

Every daemon is a child of a `ray start --block` process we started, so SIGTERM to that PID
stops its node; anything left is killed by PID from the node's temp dir.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"  # never 127.0.0.1: Ray rewrites it to eth0's IP


@dataclass
class RayCluster:
    root: Path
    port: int
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{HEAD_IP}:{self.port}"


def _ray_bin() -> str:
    return str(Path(sys.executable).parent / "ray")


def _start_node(cluster: RayCluster, name: str, args: list[str]) -> None:
    log = (cluster.root / f"{name}.log").open("w")
    cluster.processes.append(
        subprocess.Popen(
            [_ray_bin(), "start", "--block", "--disable-usage-stats", *args,
             f"--temp-dir={cluster.root / name}", "--object-store-memory=200000000"],
            env=cluster.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    )  # fmt: skip


def _wait_for_port(ip: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection((ip, port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)  # the GCS is still starting; nothing to wait on instead
    raise TimeoutError(f"no Ray head on {ip}:{port} after {timeout_s}s")


FAST_HEALTH_CHECKS = {  # a dead node is noticed in ~2 s instead of ~14 s
    "RAY_health_check_initial_delay_ms": "500",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
}


def start_cluster(
    root: Path, port: int, cpus: int = 2, gpus: int = 0, fast_health_checks: bool = False
) -> RayCluster:
    """Head on 127.0.0.2 and a worker on 127.0.0.3, each with ``cpus`` and ``gpus`` (logical)."""
    env = {
        **(FAST_HEALTH_CHECKS if fast_health_checks else {}),
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "1",
    }
    cluster = RayCluster(root, port, env)
    resources = [f"--num-cpus={cpus}", f"--num-gpus={gpus}"]
    _start_node(cluster, "head", ["--head", f"--node-ip-address={HEAD_IP}", f"--port={port}",
                                  "--include-dashboard=false", *resources])  # fmt: skip
    _wait_for_port(HEAD_IP, port, 60)
    _start_node(
        cluster,
        "worker",
        [f"--address={cluster.address}", f"--node-ip-address={WORKER_IP}", *resources],
    )
    return cluster


def stop_cluster(cluster: RayCluster) -> None:
    """SIGTERM every `ray start --block` (worker first), SIGKILL after a short grace period (a
    head drains for up to 30 s otherwise), then sweep what is left by PID."""
    for process in reversed(cluster.processes):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in reversed(cluster.processes):
        try:
            process.wait(timeout=8)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    _kill_leftovers(cluster.root)


def _kill_leftovers(root: Path) -> None:
    """Ray processes whose command line names this cluster's temp dir (by PID, never by name)."""
    marker = str(root).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "cmdline").read_bytes():
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue
