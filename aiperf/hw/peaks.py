"""Datasheet peak dense FLOPS per precision for common accelerators, looked up by device name.

Every figure is dense (no 2:4 structured sparsity). "fp32" is the non-tensor-core FP32 rate;
"tf32", "bf16" and "fp16" are tensor-core (matrix-core) rates with FP32 accumulation, which is
what torch.matmul uses. None means the device has no such mode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")


@dataclass(frozen=True)
class DevicePeak:
    """One device's datasheet figures and what they assume."""

    model: str
    fp32_flops: float
    tf32_flops: float | None
    bf16_flops: float | None
    fp16_flops: float | None
    clock_mhz: int  # the boost (AMD: peak engine) clock the source quotes for these figures
    source: str
    note: str = ""

    def flops(self, precision: str) -> float | None:
        """The figure for one of PRECISIONS, None for an unknown precision or a missing mode."""
        return getattr(self, f"{precision}_flops", None) if precision in PRECISIONS else None


_T = 1e12
_H100_WP = "NVIDIA H100 Tensor Core GPU Architecture whitepaper"
_H100_CLOCKS = "tensor figures assume 1830 MHz, FP32 1980 MHz (max boost)"
_A100 = dict(fp32_flops=19.5 * _T, tf32_flops=156 * _T, bf16_flops=312 * _T, fp16_flops=312 * _T)
_A100_SRC = "NVIDIA A100 Tensor Core GPU datasheet; NVIDIA A100 Tensor Core GPU Architecture"
_H100_SXM = dict(
    fp32_flops=66.9 * _T, tf32_flops=494.7 * _T, bf16_flops=989.4 * _T, fp16_flops=989.4 * _T
)
_H100_NVL = dict(
    fp32_flops=60 * _T, tf32_flops=417.5 * _T, bf16_flops=835.5 * _T, fp16_flops=835.5 * _T
)
_SPARSE_HALVED = "dense = half the datasheet's sparsity figure"

# Keyed by a short model id; _PATTERNS maps NVML/ROCm names onto these ids.
PEAKS: dict[str, DevicePeak] = {
    "v100-sxm2": DevicePeak(
        "Tesla V100 SXM2", 15.7 * _T, None, None, 125 * _T, 1530, "NVIDIA Tesla V100 datasheet"
    ),
    "v100-pcie": DevicePeak(
        "Tesla V100 PCIe", 14 * _T, None, None, 112 * _T, 1380, "NVIDIA Tesla V100 datasheet"
    ),
    "v100s-pcie": DevicePeak(
        "Tesla V100S PCIe", 16.4 * _T, None, None, 130 * _T, 1597, "NVIDIA Tesla V100S datasheet"
    ),
    "a100-sxm4": DevicePeak("A100 SXM4 40/80GB", **_A100, clock_mhz=1410, source=_A100_SRC),
    "a100-pcie": DevicePeak("A100 PCIe 40/80GB", **_A100, clock_mhz=1410, source=_A100_SRC),
    "a30": DevicePeak(
        "A30", 10.3 * _T, 82 * _T, 165 * _T, 165 * _T, 1440, "NVIDIA A30 Tensor Core GPU datasheet"
    ),
    "a10": DevicePeak(
        "A10",
        31.2 * _T,
        62.5 * _T,
        125 * _T,
        125 * _T,
        1695,
        "NVIDIA A10 Tensor Core GPU datasheet",
    ),
    "h100-sxm5": DevicePeak(
        "H100 SXM5", **_H100_SXM, clock_mhz=1980, source=_H100_WP, note=_H100_CLOCKS
    ),
    "h100-pcie": DevicePeak(
        "H100 PCIe",
        51.2 * _T,
        378 * _T,
        756 * _T,
        756 * _T,
        1755,
        _H100_WP,
        "tensor figures imply ~1620 MHz, FP32 1755 MHz (max boost)",
    ),
    "h100-nvl": DevicePeak(
        "H100 NVL",
        **_H100_NVL,
        clock_mhz=1785,
        source="NVIDIA H100 Tensor Core GPU datasheet (H100 NVL column, per GPU)",
        note=_SPARSE_HALVED,
    ),
    "gh200": DevicePeak(
        "GH200 (Hopper GPU)",
        **_H100_SXM,
        clock_mhz=1980,
        source="NVIDIA GH200 Grace Hopper Superchip datasheet",
        note=_H100_CLOCKS,
    ),
    "h200-sxm": DevicePeak(
        "H200 SXM",
        **_H100_SXM,
        clock_mhz=1980,
        source="NVIDIA H200 Tensor Core GPU datasheet (same GH100 compute as H100 SXM5)",
        note=_H100_CLOCKS,
    ),
    "h200-nvl": DevicePeak(
        "H200 NVL",
        **_H100_NVL,
        clock_mhz=1785,
        source="NVIDIA H200 Tensor Core GPU datasheet (H200 NVL column)",
        note=_SPARSE_HALVED,
    ),
    "b200": DevicePeak(
        "B200 (HGX, 1000 W)",
        75 * _T,
        1100 * _T,
        2250 * _T,
        2250 * _T,
        1965,
        "NVIDIA HGX B200 datasheet, per-GPU column",
        f"{_SPARSE_HALVED}; GB200's B200 at 1200 W is rated about 10% higher",
    ),
    "l40s": DevicePeak(
        "L40S", 91.6 * _T, 183 * _T, 362.05 * _T, 362.05 * _T, 2520, "NVIDIA L40S GPU datasheet"
    ),
    "l40": DevicePeak(
        "L40", 90.5 * _T, 90.5 * _T, 181.05 * _T, 181.05 * _T, 2490, "NVIDIA L40 GPU datasheet"
    ),
    "l4": DevicePeak(
        "L4",
        30.3 * _T,
        60 * _T,
        121 * _T,
        121 * _T,
        2040,
        "NVIDIA L4 Tensor Core GPU datasheet",
        _SPARSE_HALVED,
    ),
    "t4": DevicePeak(
        "Tesla T4",
        8.1 * _T,
        None,
        None,
        65 * _T,
        1590,
        "NVIDIA T4 Tensor Core GPU datasheet",
        "fp16 is the datasheet's mixed-precision FP16/FP32 figure",
    ),
    "rtx-4090": DevicePeak(
        "GeForce RTX 4090",
        82.6 * _T,
        82.6 * _T,
        165.2 * _T,
        165.2 * _T,
        2520,
        "NVIDIA Ada GPU Architecture whitepaper (Appendix A)",
        "GeForce: FP16 with FP16 accumulation is 2x the FP32-accumulate figure given here",
    ),
    "rtx-3090": DevicePeak(
        "GeForce RTX 3090",
        35.6 * _T,
        35.6 * _T,
        71 * _T,
        71 * _T,
        1695,
        "NVIDIA Ampere GA102 GPU Architecture whitepaper",
        "GeForce: FP16 with FP16 accumulation is 2x the FP32-accumulate figure given here",
    ),
    "mi250x": DevicePeak(
        "AMD Instinct MI250X",
        47.9 * _T,
        None,
        383 * _T,
        383 * _T,
        1700,
        "AMD Instinct MI250X accelerator datasheet",
        "whole OAM module (2 GCDs; ROCm shows each GCD as a device, half each); "
        "fp32 is the vector rate (matrix FP32: 95.7 TFLOPS)",
    ),
    "mi300x": DevicePeak(
        "AMD Instinct MI300X",
        81.7 * _T,
        653.7 * _T,
        1307.4 * _T,
        1307.4 * _T,
        2100,
        "AMD Instinct MI300X accelerator datasheet",
        "fp32 is the vector rate (matrix FP32: 163.4 TFLOPS)",
    ),
}

# Most specific first: the first pattern that matches the normalised name wins.
_PATTERNS: list[tuple[str, str]] = [
    (r"\bv100s\b", "v100s-pcie"),
    (r"\bv100\b.*\bpcie\b", "v100-pcie"),
    (r"\bv100\b.*\bsxm2\b", "v100-sxm2"),
    (r"\ba100\b.*\bpcie\b", "a100-pcie"),
    (r"\ba100\b.*\bsxm4?\b", "a100-sxm4"),
    (r"\ba30\b", "a30"),
    (r"\ba10\b", "a10"),
    (r"\bgh200\b", "gh200"),
    (r"\bh200\b.*\bnvl\b", "h200-nvl"),
    (r"\bh200\b", "h200-sxm"),
    (r"\bh100\b.*\bnvl\b", "h100-nvl"),
    (r"\bh100\b.*\bpcie\b", "h100-pcie"),
    (r"\bh100\b.*\b(sxm5?|hbm3)\b", "h100-sxm5"),
    (r"\bb200\b", "b200"),
    (r"\bl40s\b", "l40s"),
    (r"\bl40\b", "l40"),
    (r"\bl4\b", "l4"),
    (r"\bt4\b", "t4"),
    (r"\brtx 4090\b(?! (d|laptop)\b)", "rtx-4090"),
    (r"\brtx 3090\b(?! (ti|laptop)\b)", "rtx-3090"),
    (r"\bmi250x\b", "mi250x"),
    (r"\bmi300x\b", "mi300x"),
]


def _normalise(device_name: str) -> str:
    return " ".join(re.sub(r"[-_/,()]", " ", device_name.lower()).split())


def device_peak(device_name: str) -> DevicePeak | None:
    """The table entry for an NVML/ROCm device name such as "NVIDIA A100-SXM4-80GB", or None."""
    name = _normalise(device_name)
    for pattern, key in _PATTERNS:
        if re.search(pattern, name):
            return PEAKS[key]
    return None


def datasheet_peak(device_name: str, precision: str) -> float | None:
    """Datasheet dense peak FLOPS of a named device at fp32/tf32/bf16/fp16, None when unknown."""
    peak = device_peak(device_name)
    return peak.flops(precision) if peak else None


def datasheet_peaks(device_name: str) -> dict[str, float | None]:
    """All PRECISIONS for one device name (values None when unknown)."""
    return {precision: datasheet_peak(device_name, precision) for precision in PRECISIONS}
