"""What this node is: CPU, memory, accelerators (through nvidia-ml-py's ``pynvml``), software."""

from __future__ import annotations

import os
import platform
import socket
from typing import Any

from aiperf import __version__


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def gpu_inventory() -> tuple[list[dict[str, Any]], str | None]:
    """NVIDIA devices seen by NVML, or ([], why not) when there is no driver or no device."""
    try:
        import pynvml
    except ImportError:
        return [], "nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as err:
        return [], f"NVML unavailable: {err}"
    try:
        return [_gpu(pynvml, i) for i in range(pynvml.nvmlDeviceGetCount())], None
    finally:
        pynvml.nvmlShutdown()


def _gpu(pynvml: Any, index: int) -> dict[str, Any]:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    return {
        "index": index,
        "name": pynvml.nvmlDeviceGetName(handle),
        "uuid": pynvml.nvmlDeviceGetUUID(handle),
        "memory_bytes": pynvml.nvmlDeviceGetMemoryInfo(handle).total,
    }


def software_versions() -> dict[str, str | None]:
    """Versions of the software the score depends on."""
    versions: dict[str, str | None] = {"python": platform.python_version(), "aiperf": __version__}
    for name in ("torch", "ray", "numpy"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    return versions


def node_inventory() -> dict[str, Any]:
    """Everything known about this node, as plain JSON-ready data."""
    gpus, gpu_note = gpu_inventory()
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "gpus": gpus,
        "gpu_note": gpu_note,
        "software": software_versions(),
    }
