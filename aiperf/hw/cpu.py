"""CPU facts from /proc and /sys, and an estimated peak FLOPS from cores, clock and ISA.

The estimate is cores × GHz × FLOPs/cycle/core of the widest FMA unit the flags reveal. It is an
upper bound by assumption: it takes two FMA units per core (some parts have one), the maximum
clock (wide vector code often runs slower) and only physical cores (SMT adds no FMA units).
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROC_CPUINFO = Path("/proc/cpuinfo")
SYS_CPU = Path("/sys/devices/system/cpu")

# Flags worth reporting; the full list has ~150 entries.
ISA_FLAGS = (
    "sse2",
    "avx",
    "fma",
    "avx2",
    "avx512f",
    "avx512_bf16",
    "avx512_fp16",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
    "amx_fp16",
    "asimd",
    "asimdhp",
    "sve",
    "bf16",
)

# (flags that must all be present, fp32 FLOPs/cycle/core, assumption), widest first.
_FP32_PER_CYCLE: list[tuple[tuple[str, ...], int, str]] = [
    (("avx512f",), 64, "AVX-512: 2 FMA units × 16 fp32 lanes × 2 FLOPs"),
    (("avx2", "fma"), 32, "AVX2: 2 FMA units × 8 fp32 lanes × 2 FLOPs"),
    (("avx",), 16, "AVX without FMA: 1 add + 1 mul unit × 8 fp32 lanes"),
    (("asimd",), 16, "NEON: 2 FMA pipes × 4 fp32 lanes × 2 FLOPs"),
    (("sse2",), 8, "SSE2: 1 add + 1 mul unit × 4 fp32 lanes"),
]

# Per precision: (flag, fixed FLOPs/cycle/core or 0, else multiple of fp32); first present wins.
_AMX_FLOPS_PER_CYCLE = 1024  # Intel AMX TMUL: 1024 bf16/fp16 FLOPs per cycle per core
_HALF_RULES: dict[str, list[tuple[str, int, int]]] = {
    "bf16": [("amx_bf16", _AMX_FLOPS_PER_CYCLE, 0), ("avx512_bf16", 0, 2), ("bf16", 0, 2)],
    "fp16": [("amx_fp16", _AMX_FLOPS_PER_CYCLE, 0), ("avx512_fp16", 0, 2), ("asimdhp", 0, 2)],
}


@dataclass
class CpuFacts:
    """What the estimate needs, plus the model name for the report."""

    model: str
    logical_cores: int | None
    physical_cores: int | None
    max_mhz: float | None
    mhz_source: str | None
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cpuinfo_blocks(path: Path) -> list[dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    blocks = []
    for chunk in text.split("\n\n"):
        pairs = (line.split(":", 1) for line in chunk.splitlines() if ":" in line)
        block = {key.strip(): value.strip() for key, value in pairs}
        if block:
            blocks.append(block)
    return blocks


def _model(blocks: list[dict[str, str]]) -> str:
    for block in blocks:
        for key in ("model name", "Model Name", "Hardware"):
            if block.get(key):
                return block[key]
    return platform.processor() or "unknown"


def _flags(blocks: list[dict[str, str]]) -> set[str]:
    for block in blocks:
        line = block.get("flags") or block.get("Features")
        if line:
            return set(line.split())
    return set()


def _physical_cores(blocks: list[dict[str, str]], sys_cpu: Path) -> int | None:
    """Distinct (package, core) pairs from sysfs topology, else from /proc/cpuinfo."""
    pairs = set()
    for topology in sys_cpu.glob("cpu[0-9]*/topology"):
        try:
            package = (topology / "physical_package_id").read_text().strip()
            pairs.add((package, (topology / "core_id").read_text().strip()))
        except OSError:
            continue
    if not pairs:
        pairs = {(b["physical id"], b["core id"]) for b in blocks if "core id" in b}
    return len(pairs) or None


def _max_mhz(blocks: list[dict[str, str]], sys_cpu: Path) -> tuple[float | None, str | None]:
    """Highest cpufreq maximum, else the highest current "cpu MHz" in /proc/cpuinfo."""
    khz = []
    for path in sys_cpu.glob("cpu[0-9]*/cpufreq/cpuinfo_max_freq"):
        try:
            khz.append(int(path.read_text().strip()))
        except (OSError, ValueError):
            continue
    if khz:
        return max(khz) / 1000, "cpufreq cpuinfo_max_freq"
    mhz = [float(b["cpu MHz"]) for b in blocks if re.fullmatch(r"[0-9.]+", b.get("cpu MHz", ""))]
    if mhz:
        return max(mhz), "/proc/cpuinfo cpu MHz (current clock)"
    return None, None


def cpu_facts(proc_cpuinfo: Path = PROC_CPUINFO, sys_cpu: Path = SYS_CPU) -> CpuFacts:
    """Model, core counts, maximum clock and the ISA flags of interest of this machine's CPU."""
    blocks = _cpuinfo_blocks(proc_cpuinfo)
    max_mhz, mhz_source = _max_mhz(blocks, sys_cpu)
    return CpuFacts(
        model=_model(blocks),
        logical_cores=os.cpu_count(),
        physical_cores=_physical_cores(blocks, sys_cpu),
        max_mhz=max_mhz,
        mhz_source=mhz_source,
        flags=sorted(_flags(blocks) & set(ISA_FLAGS)),
    )


def fp32_flops_per_cycle(flags: set[str] | list[str]) -> tuple[int, str] | None:
    """FP32 FLOPs per cycle per core of the widest FMA unit the flags show, with the assumption."""
    present = set(flags)
    for needed, flops, assumption in _FP32_PER_CYCLE:
        if present.issuperset(needed):
            return flops, assumption
    return None


def _half_per_cycle(precision: str, flags: set[str], fp32: int) -> tuple[int, str]:
    for flag, fixed, multiple in _HALF_RULES[precision]:
        if flag in flags:
            flops = fixed or fp32 * multiple
            return flops, f"{flag}: {flops} {precision} FLOPs/cycle/core"
    return fp32, f"no native {precision} unit: same as fp32"


def estimated_peak_flops(facts: CpuFacts) -> tuple[dict[str, float | None], str]:
    """Estimated peak per precision and the assumption behind it; None without clock or ISA.

    tf32 equals fp32: CPUs have no TF32 mode, torch computes such matmuls in fp32.
    """
    fp32 = fp32_flops_per_cycle(facts.flags)
    cores = facts.physical_cores or facts.logical_cores
    if fp32 is None or not facts.max_mhz or not cores:
        why = "no estimate: " + ("clock unknown" if not facts.max_mhz else "no known SIMD flags")
        return dict.fromkeys(("fp32", "tf32", "bf16", "fp16")), why
    cycles_per_s = cores * facts.max_mhz * 1e6
    bf16, bf16_why = _half_per_cycle("bf16", set(facts.flags), fp32[0])
    fp16, fp16_why = _half_per_cycle("fp16", set(facts.flags), fp32[0])
    peaks = {
        "fp32": cycles_per_s * fp32[0],
        "tf32": cycles_per_s * fp32[0],
        "bf16": cycles_per_s * bf16,
        "fp16": cycles_per_s * fp16,
    }
    assumption = (
        f"estimate: {cores} cores × {facts.max_mhz:.0f} MHz × FLOPs/cycle/core; fp32 {fp32[1]}; "
        f"{bf16_why}; {fp16_why}; upper bound (max clock on every core at once)"
    )
    return peaks, assumption
