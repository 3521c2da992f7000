"""`aiperf slurm`: golden batch scripts, and a real job through sbatch on a 2-node Slurm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from slurmcluster import slurm_available, start_slurm, stop_slurm, wait_for_job

from aiperf.cli import main
from aiperf.cluster.slurm import SlurmError, SlurmJob, job_name, render_batch_script

GOLDEN = Path(__file__).parent / "golden"


def job(**fields) -> SlurmJob:
    values = {
        "nodes": 2, "gpus_per_node": 2, "time": "00:10:00", "spec": Path("/specs/tiny.yaml"),
        "run_dir": Path("/results/tiny-run"), "run_args": ["--duration", "90s"],
    }  # fmt: skip
    return SlurmJob(**{**values, **fields})


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("two_nodes_gpus", {}),
        ("one_node_cpu", {"nodes": 1, "gpus_per_node": 0, "partition": "cpu", "account": "proj"}),
    ],
)
def test_rendered_script_matches_golden(name: str, fields: dict) -> None:
    script = render_batch_script(job(**fields), venv_bin=Path("/venv/bin"))
    golden = GOLDEN / f"{name}.sbatch"
    if os.environ.get("AIPERF_UPDATE_GOLDEN"):
        golden.write_text(script)
    assert script == golden.read_text()
    assert "@@" not in script


def test_rendered_script_is_valid_bash() -> None:
    script = render_batch_script(job(), venv_bin=Path("/venv/bin"))
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


def test_script_follows_the_ray_slurm_pattern() -> None:
    script = render_batch_script(job(), venv_bin=Path("/venv/bin"))
    for piece in ("--node-ip-address=\"$head_ip\"", "srun --nodes=1 --ntasks=1 -w \"$node\"",
                  "--temp-dir=\"$temp_root", "--num-gpus=2", "--num-cpus=2",
                  "--object-store-memory=", "RAY_AUTH_TOKEN", "#SBATCH --gres=gpu:2",
                  "mpirun -np", "--nodes 2 --address"):  # fmt: skip
        assert piece in script, piece
    assert script.index("mpirun") < script.index("ray start --head")  # MPI before Ray


HOSTILE = "$(touch PWNED) `touch PWNED` 'q\" #x"


def _slurm_argument(line: str) -> str:
    """The first argument of an ``#SBATCH`` line as Slurm's ``_get_argument`` (sbatch/opt.c)
    reads it: a backslash escapes the next character, quotes group, an unescaped ``#`` ends it."""
    out, quote, escaped = [], "", False
    for ch in line.removeprefix("#SBATCH "):
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif quote and ch == quote:
            quote = ""
        elif quote:
            out.append(ch)
        elif ch in "\"'":
            quote = ch
        elif ch == "#" or ch.isspace():
            break
        else:
            out.append(ch)
    return "".join(out)


def test_hostile_paths_are_quoted_and_run_nothing(tmp_path: Path) -> None:
    run_dir = tmp_path / f"run {HOSTILE}"
    spec = tmp_path / f"spec {HOSTILE}\nline two.yaml"
    venv = tmp_path / f"venv {HOSTILE}"
    script = render_batch_script(job(run_dir=run_dir, spec=spec), venv_bin=venv)
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    output = next(line for line in script.splitlines() if line.startswith("#SBATCH --output="))
    assert _slurm_argument(output) == f"--output={run_dir}/slurm-%j.out"
    # Run the lines that use the paths, with python and export stubbed to print their arguments.
    lines = script.splitlines()
    driver = lines.index(
        next(line for line in lines if line.startswith("python -m aiperf.cli run"))
    )
    driver_end = lines.index("status=$?")  # the spec path's newline spans a line, quoted
    path_line = next(line for line in lines if line.startswith("export PATH="))
    shell = "\n".join(
        [
            "python() { printf '<%s>\\n' \"$@\"; }",
            path_line.replace("export PATH=", "echo_path=", 1),
            "printf '<%s>\\n' \"$echo_path\"",
            next(line for line in lines if line.startswith("run_dir=")),
            "netbench=(); head_ip=h; port=1",
            *lines[driver:driver_end],
        ]
    )  # fmt: skip
    done = subprocess.run(["bash", "-c", shell], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "PWNED").exists()
    printed = done.stdout
    assert f"<{venv}:" in printed
    assert f"<--spec>\n<{spec}>\n" in printed
    assert f"<--out>\n<{run_dir}>\n" in printed


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"partition": "gpu\n#SBATCH --uid=0"}, "--partition: expected letters, digits"),
        ({"partition": "a b"}, "--partition: expected letters, digits"),
        ({"account": "$(id)"}, "--account: expected letters, digits"),
        (
            {"run_dir": Path("/results/a\nrm -rf ~")},
            "--out: a control character in the run directory",
        ),
    ],
)
def test_sbatch_line_values_are_validated(fields: dict, message: str) -> None:
    with pytest.raises(SlurmError) as info:
        job(**fields)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_partition_lists_and_job_names_stay_within_sbatch_syntax() -> None:
    assert job(partition="gpu,gpu-long.2").partition == "gpu,gpu-long.2"
    assert job_name(Path(f"/r/{HOSTILE}")) == "aiperf-__touch_PWNED___touch_PWNED___q___x"
    assert len(job_name(Path("/r/" + "x" * 100))) == 64


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--time", "10 minutes"], "--time: expected HH:MM:SS"),
        (["--nodes", "0"], "--nodes and --cpus-per-node must be ≥ 1"),
        (["--set=seed=x"], "spec.seed"),
    ],
)
def test_bad_submit_arguments_exit_2(capsys, argv: list[str], message: str) -> None:
    base = {"--nodes": "2", "--time": "00:05:00"}
    for flag in ("--nodes", "--time"):
        if flag in argv:
            base.pop(flag)
    full = ["slurm", "submit", "--spec", "tiny", "--dry-run", *sum(base.items(), ()), *argv]
    assert main(full) == 2
    assert message in capsys.readouterr().err


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    if not slurm_available():
        pytest.skip("Slurm is not installed here (.ci/run installs slurm-wlm and munge)")
    cluster = start_slurm(tmp_path_factory.mktemp("slurm"))
    yield cluster
    stop_slurm(cluster)


@pytest.mark.slow
def test_a_real_job_runs_on_both_nodes(slurm, tmp_path) -> None:
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "aiperf.cli", "slurm", "submit", "--nodes", "2"]
    argv += ["--gpus-per-node", "2", "--time", "00:10:00", "--spec", "tiny", "--out", str(out)]
    argv += ["--duration", "30s", "--set=min_duration=10s", "--set=workload.train_size=300"]
    argv += ["--set=robustness.samples=30", "--set=quality_gate=0"]
    submitted = subprocess.run(argv, env=slurm.env, capture_output=True, text=True, timeout=60)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.split()[3].rstrip(";")
    state = wait_for_job(slurm, job_id, timeout_s=300)
    log = next(out.glob("slurm-*.out")).read_text()
    assert state == "COMPLETED", log[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    nodes = {json.loads(line).get("node") for line in (out / "ledger.jsonl").open()}
    assert {"127.0.2.1", "127.0.2.2"} <= nodes, log[-3000:]
    assert summary["trials_completed"] >= 1
    # A 30 s run with lowered gates is scored by the shipped rules: open, and invalid only
    # because it is short and undertrained — nothing about the two nodes.
    assert summary["division"] == "open"
    reasons = summary["invalid_reasons"]
    assert reasons and all("minimum" in r or "quality gate" in r for r in reasons), reasons
    system = json.loads((out / "system.json").read_text())
    assert len(system["nodes"]) == 2
    assert (out / "netbench.log").exists()  # the MPI phase ran before Ray
    status = subprocess.run(
        [sys.executable, "-m", "aiperf.cli", "slurm", "status", job_id, "--run-dir", str(out),
         "--json"], env=slurm.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert json.loads(status.stdout)["state"] == "COMPLETED"
