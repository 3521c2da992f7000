"""``aiperf simulate``: the real master against fake nodes whose trials sleep on a cost model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from aiperf.errors import EXIT_INTERRUPTED, EXIT_OK, UsageError

if TYPE_CHECKING:
    from aiperf.simulate.master import SimOptions

MAX_SIMULATED_GPUS = 1024  # logical GPUs in all: each running trial is a worker process here


def add_simulate_command(commands: argparse._SubParsersAction) -> None:
    """Add ``simulate`` to the CLI's subcommands."""
    sim = commands.add_parser(
        "simulate", help="run the master against fake nodes whose trials sleep (never submittable)"
    )
    sim.add_argument("--spec", default="standard", help="spec file or shipped name (standard)")
    sim.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
        help="override a spec field (repeatable)",
    )  # fmt: skip
    sim.add_argument("--nodes", type=int, default=2, help="simulated nodes (2)")
    sim.add_argument("--gpus-per-node", type=int, default=8, help="GPUs per node (8)")
    sim.add_argument("--duration", help="simulated run length: 10m, 2h (default: the spec's)")
    sim.add_argument(
        "--time-scale", type=float, default=60.0, help="simulated seconds per wall second (60)"
    )
    sim.add_argument("--throughput", type=float, help="FLOP/s of one simulated GPU (2e13)")
    sim.add_argument("--startup", help="a trial's start-up before its first epoch (20s)")
    sim.add_argument(
        "--calibrate", type=Path, metavar="RUN", help="throughput and start-up of a real run"
    )
    sim.add_argument(
        "--raylets", type=int, help="fake nodes to start, GPUs shared out (default: one per node)"
    )
    sim.add_argument("--out", type=Path, help="run directory (default: results/<run-id>)")
    sim.add_argument("--json", action="store_true", help="print simulation.json instead")
    sim.set_defaults(handler=_cmd_simulate)


def sim_options(args: argparse.Namespace) -> SimOptions:
    """The checked ``SimOptions`` of the command line (UsageError naming the flag)."""
    from aiperf.simulate.cluster import MAX_NODES
    from aiperf.simulate.costs import (
        DEFAULT_STARTUP_S,
        DEFAULT_THROUGHPUT,
        MAX_STARTUP_S,
        MAX_THROUGHPUT,
        MIN_THROUGHPUT,
        calibrate,
    )
    from aiperf.simulate.master import SimOptions
    from aiperf.spec import SpecError, parse_duration

    for flag, value in (("--nodes", args.nodes), ("--gpus-per-node", args.gpus_per_node)):
        if value < 1:
            raise UsageError(f"{flag} must be ≥ 1 (got {value})")
    if args.nodes * args.gpus_per_node > MAX_SIMULATED_GPUS:
        raise UsageError(f"--nodes × --gpus-per-node: at most {MAX_SIMULATED_GPUS} GPUs here")
    if not 0.1 <= args.time_scale <= 10_000:
        raise UsageError(f"--time-scale must be between 0.1 and 10000 (got {args.time_scale})")
    raylets = args.raylets
    if raylets is not None and (raylets < 1 or args.nodes % raylets):
        raise UsageError(f"--raylets must divide --nodes {args.nodes} (got {raylets})")
    if (raylets or args.nodes) > MAX_NODES:
        raise UsageError(f"--nodes: at most {MAX_NODES} fake nodes here (use --raylets to pack)")
    throughput, startup = DEFAULT_THROUGHPUT, DEFAULT_STARTUP_S
    if args.calibrate:
        throughput, startup = calibrate(args.calibrate)
    if args.throughput is not None:
        if not MIN_THROUGHPUT <= args.throughput <= MAX_THROUGHPUT:
            raise UsageError(f"--throughput must be 1e6–1e18 FLOP/s (got {args.throughput:g})")
        throughput = args.throughput
    if args.startup is not None:
        try:
            startup = parse_duration(args.startup)
        except SpecError as err:
            raise UsageError(f"--startup: {err}") from None
        if startup > MAX_STARTUP_S:
            raise UsageError(f"--startup: at most {MAX_STARTUP_S:.0f}s (got {args.startup})")
    return SimOptions(args.nodes, args.gpus_per_node, args.time_scale, throughput, startup, raylets)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from aiperf.report.console import result_table, simulation_table
    from aiperf.simulate.master import simulate_benchmark, simulation_spec

    overrides = [*args.overrides, *([f"duration={args.duration}"] if args.duration else [])]
    spec = simulation_spec(args.spec, overrides)
    options = sim_options(args)
    console = Console(stderr=args.json)
    run_dir, summary, figures = simulate_benchmark(spec, options, args.out, console)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        console.print(result_table(summary))
        console.print(simulation_table(figures))
        console.print(f"run directory: {run_dir} (simulated: never submittable)")
    return EXIT_INTERRUPTED if summary.end_reason.startswith("interrupted") else EXIT_OK
