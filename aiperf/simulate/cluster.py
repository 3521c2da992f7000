"""Fake nodes on this machine: Ray raylets on their own loopback addresses, holding logical
CPUs and GPUs, started with ``ray start`` and token authentication on.

Node k listens on 127.0.0.(k + 2) (never 127.0.0.1: Ray rewrites it to the host's address).
Every daemon is a child of a ``ray start --block`` process started here in its own session, so
stopping kills those groups, then anything left whose command line names the cluster's
temporary directory (by PID, never by name).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiperf.cluster.connect import ClusterError

MAX_NODES = 64  # loopback addresses and raylets one machine can hold
OBJECT_STORE_BYTES = 100_000_000  # per raylet: trials pass small configs and results


class SimClusterError(ClusterError):
    """The fake nodes cannot be started here (one line, exit 2)."""


@dataclass
class LocalRayCluster:
    """Ray daemons started from this process; ``address`` is the head's GCS."""

    root: Path  # temp dirs and logs (short: Ray's socket paths must fit 107 bytes)
    port: int
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{node_ip(0)}:{self.port}"


def node_ip(index: int) -> str:
    """The loopback address of fake node ``index`` (0 = the head)."""
    return f"127.0.0.{index + 2}"


def free_port(ip: str) -> int:
    with socket.socket() as probe:
        probe.bind((ip, 0))
        return int(probe.getsockname()[1])


def cluster_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a fresh token-authenticated cluster and the drivers that join it."""
    return {
        **(extra or {}),
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "1",
    }


def start_node(
    cluster: LocalRayCluster, name: str, args: list[str], store_bytes: int = OBJECT_STORE_BYTES
) -> None:
    """``ray start --block`` with ``args``, logging to ``<root>/<name>.log``."""
    ray = str(Path(sys.executable).parent / "ray")
    with (cluster.root / f"{name}.log").open("w") as log:  # the child keeps its own copy
        cluster.processes.append(
            subprocess.Popen(
                [ray, "start", "--block", "--disable-usage-stats", *args,
                 f"--temp-dir={cluster.root / name}", f"--object-store-memory={store_bytes}"],
                env=cluster.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        )  # fmt: skip


def wait_for_port(ip: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection((ip, port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)  # the GCS is still starting; nothing to wait on instead
    raise SimClusterError(f"no Ray head on {ip}:{port} after {timeout_s:.0f}s")


def start_fake_nodes(
    cluster: LocalRayCluster,
    raylets: int,
    cpus: int,
    gpus: int,
    store_bytes: int = OBJECT_STORE_BYTES,
) -> None:
    """``raylets`` nodes (``head``, then ``node1``…), each with ``cpus`` logical CPUs and
    ``gpus`` logical GPUs; returns once the head answers (workers join on their own)."""
    resources = [f"--num-cpus={cpus}", f"--num-gpus={gpus}"]
    head = ["--head", f"--node-ip-address={node_ip(0)}", f"--port={cluster.port}"]
    start_node(cluster, "head", [*head, "--include-dashboard=false", *resources], store_bytes)
    wait_for_port(node_ip(0), cluster.port, 60)
    for index in range(1, raylets):
        address = [f"--address={cluster.address}", f"--node-ip-address={node_ip(index)}"]
        start_node(cluster, f"node{index}", [*address, *resources], store_bytes)


def stop_cluster(cluster: LocalRayCluster) -> None:
    """SIGTERM every ``ray start --block`` (workers first), SIGKILL after a grace period (a
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
    kill_leftovers(cluster.root)


def kill_leftovers(root: Path) -> None:
    """Kill the processes whose command line names ``root`` (by PID, never by name)."""
    marker = str(root).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "cmdline").read_bytes():
                os.kill(int(proc.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


@contextlib.contextmanager
def fake_cluster(raylets: int, cpus: int, gpus: int) -> Iterator[LocalRayCluster]:
    """Fake nodes for the length of a ``with``; the driver joins with the cluster's token."""
    if not 1 <= raylets <= MAX_NODES:
        raise SimClusterError(f"{raylets} fake nodes: this machine holds 1 to {MAX_NODES}")
    root = Path(tempfile.mkdtemp(prefix="aiperf-sim-"))
    saved = {key: os.environ.get(key) for key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    # Ray starts idle task workers on every node when a driver connects; trials run in actors,
    # which never use them, and on shared cores 8 per fake node would slow the trials' start.
    env = cluster_env({"RAY_prestart_worker_first_driver": "0"})
    cluster = LocalRayCluster(root, free_port(node_ip(0)), env)
    try:
        start_fake_nodes(cluster, raylets, cpus, gpus)
        os.environ.update({key: cluster.env[key] for key in saved})
        yield cluster
    finally:
        stop_cluster(cluster)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(root, ignore_errors=True)
