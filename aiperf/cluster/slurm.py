"""``aiperf slurm``: render the batch script from ``launch/slurm/aiperf.sbatch``, submit it with
``sbatch``, and read a job's state (its run's progress is the scorer's: ``aiperf.score.progress``).

Placeholders in the template are ``@@{name}``, so bash's own ``${…}`` and ``$@`` stay untouched.
A run directory or spec path is the user's and may hold anything (``$(…)``, quotes, spaces): every
value in a shell line is ``shlex.quote``d; values in ``#SBATCH`` lines, which Slurm parses itself,
are validated (partition, account), sanitised (job name) or backslash-escaped (output path).
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
from aiperf.rundir import write_json_atomic, write_text_atomic
from aiperf.spec import shipped_file

TEMPLATE = Path("launch/slurm/aiperf.sbatch")
JOB_RECORD = "slurm.json"
_TIME_RE = re.compile(r"(\d+-)?\d{1,2}:\d{2}:\d{2}")
# A partition or account name; a partition may list several, comma-separated.
_SBATCH_NAME_RE = re.compile(r"[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*")
_NOT_IN_JOB_NAME = re.compile(r"[^A-Za-z0-9._-]")
_SLURM_ESCAPE = re.compile(r"([^A-Za-z0-9._/%+,:=@-])")  # what #SBATCH needs a backslash before
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # a newline would end the #SBATCH line
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
        if not _TIME_RE.fullmatch(self.time):
            raise SlurmError(f"--time: expected HH:MM:SS or D-HH:MM:SS (got {self.time!r})")
        for flag, value in (("--partition", self.partition), ("--account", self.account)):
            if value is not None and not _SBATCH_NAME_RE.fullmatch(value):
                raise SlurmError(
                    f"{flag}: expected letters, digits, '.', '_' or '-' (got {value!r})"
                )
        if _CONTROL.search(str(self.run_dir)):
            where = str(self.run_dir)[:80]
            raise SlurmError(f"--out: a control character in the run directory (got {where!r})")


def _sbatch_escaped(text: str) -> str:
    """``text`` as one argument of an ``#SBATCH`` line: Slurm drops the backslash before each
    escaped character, and no quote, space or ``#`` is read as syntax."""
    return _SLURM_ESCAPE.sub(r"\\\1", text)


def job_name(run_dir: Path) -> str:
    """``aiperf-<run directory name>``, cut to 64 characters of ``[A-Za-z0-9._-]``."""
    return _NOT_IN_JOB_NAME.sub("_", f"aiperf-{run_dir.name}")[:64]


def template_path() -> Path:
    """The batch template shipped with aiperf (see ``aiperf.spec.shipped_file``)."""
    path = shipped_file(TEMPLATE)
    if path is None:
        raise SlurmError(f"slurm: template {TEMPLATE} not found")
    return path


def render_batch_script(job: SlurmJob, venv_bin: Path | None = None) -> str:
    """The batch script for ``job``; every placeholder must be filled, every value quoted."""
    nodes, cpus, gpus = int(job.nodes), int(job.cpus_per_node), int(job.gpus_per_node)
    run_dir = job.run_dir.resolve()
    extra = [f"#SBATCH --gres=gpu:{gpus}"] if gpus else []
    extra += [f"#SBATCH --partition={job.partition}"] if job.partition else []
    extra += [f"#SBATCH --account={job.account}"] if job.account else []
    values = {
        "job_name": job_name(job.run_dir),
        "nodes": nodes,
        "cpus_per_node": cpus,
        "gpus_per_node": gpus,
        "time": job.time,
        "output": _sbatch_escaped(f"{run_dir}/slurm-%j.out"),
        "run_dir": shlex.quote(str(run_dir)),
        "sbatch_extra": "\n".join(extra),
        "venv_bin": shlex.quote(str(venv_bin or Path(sys.executable).parent)),
        "netbench": "true" if job.netbench and nodes > 1 else "false",
        "step_gres": f"--gres=gpu:{gpus}" if gpus else "",
        "object_store_bytes": _OBJECT_STORE_BYTES,
        "spec": shlex.quote(str(job.spec.resolve())),
        "run_args": shlex.join(job.run_args),
    }
    return _SbatchTemplate(template_path().read_text()).substitute(values)


def submit(job: SlurmJob) -> str:
    """Write the script into the run directory, ``sbatch`` it, record and return the job id."""
    job.run_dir.mkdir(parents=True, exist_ok=True)
    script = job.run_dir / "aiperf.sbatch"
    write_text_atomic(script, render_batch_script(job))
    done = subprocess.run(
        ["sbatch", "--parsable", str(script)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SlurmError(f"sbatch failed: {(done.stderr or done.stdout).strip().splitlines()[-1]}")
    job_id = done.stdout.strip().split(";")[0]
    record = {"job_id": job_id, "script": str(script), "submitted": time.time()}
    write_json_atomic(job.run_dir / JOB_RECORD, record)
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
