"""Score additions from the hardware: utilisation against peak FLOPS, energy and FLOPS per watt.

Utilisation = FLOPS / Σ peak of every node at the run's precision. The datasheet peak is
re-derived here, never read from ``system.json``'s own figures: GPUs by their device names with
aiperf's datasheet table, CPUs by the estimate from their recorded facts (cores, clock, SIMD
flags). An unknown device leaves the peak unknown (the result is then unverified). The measured
GEMM peak is what the run recorded at start-up. Energy comes from the counters read at the start
and end of the run, where the hardware has them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError

from aiperf.hw.cpu import CpuFacts, estimated_peak_flops
from aiperf.hw.inventory import peak_for, peak_summary
from aiperf.hw.peaks import datasheet_peaks

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiperf.score.ledger import Report
    from aiperf.score.summary import Summary

PRECISION_OF_TRAINING = {"fp32": "fp32", "bf16": "bf16", "fp16": "fp16"}
MAX_NODES = 4096
MAX_CORES = 4096  # per node: more is not a plausible CPU
MAX_MHZ = 10_000.0
_LENIENT = ConfigDict(extra="ignore", allow_inf_nan=False)


class _Gpu(BaseModel):
    model_config = _LENIENT
    index: int = Field(ge=0, le=1024)
    name: str = Field(max_length=256)


class _Cpu(BaseModel):
    model_config = _LENIENT
    model: str = Field("unknown", max_length=256)
    logical_cores: int | None = Field(None, ge=1, le=MAX_CORES)
    physical_cores: int | None = Field(None, ge=1, le=MAX_CORES)
    max_mhz: float | None = Field(None, gt=0, le=MAX_MHZ)
    mhz_source: str | None = Field(None, max_length=256)
    flags: list[str] = Field([], max_length=4096)


class _Node(BaseModel):
    model_config = _LENIENT
    hostname: str = Field("", max_length=256)
    ray_node_ip: str | None = Field(None, max_length=64)
    cpu: _Cpu
    memory_bytes: int | None = Field(None, ge=0, lt=2**63)
    gpus: list[_Gpu] = Field([], max_length=64)
    measured_gemm_flops: dict[str, dict[str, PositiveFloat | None]] = Field({}, max_length=65)


class _System(BaseModel):
    model_config = _LENIENT
    nodes: list[_Node] = Field(max_length=MAX_NODES)


def rederived_nodes(system: dict[str, Any] | None) -> tuple[list[dict[str, Any]], list[str]]:
    """``system.json``'s nodes with every datasheet peak re-derived, and notes on what could not
    be read (a node list that does not parse gives no nodes)."""
    try:
        parsed = _System.model_validate(system or {})
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "nodes"
        return [], [f"system.json: {where}: {first['msg']}: no peak can be derived"]
    names = [name for node in parsed.nodes for name in {node.hostname, node.ray_node_ip} if name]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        return [], [f"system.json: node {twice[0]!r} is listed twice: no peak can be derived"]
    return [_rederived(node) for node in parsed.nodes], []


def _rederived(node: _Node) -> dict[str, Any]:
    """One node as an inventory whose datasheet figures come from aiperf's own tables."""
    estimate, _ = estimated_peak_flops(CpuFacts(**node.cpu.model_dump()))
    gpus = [
        {**gpu.model_dump(), "datasheet_peak_flops": datasheet_peaks(gpu.name)} for gpu in node.gpus
    ]
    inventory = {
        "hostname": node.hostname,
        "ray_node_ip": node.ray_node_ip,
        "memory_bytes": node.memory_bytes,
        "cpu": {**node.cpu.model_dump(), "estimated_peak_flops": estimate},
        "gpus": gpus,
        "measured_gemm_flops": node.measured_gemm_flops,
    }
    return {**inventory, "peak_flops": peak_summary(inventory)}


def total_peaks(nodes: list[dict[str, Any]], precision: str) -> tuple[float | None, float | None]:
    """Σ (datasheet, measured) peak FLOPS over the nodes; None if any node's is unknown."""
    if not nodes:
        return None, None
    peaks = [peak_for(node, PRECISION_OF_TRAINING[precision]) for node in nodes]
    datasheet = [p[0] for p in peaks]
    measured = [p[1] for p in peaks]
    return (
        None if None in datasheet else sum(datasheet),
        None if None in measured else sum(measured),
    )


def report_peak(nodes: list[dict[str, Any]], report: Report) -> float | None:
    """The most FLOPS the devices of ``report`` can run at any precision (its node's CPU, or as
    many of its GPUs as it was given), from the re-derived datasheet figures: 0 for a GPU
    report on a node without GPUs; None when the node or a figure is unknown."""
    return _devices_peak(nodes, report, _fastest)


def report_peak_at(nodes: list[dict[str, Any]], report: Report, precision: str) -> float | None:
    """``report_peak`` at one precision (one of ``PRECISIONS``) instead of the fastest."""
    return _devices_peak(nodes, report, lambda figures: figures.get(precision))


def _devices_peak(
    nodes: list[dict[str, Any]],
    report: Report,
    figure: Callable[[dict[str, float | None]], float | None],
) -> float | None:
    """``figure`` of the CPU or of the GPUs ``report`` trained on, read from its node."""
    node = next((n for n in nodes if report.node in (n["ray_node_ip"], n["hostname"])), None)
    if node is None:
        return None
    if report.device == "cpu":
        return figure(node["cpu"]["estimated_peak_flops"])
    per_gpu = [figure(gpu["datasheet_peak_flops"]) for gpu in node["gpus"]]
    if None in per_gpu:
        return None
    used = min(max(1, len(report.gpu_ids)), len(per_gpu))
    return max(per_gpu, default=0.0) * used


def node_peak(node: dict[str, Any]) -> float | None:
    """The most FLOPS a node runs at once: its CPU and every GPU, each at its fastest precision
    (None when a figure is unknown)."""
    parts = [_fastest(node["cpu"]["estimated_peak_flops"])]
    parts += [_fastest(gpu["datasheet_peak_flops"]) for gpu in node["gpus"]]
    return None if None in parts else sum(parts)


def _fastest(figures: dict[str, float | None]) -> float | None:
    known = [value for value in figures.values() if value is not None]
    return max(known) if known else None


def hardware_fields(
    flops: float,
    total_flops: int,
    system: tuple[list[dict[str, Any]], list[str]],
    precision: str,
    energy: dict[str, Any] | None,
) -> dict[str, Any]:
    """The Summary's hardware fields from ``rederived_nodes``' result: ``utilisation_datasheet``,
    ``utilisation_measured``, ``energy_j``, ``flops_per_watt`` (None where unknown) and
    ``hardware_notes`` saying why a value is missing."""
    nodes, notes = system[0], list(system[1])
    datasheet, measured = total_peaks(nodes, precision)
    energy = energy or {}
    energy_j = energy.get("total_j")
    if not (isinstance(energy_j, int | float) and math.isfinite(energy_j) and energy_j > 0):
        energy_j = None
    if len(nodes) > 1 and energy_j is not None:
        energy = {"note": "energy counters are read on the master's node only: not a cluster total"}
        energy_j = None
    if datasheet is None:
        notes.append(f"no datasheet peak for every device at {precision}")
    if measured is None:
        notes.append(f"no measured GEMM peak for every device at {precision}")
    if energy_j is None:
        note = energy.get("note")
        notes.append(note[:200] if isinstance(note, str) else "energy was not measured")
    return {
        "precision": precision,
        "peak_flops_datasheet": datasheet,
        "peak_flops_measured": measured,
        "utilisation_datasheet": flops / datasheet if datasheet else None,
        "utilisation_measured": flops / measured if measured else None,
        "energy_j": energy_j,
        "flops_per_watt": total_flops / energy_j if energy_j else None,  # FLOP per joule
        "hardware_notes": notes,
    }


def utilisation_reasons(summary: Summary) -> list[str]:
    """A count at or above a peak is a counting bug, not a record: the run is INVALID."""
    measured = {
        "utilisation_datasheet": summary.utilisation_datasheet,
        "utilisation_measured": summary.utilisation_measured,
    }
    return [
        f"{name} {value:.3f} ≥ 1: more FLOPS than the hardware's peak"
        for name, value in measured.items()
        if value is not None and value >= 1
    ]
