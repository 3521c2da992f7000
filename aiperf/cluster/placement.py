"""Placing trials on slots: one slot = the CPU cores (and GPUs) one trial asks for."""

from __future__ import annotations

import math

from aiperf.cluster.connect import Cluster
from aiperf.spec import ResourcesSpec


def trial_resources(cluster: Cluster, resources: ResourcesSpec) -> dict[str, float]:
    """What one trial asks for: its CPU cores, and 1 GPU when the cluster has GPUs (unless set)."""
    gpus = resources.gpus_per_trial
    if gpus is None:
        gpus = 1.0 if cluster.gpus >= 1 else 0.0
    return {"cpu": float(resources.cpus_per_trial), "gpu": float(gpus)}


def slot_count(cluster: Cluster, per_trial: dict[str, float]) -> int:
    """How many trials fit at once, node by node (a trial never spans nodes)."""
    total = 0
    for node in cluster.nodes:
        fits = [math.floor(node.cpus / per_trial["cpu"] + 1e-9)]
        if per_trial["gpu"] > 0:
            fits.append(math.floor(node.gpus / per_trial["gpu"] + 1e-9))
        total += min(fits)
    return max(total, 1)
