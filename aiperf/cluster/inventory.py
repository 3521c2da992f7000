"""The inventory of every node: a Ray task pinned to each alive node runs ``node_inventory``."""

from __future__ import annotations

from typing import Any

from aiperf.cluster.connect import Cluster


def _inventory_task() -> dict[str, Any]:
    from aiperf.hw import node_inventory

    return node_inventory()


def cluster_inventory(cluster: Cluster) -> list[dict[str, Any]]:
    """One inventory per node (devices, peaks, measured GEMM), each tagged with its Ray node."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    task = ray.remote(num_cpus=0)(_inventory_task)
    refs = [
        task.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(n.node_id, soft=False)
        ).remote()
        for n in cluster.nodes
    ]
    inventories = ray.get(refs)
    return [
        {**inventory, "ray_node_id": node.node_id, "ray_node_ip": node.ip}
        for node, inventory in zip(cluster.nodes, inventories, strict=True)
    ]
