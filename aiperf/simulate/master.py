"""``aiperf simulate``: the master of ``aiperf run`` against fake nodes, on a compressed clock.

Read top to bottom: the spec's trials become one GPU each; the cost model is priced from the
spec's workload; fake nodes start; the run directory, ledger and Ray Tune experiment are those
of a real run (the same ``build_tuner``), with the sleeping trainable and the simulated clock;
then the run is scored (INVALID: simulated) and ``simulation.json`` records the slot figures,
the time scale and the driver's CPU.
"""

from __future__ import annotations

import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from aiperf.cluster.connect import Cluster
from aiperf.report.outputs import write_derived
from aiperf.rundir import LEDGER, SPEC, SYSTEM, create_run_dir, write_json_atomic, write_text_atomic
from aiperf.score import Summary
from aiperf.score.ledger import RunStart, read_ledger
from aiperf.score.occupancy import percentile, slot_use
from aiperf.score.timeline import run_length_s
from aiperf.simulate.clock import SimClock
from aiperf.simulate.cluster import fake_cluster, node_ip
from aiperf.simulate.costs import DEFAULT_STARTUP_S, DEFAULT_THROUGHPUT, TrialCosts, trial_costs
from aiperf.simulate.trainable import SimContext, simulated_trainable
from aiperf.spec import Spec, check_runnable, dump_spec, load_spec

SIMULATION = "simulation.json"  # a simulated run's settings and figures
SIMULATED_DEVICE = "simulated GPU"
# What every simulated trial is: one GPU and one CPU of a fake node, no self-check (nothing runs).
TRIAL_OVERRIDES = [
    "resources.cpus_per_trial=1",
    "resources.gpus_per_trial=1",
    "train.flops_self_check=false",
]


@dataclass(frozen=True)
class SimOptions:
    """The simulated cluster and clock (the command line's flags)."""

    nodes: int = 2
    gpus_per_node: int = 8
    time_scale: float = 60.0
    throughput: float = DEFAULT_THROUGHPUT  # FLOP/s per simulated GPU
    startup_s: float = DEFAULT_STARTUP_S  # simulated seconds before a trial's first epoch
    raylets: int | None = None  # fake nodes actually started (None: one per node)

    @property
    def raylet_count(self) -> int:
        return self.raylets or self.nodes

    @property
    def gpus_per_raylet(self) -> int:
        return self.nodes * self.gpus_per_node // self.raylet_count


def simulation_spec(spec_name: str | Path, overrides: list[str]) -> Spec:
    """The spec as ``aiperf simulate`` runs it: one GPU per trial, no FLOPs self-check."""
    return load_spec(spec_name, [*overrides, *TRIAL_OVERRIDES])


def simulate_benchmark(
    spec: Spec, options: SimOptions, out: Path | None = None, console: Console | None = None
) -> tuple[Path, Summary, dict[str, Any]]:
    """Run the master against fake nodes; the run directory, its summary and the figures."""
    from aiperf.cluster import ClusterOptions, connect_cluster, disconnect

    check_runnable(spec)
    costs = trial_costs(spec, options.throughput, options.startup_s)
    run_dir = create_run_dir(out, spec)
    write_text_atomic(run_dir / SPEC, dump_spec(spec))
    gpus = options.gpus_per_raylet
    with fake_cluster(options.raylet_count, cpus=gpus, gpus=gpus) as fake:
        cluster = connect_cluster(ClusterOptions(fake.address, options.raylet_count, 120.0))
        try:
            write_json_atomic(run_dir / SYSTEM, simulated_system(options))
            wall, cpu = run_master(spec, options, run_dir, cluster, costs, console)
        finally:
            disconnect()
    summary = write_derived(run_dir, spec).summary
    figures = simulation_figures(run_dir, options, wall, cpu)
    write_json_atomic(run_dir / SIMULATION, figures)
    return run_dir, summary, figures


def run_master(
    spec: Spec,
    options: SimOptions,
    run_dir: Path,
    cluster: Cluster,
    costs: TrialCosts,
    console: Console | None,
) -> tuple[float, float]:
    """What ``aiperf run`` does from t0 on, on the simulated clock with the sleeping trainable;
    the wall seconds it took and the driver's CPU seconds during the search."""
    from aiperf.cluster import slot_count
    from aiperf.run import append_record, build_tuner, finish_run, fit_with_progress

    per_trial = {"cpu": 1.0, "gpu": 1.0}
    slots = slot_count(cluster, per_trial)
    t0 = time.time()
    clock = SimClock(t0, options.time_scale)
    nodes = [n.ip for n in cluster.nodes]
    start = RunStart(run_dir.name, t0, spec.seed, spec.duration, slots, per_trial, nodes, True)
    append_record(run_dir, start)
    trainable = _trainable(SimContext(clock, costs), per_trial)
    tuner = build_tuner(spec, run_dir, per_trial, slots, t0, trainable, clock)
    cpu = _cpu_seconds()
    fit_with_progress(tuner, run_dir, console, clock)
    cpu = _cpu_seconds() - cpu
    finish_run(run_dir, None, t0 + spec.duration, clock)
    return time.time() - t0, cpu


def _trainable(context: SimContext, per_trial: dict[str, float]) -> Any:
    from ray import tune

    return tune.with_resources(
        tune.with_parameters(simulated_trainable, context=context), per_trial
    )


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process, every thread of the driver included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def simulated_system(options: SimOptions) -> dict[str, Any]:
    """``system.json`` of a simulation: the fake nodes and their simulated GPUs (no peak)."""
    gpus = [{"index": i, "name": SIMULATED_DEVICE} for i in range(options.gpus_per_raylet)]
    cpu = {"model": "simulated"}
    nodes = [
        {"hostname": f"simulated-node-{k}", "ray_node_ip": node_ip(k), "cpu": cpu, "gpus": gpus}
        for k in range(options.raylet_count)
    ]
    return {
        "simulated": True,
        "cluster": {"address": None, "nodes": []},
        "nodes": nodes,
        "interconnect": None,
    }


def simulation_figures(
    run_dir: Path, options: SimOptions, wall_s: float, driver_cpu_s: float
) -> dict[str, Any]:
    """The simulation's settings and what it measured: slot use on the simulated clock (and
    in wall seconds), the driver's CPU per report, the ledger's bytes per simulated hour."""
    ledger = read_ledger(run_dir / LEDGER)
    use, scale = slot_use(ledger), options.time_scale
    length_s = run_length_s(ledger)
    reports = len(ledger.reports)
    gaps = use.idle_gaps_s
    return {
        "simulated": True,
        **asdict(options),
        "raylets": options.raylet_count,
        "slots": use.slots,
        "length_s": length_s,
        "wall_s": wall_s,
        "slot_occupancy": use.occupancy,
        "steady_slot_occupancy": use.steady_occupancy,
        "ramp_s": use.ramp_s,
        "ramp_wall_s": None if use.ramp_s is None else use.ramp_s / scale,
        "idle_gap_p50_s": percentile(gaps, 0.5),
        "idle_gap_p99_s": percentile(gaps, 0.99),
        "idle_gap_p50_wall_s": _wall(percentile(gaps, 0.5), scale),
        "idle_gap_p99_wall_s": _wall(percentile(gaps, 0.99), scale),
        "trials": len(ledger.trials),
        "reports": reports,
        "driver_cpu_s": driver_cpu_s,
        "driver_cpu_ms_per_report": 1e3 * driver_cpu_s / max(reports, 1),
        "ledger_bytes_per_simulated_hour": (run_dir / LEDGER).stat().st_size
        / max(length_s / 3600, 1e-9),
    }


def _wall(simulated: float | None, scale: float) -> float | None:
    return None if simulated is None else simulated / scale
