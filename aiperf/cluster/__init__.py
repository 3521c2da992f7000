"""Connecting to Ray, waiting for nodes, their inventory, and placing trials on slots."""

from aiperf.cluster.connect import (
    Cluster,
    ClusterError,
    ClusterOptions,
    Node,
    alive_nodes,
    connect,
    connect_cluster,
    disconnect,
    wait_for_nodes,
)
from aiperf.cluster.placement import slot_count, trial_resources

__all__ = [
    "Cluster",
    "ClusterError",
    "ClusterOptions",
    "Node",
    "alive_nodes",
    "connect",
    "connect_cluster",
    "disconnect",
    "slot_count",
    "trial_resources",
    "wait_for_nodes",
]
