"""Measured matmul peak: best-of timing of a square torch.matmul, 2·n³ FLOPs each."""

from __future__ import annotations

import time
from typing import Any

from aiperf.hw.tf32 import tf32_mode

# (first n, largest n) per device type: n doubles while a matmul stays well inside the budget.
_SIZES = {"cpu": (256, 1024), "cuda": (2048, 8192)}
_MIN_REPEATS = 3


def _dtype(precision: str) -> Any:
    import torch

    return {
        "fp32": torch.float32,
        "tf32": torch.float32,
        "bf16": torch.bfloat16,
        "fp16": torch.float16,
    }.get(precision)


def _supported(device: Any, precision: str) -> bool:
    """Whether the device has the precision at all (CPU has no TF32; TF32/bf16 need sm_80+)."""
    import torch

    if device.type == "cpu":
        return precision != "tf32"
    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    if device.index is not None and device.index >= torch.cuda.device_count():
        return False
    if precision not in ("tf32", "bf16"):
        return True
    if torch.version.hip:
        return precision == "bf16"  # ROCm: bf16 yes, no TF32 switch here
    return torch.cuda.get_device_capability(device) >= (8, 0)


def _time_once_s(a: Any, b: Any, out: Any, sync: Any) -> float:
    import torch

    sync()
    start = time.perf_counter()
    torch.matmul(a, b, out=out)
    sync()
    return time.perf_counter() - start


def _operands(n: int, dtype: Any, device: Any) -> tuple[Any, Any, Any]:
    import torch

    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    return a, b, torch.empty(n, n, dtype=dtype, device=device)


def _best_flops(device: Any, dtype: Any, seconds: float) -> float:
    """Grow n until one matmul nears a third of the budget, then best-of for `seconds`."""
    import torch

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    n, n_max = _SIZES[device.type]
    operands = _operands(n, dtype, device)
    _time_once_s(*operands, sync)  # warm-up: library init, JIT, clocks
    elapsed_s = _time_once_s(*operands, sync)
    while n < n_max and elapsed_s * 8 <= seconds / 3:
        n *= 2
        operands = _operands(n, dtype, device)
        elapsed_s = _time_once_s(*operands, sync)
    best_s, repeats, deadline = elapsed_s, 1, time.perf_counter() + seconds
    while time.perf_counter() < deadline or repeats < _MIN_REPEATS:
        best_s = min(best_s, _time_once_s(*operands, sync))
        repeats += 1
    return 2 * n**3 / best_s


def measured_gemm_peak(device: str, precision: str, seconds: float = 0.3) -> float | None:
    """Best measured FLOPS of square matmuls on "cpu"/"cuda[:i]" at a precision.

    None, without raising, when the device or precision is unavailable. CPU runs use the
    current torch.set_num_threads setting.
    """
    import torch

    dtype = _dtype(precision)
    try:
        target = torch.device(device)
    except RuntimeError:
        return None
    if dtype is None or target.type not in _SIZES or not _supported(target, precision):
        return None
    try:
        if target.type == "cuda":
            with torch.cuda.device(target), tf32_mode(precision == "tf32"):
                return _best_flops(target, dtype, seconds)
        return _best_flops(target, dtype, seconds)
    except (RuntimeError, NotImplementedError):
        return None
