"""What ``aiperf run`` shows a person: a live progress line while it runs, a result table after."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from aiperf.report.format import common_scale, headline_numbers, percent, scaled, si
from aiperf.score import LedgerError, Summary
from aiperf.score.ledger import LedgerReader
from aiperf.score.progress import Progress, run_progress


def result_table(summary: Summary) -> Table:
    """The final result of a run: every headline number with its note, then the verdict."""
    table = Table(title=f"aiperf result — {summary.run_id}", show_header=False)
    for column in ("measure", "value", "note"):
        table.add_column(column, style="dim" if column == "note" else None)
    for headline in headline_numbers(summary):
        table.add_row(headline.label, headline.value, headline.note)
    reasons = "; ".join(summary.invalid_reasons)
    table.add_row("Verdict", "VALID" if summary.valid else "INVALID", reasons)
    return table


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


def efficiency_table(result: dict[str, Any], console: Console | None = None) -> None:
    """Print ``aiperf efficiency``: each trial's achieved FLOP/s and share of its peak."""
    console = console or Console()
    trials = result["trials"]
    factor, unit = common_scale([t["achieved_flops"] for t in trials], "FLOP/s")
    table = Table(title=f"per-trial efficiency against the datasheet {result['precision']} peak")
    for column in ("trial", "node", "device", "micro-batch", unit, "share of peak"):
        table.add_column(column, justify="right")
    for trial in trials:
        table.add_row(
            trial["trial_id"],
            trial["node"],
            trial["device"],
            str(trial["micro_batch"] or "whole"),
            scaled(trial["achieved_flops"], factor),
            percent(trial["share_of_peak"]),
        )
    console.print(table)
    console.print(
        f"median share {percent(result['median_share_of_peak'])}, "
        f"best {percent(result['best_share_of_peak'])}"
    )
    for note in result["notes"]:
        console.print(note)


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


class _LiveLine:
    """The progress line of a running benchmark, re-read from its ledger at every refresh."""

    def __init__(self, ledger_path: Path, clock: Callable[[], float] = time.time) -> None:
        self.reader = LedgerReader(ledger_path)
        self.clock = clock

    def __rich__(self) -> str:
        try:
            return progress_line(run_progress(self.reader.poll(), self.clock()))
        except LedgerError:  # no run_start yet
            return "starting…"


def progress_line(progress: Progress) -> str:
    """Elapsed of target, trials running of slots, FLOPS and acc(t) as the scorer reads them."""
    score = progress.score
    return (
        f"[bold]{progress.elapsed_s:6.0f}s[/] / {progress.duration_s:.0f}s  "
        f"trials running {progress.trials_running}/{progress.slots}, "
        f"done {progress.trials_done}  "
        f"FLOPS {si(score.flops, 'FLOPS')}  best test acc {percent(score.best_test_accuracy)}"
    )


def live_progress(
    ledger_path: Path, console: Console | None = None, clock: Callable[[], float] = time.time
) -> Live:
    """A one-line display that follows the ledger twice a second while the run goes on."""
    line = _LiveLine(ledger_path, clock)
    return Live(line, console=console or Console(), refresh_per_second=2, transient=True)


def simulation_table(figures: dict[str, Any]) -> Table:
    """What ``aiperf simulate`` measured: slots, occupancy, ramp, idle gaps, the driver's cost."""
    scale = figures["time_scale"]
    table = Table(
        title=f"simulation — {figures['nodes']} nodes × {figures['gpus_per_node']} GPUs on "
        f"{figures['raylets']} fake nodes, time ×{scale:g}",
        show_header=False,
    )
    for column in ("measure", "value", "note"):
        table.add_column(column, style="dim" if column == "note" else None)
    rows = [
        ("Slot occupancy", percent(figures["slot_occupancy"]), "busy slot-seconds / (slots · T)"),
        ("Ramp", _seconds(figures["ramp_s"], scale), "t0 → every slot busy"),
        ("Idle gap p50", _seconds(figures["idle_gap_p50_s"], scale), "a slot's end → next start"),
        ("Idle gap p99", _seconds(figures["idle_gap_p99_s"], scale), ""),
        ("Driver CPU", f"{figures['driver_cpu_ms_per_report']:.1f} ms", "per report"),
        ("Ledger", si(figures["ledger_bytes_per_simulated_hour"], "B"), "per simulated hour"),
        ("Trials / reports", f"{figures['trials']} / {figures['reports']}", ""),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def _seconds(simulated: float | None, scale: float) -> str:
    """Simulated seconds, and the wall seconds they were (the master's own time)."""
    if simulated is None:
        return "—"
    return f"{simulated:.1f} s ({simulated / scale:.2f} s wall)"
