"""``aiperf run``: the one place that wires spec, cluster, searcher, trials, ledger and score.

Ray is imported only after ``connect_cluster`` has set its environment (token authentication is
read when ray is first imported), so nothing here imports it at module level.

Read top to bottom: make the run directory, connect Ray, take the inventory, start the clock
(t0, the ledger's run_start), let Ray Tune run trials on every slot until the deadline (or a
signal) while ``LedgerRecorder`` appends every trial event to the ledger and the console follows
the ledger, write run_end, score it. ``resume_benchmark`` picks up a run whose master died, with
the same clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from aiperf.cluster import Cluster, ClusterOptions, connect_cluster, slot_count, trial_resources
from aiperf.cluster.inventory import cluster_inventory
from aiperf.hw import EnergyMeter
from aiperf.report.console import live_progress
from aiperf.report.outputs import write_derived
from aiperf.rundir import (
    LEDGER,
    RERUN_OF,
    SPEC,
    SYSTEM,
    TUNE,
    RunDirError,
    create_run_dir,
    read_json,
    write_json_atomic,
    write_text_atomic,
)
from aiperf.score import Summary
from aiperf.score.ledger import (
    LedgerWriter,
    Record,
    RunEnd,
    RunResume,
    RunStart,
    read_ledger,
    repair_tail,
)
from aiperf.search import make_searcher
from aiperf.spec import SearchSpec, Spec, check_runnable, dump_spec, load_spec
from aiperf.train.remote import tune_trainable
from aiperf.train.trial import TrialContext

# Checkpoints kept per trial. With 1, Ray Tune snapshots the whole experiment (every trial's state
# and the searcher's) after every trial checkpoint, i.e. every report: the driver's cost per
# report then grows with the run (measured with aiperf simulate: 27 ms at 8 slots, 68 ms at 64).
# With 2 it snapshots on its own period, and a retry still resumes from the last report.
KEEP_CHECKPOINTS = 2


def run_benchmark(
    spec: Spec,
    out: Path | None = None,
    options: ClusterOptions | None = None,
    console: Console | None = None,
    netbench: Path | None = None,
) -> tuple[Path, Summary]:
    """Run the benchmark the spec describes; return the run directory and its summary."""
    check_runnable(spec)
    run_dir = create_run_dir(out, spec)
    write_text_atomic(run_dir / SPEC, dump_spec(spec))
    cluster = connect_cluster(options or ClusterOptions(num_cpus=spec.resources.num_cpus))
    write_json_atomic(run_dir / SYSTEM, system_description(cluster, netbench))
    per_trial = trial_resources(cluster, spec.resources)
    slots = slot_count(cluster, per_trial)

    meter = EnergyMeter()
    meter.start()
    t0 = time.time()
    nodes = [n.ip for n in cluster.nodes]
    start = RunStart(run_dir.name, t0, spec.seed, spec.duration, slots, per_trial, nodes)
    append_record(run_dir, start)
    tuner = build_tuner(spec, run_dir, per_trial, slots, t0)
    fit_with_progress(tuner, run_dir, console)  # the recorder writes every trial event
    finish_run(run_dir, meter.stop().to_dict(), t0 + spec.duration)
    return run_dir, write_derived(run_dir, spec).summary


def resume_benchmark(
    run_dir: Path, options: ClusterOptions | None = None, console: Console | None = None
) -> tuple[Path, Summary]:
    """Continue a run whose master died: Tune's saved experiment (trials continue from their
    last checkpoint, the searcher from its saved state, the recorder from the ledger), the same
    ledger and the same clock."""
    spec = load_spec(run_dir / SPEC)
    ledger = read_ledger(run_dir / LEDGER)  # before any change: a finished run stays untouched
    if ledger.run_start is None or ledger.run_end is not None or not (run_dir / TUNE).is_dir():
        raise RunDirError(f"--resume {run_dir}: not an unfinished run (no start, or already ended)")
    repair_tail(run_dir / LEDGER)
    cluster = connect_cluster(options or ClusterOptions(num_cpus=spec.resources.num_cpus))
    record_new_nodes(run_dir, cluster)
    append_record(run_dir, RunResume(time=time.time()))
    meter = EnergyMeter()
    meter.start()
    from ray import tune

    tuner = tune.Tuner.restore(
        str((run_dir / TUNE).resolve()),
        trainable=_trainable(spec, ledger.start.trial_resources or {"cpu": 1.0}),
        resume_unfinished=True,
        resume_errored=True,
    )
    fit_with_progress(tuner, run_dir, console)
    finish_run(run_dir, meter.stop().to_dict(), ledger.t0 + spec.duration)
    return run_dir, write_derived(run_dir, spec).summary


def record_new_nodes(
    run_dir: Path, cluster: Cluster, inventory: Callable[[Cluster], list[dict]] = cluster_inventory
) -> None:
    """Nodes that were not there when the run started (a resume on another allocation) join
    ``system.json``, so their reports are held to their own devices' peaks."""
    system = read_json(run_dir / SYSTEM)
    known = {node.get("ray_node_ip") for node in system.get("nodes") or []}
    new = tuple(node for node in cluster.nodes if node.ip not in known)
    if not new:
        return
    system["nodes"] = [*(system.get("nodes") or []), *inventory(replace(cluster, nodes=new))]
    system.setdefault("cluster", {}).setdefault("nodes", []).extend(asdict(n) for n in new)
    write_json_atomic(run_dir / SYSTEM, system)


def append_record(run_dir: Path, record: Record) -> None:
    """One record of the master's own (run start, resume, end) appended to the ledger."""
    writer = LedgerWriter(run_dir / LEDGER)
    writer.append(record)
    writer.close()


def fit_with_progress(
    tuner: Any, run_dir: Path, console: Console | None, clock: Callable[[], float] = time.time
) -> None:
    from aiperf.search.stopper import install_signal_handlers

    install_signal_handlers()
    with live_progress(run_dir / LEDGER, console, clock):
        tuner.fit()


def finish_run(
    run_dir: Path,
    energy: dict[str, Any] | None,
    deadline: float,
    clock: Callable[[], float] = time.time,
) -> None:
    """Say why the run ended (the recorder has closed every trial when Tune's run ended)."""
    from aiperf.cluster import alive_nodes
    from aiperf.search.stopper import stop_requested

    signal_name = stop_requested()
    reason = f"interrupted ({signal_name})" if signal_name else "deadline"
    if not signal_name and clock() < deadline:
        reason = "max_trials"
    alive = [n.ip for n in alive_nodes()]
    append_record(run_dir, RunEnd(time=clock(), reason=reason, energy=energy, alive_nodes=alive))


def rerun(
    run_dir: Path, times: int, options: ClusterOptions | None = None
) -> list[tuple[Path, Summary]]:
    """Repeat a run with its resolved spec (same seed) into sibling directories, each linked to
    the original by ``rerun_of.json``."""
    spec = load_spec(run_dir / SPEC)
    results = []
    for index in range(1, times + 1):
        out = run_dir.parent / f"{run_dir.name}-rerun{index}"
        created, summary = run_benchmark(spec, out, options)
        write_json_atomic(out / RERUN_OF, {"rerun_of": str(run_dir.resolve()), "index": index})
        results.append((created, summary))
    return results


def system_description(cluster: Cluster, netbench: Path | None = None) -> dict[str, Any]:
    """``system.json``: the cluster, every node's inventory with its peak FLOPS (datasheet and a
    short measured GEMM, taken before the clock starts) and the interconnect figures, if any."""
    return {
        "cluster": {"address": cluster.address, "nodes": [asdict(n) for n in cluster.nodes]},
        "nodes": cluster_inventory(cluster),
        "interconnect": read_json(netbench) if netbench else None,
    }


def build_tuner(
    spec: Spec,
    run_dir: Path,
    per_trial: dict[str, float],
    slots: int,
    t0: float,
    trainable: Any = None,
    clock: Callable[[], float] = time.time,
) -> Any:
    """A Ray Tune experiment: the spec's searcher, one trial per slot, stopped at the deadline,
    failed trials retried from their last checkpoint, every event recorded in the ledger.
    ``aiperf simulate`` passes its sleeping trainable and its compressed clock."""
    from ray import tune

    from aiperf.score.recorder import LedgerRecorder  # these import ray: only once it is set up
    from aiperf.search.stopper import RunStopper

    return tune.Tuner(
        trainable or _trainable(spec, per_trial),
        tune_config=tune.TuneConfig(
            search_alg=make_searcher(spec.search, spec.seed),
            num_samples=spec.search.max_trials or -1,
            max_concurrent_trials=slots,
            scheduler=build_scheduler(spec.search),
            reuse_actors=True,  # a new actor per trial costs ~2 s on a small node
        ),
        run_config=tune.RunConfig(
            storage_path=str(run_dir.resolve()),
            name=TUNE,
            callbacks=[LedgerRecorder(run_dir / LEDGER, clock)],
            stop=RunStopper(deadline=t0 + spec.duration, clock=clock),
            failure_config=tune.FailureConfig(max_failures=spec.failure.max_retries),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=KEEP_CHECKPOINTS),
            verbose=0,
        ),
    )


def _trainable(spec: Spec, per_trial: dict[str, float]) -> Any:
    from ray import tune

    context = TrialContext.from_spec(spec)
    return tune.with_resources(tune.with_parameters(tune_trainable, context=context), per_trial)


def build_scheduler(search: SearchSpec) -> Any:
    """Ray Tune's ASHA early stopping when the spec asks for it (a stopped trial's work counts
    up to its last report), else None: every trial runs its epochs."""
    if search.scheduler == "none":
        return None
    from ray.tune.schedulers import ASHAScheduler

    from aiperf.search.base import METRIC

    return ASHAScheduler(
        time_attr="training_iteration",
        metric=METRIC,
        mode="max",
        max_t=search.space.epochs.max,
        grace_period=search.grace_period,
        reduction_factor=search.reduction_factor,
    )
