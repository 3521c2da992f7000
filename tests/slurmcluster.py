"""A real Slurm (Debian's slurm-wlm + munge) with 2 virtual nodes and fake GPUs, for tests.

node1 / node2 are two slurmd processes on one machine (Debian builds multiple-slurmd), on
loopback addresses 127.0.2.1 / 127.0.2.2, each with 2 CPUs and 2 GPUs whose device files are
symlinks to /dev/null. Configuration lives in its own directory (SLURM_CONF); every daemon is a
child we started and is stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

NODES = {"node1": ("127.0.2.1", 17001), "node2": ("127.0.2.2", 17002)}


@dataclass
class SlurmCluster:
    root: Path
    env: dict[str, str]
    daemons: list[subprocess.Popen] = field(default_factory=list)


def slurm_available() -> bool:
    return all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "munged", "sbatch"))


def _config(root: Path) -> str:
    host = socket.gethostname().split(".")[0]
    nodes = "\n".join(
        f"NodeName={name} NodeHostname={host} NodeAddr={ip} Port={port} CPUs=2 "
        f"RealMemory=4000 Gres=gpu:2 State=UNKNOWN"
        for name, (ip, port) in NODES.items()
    )
    return f"""ClusterName=aiperftest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort=16817
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmdParameters=config_overrides
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd-%n.pid
SlurmdSpoolDir={root}/spool/%n
StateSaveLocation={root}/state
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd-%n.log
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
GresTypes=gpu
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
{nodes}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _write_config(root: Path) -> Path:
    conf = root / "etc"
    conf.mkdir(parents=True)
    for name in NODES:
        (root / "spool" / name).mkdir(parents=True)
        for i in range(2):
            (root / "dev" / f"{name}-nvidia{i}").parent.mkdir(parents=True, exist_ok=True)
            (root / "dev" / f"{name}-nvidia{i}").symlink_to("/dev/null")
    (root / "state").mkdir()
    (conf / "slurm.conf").write_text(_config(root))
    gres = [f"NodeName={n} Name=gpu File={root}/dev/{n}-nvidia[0-1]" for n in NODES]
    (conf / "gres.conf").write_text("AutoDetect=off\n" + "\n".join(gres) + "\n")
    return conf / "slurm.conf"


def _start(cluster: SlurmCluster, argv: list[str], log: str) -> None:
    out = (cluster.root / log).open("w")
    cluster.daemons.append(
        subprocess.Popen(argv, env=cluster.env, stdout=out, stderr=subprocess.STDOUT)
    )


def _start_munge(cluster: SlurmCluster) -> None:
    munge = cluster.root / "munge"
    munge.mkdir(mode=0o700)
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    subprocess.run(["mungekey", "-c", "-k", str(munge / "munge.key")], check=True)
    _start(cluster, ["munged", "-F", f"--key-file={munge}/munge.key", f"--seed-file={munge}/seed",
                     f"--log-file={munge}/munged.log", f"--pid-file={munge}/munged.pid"],
           "munged.out")  # fmt: skip
    _poll(
        lambda: (
            subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode == 0
        ),
        10,
    )


def _poll(ready, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError("slurm test cluster did not come up")
        time.sleep(0.2)  # daemons starting; nothing to wait on instead


def _idle_nodes(env: dict[str, str]) -> int:
    out = subprocess.run(["sinfo", "-h", "-N", "-t", "idle", "-o", "%N"], env=env,
                         capture_output=True, text=True).stdout  # fmt: skip
    return len(set(out.split()))


def start_slurm(root: Path) -> SlurmCluster:
    """munged, slurmctld and two slurmd; returns once both nodes are idle (≈2 s)."""
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SLURM_CONF": str(_write_config(root))}
    cluster = SlurmCluster(root, env)
    _start_munge(cluster)
    _start(cluster, ["slurmctld", "-D", "-i"], "slurmctld.out")
    for name in NODES:
        _start(cluster, ["slurmd", "-D", "-N", name], f"slurmd-{name}.out")
    _poll(lambda: _idle_nodes(env) == 2, 60)
    return cluster


def stop_slurm(cluster: SlurmCluster) -> None:
    """SIGTERM slurmd first, then slurmctld, then munged; SIGKILL whatever ignores it."""
    for process in reversed(cluster.daemons):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def wait_for_job(cluster: SlurmCluster, job_id: str, timeout_s: float) -> str:
    """Poll squeue until the job leaves the queue; its final state from scontrol."""
    deadline = time.monotonic() + timeout_s
    while subprocess.run(["squeue", "-h", "-j", job_id], env=cluster.env,
                         capture_output=True, text=True).stdout.strip():  # fmt: skip
        if time.monotonic() > deadline:
            subprocess.run(["scancel", job_id], env=cluster.env)
            raise TimeoutError(f"job {job_id} still queued after {timeout_s}s")
        time.sleep(1)  # sbatch --wait polls slower than this
    shown = subprocess.run(["scontrol", "show", "job", job_id], env=cluster.env,
                           capture_output=True, text=True).stdout  # fmt: skip
    return shown.split("JobState=")[1].split()[0]
