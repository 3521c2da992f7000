"""Score additions from the hardware: utilisation against peak FLOPS, energy and FLOPS per watt.

Utilisation = FLOPS / Σ peak of every node at the run's precision, against the datasheet (GPU
tables; an estimate on CPU nodes) and against the GEMM peak measured at start-up. Energy comes
from the counters read at the start and end of the run, where the hardware has them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiperf.hw.inventory import peak_for

if TYPE_CHECKING:
    from aiperf.score.summary import Summary

PRECISION_OF_TRAINING = {"fp32": "fp32", "bf16": "bf16", "fp16": "fp16"}


def total_peaks(system: dict[str, Any] | None, precision: str) -> tuple[float | None, float | None]:
    """Σ (datasheet, measured) peak FLOPS over ``system.json``'s nodes; None if any is unknown."""
    nodes = (system or {}).get("nodes") or []
    if not nodes:
        return None, None
    peaks = [peak_for(node, PRECISION_OF_TRAINING[precision]) for node in nodes]
    datasheet = [p[0] for p in peaks]
    measured = [p[1] for p in peaks]
    return (
        None if None in datasheet else sum(datasheet),
        None if None in measured else sum(measured),
    )


def hardware_fields(
    flops: float,
    total_flops: int,
    system: dict[str, Any] | None,
    precision: str,
    energy: dict[str, Any] | None,
) -> dict[str, Any]:
    """The Summary's hardware fields: ``utilisation_datasheet``, ``utilisation_measured``,
    ``energy_j``, ``flops_per_watt`` (None where unknown) and ``hardware_notes`` saying why a
    value is missing."""
    datasheet, measured = total_peaks(system, precision)
    energy = energy or {}
    energy_j = energy.get("total_j")
    if len((system or {}).get("nodes") or []) > 1 and energy_j is not None:
        energy = {"note": "energy counters are read on the master's node only: not a cluster total"}
        energy_j = None
    notes = []
    if datasheet is None:
        notes.append(f"no datasheet peak for every device at {precision}")
    if measured is None:
        notes.append(f"no measured GEMM peak for every device at {precision}")
    if energy_j is None:
        notes.append(energy.get("note") or "energy was not measured")
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
