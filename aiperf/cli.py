"""The ``aiperf`` command: parses arguments and calls the library; heavy imports happen per command.

Exit status (``aiperf.errors``): 0 done; 1 ``aiperf check`` found failures; 2 a user's mistake
(any ``UserError``: a bad spec, genome, path, bundle, ledger) or a file the system refused
(``OSError``), or input nested too deep (``RecursionError``), shown as one line; 3 a bug in
aiperf, shown with its traceback (``aiperf check``: one ``ERROR`` line); 130 interrupted. Every
line shown has its control characters escaped: names may come from someone else's files.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from aiperf import __version__
from aiperf.cli_simulate import add_simulate_command
from aiperf.cli_submission import add_submission_commands
from aiperf.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    UserError,
    printable,
)
from aiperf.hw.peaks import PRECISIONS


def _add_spec_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--spec", default="tiny", help="spec file or shipped name: tiny, small (default: tiny)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a spec field, e.g. --set search.max_trials=4 (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiperf", description="AutoML benchmark for AI-HPC machines, scored in FLOPS."
    )
    parser.add_argument("--version", action="version", version=f"aiperf {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the benchmark and score it")
    _add_spec_options(run)
    run.add_argument("--duration", help="override the spec's duration: 90s, 30m, 2h")
    run.add_argument("--out", type=Path, help="run directory (default: results/<run-id>)")
    run.add_argument("--address", help="existing Ray cluster (default: RAY_ADDRESS or embedded)")
    run.add_argument("--nodes", type=int, default=1, help="wait until N Ray nodes are alive")
    run.add_argument("--node-timeout", default="5m", help="how long to wait for them (5m)")
    run.add_argument("--token-file", type=Path, help="the cluster's Ray auth token file")
    run.add_argument("--netbench", type=Path, help="interconnect JSON from `aiperf netbench`")
    run.add_argument("--resume", type=Path, metavar="RUN", help="continue a run whose master died")
    run.add_argument("--json", action="store_true", help="print summary.json instead of a table")
    run.set_defaults(handler=_cmd_run)

    train = commands.add_parser("train", help="train one genome without Ray and print its result")
    _add_spec_options(train)
    train.add_argument("--genome", type=Path, required=True, help="genome JSON file")
    train.add_argument("--epochs", type=int, default=3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--lr", type=float, default=2e-3)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--weight-decay", type=float, default=0.01)
    train.add_argument("--plain", action="store_true", help="plain training: UEGR off")
    train.add_argument("--json", action="store_true", help="print the result as JSON")
    train.set_defaults(handler=_cmd_train)

    flops = commands.add_parser("flops", help="analytic FLOPs of a genome: per block, pass, step")
    _add_spec_options(flops)
    flops.add_argument("--genome", type=Path, required=True, help="genome JSON file")
    flops.add_argument("--batch", type=int, default=32, help="batch size (default: 32)")
    flops.add_argument("--seq", type=int, help="sequence length (default: the spec's max_len)")
    flops.add_argument("--classes", type=int, default=2, help="number of classes (default: 2)")
    flops.add_argument("--json", action="store_true", help="print JSON instead of tables")
    flops.set_defaults(handler=_cmd_flops)

    sysinfo = commands.add_parser("sysinfo", help="this node's CPU, GPUs, peak and measured FLOPS")
    sysinfo.add_argument("--no-measure", action="store_true", help="skip the short GEMM runs")
    sysinfo.add_argument("--address", help="a Ray cluster: the inventory of every alive node")
    sysinfo.add_argument("--token-file", type=Path, help="the cluster's Ray auth token file")
    sysinfo.add_argument("--nodes", type=int, default=1, help="wait until N nodes are alive")
    sysinfo.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sysinfo.set_defaults(handler=_cmd_sysinfo)

    netbench = commands.add_parser(
        "netbench", help="interconnect bandwidth/latency; run under mpirun or srun"
    )
    netbench.add_argument("--out", type=Path, help="also write the JSON here (rank 0)")
    netbench.add_argument("--json", action="store_true", help="print JSON instead of a table")
    netbench.set_defaults(handler=_cmd_netbench)
    _add_slurm_commands(commands)
    _add_offline_commands(commands)
    return parser


def _add_offline_commands(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="re-score a run from its ledger; write report.html")
    report.add_argument("run_dir", type=Path)
    report.set_defaults(handler=_cmd_report)
    rerun = commands.add_parser("rerun", help="repeat a run with the same spec and seed")
    rerun.add_argument("run_dir", type=Path)
    rerun.add_argument("--times", type=int, default=1)
    rerun.add_argument("--address", help="existing Ray cluster (default: embedded)")
    rerun.set_defaults(handler=_cmd_rerun)
    compare = commands.add_parser("compare", help="reproducibility of runs at the same timestamps")
    compare.add_argument("run_dirs", type=Path, nargs="+")
    compare.add_argument("--out", type=Path, help="where the CSV and plot go (default: cwd)")
    compare.set_defaults(handler=_cmd_compare)
    efficiency = commands.add_parser(
        "efficiency", help="each trial's achieved FLOP/s as a share of its devices' peak"
    )
    efficiency.add_argument("run_dir", type=Path)
    efficiency.add_argument(
        "--precision", choices=PRECISIONS, help="peak to compare with (default: the run's)"
    )
    efficiency.add_argument("--json", action="store_true", help="print JSON instead of a table")
    efficiency.set_defaults(handler=_cmd_efficiency)
    add_submission_commands(commands)
    add_simulate_command(commands)


def _add_slurm_commands(commands: argparse._SubParsersAction) -> None:
    slurm = commands.add_parser("slurm", help="run aiperf as a Slurm batch job")
    actions = slurm.add_subparsers(dest="slurm_command", required=True)
    submit = actions.add_parser("submit", help="render the batch script and sbatch it")
    _add_spec_options(submit)
    submit.add_argument("--nodes", type=int, required=True)
    submit.add_argument("--gpus-per-node", type=int, default=0)
    submit.add_argument("--cpus-per-node", type=int, default=2)
    submit.add_argument("--time", required=True, help="wall-clock limit, HH:MM:SS")
    submit.add_argument("--partition")
    submit.add_argument("--account")
    submit.add_argument("--duration", help="override the spec's duration")
    submit.add_argument("--out", type=Path, help="run directory (default: results/<run-id>)")
    submit.add_argument("--no-netbench", action="store_true", help="skip the MPI phase")
    submit.add_argument("--dry-run", action="store_true", help="print the script, submit nothing")
    submit.set_defaults(handler=_cmd_slurm_submit)
    status = actions.add_parser("status", help="a job's state and its run's progress")
    status.add_argument("job_id")
    status.add_argument("--run-dir", type=Path, help="default: the results/* dir of the job")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_cmd_slurm_status)


def _cmd_run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from aiperf.cluster import ClusterOptions
    from aiperf.report.console import result_table
    from aiperf.run import resume_benchmark, run_benchmark
    from aiperf.spec import load_spec, parse_duration

    overrides = [*args.overrides, *([f"duration={args.duration}"] if args.duration else [])]
    spec = load_spec(args.spec, overrides)
    if args.nodes < 1:
        raise UsageError(f"--nodes must be ≥ 1 (got {args.nodes})")
    options = ClusterOptions(
        address=args.address,
        nodes=args.nodes,
        node_timeout_s=parse_duration(args.node_timeout),
        token_file=args.token_file,
        num_cpus=spec.resources.num_cpus,
    )
    console = Console(stderr=args.json)
    # With --json, stdout carries only the summary: Ray's own messages go to stderr.
    quiet = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    with quiet:
        if args.resume:
            run_dir, summary = resume_benchmark(args.resume, options, console)
        else:
            run_dir, summary = run_benchmark(spec, args.out, options, console, args.netbench)
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        console.print(result_table(summary))
        console.print(f"run directory: {run_dir}")
    return EXIT_INTERRUPTED if summary.end_reason.startswith("interrupted") else EXIT_OK


def _cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from aiperf.models import genome_id, load_genome
    from aiperf.search.proposal import Hparams, Proposal
    from aiperf.spec import load_spec
    from aiperf.train import TrialContext, run_trial

    spec = load_spec(args.spec, [*args.overrides, *(["uegr.enabled=false"] if args.plain else [])])
    if min(args.epochs, args.batch_size) < 1 or args.lr <= 0 or args.weight_decay < 0:
        raise UsageError("--epochs and --batch-size must be ≥ 1, --lr > 0, --weight-decay ≥ 0")
    hparams = Hparams(args.lr, args.batch_size, args.weight_decay, args.epochs)
    proposal = Proposal(load_genome(args.genome), hparams, trial_index=0, trial_seed=args.seed)
    reports: list[dict] = []
    run_trial(proposal, TrialContext.from_spec(spec), lambda metrics, _: reports.append(metrics))
    result = {
        "genome_id": genome_id(proposal.genome),
        "hparams": asdict(hparams),
        "reports": reports,
    }
    result["uegr"] = spec.uegr.enabled
    result |= {
        k: reports[-1][k] for k in ("val_accuracy", "test_accuracy", "robust_accuracy", "loss")
    }
    print(json.dumps(result, indent=2) if args.json else _train_text(result))
    return EXIT_OK


def _cmd_flops(args: argparse.Namespace) -> int:
    from aiperf.flops import step_passes
    from aiperf.flops.report import flops_report
    from aiperf.models import load_genome
    from aiperf.spec import load_spec

    spec = load_spec(args.spec, args.overrides)
    if args.batch < 1 or (args.seq is not None and args.seq < 1) or args.classes < 2:
        raise UsageError("--batch and --seq must be ≥ 1 and --classes ≥ 2")
    passes = step_passes(spec.uegr)
    attack_steps = spec.robustness.steps if spec.robustness.attack == "pgd" else 0
    report = flops_report(
        load_genome(args.genome),
        args.batch,
        args.seq or spec.workload.max_len,
        args.classes,
        passes,
        attack_steps,
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        from aiperf.report.console import flops_tables

        flops_tables(report)
    return EXIT_OK


def _cmd_sysinfo(args: argparse.Namespace) -> int:
    if args.address:
        from aiperf.cluster import ClusterOptions, connect_cluster
        from aiperf.cluster.inventory import cluster_inventory

        options = ClusterOptions(args.address, args.nodes, 60.0, args.token_file)
        inventories = cluster_inventory(connect_cluster(options))
    else:
        from aiperf.hw import node_inventory

        inventories = [node_inventory(measure=not args.no_measure)]
    if args.json:
        print(json.dumps(inventories if args.address else inventories[0], indent=2))
        return EXIT_OK
    from aiperf.report.console import sysinfo_table

    for inventory in inventories:
        sysinfo_table(inventory)
    return EXIT_OK


def _cmd_netbench(args: argparse.Namespace) -> int:
    from aiperf.cluster.netbench import run_netbench

    figures = run_netbench()
    if figures is None:  # not rank 0
        return EXIT_OK
    if args.out:
        from aiperf.rundir import write_json_atomic

        write_json_atomic(args.out, figures)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        from aiperf.report.console import netbench_table

        netbench_table(figures)
    return EXIT_OK


def _cmd_slurm_submit(args: argparse.Namespace) -> int:
    from aiperf.cluster.slurm import SlurmJob, render_batch_script, submit
    from aiperf.rundir import new_run_id
    from aiperf.spec import load_spec, resolve_spec_path

    spec = load_spec(args.spec, args.overrides)  # a bad spec fails here, not in the queue
    run_args = [f"--set={o}" for o in args.overrides]
    run_args += ["--duration", args.duration] if args.duration else []
    job = SlurmJob(
        nodes=args.nodes,
        gpus_per_node=args.gpus_per_node,
        cpus_per_node=args.cpus_per_node,
        time=args.time,
        spec=resolve_spec_path(args.spec),
        run_dir=args.out or Path("results") / new_run_id(spec),
        partition=args.partition,
        account=args.account,
        netbench=not args.no_netbench,
        run_args=run_args,
    )
    if args.dry_run:
        print(render_batch_script(job))
        return EXIT_OK
    job_id = submit(job)
    print(f"submitted batch job {job_id}; results in {job.run_dir}")
    return EXIT_OK


def _cmd_slurm_status(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from rich.console import Console

    from aiperf.cluster.slurm import find_run_dir, job_state
    from aiperf.report.console import progress_line
    from aiperf.score.progress import read_progress

    run_dir = args.run_dir or find_run_dir(args.job_id)
    progress = read_progress(run_dir) if run_dir else None
    where = str(run_dir) if run_dir else None
    state = {"job_id": args.job_id, "state": job_state(args.job_id), "run_dir": where}
    if args.json:
        print(json.dumps({**state, "progress": progress and asdict(progress)}, indent=2))
        return EXIT_OK
    print("  ".join(f"{k}: {v}" for k, v in state.items()))
    Console(highlight=False).print(progress_line(progress) if progress else "not started")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from rich.console import Console

    from aiperf.report.build import build_report
    from aiperf.report.console import result_table
    from aiperf.rundir import REPORT_HTML

    summary = build_report(args.run_dir)
    Console().print(result_table(summary))
    print(f"report: {args.run_dir / REPORT_HTML}")
    return EXIT_OK


def _cmd_efficiency(args: argparse.Namespace) -> int:
    from aiperf.report.efficiency import run_efficiency

    result = run_efficiency(args.run_dir, args.precision)
    if args.json:
        print(json.dumps(result, indent=2))
        return EXIT_OK
    from aiperf.report.console import efficiency_table

    efficiency_table(result)
    return EXIT_OK


def _cmd_rerun(args: argparse.Namespace) -> int:
    from aiperf.cluster import ClusterOptions
    from aiperf.run import rerun

    if args.times < 1:
        raise UsageError(f"--times must be ≥ 1 (got {args.times})")
    for run_dir, summary in rerun(args.run_dir, args.times, ClusterOptions(address=args.address)):
        print(f"{run_dir}: FLOPS {summary.flops:.4g}, regulated {summary.regulated_score:.4g}")
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from rich.console import Console

    from aiperf.report.compare import comparison_table, write_comparison
    from aiperf.score.compare import compare_runs

    comparison = compare_runs(args.run_dirs)
    Console().print(comparison_table(comparison))
    for path in write_comparison(comparison, args.out or Path.cwd()):
        print(f"wrote {path}")
    return EXIT_OK


def _train_text(result: dict) -> str:
    lines = [f"genome {result['genome_id']}  hparams {result['hparams']}"]
    for r in result["reports"]:
        lines.append(
            f"epoch {r['epoch']}: loss {r['loss']:.4f}  val {r['val_accuracy']:.4f}  "
            f"test {r['test_accuracy']:.4f}  robust {_fraction(r['robust_accuracy'])}  "
            f"{r['train_flops'] + r['eval_flops']:.3e} FLOPs  "
            f"{r['end_time'] - r['start_time']:.2f}s"
        )
    return "\n".join(lines)


def _fraction(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aiperf`` console script."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (UserError, RecursionError) as err:
        print(printable(f"aiperf {args.command}: error: {_first_line(err)}"), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"aiperf {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader (e.g. `| head`) went away: nothing left to say
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (keeps the exit-time flush quiet)
        return EXIT_OK
    except OSError as err:  # a file the system refused: missing, a permission, a full disk
        where = f"{err.filename}: " if err.filename else ""
        why = err.strerror or str(err)
        print(printable(f"aiperf {args.command}: error: {where}{why}"), file=sys.stderr)
        return EXIT_USAGE
    except Exception:  # a bug: keep the whole traceback for the report
        traceback.print_exc()
        print(
            f"aiperf {args.command}: internal error (a bug in aiperf, not in your input)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _first_line(err: BaseException) -> str:
    if isinstance(err, RecursionError):
        return "input nested too deeply to read"
    return (str(err).splitlines() or [type(err).__name__])[0]


if __name__ == "__main__":
    sys.exit(main())
