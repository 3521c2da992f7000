"""Device facts: CPU, memory and accelerators of a node."""

from aiperf.hw.inventory import node_inventory

__all__ = ["node_inventory"]
