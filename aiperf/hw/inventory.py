"""What this node is (CPU, memory, GPUs, software) and its peak FLOPS, datasheet and measured."""

from __future__ import annotations

import os
import platform
import socket
from importlib import metadata
from typing import Any

from aiperf import __version__
from aiperf.hw.cpu import cpu_facts, estimated_peak_flops
from aiperf.hw.gemm import measured_gemm_peak
from aiperf.hw.gpu import gpu_inventory
from aiperf.hw.peaks import PRECISIONS

CPU_MEASURE_PRECISIONS = ("fp32", "bf16", "fp16")
CPU_MEASURE_S = 0.25  # per precision; the three take ~1.2 s with warm-ups on 2 cores
GPU_MEASURE_S = 0.2


def memory_bytes() -> int | None:
    """Physical memory of the node."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def software_versions() -> dict[str, str | None]:
    """Versions of the software the score depends on (read from metadata, nothing imported)."""
    versions: dict[str, str | None] = {"python": platform.python_version(), "aiperf": __version__}
    for name in ("torch", "ray", "numpy", "nvidia-ml-py"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _cuda_indices(gpus: list[dict[str, Any]]) -> dict[int, int]:
    """NVML index → torch CUDA index, matched by UUID (CUDA may order or hide devices)."""
    import torch

    if not torch.cuda.is_available():
        return {}
    by_uuid = {}
    for cuda_index in range(torch.cuda.device_count()):
        uuid = getattr(torch.cuda.get_device_properties(cuda_index), "uuid", None)
        by_uuid[str(uuid).lower().removeprefix("gpu-")] = cuda_index
    return {
        gpu["index"]: by_uuid[key]
        for gpu in gpus
        if (key := str(gpu.get("uuid")).lower().removeprefix("gpu-")) in by_uuid
    }


def measure_gemm(gpus: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Measured matmul FLOPS: "cpu" and "gpu:<NVML index>", each per precision."""
    measured: dict[str, dict[str, float | None]] = {
        "cpu": {p: measured_gemm_peak("cpu", p, CPU_MEASURE_S) for p in CPU_MEASURE_PRECISIONS}
    }
    for nvml_index, cuda_index in _cuda_indices(gpus).items():
        measured[f"gpu:{nvml_index}"] = {
            p: measured_gemm_peak(f"cuda:{cuda_index}", p, GPU_MEASURE_S) for p in PRECISIONS
        }
    return measured


def _figure(values: dict[str, Any], precision: str) -> float | None:
    """A device's figure; a device without TF32 runs TF32 requests in fp32, so that figure."""
    value = values.get(precision)
    return values.get("fp32") if value is None and precision == "tf32" else value


def _total(values: list[float | None]) -> float | None:
    """Sum over devices, None when any device lacks the figure (a partial sum would mislead)."""
    return None if not values or any(v is None for v in values) else sum(values)


def peak_summary(inventory: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Node peak per precision: Σ GPUs when there are GPUs, else the CPU, datasheet and measured."""
    measured = inventory.get("measured_gemm_flops") or {}
    gpus = inventory.get("gpus") or []
    summary = {}
    for precision in PRECISIONS:
        if gpus:
            datasheet = _total([_figure(g["datasheet_peak_flops"], precision) for g in gpus])
            keys = [f"gpu:{g['index']}" for g in gpus]
            basis = f"Σ {len(gpus)} GPU datasheet figures"
        else:
            datasheet = _figure(inventory["cpu"]["estimated_peak_flops"], precision)
            keys = ["cpu"]
            basis = "CPU estimate (cores × clock × FLOPs/cycle)"
        found = [_figure(measured[k], precision) if k in measured else None for k in keys]
        summary[precision] = {
            "datasheet_flops": datasheet,
            "measured_flops": _total(found),
            "basis": basis,
        }
    return summary


def peak_for(inventory: dict[str, Any], precision: str) -> tuple[float | None, float | None]:
    """(datasheet, measured) peak FLOPS of one node's inventory at a precision; None if unknown."""
    entry = (inventory.get("peak_flops") or {}).get(precision) or {}
    return entry.get("datasheet_flops"), entry.get("measured_flops")


def node_inventory(measure: bool = True) -> dict[str, Any]:
    """Everything known about this node as JSON-ready data; measure=True adds ~1–2 s of GEMMs."""
    facts = cpu_facts()
    estimate, assumption = estimated_peak_flops(facts)
    gpus, gpu_note = gpu_inventory()
    inventory: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": {**facts.to_dict(), "estimated_peak_flops": estimate, "estimate": assumption},
        "memory_bytes": memory_bytes(),
        "gpus": gpus,
        "gpu_note": gpu_note,
        "software": software_versions(),
    }
    if measure:
        inventory["measured_gemm_flops"] = measure_gemm(gpus)
    inventory["peak_flops"] = peak_summary(inventory)
    return inventory
