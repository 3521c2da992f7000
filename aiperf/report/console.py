"""What ``aiperf run`` shows a person: a live progress line while it runs, a result table after."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table


def si(value: float | None, unit: str = "") -> str:
    """``1.23 GFLOPS``-style engineering notation."""
    if value is None:
        return "—"
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}".strip()


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


def result_table(summary: dict[str, Any]) -> Table:
    """The final result of a run as a two-column table."""
    table = Table(title=f"aiperf result — {summary.get('run_id')}", show_header=False)
    verdict = "VALID" if summary["valid"] else "INVALID: " + "; ".join(summary["invalid_reasons"])
    rows = [
        ("FLOPS (train + eval)", si(summary["flops"], "FLOPS")),
        ("regulated score", si(summary["regulated_score"], "FLOPS")),
        ("best test accuracy", percent(summary["best_test_accuracy"])),
        ("best robust accuracy", percent(summary.get("best_robust_accuracy"))),
        ("utilisation (datasheet / measured peak)", _utilisation(summary)),
        ("energy / FLOPS per watt", _energy(summary)),
        ("total work", si(summary["total_flops"], "FLOP")),
        ("run length", f"{summary['duration_s']:.1f} s"),
        ("trials completed / stopped / failed", _trial_counts(summary)),
        ("stability (CV of FLOPS, 2nd half)", percent(summary.get("stability_cv"))),
        ("verdict", verdict),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _utilisation(summary: dict[str, Any]) -> str:
    keys = ("utilisation_datasheet", "utilisation_measured")
    return " / ".join(percent(summary.get(k)) for k in keys)


def _energy(summary: dict[str, Any]) -> str:
    if summary.get("energy_j") is None:
        return "— (" + (summary.get("hardware_notes") or ["not measured"])[-1] + ")"
    return f"{summary['energy_j']:.0f} J / {si(summary['flops_per_watt'], 'FLOPS/W')}"


def _trial_counts(summary: dict[str, Any]) -> str:
    keys = ("trials_completed", "trials_stopped", "trials_failed")
    return " / ".join(str(summary[k]) for k in keys)


def flops_tables(report: dict[str, Any], console: Console | None = None) -> None:
    """Print ``aiperf flops``: the per-block breakdown, then per-pass costs and totals."""
    console = console or Console()
    shape = f"batch {report['batch']}, seq {report['seq']}, {report['num_classes']} classes"
    blocks = Table(title=f"FLOPs per block, one forward + one full backward — {shape}")
    for column in ("block", "type", "forward", "backward"):
        blocks.add_column(column, justify="right")
    for row in report["blocks"]:
        blocks.add_row(
            str(row["block"]),
            row["type"],
            f"{row['forward_flops']:,}",
            f"{row['backward_flops']:,}",
        )
    console.print(blocks)
    totals = Table(title="per pass and per step (2 FLOPs per multiply-add)", show_header=False)
    passes = report["step_passes"]
    rows = [(f"{name} (one pass)", value) for name, value in report["pass_costs"].items()]
    rows += [(f"passes per step: {k}", v) for k, v in passes.items()]
    rows += list(report["totals"].items())
    for name, value in rows:
        totals.add_row(name, f"{value:,.0f}")
    console.print(totals)


def sysinfo_table(inventory: dict[str, Any], console: Console | None = None) -> None:
    """Print ``aiperf sysinfo``: the node, its devices and its peak FLOPS per precision."""
    console = console or Console()
    cpu = inventory["cpu"]
    node = Table(title=f"node {inventory['hostname']}", show_header=False)
    node.add_row("CPU", f"{cpu['model']} — {cpu['logical_cores']} logical cores")
    node.add_row("memory", si(inventory.get("memory_bytes"), "B"))
    for gpu in inventory["gpus"]:
        node.add_row(f"GPU {gpu['index']}", f"{gpu['name']} — {si(gpu['memory_bytes'], 'B')}")
    if not inventory["gpus"]:
        node.add_row("GPUs", f"none ({inventory.get('gpu_note')})")
    node.add_row("software", ", ".join(f"{k} {v}" for k, v in inventory["software"].items()))
    console.print(node)
    peaks = Table(title="peak FLOPS of this node")
    for column in ("precision", "datasheet / estimate", "measured GEMM", "basis"):
        peaks.add_column(column)
    for precision, entry in inventory["peak_flops"].items():
        peaks.add_row(
            precision,
            si(entry["datasheet_flops"], "FLOPS"),
            si(entry["measured_flops"], "FLOPS"),
            entry.get("basis", ""),
        )
    console.print(peaks)


def netbench_table(figures: dict[str, Any], console: Console | None = None) -> None:
    """Print ``aiperf netbench``: latency, then bandwidth per message size."""
    console = console or Console()
    latency = figures["p2p_latency_us"]
    title = f"{figures['ranks']} ranks on {len(set(figures['hosts']))} host(s); p2p latency "
    title += "—" if latency is None else f"{latency:.1f} µs"
    table = Table(title=title)
    for column in ("bytes", "p2p GB/s", "allreduce bus GB/s"):
        table.add_column(column, justify="right")
    p2p = {row["bytes"]: row["gb_per_s"] for row in figures["p2p_bandwidth"]}
    for row in figures["allreduce"]:
        bus = row["bus_gb_per_s"]
        table.add_row(
            f"{row['bytes']:,}",
            f"{p2p[row['bytes']]:.2f}" if row["bytes"] in p2p else "—",
            "—" if bus is None else f"{bus:.2f}",
        )
    console.print(table)


@dataclass
class RunState:
    """The live numbers of a running benchmark, updated as reports arrive."""

    t0: float
    duration_s: float
    slots: int
    running: int = 0
    done: int = 0
    ops_flops: int = 0
    best: dict[str, float] = field(default_factory=dict)  # best val and its test accuracy

    def line(self) -> str:
        elapsed = time.time() - self.t0
        flops = self.ops_flops / elapsed if elapsed > 0 else 0.0
        test = self.best.get("test_accuracy")
        return (
            f"[bold]{elapsed:6.0f}s[/] / {self.duration_s:.0f}s  "
            f"trials running {self.running}/{self.slots}, done {self.done}  "
            f"FLOPS {si(flops, 'FLOPS')}  best test acc {percent(test)}"
        )

    def __rich__(self) -> str:
        return self.line()


def live_progress(state: RunState, console: Console | None = None) -> Live:
    """A one-line display that re-renders ``state`` twice a second while the run goes on."""
    return Live(state, console=console or Console(), refresh_per_second=2, transient=True)
