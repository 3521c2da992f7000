"""Connecting to Ray: an embedded local cluster (default) or an existing one (``--address``).

Token authentication is handled explicitly: an embedded cluster gets a fresh per-run token in
the environment (never written to ~/.ray); a remote cluster uses the token the user provides
through ``RAY_AUTH_TOKEN`` / ``RAY_AUTH_TOKEN_PATH`` or Ray's default token file.
"""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass

from aiperf.spec import ResourcesSpec

_EMBEDDED_OBJECT_STORE_BYTES = 500_000_000  # trials pass small configs; Ray's default takes 30% RAM
# Workers of trials that ask 0 GPUs must not see the GPUs (Ray leaves CUDA_VISIBLE_DEVICES alone
# for them unless this is set).
_WORKER_ENV = {"RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "1"}


@dataclass(frozen=True)
class Cluster:
    address: str | None  # None: the embedded local cluster
    cpus: float
    gpus: float
    nodes: int


def prepare_environment(embedded: bool) -> None:
    """Set the variables Ray reads at start-up, before ray is imported or initialised."""
    os.environ.update(_WORKER_ENV)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # aiperf shows its own progress, not Tune's
    if embedded and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))


def connect(address: str | None = None, num_cpus: int | None = None) -> Cluster:
    """Start (or join) Ray and describe the resources it has."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    prepare_environment(embedded=address is None)
    import ray

    if not ray.is_initialized():
        options = {"address": address, "runtime_env": {"env_vars": dict(_WORKER_ENV)}}
        if address is None:
            options |= {"num_cpus": num_cpus, "object_store_memory": _EMBEDDED_OBJECT_STORE_BYTES}
        ray.init(include_dashboard=False, logging_level="ERROR", log_to_driver=False, **options)
    resources = ray.cluster_resources()
    alive = [node for node in ray.nodes() if node["Alive"]]
    return Cluster(address, resources.get("CPU", 0.0), resources.get("GPU", 0.0), len(alive))


def trial_resources(cluster: Cluster, resources: ResourcesSpec) -> dict[str, float]:
    """Resources one trial asks for: its CPU cores, and 1 GPU on GPU clusters unless set."""
    gpus = resources.gpus_per_trial
    if gpus is None:
        gpus = 1.0 if cluster.gpus >= 1 else 0.0
    return {"cpu": float(resources.cpus_per_trial), "gpu": float(gpus)}


def slot_count(cluster: Cluster, per_trial: dict[str, float]) -> int:
    """How many trials fit at once: the scarcest resource decides."""
    fits = [math.floor(cluster.cpus / per_trial["cpu"] + 1e-9)]
    if per_trial["gpu"] > 0:
        fits.append(math.floor(cluster.gpus / per_trial["gpu"] + 1e-9))
    return max(min(fits), 1)


def disconnect() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()
