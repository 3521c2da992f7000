"""Connecting to Ray and placing trials on its slots."""

from aiperf.cluster.connect import Cluster, connect, disconnect, slot_count, trial_resources

__all__ = ["Cluster", "connect", "disconnect", "slot_count", "trial_resources"]
