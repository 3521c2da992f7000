"""The run directory: the contract between ``run``, ``score``, ``report`` and ``submit``.

A base layer: every other layer may use it, and it imports nothing of aiperf but the spec and the
errors. ``results/<run-id>/`` holds

- ``spec.yaml`` (the resolved spec), ``system.json`` (nodes, devices, peaks, interconnect) and
  ``ledger.jsonl`` (append-only records, read by ``aiperf.score.ledger``) — the run's inputs;
- ``summary.json``, ``trials.csv``, ``timeline.csv`` — derived by the scorer;
- ``report.html``, ``summary.md``, ``mllog.txt``, ``plots/`` — derived by ``aiperf report``;
- ``tune/`` (the Ray Tune experiment, for ``--resume``), ``rerun_of.json`` (in a rerun).

Derived files are written to a fresh temporary name beside the target and renamed into place, so a
crash never leaves half a file and a planted file or link at the temporary name is never followed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from aiperf.errors import UserError
from aiperf.spec import Spec

LEDGER = "ledger.jsonl"
SPEC = "spec.yaml"
SYSTEM = "system.json"
SUMMARY = "summary.json"
TRIALS = "trials.csv"
TIMELINE = "timeline.csv"
TUNE = "tune"
REPORT_HTML = "report.html"
SUMMARY_MD = "summary.md"
MLLOG = "mllog.txt"
PLOTS = "plots"
RERUN_OF = "rerun_of.json"  # in a rerun: which run it repeats
RUN_INPUTS = (LEDGER, SPEC)  # what makes a folder a run directory

MIN_FREE_BYTES = 100_000_000  # ledger, checkpoints and reports of a long run fit easily


class RunDirError(UserError):
    """A run directory that cannot be used: names the path and the problem."""


def new_run_id(spec: Spec) -> str:
    """``<spec name>-<UTC date-time>-s<seed>``: sorts by time, says what ran."""
    return f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-s{spec.seed}"


def create_run_dir(out: Path | None, spec: Spec, results_root: Path = Path("results")) -> Path:
    """A fresh, writable run directory (``out`` or ``results/<run-id>``); never a used one."""
    run_dir = out if out is not None else results_root / new_run_id(spec)
    if (run_dir / LEDGER).exists():
        raise RunDirError(
            f"--out {run_dir}: already holds a run ({LEDGER}); choose a new directory"
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


def require_run_dir(run_dir: Path) -> None:
    """A RunDirError naming the path unless it is a folder holding a spec and a ledger."""
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such run directory")
    for name in RUN_INPUTS:
        if not (run_dir / name).is_file():
            raise RunDirError(f"{run_dir}: not a run directory (no {name})")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a new temporary file beside ``path``, fsync it and rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """``write_bytes_atomic`` of UTF-8 text."""
    write_bytes_atomic(path, text.encode("utf-8"))


def json_text(data: Any) -> str:
    """The one text form of a run directory's JSON files (sorted keys, 2-space indent, no NaN)."""
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json_text(data))


def read_json(path: Path) -> Any:
    """A JSON file of a run directory, or a RunDirError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RunDirError(f"{path}: cannot read ({err})") from None


def read_system(run_dir: Path) -> dict[str, Any] | None:
    """``system.json`` of a run (None when the run has none); a RunDirError if it is not an
    object."""
    path = run_dir / SYSTEM
    if not path.exists():
        return None
    system = read_json(path)
    if not isinstance(system, dict):
        raise RunDirError(f"{path}: must hold a JSON object")
    return system
