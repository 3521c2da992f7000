"""Device facts: CPU, memory and accelerators of a node, their peak FLOPS and energy use."""

from aiperf.hw.cpu import CpuFacts, cpu_facts, estimated_peak_flops
from aiperf.hw.energy import EnergyMeter, EnergyResult
from aiperf.hw.gemm import measured_gemm_peak
from aiperf.hw.gpu import gpu_inventory
from aiperf.hw.inventory import node_inventory, peak_for, peak_summary
from aiperf.hw.peaks import PEAKS, PRECISIONS, DevicePeak, datasheet_peak, device_peak

__all__ = [
    "PEAKS",
    "PRECISIONS",
    "CpuFacts",
    "DevicePeak",
    "EnergyMeter",
    "EnergyResult",
    "cpu_facts",
    "datasheet_peak",
    "device_peak",
    "estimated_peak_flops",
    "gpu_inventory",
    "measured_gemm_peak",
    "node_inventory",
    "peak_for",
    "peak_summary",
]
