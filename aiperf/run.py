"""``aiperf run``: the one place that wires spec, cluster, searcher, trials, ledger and score.

Ray is imported only after ``connect_cluster`` has set its environment (token authentication is
read when ray is first imported), so nothing here imports it at module level.

Read top to bottom: make the run directory, connect Ray, take the inventory, start the clock
(t0), let Ray Tune run trials on every slot until the deadline (or a signal), close the ledger,
score it. ``resume_benchmark`` picks up a run whose master died, with the same clock.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console

from aiperf.cluster import Cluster, ClusterOptions, connect_cluster, slot_count, trial_resources
from aiperf.cluster.inventory import cluster_inventory
from aiperf.hw import EnergyMeter
from aiperf.report.console import RunState, live_progress
from aiperf.report.outputs import write_derived
from aiperf.report.rundir import (
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
from aiperf.score.ledger import LedgerWriter, RunEnd, RunResume, RunStart, read_ledger, repair_tail
from aiperf.search import make_searcher
from aiperf.spec import SearchSpec, Spec, dump_spec, load_spec
from aiperf.train.remote import tune_trainable
from aiperf.train.trial import TrialContext


def run_benchmark(
    spec: Spec,
    out: Path | None = None,
    options: ClusterOptions | None = None,
    console: Console | None = None,
    netbench: Path | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Run the benchmark the spec describes; return the run directory and its summary."""
    run_dir = create_run_dir(out, spec)
    write_text_atomic(run_dir / SPEC, dump_spec(spec))
    options = options or ClusterOptions(num_cpus=spec.resources.num_cpus)
    cluster = connect_cluster(options)
    write_json_atomic(run_dir / SYSTEM, system_description(cluster, netbench))
    per_trial = trial_resources(cluster, spec.resources)
    slots = slot_count(cluster, per_trial)

    writer = LedgerWriter(run_dir / LEDGER)
    meter = EnergyMeter()
    meter.start()
    t0 = time.time()
    nodes = [n.ip for n in cluster.nodes]
    writer.append(RunStart(run_dir.name, t0, spec.seed, spec.duration, slots, per_trial, nodes))
    state = RunState(t0=t0, duration_s=spec.duration, slots=slots)
    tuner = build_tuner(spec, run_dir, per_trial, slots, _recorder(writer, state), t0)
    _fit(tuner, state, console)
    _finish(writer, meter, t0 + spec.duration)
    return run_dir, write_derived(run_dir, spec).summary


def resume_benchmark(
    run_dir: Path, options: ClusterOptions | None = None, console: Console | None = None
) -> tuple[Path, dict[str, Any]]:
    """Continue a run whose master died: Tune's saved experiment (trials continue from their
    last checkpoint, the searcher from its saved state), the same ledger and the same clock."""
    spec = load_spec(run_dir / SPEC)
    repair_tail(run_dir / LEDGER)
    ledger = read_ledger(run_dir / LEDGER)
    if ledger.run_start is None or ledger.run_end is not None or not (run_dir / TUNE).is_dir():
        raise RunDirError(f"--resume {run_dir}: not an unfinished run (no start, or already ended)")
    connect_cluster(options or ClusterOptions(num_cpus=spec.resources.num_cpus))
    t0, slots = ledger.run_start["t0"], ledger.run_start.get("slots", 1)
    writer = LedgerWriter(run_dir / LEDGER)
    writer.append(RunResume(time=time.time()))
    meter = EnergyMeter()
    meter.start()
    state = RunState(t0=t0, duration_s=spec.duration, slots=slots, done=len(ledger.trial_ends))
    live = _recorder(writer, state)  # Tune's restored recorder adopts it (see recorder.py)
    live.open_trials = set(ledger.trials) - set(ledger.trial_ends)
    from ray import tune

    tuner = tune.Tuner.restore(
        str((run_dir / TUNE).resolve()),
        trainable=_trainable(spec, ledger.run_start.get("trial_resources") or {"cpu": 1.0}),
        resume_unfinished=True,
        resume_errored=True,
    )
    _fit(tuner, state, console)
    _finish(writer, meter, t0 + spec.duration)
    return run_dir, write_derived(run_dir, spec).summary


def _fit(tuner: Any, state: RunState, console: Console | None) -> None:
    from aiperf.search.stopper import install_signal_handlers

    install_signal_handlers()
    with live_progress(state, console):
        tuner.fit()


def _finish(writer: LedgerWriter, meter: EnergyMeter, deadline: float) -> None:
    """Close the ledger: trials still open were stopped; say why the run ended."""
    from aiperf.cluster import alive_nodes
    from aiperf.score.recorder import current_recorder
    from aiperf.search.stopper import stop_requested

    current_recorder().close_open_trials()
    signal_name = stop_requested()
    reason = f"interrupted ({signal_name})" if signal_name else "deadline"
    if not signal_name and time.time() < deadline:
        reason = "max_trials"
    energy = meter.stop().to_dict()
    alive = [n.ip for n in alive_nodes()]
    writer.append(RunEnd(time=time.time(), reason=reason, energy=energy, alive_nodes=alive))
    writer.close()


def rerun(
    run_dir: Path, times: int, options: ClusterOptions | None = None
) -> list[tuple[Path, dict[str, Any]]]:
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
    recorder: Any,
    t0: float,
) -> Any:
    """A Ray Tune experiment: the spec's searcher, one trial per slot, stopped at the deadline,
    failed trials retried from their last checkpoint."""
    from ray import tune

    from aiperf.search.stopper import RunStopper  # imports ray: only once Ray is set up

    return tune.Tuner(
        _trainable(spec, per_trial),
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
            callbacks=[recorder],
            stop=RunStopper(deadline=t0 + spec.duration),
            failure_config=tune.FailureConfig(max_failures=spec.failure.max_retries),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
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


def _recorder(writer: LedgerWriter, state: RunState) -> Any:
    from aiperf.score.recorder import LedgerRecorder  # imports ray.tune

    return LedgerRecorder(writer, state)
