"""``aiperf slurm``: render the batch script from ``launch/slurm/aiperf.sbatch``, submit it with
``sbatch``, and read a job's state (its run's progress is the scorer's: ``aiperf.score.progress``).

Placeholders in the template are ``@@{name}``, so bash's own ``${…}`` and ``$@`` stay untouched.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from aiperf.errors import UserError
from aiperf.spec import shipped_file

TEMPLATE = Path("launch/slurm/aiperf.sbatch")
JOB_RECORD = "slurm.json"
_TIME_RE = re.compile(r"^(\d+-)?\d{1,2}:\d{2}:\d{2}$")
_OBJECT_STORE_BYTES = 2_000_000_000  # per node: trials pass small configs, not tensors


class SlurmError(UserError):
    """A Slurm request that cannot be made or answered: one line naming the flag or the job."""


class _SbatchTemplate(Template):
    delimiter = "@@"


@dataclass(frozen=True)
class SlurmJob:
    """What ``aiperf slurm submit`` asks Slurm for, and what the job runs."""

    nodes: int
    gpus_per_node: int
    time: str  # HH:MM:SS or D-HH:MM:SS
    spec: Path
    run_dir: Path
    cpus_per_node: int = 2
    partition: str | None = None
    account: str | None = None
    netbench: bool = True
    run_args: list[str] = field(default_factory=list)  # e.g. ["--duration", "30m"]

    def __post_init__(self) -> None:
        if self.nodes < 1 or self.gpus_per_node < 0 or self.cpus_per_node < 1:
            raise SlurmError("--nodes and --cpus-per-node must be ≥ 1, --gpus-per-node ≥ 0")
        if not _TIME_RE.match(self.time):
            raise SlurmError(f"--time: expected HH:MM:SS or D-HH:MM:SS (got {self.time!r})")


def template_path() -> Path:
    """The batch template shipped with aiperf (see ``aiperf.spec.shipped_file``)."""
    path = shipped_file(TEMPLATE)
    if path is None:
        raise SlurmError(f"slurm: template {TEMPLATE} not found")
    return path


def render_batch_script(job: SlurmJob, venv_bin: Path | None = None) -> str:
    """The batch script for ``job``; every placeholder must be filled."""
    extra = [f"#SBATCH --gres=gpu:{job.gpus_per_node}"] if job.gpus_per_node else []
    extra += [f"#SBATCH --partition={job.partition}"] if job.partition else []
    extra += [f"#SBATCH --account={job.account}"] if job.account else []
    values = {
        "job_name": f"aiperf-{job.run_dir.name}"[:64],
        "nodes": job.nodes,
        "cpus_per_node": job.cpus_per_node,
        "gpus_per_node": job.gpus_per_node,
        "time": job.time,
        "run_dir": job.run_dir.resolve(),
        "sbatch_extra": "\n".join(extra),
        "venv_bin": venv_bin or Path(sys.executable).parent,
        "netbench": "true" if job.netbench and job.nodes > 1 else "false",
        "step_gres": f"--gres=gpu:{job.gpus_per_node}" if job.gpus_per_node else "",
        "object_store_bytes": _OBJECT_STORE_BYTES,
        "spec": job.spec.resolve(),
        "run_args": shlex.join(job.run_args),
    }
    return _SbatchTemplate(template_path().read_text()).substitute(values)


def submit(job: SlurmJob) -> str:
    """Write the script into the run directory, ``sbatch`` it, record and return the job id."""
    job.run_dir.mkdir(parents=True, exist_ok=True)
    script = job.run_dir / "aiperf.sbatch"
    script.write_text(render_batch_script(job))
    done = subprocess.run(
        ["sbatch", "--parsable", str(script)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SlurmError(f"sbatch failed: {(done.stderr or done.stdout).strip().splitlines()[-1]}")
    job_id = done.stdout.strip().split(";")[0]
    record = {"job_id": job_id, "script": str(script), "submitted": time.time()}
    (job.run_dir / JOB_RECORD).write_text(json.dumps(record, indent=2))
    return job_id


def job_state(job_id: str) -> str:
    """PENDING / RUNNING / COMPLETED / FAILED / … from squeue, else scontrol (finished jobs)."""
    queue = subprocess.run(
        ["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True, check=False
    )
    if queue.returncode == 0 and queue.stdout.strip():
        return queue.stdout.strip()
    shown = subprocess.run(
        ["scontrol", "show", "job", job_id], capture_output=True, text=True, check=False
    )
    match = re.search(r"JobState=(\S+)", shown.stdout)
    if match is None:
        raise SlurmError(f"slurm: job {job_id} is unknown to squeue and scontrol")
    return match.group(1)


def find_run_dir(job_id: str, results: Path = Path("results")) -> Path | None:
    """The run directory whose ``slurm.json`` records ``job_id``."""
    for record in sorted(results.glob(f"*/{JOB_RECORD}")):
        if json.loads(record.read_text()).get("job_id") == job_id:
            return record.parent
    return None
