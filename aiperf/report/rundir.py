"""The run directory: the contract between ``run``, ``report``, ``compare`` and ``submit``.

``results/<run-id>/`` holds ``spec.yaml``, ``system.json``, ``ledger.jsonl`` (append-only),
``summary.json``, ``trials.csv``, ``timeline.csv`` and ``tune/`` (the Ray Tune experiment).
Derived files are written to a temporary name and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from aiperf.spec import Spec

LEDGER = "ledger.jsonl"
SPEC = "spec.yaml"
SYSTEM = "system.json"
SUMMARY = "summary.json"
TRIALS = "trials.csv"
TIMELINE = "timeline.csv"
TUNE = "tune"


MIN_FREE_BYTES = 100_000_000  # ledger, checkpoints and reports of a long run fit easily


class RunDirError(ValueError):
    """A run directory that cannot be used: names the path and the problem."""


def new_run_id(spec: Spec) -> str:
    """``<spec name>-<UTC date-time>-s<seed>``: sorts by time, says what ran."""
    return f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-s{spec.seed}"


def create_run_dir(out: Path | None, spec: Spec, results_root: Path = Path("results")) -> Path:
    """A fresh, writable run directory (``out`` or ``results/<run-id>``); never a used one."""
    run_dir = out if out is not None else results_root / new_run_id(spec)
    if (run_dir / LEDGER).exists():
        raise RunDirError(
            f"--out {run_dir}: already holds a run (ledger.jsonl); choose a new directory"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise RunDirError(f"--out {run_dir}: not writable ({err.strerror})") from None
    free = shutil.disk_usage(run_dir).free
    if free < MIN_FREE_BYTES:
        raise RunDirError(f"--out {run_dir}: only {free / 1e6:.0f} MB free (need 100 MB)")
    return run_dir


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    tmp.replace(path)


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def read_json(path: Path) -> Any:
    """A JSON file of a run directory, or a RunDirError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise RunDirError(f"{path}: cannot read ({err})") from None


# Written by ``aiperf report`` (aiperf/report/build.py), all derived from the files above.
REPORT_HTML = "report.html"
SUMMARY_MD = "summary.md"
MLLOG = "mllog.txt"
PLOTS = "plots"
RERUN_OF = "rerun_of.json"  # in a rerun: which run it repeats
