"""``launch/gpu_check.sh`` runs its steps in order and keeps their output, with a stand-in aiperf
(the real steps are tested on their own; the GPU run itself needs a GPU)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent.parent / "launch" / "gpu_check.sh"
STAND_IN = """
import sys
from pathlib import Path
with open(Path(sys.argv[1]), "a") as calls:
    calls.write(" ".join(sys.argv[2:]) + "\\n")
print("stand-in:", *sys.argv[2:])
"""


def test_the_check_runs_sysinfo_a_standard_run_and_the_efficiency_table(tmp_path) -> None:
    stand_in, calls, out = tmp_path / "aiperf.py", tmp_path / "calls", tmp_path / "check"
    stand_in.write_text(STAND_IN)
    env = {**os.environ, "AIPERF": f"{sys.executable} {stand_in} {calls}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        ["bash", str(SCRIPT), str(out), "90s"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert calls.read_text().splitlines() == [
        "sysinfo",
        f"run --spec standard --duration 90s --out {out}/run",
        f"efficiency {out}/run --precision bf16",
        f"efficiency {out}/run --precision bf16 --json",
    ]
    log = (out / "gpu_check.log").read_text()
    assert "stand-in: sysinfo" in log and "goal on an H200" in log
    assert (out / "efficiency.json").read_text().startswith("stand-in: efficiency")


def test_a_failing_step_stops_the_check(tmp_path) -> None:
    env = {**os.environ, "AIPERF": "false"}
    done = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "check")], env=env, capture_output=True, timeout=60
    )
    assert done.returncode != 0
    assert "per trial" not in (tmp_path / "check" / "gpu_check.log").read_text()
