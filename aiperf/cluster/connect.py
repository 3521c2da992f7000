"""Connecting to Ray: an embedded local cluster (default) or an existing one (``--address``).

Token authentication is handled explicitly, never turned off: an embedded cluster gets a fresh
per-run token in the environment (never written to ~/.ray); for an existing cluster the driver
uses the token its head was started with — ``--token-file`` (``RAY_AUTH_TOKEN_PATH``), or
``RAY_AUTH_TOKEN`` as exported by aiperf's Slurm launcher, or Ray's own ``~/.ray/auth_token``.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from aiperf.errors import UserError

_EMBEDDED_OBJECT_STORE_BYTES = 500_000_000  # trials pass small configs; Ray's default takes 30% RAM
# Workers of trials that ask 0 GPUs must not see the GPUs (Ray leaves CUDA_VISIBLE_DEVICES alone
# for them unless this is set).
_WORKER_ENV = {"RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "1"}


class ClusterError(UserError):
    """The cluster is not what the run needs (too few nodes, unreachable): one line, exit 2."""


@dataclass(frozen=True)
class Node:
    node_id: str
    ip: str
    cpus: float
    gpus: float


@dataclass(frozen=True)
class Cluster:
    address: str | None  # None: the embedded local cluster
    nodes: tuple[Node, ...]

    @property
    def cpus(self) -> float:
        return sum(n.cpus for n in self.nodes)

    @property
    def gpus(self) -> float:
        return sum(n.gpus for n in self.nodes)

    def describe(self) -> str:
        return ", ".join(f"{n.ip} (CPU {n.cpus:g}, GPU {n.gpus:g})" for n in self.nodes) or "none"


@dataclass(frozen=True)
class ClusterOptions:
    """How ``aiperf run`` finds its cluster (the command line's slice for the cluster)."""

    address: str | None = None  # None: RAY_ADDRESS, else an embedded local cluster
    nodes: int = 1  # wait until this many nodes are alive
    node_timeout_s: float = 300.0
    token_file: Path | None = None
    num_cpus: int | None = None  # embedded cluster only


def connect_cluster(options: ClusterOptions) -> Cluster:
    """Connect as ``options`` say and wait for the nodes the run needs."""
    cluster = connect(options.address, options.num_cpus, options.token_file)
    return wait_for_nodes(cluster, options.nodes, options.node_timeout_s)


def prepare_environment(embedded: bool, token_file: Path | None = None) -> None:
    """Set the variables Ray reads at start-up, before ray is imported or initialised."""
    os.environ.update(_WORKER_ENV)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # aiperf shows its own progress, not Tune's
    # The ledger is the record: Tune's per-trial CSV, JSON and TensorBoard loggers would cost the
    # driver a write of three files per report (measured with aiperf simulate at 32–128 slots).
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    if token_file is not None:
        if not token_file.is_file():
            raise ClusterError(f"--token-file {token_file}: no such file")
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN_PATH"] = str(token_file)
    elif embedded and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    _reload_ray_config()


def _reload_ray_config() -> None:
    """Ray caches its auth settings when first imported; if something imported it before the
    variables above were set, re-read them (as Ray itself does when it enables token auth)."""
    if "ray._raylet" in sys.modules:
        sys.modules["ray._raylet"].Config.initialize("")


def connect(
    address: str | None = None, num_cpus: int | None = None, token_file: Path | None = None
) -> Cluster:
    """Start (or join) Ray and describe its alive nodes."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    prepare_environment(embedded=address is None, token_file=token_file)
    import ray

    if not ray.is_initialized():
        options = {"address": address, "runtime_env": {"env_vars": dict(_WORKER_ENV)}}
        if address is None:
            options |= {"num_cpus": num_cpus, "object_store_memory": _EMBEDDED_OBJECT_STORE_BYTES}
        try:
            ray.init(include_dashboard=False, logging_level="ERROR", log_to_driver=False, **options)
        except ConnectionError as err:
            raise ClusterError(f"--address {address}: {str(err).splitlines()[0]}") from None
    return Cluster(address, alive_nodes())


def alive_nodes() -> tuple[Node, ...]:
    """Ray's alive nodes (``ray.nodes()`` keeps dead ones forever), sorted by IP."""
    import ray

    nodes = [
        Node(n["NodeID"], n["NodeManagerAddress"], n["Resources"].get("CPU", 0.0),
             n["Resources"].get("GPU", 0.0))
        for n in ray.nodes()
        if n["Alive"]
    ]  # fmt: skip
    return tuple(sorted(nodes, key=lambda n: (n.ip, n.node_id)))


def wait_for_nodes(cluster: Cluster, count: int, timeout_s: float) -> Cluster:
    """Block until ``count`` nodes are alive; ClusterError listing what is there on timeout."""
    deadline = time.monotonic() + timeout_s
    while len(cluster.nodes) < count:
        if time.monotonic() > deadline:
            raise ClusterError(
                f"--nodes {count}: waited {timeout_s:.0f}s, Ray at {cluster.address or 'local'} "
                f"has {len(cluster.nodes)} alive: {cluster.describe()}"
            )
        time.sleep(0.5)  # polling the GCS; nothing to wait on instead
        cluster = Cluster(cluster.address, alive_nodes())
    return cluster


def disconnect() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()
