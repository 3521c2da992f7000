"""The submitted system's description, in the spirit of MLPerf's system JSON and the TOP500 list:
who submits, what the machine is (nodes, accelerators, CPU, memory, interconnect), its software.

``system_from_run`` pre-fills it from the run's ``system.json``; a YAML/JSON file and command-line
values override any field. Every error is one line naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aiperf.errors import UserError
from aiperf.rundir import SYSTEM, read_system
from aiperf.safe_yaml import load_yaml_file
from aiperf.score.hardware import rederived_nodes
from aiperf.spec import describe_validation_error


class SystemDescriptionError(UserError):
    """A system description that cannot be used: one line naming the field or the file."""


class SystemDescription(BaseModel):
    """The machine a run is submitted for (``system.json`` at the top of a bundle)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    submitter: str = Field(min_length=1)  # the organisation or person submitting
    system_name: str = Field(min_length=1)
    nodes: int = Field(ge=1)
    accelerator: str = Field(min_length=1)  # model name, "none" on CPU-only systems
    accelerators_per_node: int = Field(ge=0)
    accelerator_count: int = Field(ge=0)
    cpu: str = Field(min_length=1)
    memory_gb: float = Field(ge=0)  # per node, 10^9 bytes
    interconnect: str = Field(min_length=1)
    software: dict[str, str | None] = {}
    notes: str = ""


def validate_system(raw: Any, where: str = "system") -> SystemDescription:
    """A SystemDescription from a mapping; the first problem as one line naming the field."""
    if not isinstance(raw, dict):
        raise SystemDescriptionError(f"{where}: expected a mapping (got {type(raw).__name__})")
    try:
        return SystemDescription.model_validate(raw)
    except ValidationError as err:
        raise SystemDescriptionError(
            describe_validation_error(err, where, SystemDescription)
        ) from None


def run_system_fields(run_dir: Path) -> dict[str, Any]:
    """What the run's ``system.json`` says about the machine, as SystemDescription fields."""
    inventory = read_system(run_dir)
    if inventory is None:
        raise SystemDescriptionError(f"{run_dir / SYSTEM}: missing")
    nodes, notes = rederived_nodes(inventory)
    if not nodes:
        raise SystemDescriptionError(f"{run_dir / SYSTEM}: {notes[0] if notes else 'no nodes'}")
    first = nodes[0]
    return {
        "system_name": first["hostname"] or "unknown",
        **recorded_hardware(nodes),
        "interconnect": _interconnect(inventory.get("interconnect"), len(nodes)),
        "software": dict((inventory["nodes"][0] or {}).get("software") or {}),
    }


def recorded_hardware(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The SystemDescription fields a run's nodes (``rederived_nodes``) fix: what a submitted
    description must agree with."""
    first = nodes[0] if nodes else {"gpus": [], "cpu": {}, "memory_bytes": None}
    names = sorted({gpu["name"] for node in nodes for gpu in node["gpus"]})
    memory = first["memory_bytes"]
    return {
        "nodes": len(nodes),
        "accelerator": names[0] if len(names) == 1 else ("none" if not names else "mixed"),
        "accelerators_per_node": len(first["gpus"]),
        "accelerator_count": sum(len(node["gpus"]) for node in nodes),
        "cpu": first["cpu"].get("model") or "unknown",
        "memory_gb": round(memory / 1e9, 1) if memory else 0.0,
    }


def _interconnect(figures: dict[str, Any] | None, nodes: int) -> str:
    """A one-line description from ``aiperf netbench``'s figures, when the run has them."""
    if nodes == 1:
        return "none (single node)"
    if not figures or not figures.get("p2p_bandwidth"):
        return "unknown"
    best = max(row["gb_per_s"] for row in figures["p2p_bandwidth"])
    return f"MPI p2p {best:.1f} GB/s, latency {figures['p2p_latency_us']:.1f} µs (aiperf netbench)"


def system_from_run(run_dir: Path, overrides: dict[str, Any] | None = None) -> SystemDescription:
    """The run's machine as a SystemDescription; ``overrides`` (e.g. from a system file and
    ``--submitter``) win over what ``system.json`` says."""
    raw = {**run_system_fields(run_dir), **(overrides or {})}
    if not raw.get("submitter"):
        raise SystemDescriptionError(
            "system.submitter: required — who submits (--submitter NAME or a system file)"
        )
    return validate_system(raw)


def read_system_file(path: Path) -> dict[str, Any]:
    """The mapping in a YAML or JSON system file (fields may be partial: overrides); the file is
    size-capped and may hold no YAML anchors or aliases (``aiperf.safe_yaml``)."""
    raw = load_yaml_file(path, f"system file {path}", SystemDescriptionError)
    if not isinstance(raw, dict):
        raise SystemDescriptionError(f"system file {path}: expected a mapping of fields")
    unknown = sorted(str(key)[:60] for key in set(raw) - set(SystemDescription.model_fields))
    if unknown:
        allowed = ", ".join(SystemDescription.model_fields)
        raise SystemDescriptionError(f"system.{unknown[0]}: unknown key (allowed: {allowed})")
    return raw


def load_system_file(path: Path) -> SystemDescription:
    """A complete SystemDescription from a YAML or JSON file (JSON is YAML)."""
    return validate_system(read_system_file(path))
