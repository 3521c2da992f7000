"""NVIDIA devices through NVML (nvidia-ml-py's ``pynvml``), each with its datasheet peaks."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

from aiperf.hw.peaks import datasheet_peaks


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _field(pynvml: Any, read: Callable[[], Any]) -> Any:
    """One NVML reading, None when this device or driver does not support it."""
    try:
        return _text(read())
    except pynvml.NVMLError:
        return None


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _device(pynvml: Any, index: int) -> dict[str, Any]:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    name = _field(pynvml, lambda: pynvml.nvmlDeviceGetName(handle)) or "unknown"
    memory = _field(pynvml, lambda: pynvml.nvmlDeviceGetMemoryInfo(handle))
    sm, mem = pynvml.NVML_CLOCK_SM, pynvml.NVML_CLOCK_MEM
    power_mw = _field(pynvml, lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(handle))
    return {
        "index": index,
        "name": name,
        "uuid": _field(pynvml, lambda: pynvml.nvmlDeviceGetUUID(handle)),
        "memory_bytes": getattr(memory, "total", None),
        "max_sm_clock_mhz": _field(pynvml, lambda: pynvml.nvmlDeviceGetMaxClockInfo(handle, sm)),
        "sm_clock_mhz": _field(pynvml, lambda: pynvml.nvmlDeviceGetClockInfo(handle, sm)),
        "max_memory_clock_mhz": _field(
            pynvml, lambda: pynvml.nvmlDeviceGetMaxClockInfo(handle, mem)
        ),
        "power_limit_w": _scaled(power_mw, 1e-3),
        "datasheet_peak_flops": datasheet_peaks(name),
    }


def gpu_inventory() -> tuple[list[dict[str, Any]], str | None]:
    """NVIDIA devices seen by NVML, or ([], why not) when there is no library, driver or device."""
    try:
        import pynvml
    except ImportError:
        return [], "no NVIDIA GPU listed: nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
    except (pynvml.NVMLError, OSError) as err:
        return [], f"no NVIDIA GPU: NVML unavailable ({err})"
    try:
        gpus = [_device(pynvml, i) for i in range(pynvml.nvmlDeviceGetCount())]
    except pynvml.NVMLError as err:
        return [], f"NVML failed to list devices ({err})"
    finally:
        with suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()
    return gpus, None if gpus else "NVML found no NVIDIA GPU"
