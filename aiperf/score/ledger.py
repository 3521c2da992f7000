"""The append-only ledger: one JSON object per line, written whole and flushed as it arrives.

Record kinds (``kind``): ``run_start`` (t0, seed), ``trial`` (a trial's genome and hparams),
``report`` (the work of one report interval), ``trial_failure`` (an attempt failed; retried or
not), ``trial_end`` (status), ``run_resume`` (the master came back), ``run_end``. Keys are
defined here, once; readers use these dataclasses' field names. A report is counted once per
(trial, epoch): a duplicate (an epoch redone after a master crash) is skipped on read.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RunStart:
    run_id: str
    t0: float  # unix seconds when the search started
    seed: int
    duration_s: float  # the spec's target duration
    slots: int = 1  # trials that fit at once
    trial_resources: dict[str, float] = field(default_factory=dict)  # what one trial asks for
    nodes: list[str] = field(default_factory=list)  # the alive nodes' IPs at t0
    kind: str = "run_start"
    schema: int = SCHEMA_VERSION


@dataclass(frozen=True)
class TrialStart:
    trial_id: str
    trial_index: int
    time: float
    genome: dict[str, Any]
    hparams: dict[str, Any]
    uegr: dict[str, Any]  # the searched UEGR knobs of this trial (empty: the spec's)
    kind: str = "trial"
    schema: int = SCHEMA_VERSION


@dataclass(frozen=True)
class Report:
    """The work done in one report interval of one trial, and the model quality at its end."""

    trial_id: str
    report_index: int
    epoch: int
    node: str  # the Ray node's IP (or the host name outside Ray)
    device: str  # what torch trained on: cpu, cuda
    gpu_ids: list[str]  # the GPUs Ray assigned to the trial (logical ids; empty on CPU slots)
    visible_devices: str | None  # CUDA_VISIBLE_DEVICES as the trial saw it ("" = no GPU)
    start_time: float  # unix seconds, interval start (on the worker's clock)
    end_time: float  # unix seconds, interval end, after evaluation
    samples: int  # training samples processed in this interval
    steps: int  # optimizer steps in this interval
    train_flops: int
    eval_flops: int
    flops: int  # train_flops + eval_flops
    loss: float
    val_accuracy: float
    test_accuracy: float
    robust_accuracy: float | None  # test accuracy under the spec's attack (None: not measured)
    flops_check_error: float | None  # |measured − analytic| / measured of the trial's self-check
    kind: str = "report"
    schema: int = SCHEMA_VERSION


@dataclass(frozen=True)
class TrialEnd:
    trial_id: str
    time: float
    status: str  # completed | failed | stopped
    error: str | None = None
    kind: str = "trial_end"
    schema: int = SCHEMA_VERSION


@dataclass(frozen=True)
class RunEnd:
    time: float
    reason: str  # deadline | max_trials | interrupted
    energy: dict[str, Any] | None = None  # EnergyResult of the master's node (joules, note)
    alive_nodes: list[str] = field(default_factory=list)  # nodes still alive at the end
    kind: str = "run_end"
    schema: int = SCHEMA_VERSION


@dataclass(frozen=True)
class RunResume:
    time: float  # when ``aiperf run --resume`` took over; the gap before it counts as elapsed
    kind: str = "run_resume"
    schema: int = SCHEMA_VERSION


@dataclass(frozen=True)
class TrialFailure:
    trial_id: str
    time: float
    error: str
    retrying: bool  # True: Ray Tune restarts it from its last checkpoint
    kind: str = "trial_failure"
    schema: int = SCHEMA_VERSION


Record = RunStart | TrialStart | Report | TrialFailure | TrialEnd | RunResume | RunEnd


class LedgerWriter:
    """Appends records to ``ledger.jsonl``; every line is written whole and flushed.

    Picklable (Ray Tune saves its callbacks with the experiment): the file reopens on demand.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO | None = None

    def append(self, record: Record) -> None:
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(json.dumps(asdict(record), sort_keys=True) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_file": None}


@dataclass
class Ledger:
    """A ledger read back into plain records, grouped by kind."""

    run_start: dict[str, Any] | None = None
    run_end: dict[str, Any] | None = None
    trials: dict[str, dict[str, Any]] = field(default_factory=dict)
    reports: list[dict[str, Any]] = field(default_factory=list)
    trial_ends: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    resumes: list[dict[str, Any]] = field(default_factory=list)
    duplicate_reports: int = 0  # (trial, epoch) reported again after a resume: not counted
    _seen: set[tuple[str, int]] = field(default_factory=set, repr=False)

    def add_report(self, record: dict[str, Any]) -> None:
        key = (record["trial_id"], record["epoch"])
        if key in self._seen:
            self.duplicate_reports += 1
            return
        self._seen.add(key)
        self.reports.append(record)


class LedgerError(ValueError):
    """A ledger that cannot be read: names the file and the line."""


def repair_tail(path: Path) -> bool:
    """Cut a torn last line (a crash mid-write) before appending more; True if one was cut."""
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return False
    cut = data.rfind(b"\n") + 1
    with path.open("r+b") as file:
        file.truncate(cut)
    warnings.warn(f"{path}: torn last line removed before resuming", stacklevel=2)
    return True


def read_ledger(path: Path) -> Ledger:
    """Read a ledger; a torn last line (a crash mid-write) is skipped with a warning."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise LedgerError(f"ledger: cannot read {path}: {err.strerror}") from None
    ledger = Ledger()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                warnings.warn(f"{path}:{number}: torn last line skipped", stacklevel=2)
                continue
            raise LedgerError(f"{path}:{number}: not a JSON object") from None
        _add(ledger, record, f"{path}:{number}")
    return ledger


_KINDS = {
    cls.kind: cls
    for cls in (RunStart, TrialStart, Report, TrialFailure, TrialEnd, RunResume, RunEnd)
}
_NUMBER_TYPES = {"float", "int"}


def check_record(record: Any, where: str) -> None:
    """A record's kind is known, its required keys present, its numbers numbers — or LedgerError."""
    kind = record.get("kind") if isinstance(record, dict) else None
    cls = _KINDS.get(kind)
    if cls is None:
        raise LedgerError(f"{where}: unknown record kind {kind!r}")
    for spec in fields(cls):
        value, required = record.get(spec.name), spec.default is MISSING
        if spec.default_factory is not MISSING:  # type: ignore[misc]
            required = False
        if required and spec.name not in record:
            raise LedgerError(f"{where}: {kind} record lacks {spec.name!r}")
        if spec.type in _NUMBER_TYPES and not _is_number(value):
            raise LedgerError(f"{where}: {kind}.{spec.name} must be a number (got {value!r})")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _add(ledger: Ledger, record: Any, where: str) -> None:
    check_record(record, where)
    kind = record["kind"]
    if kind == "report":
        ledger.add_report(record)
    elif kind == "trial_failure":
        ledger.failures.append(record)
    elif kind == "run_resume":
        ledger.resumes.append(record)
    elif kind == "trial":
        ledger.trials[record["trial_id"]] = record
    elif kind == "trial_end":
        ledger.trial_ends[record["trial_id"]] = record
    elif kind == "run_start":
        ledger.run_start = record
    elif kind == "run_end":
        ledger.run_end = record
    else:
        raise LedgerError(f"{where}: unknown record kind {kind!r}")
