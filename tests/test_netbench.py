"""`aiperf netbench` under a real `mpirun -n 2`: latency, bandwidth and allreduce figures."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from aiperf.cli import main
from aiperf.cluster import netbench

needs_mpi = pytest.mark.skipif(
    shutil.which("mpirun") is None, reason="no MPI here (.ci/run installs openmpi-bin)"
)


@needs_mpi
def test_mpirun_two_ranks_prints_figures(tmp_path) -> None:
    out = tmp_path / "netbench.json"
    argv = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", "2", sys.executable]
    argv += ["-m", "aiperf.cli", "netbench", "--json", "--out", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures == json.loads(out.read_text())
    assert figures["ranks"] == 2 and figures["p2p_latency_us"] > 0
    sizes = [row["bytes"] for row in figures["allreduce"]]
    assert sizes == netbench.SIZES_BYTES
    assert all(row["gb_per_s"] > 0 for row in figures["p2p_bandwidth"])
    assert all(row["bus_gb_per_s"] > 0 for row in figures["allreduce"])


def test_missing_mpi4py_names_the_extra(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    assert main(["netbench"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'aiperf-automl[mpi]'" in err and "openmpi" in err
