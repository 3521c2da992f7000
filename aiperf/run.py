"""``aiperf run``: the one place that wires spec, cluster, searcher, trials, ledger and score.

Read top to bottom: make the run directory, connect Ray, take the inventory, start the clock
(t0), let Ray Tune run trials on every slot until the deadline, close the ledger, score it.
"""

from __future__ import annotations

import os
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
    create_run_dir,
    read_json,
    write_json_atomic,
    write_text_atomic,
)
from aiperf.score.ledger import LedgerWriter, RunEnd, RunStart
from aiperf.search import make_searcher
from aiperf.spec import SearchSpec, Spec, dump_spec, load_spec
from aiperf.train.trial import TrialContext, run_trial


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
    writer.append(
        RunStart(run_dir.name, t0, spec.seed, spec.duration, slots=slots, trial_resources=per_trial)
    )
    state = RunState(t0=t0, duration_s=spec.duration, slots=slots)
    recorder = _recorder(writer, state)
    tuner = build_tuner(spec, run_dir, per_trial, slots, recorder)
    with live_progress(state, console):
        tuner.fit()
    recorder.close_open_trials()
    reason = "deadline" if time.time() - t0 >= spec.duration else "max_trials"
    energy = meter.stop().to_dict()
    writer.append(RunEnd(time=time.time(), reason=reason, energy=energy))
    writer.close()
    return run_dir, write_derived(run_dir, spec)


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
    spec: Spec, run_dir: Path, per_trial: dict[str, float], slots: int, recorder: Any
) -> Any:
    """A Ray Tune experiment: the spec's searcher, one trial per slot, stopped at the deadline."""
    from ray import tune

    context = TrialContext(
        workload=spec.workload,
        train=spec.train,
        uegr=spec.uegr,
        robustness=spec.robustness,
        data_seed=spec.seed,
        threads=spec.resources.cpus_per_trial,
    )
    trainable = tune.with_resources(
        tune.with_parameters(tune_trainable, context=context), per_trial
    )
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=make_searcher(spec.search, spec.seed),
            num_samples=spec.search.max_trials or -1,
            max_concurrent_trials=slots,
            scheduler=build_scheduler(spec.search),
            time_budget_s=spec.duration,
            reuse_actors=True,  # a new actor per trial costs ~2 s on a small node
        ),
        run_config=tune.RunConfig(
            storage_path=str(run_dir.resolve()), name=TUNE, callbacks=[recorder], verbose=0
        ),
    )


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


def tune_trainable(config: dict[str, Any], context: TrialContext) -> None:
    """Runs on a Ray worker: train one proposal, reporting every interval to Tune."""
    import ray
    from ray import tune

    where = {
        "node": ray.util.get_node_ip_address(),
        "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
        "visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    run_trial(config, context, tune.report, where)


def _recorder(writer: LedgerWriter, state: RunState) -> Any:
    from aiperf.score.recorder import LedgerRecorder  # imports ray.tune

    return LedgerRecorder(writer, state)
