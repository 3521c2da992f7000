"""Weak scaling of the master: ``aiperf simulate`` at 1, 2, 4, 8 and 16 nodes × 8 GPUs.

Each size runs in its own process (its own Ray driver and fake nodes, one raylet per node) with
the standard spec, the same simulated duration and time scale. Printed per size: slots, slot
occupancy over the whole run and from the end of the ramp on ("steady"), the ramp and the idle
gaps in wall seconds (the master's own time), the driver's CPU per report, ledger bytes per
simulated hour, FLOPS and weak scaling = FLOPS(N) / (N · FLOPS(1)), over the whole run and from
the end of the ramp on.

Time compression stretches the master's overheads by the scale S (a wall second of start-up is
S simulated seconds), and every fake node shares this machine's cores: starting one trial's
actor process costs about 1.5 CPU-seconds (Ray and Ray Tune imports), so the ramp of N slots
takes at least N × 1.5 / cores seconds here, where a real cluster starts each node's eight in
parallel on that node. The steady columns are the master's own figures.
Usage: python benchmarks/simulate_scaling.py [--nodes 1 2 4 8 16] [--duration 40m]
       [--time-scale 10] [--out benchmarks/results/simulate] [--plot docs/weak-scaling.png]
       [--merge earlier/scaling.json …]  (--nodes with no sizes: only table and plot them)
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from aiperf.score.ledger import read_ledger


def simulate(nodes: int, args: argparse.Namespace) -> dict:
    """One ``aiperf simulate`` in a fresh process; its simulation.json and summary.json."""
    out = args.out / f"nodes{nodes}"
    command = [
        sys.executable, "-m", "aiperf.cli", "simulate", "--nodes", str(nodes),
        "--gpus-per-node", "8", "--duration", args.duration, "--time-scale", str(args.time_scale),
        "--out", str(out), "--json",
    ]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    figures = json.loads((out / "simulation.json").read_text())
    flops = json.loads((out / "summary.json").read_text())["flops"]
    return figures | {"flops": flops, "steady_flops": steady_flops(out, figures["ramp_s"])}


def steady_flops(run_dir: Path, ramp_s: float | None) -> float | None:
    """FLOPS of the reports that started after the ramp, over the time from its end to the end."""
    if ramp_s is None:
        return None
    ledger = read_ledger(run_dir / "ledger.jsonl")
    begin, end = ledger.t0 + ramp_s, ledger.run_end.time
    done = [r.flops for r in ledger.reports if r.start_time >= begin]
    return sum(done) / max(end - begin, 1e-9)


def weak_scaling(results: list[dict], key: str) -> list[float | None]:
    """FLOPS(N) / (N · FLOPS(1)) for every size, from ``key`` (None where it is unknown)."""
    base = results[0][key] and results[0][key] / results[0]["nodes"]
    return [r[key] / (r["nodes"] * base) if base and r[key] else None for r in results]


def table(results: list[dict]) -> Table:
    out = Table(title="aiperf simulate, 8 GPUs per node; weak scaling against the first row")
    columns = ("nodes", "time ×", "slots", "occupancy", "steady", "ramp (wall)",
               "gap p50/p99 (wall)", "driver ms/report", "ledger /sim-h", "FLOPS",
               "weak scaling", "steady", "trials")  # fmt: skip
    for column in columns:
        out.add_column(column, justify="right")
    weak, steady = weak_scaling(results, "flops"), weak_scaling(results, "steady_flops")
    for r, w, ws in zip(results, weak, steady, strict=True):
        ramp = "—" if r["ramp_wall_s"] is None else f"{r['ramp_wall_s']:.1f} s"
        p50, p99 = r["idle_gap_p50_wall_s"], r["idle_gap_p99_wall_s"]
        gaps = "—" if p50 is None else f"{p50:.2f} / {p99:.2f} s"
        out.add_row(
            str(r["nodes"]), f"{r['time_scale']:g}", str(r["slots"]), _share(r["slot_occupancy"]),
            _share(r["steady_slot_occupancy"]), ramp, gaps,
            f"{r['driver_cpu_ms_per_report']:.1f}",
            f"{r['ledger_bytes_per_simulated_hour'] / 1e3:.0f} kB", f"{r['flops']:.3g}",
            _ratio(w), _ratio(ws), str(r["trials"]),
        )  # fmt: skip
    return out


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def plot(results: list[dict], path: Path) -> None:
    """Weak scaling and occupancy against nodes, as a PNG: one line per time scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    weak, steady = weak_scaling(results, "flops"), weak_scaling(results, "steady_flops")
    for scale in sorted({r["time_scale"] for r in results}, reverse=True):
        rows = [i for i, r in enumerate(results) if r["time_scale"] == scale]
        nodes = [results[i]["nodes"] for i in rows]
        series = (
            (weak, "o-", "weak scaling, whole run"),
            (steady, "^-", "weak scaling, after the ramp"),
            ([r["slot_occupancy"] for r in results], "s--", "slot occupancy"),
        )
        for values, style, label in series:
            points = [math.nan if values[i] is None else values[i] for i in rows]
            ax.plot(nodes, points, style, label=f"{label} (×{scale:g})")
    ticks = sorted({r["nodes"] for r in results})
    ax.axhline(0.95, color="grey", linewidth=0.8)
    ax.set(xscale="log", xlabel="nodes × 8 GPUs", ylim=(0, 1.05), xticks=ticks)
    ax.set_xticklabels([str(n) for n in ticks])
    ax.set_title("aiperf simulate on 2 cores: weak scaling and slot occupancy")
    ax.legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, nargs="*", default=[1, 2, 4, 8, 16])
    parser.add_argument("--duration", default="40m")
    parser.add_argument("--time-scale", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/simulate"))
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--merge", type=Path, nargs="*", default=[],
                        help="scaling.json files of earlier runs to show with these")  # fmt: skip
    args = parser.parse_args()
    results = [row for path in args.merge for row in json.loads(path.read_text())]
    for nodes in args.nodes:
        results.append(simulate(nodes, args))
        Console(width=200).print(table(results))
    if args.nodes:
        (args.out / "scaling.json").write_text(json.dumps(results, indent=2))
    Console(width=200).print(table(results))
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
